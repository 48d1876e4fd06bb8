import type { ServerList } from '../../../proto/gen/lookaside/v1/ServerList';
import type { Assignment } from '../../assignment/assignment';

/**
 * Translates an assignment into the lookaside.v1 ServerList a client receives: every entry,
 * the ones not eligible for new calls included (weight 0, and the draining flag of their
 * record), so clients keep their connections for in-flight calls but send them no new calls.
 * Duplicates (another record of the same address is the one clients use) are left out: the
 * address is in the list once, with the weight of that record (SDKs before this rule kept the
 * first entry of an address, which could be the duplicate's weight 0).
 * Called by the lookaside.v1 frontend for each push and by the admin service for assignments.
 */
export function toLookasideServerList(assignment: Assignment): ServerList {
  return {
    version: assignment.version,
    servers: assignment.endpoints
      .filter((entry) => entry.duplicateOf === undefined)
      .map(({ endpoint: e, weight }) => ({
        address: e.address,
        weight,
        zone: e.zone,
        metadata: { ...e.metadata },
        loadBalanceToken: e.loadBalanceToken,
        draining: e.draining,
      })),
  };
}
