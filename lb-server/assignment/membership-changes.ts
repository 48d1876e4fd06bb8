import type { RegistryEndpoint } from '../core/registry-state';
import type { AssignedEndpoint, Assignment } from './assignment';

/**
 * How one endpoint's membership of a service changed between two published assignments:
 * - `joined`: clients are sent it now and were not before;
 * - `left`: clients are no longer sent it (its record went, or a hold of it ended);
 *   `wasDraining` tells a graceful deregistration from a crash or a lost lease;
 * - `draining` / `undrained`: its record's draining flag turned on / off;
 * - `duplicate`: it became a duplicate of `of`, the record of the same address clients use (also
 *   when it joins as one, or the record it duplicates changed);
 * - `duplicate-resolved`: it was a duplicate of `of` and is no longer one (it left, its address
 *   changed, or it is now the record clients use).
 * Health, ejection and load changes are not membership: they have their own events.
 */
export type MembershipChange =
  | { readonly kind: 'joined'; readonly endpoint: RegistryEndpoint }
  | { readonly kind: 'left'; readonly endpoint: RegistryEndpoint; readonly wasDraining: boolean }
  | { readonly kind: 'draining'; readonly endpoint: RegistryEndpoint }
  | { readonly kind: 'undrained'; readonly endpoint: RegistryEndpoint }
  | { readonly kind: 'duplicate'; readonly endpoint: RegistryEndpoint; readonly of: RegistryEndpoint }
  | {
      readonly kind: 'duplicate-resolved';
      readonly endpoint: RegistryEndpoint;
      readonly of: RegistryEndpoint;
    };

/**
 * The membership changes from `before` (undefined: nothing was published for the service) to
 * `after`, by registry key: left ones first (in `before`'s order), then joined and draining ones (in
 * `after`'s order), then resolved duplicates (`before`'s order) and new ones (`after`'s order). A
 * key whose record now names another address left and joined. Pure; the LB
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
  const duplicatesBefore = duplicatesOf(before?.endpoints ?? []);
  const duplicatesAfter = duplicatesOf(after.endpoints);
  for (const [key, was] of duplicatesBefore) {
    const now = duplicatesAfter.get(key);
    if (now === undefined || !sameDuplicate(was, now)) {
      changes.push({ kind: 'duplicate-resolved', endpoint: was.endpoint, of: was.of });
    }
  }
  for (const [key, now] of duplicatesAfter) {
    const was = duplicatesBefore.get(key);
    if (was === undefined || !sameDuplicate(was, now)) {
      changes.push({ kind: 'duplicate', endpoint: now.endpoint, of: now.of });
    }
  }
  return changes;
}

interface DuplicatePair {
  readonly endpoint: RegistryEndpoint;
  readonly of: RegistryEndpoint;
}

function sameDuplicate(a: DuplicatePair, b: DuplicatePair): boolean {
  return a.endpoint.address === b.endpoint.address && a.of.key === b.of.key;
}

/** The duplicates of an assignment by key, each with the record of its address clients use. */
function duplicatesOf(entries: readonly AssignedEndpoint[]): Map<string, DuplicatePair> {
  const out = new Map<string, DuplicatePair>();
  if (!entries.some((e) => e.duplicateOf !== undefined)) return out;
  const used = new Map<string, RegistryEndpoint>();
  for (const e of entries) if (e.duplicateOf === undefined) used.set(e.endpoint.address, e.endpoint);
  for (const e of entries) {
    const of = e.duplicateOf === undefined ? undefined : used.get(e.endpoint.address);
    if (of !== undefined) out.set(e.endpoint.key, { endpoint: e.endpoint, of });
  }
  return out;
}
