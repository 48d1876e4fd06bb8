import type { RegistryEndpoint } from '../core/registry-state';
import type { Assignment } from './assignment';

/**
 * How one endpoint's membership of a service changed between two published assignments:
 * - `joined`: clients are sent it now and were not before;
 * - `left`: clients are no longer sent it (its record went, or a hold of it ended);
 *   `wasDraining` tells a graceful deregistration from a crash or a lost lease;
 * - `draining` / `undrained`: its record's draining flag turned on / off.
 * Health, ejection and load changes are not membership: they have their own events.
 */
export type MembershipChange =
  | { readonly kind: 'joined'; readonly endpoint: RegistryEndpoint }
  | { readonly kind: 'left'; readonly endpoint: RegistryEndpoint; readonly wasDraining: boolean }
  | { readonly kind: 'draining'; readonly endpoint: RegistryEndpoint }
  | { readonly kind: 'undrained'; readonly endpoint: RegistryEndpoint };

/**
 * The membership changes from `before` (undefined: nothing was published for the service) to
 * `after`, by registry key: left ones first (in `before`'s order), then joined and draining ones (in
 * `after`'s order). A key whose record now names another address left and joined. Pure; the LB
 * server logs the result of each publish, so each transition is logged once.
 */
export function membershipChanges(before: Assignment | undefined, after: Assignment): MembershipChange[] {
  const previous = new Map<string, RegistryEndpoint>();
  for (const e of before?.endpoints ?? []) previous.set(e.endpoint.key, e.endpoint);
  const current = new Map<string, RegistryEndpoint>();
  for (const e of after.endpoints) current.set(e.endpoint.key, e.endpoint);
  const changes: MembershipChange[] = [];
  for (const [key, was] of previous) {
    const now = current.get(key);
    if (now === undefined || now.address !== was.address) {
      changes.push({ kind: 'left', endpoint: was, wasDraining: was.draining });
    }
  }
  for (const [key, now] of current) {
    const was = previous.get(key);
    if (was === undefined || was.address !== now.address) changes.push({ kind: 'joined', endpoint: now });
    else if (now.draining && !was.draining) changes.push({ kind: 'draining', endpoint: now });
    else if (!now.draining && was.draining) changes.push({ kind: 'undrained', endpoint: now });
  }
  return changes;
}
