import { normalizePrefix } from './registry-record';

/**
 * Where the LB server's own keys live beside the registry. The registry prefix names the
 * services' folder (default `/lookaside/services`); its parent is the *prefix root*
 * (`/lookaside`), and the LB server keeps two sibling folders there:
 *
 *   `<root>/clients/<service>/<client-id>`  the client population (written by LB replicas)
 *   `<root>/config/<service>`               per-service configuration (written by operators)
 *   `<root>/overrides/<service>/<instance>` operator overrides (common/override-record.ts)
 *
 * A one-segment registry prefix (`/services`) has the root "" (`/clients/`, `/config/`). The
 * siblings never fall under the registry prefix, so the registry watch never sees them; a
 * registry prefix of "/" has no parent and is refused by the LB server's config (see
 * `layoutProblem`). Pure.
 */

/** The parent of the normalised registry prefix ("" for a one-segment prefix). */
export function prefixRoot(prefix: string): string {
  const p = normalizePrefix(prefix);
  const slash = p.lastIndexOf('/');
  return slash <= 0 ? '' : p.slice(0, slash);
}

/** The folder of the client population, ending with '/': `/lookaside/clients/` by default. */
export function clientsPrefix(prefix: string): string {
  return `${prefixRoot(prefix)}/clients/`;
}

/** The folder of per-service configuration, ending with '/': `/lookaside/config/` by default. */
export function configPrefix(prefix: string): string {
  return `${prefixRoot(prefix)}/config/`;
}

/**
 * Why the LB server cannot keep its own keys beside `prefix`, or undefined when it can: the
 * clients or config folder would fall under the registry prefix (the prefix "/" or one of
 * `/clients`, `/config` themselves).
 */
export function layoutProblem(prefix: string): string | undefined {
  const registry = `${normalizePrefix(prefix)}/`;
  for (const folder of [clientsPrefix(prefix), configPrefix(prefix), `${prefixRoot(prefix)}/overrides/`]) {
    if (folder.startsWith(registry) || registry.startsWith(folder)) {
      return `the LB server keeps clients, per-service config and overrides beside the registry prefix (${folder}), which must not overlap it: use a prefix with a parent, e.g. /lookaside/services`;
    }
  }
  return undefined;
}
