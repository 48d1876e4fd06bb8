import type { ServerList } from '../../../proto/gen/lookaside/v1/ServerList';
import type { ServiceView } from '../../core/registry-state';

/**
 * Translates a service snapshot into the lookaside.v1 ServerList a client receives: every
 * endpoint, draining and weight-0 ones included (with their effective weight of 0 and the
 * draining flag), so clients keep their connections but send them no new calls.
 * Called by the BalanceLoad frontend for each push and by the admin service for assignments.
 */
export function toServerList(view: ServiceView): ServerList {
  return {
    version: view.version,
    servers: view.endpoints.map((e) => ({
      address: e.address,
      weight: e.effectiveWeight,
      zone: e.zone,
      metadata: { ...e.metadata },
      loadBalanceToken: e.loadBalanceToken,
      draining: e.draining,
    })),
  };
}
