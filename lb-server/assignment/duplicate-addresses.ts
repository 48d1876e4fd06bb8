import type { RegistryEndpoint } from '../core/registry-state';

/**
 * The rule for two or more records of one service that name the same address (a Go-format record
 * next to ours, or an instance restarted on the same port before its old lease expired). Clients
 * connect to an address once, so exactly one record per address is the one clients use; the others
 * are duplicates (share 0, reason `duplicate`). The record clients use is, in this order:
 * 1. a record in our format over one in etcd's Go naming format: ours carries the weight, the
 *    draining flag, the zone and the health service, the Go one only the address (when a service
 *    registers in both formats, ours says what it wants, a drain included);
 * 2. the newest record (highest etcd mod revision): an instance restarted on the same port wrote
 *    its record after the old one, so the newest describes the process now on the address, and a
 *    setWeight or drain is a write, so the latest intent wins;
 * 3. the lowest key (two keys written in one transaction share a revision).
 * Weights are never summed: the address gets the weight of the record clients use. Every input is
 * etcd state, so every LB replica picks the same record. Pure; the assignment stage calls it.
 */

/** True when `a` is the record clients use rather than `b` (the rule above). */
export function preferredRecord(a: RegistryEndpoint, b: RegistryEndpoint): boolean {
  const ours = (e: RegistryEndpoint) => (e.format === 'lookaside' ? 1 : 0);
  if (ours(a) !== ours(b)) return ours(a) > ours(b);
  if (a.modRevision !== b.modRevision) return a.modRevision > b.modRevision;
  return a.key < b.key;
}

/**
 * The duplicates among `endpoints` (one service's records): for each record clients do not use,
 * keyed by registry key, the record of the same address they use. Empty when every address is
 * named once (the common case, which allocates one Map of addresses).
 */
export function duplicateAddresses(
  endpoints: readonly RegistryEndpoint[],
): ReadonlyMap<string, RegistryEndpoint> {
  const live = new Map<string, RegistryEndpoint>();
  let repeated = false;
  for (const e of endpoints) {
    const other = live.get(e.address);
    if (other === undefined) {
      live.set(e.address, e);
      continue;
    }
    repeated = true;
    if (preferredRecord(e, other)) live.set(e.address, e);
  }
  const duplicates = new Map<string, RegistryEndpoint>();
  if (!repeated) return duplicates;
  for (const e of endpoints) {
    const used = live.get(e.address);
    if (used !== undefined && used !== e) duplicates.set(e.key, used);
  }
  return duplicates;
}
