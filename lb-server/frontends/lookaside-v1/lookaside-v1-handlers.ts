import { randomUUID } from 'node:crypto';
import type * as grpc from '@grpc/grpc-js';
import type { LoadBalancerHandlers } from '../../../proto/gen/lookaside/v1/LoadBalancer';
import type { LoadBalanceRequest__Output } from '../../../proto/gen/lookaside/v1/LoadBalanceRequest';
import type { LoadBalanceResponse } from '../../../proto/gen/lookaside/v1/LoadBalanceResponse';
import type { Assignment } from '../../assignment/assignment';
import { ListStream, type ListStreamDeps, type ListStreamProtocol } from '../list-stream';
import { perAssignment } from '../per-assignment';
import { checkClientIdentity } from '../request-guards';
import { toLookasideServerList } from './lookaside-v1-server-list';

type BalanceLoadCall = grpc.ServerDuplexStream<LoadBalanceRequest__Output, LoadBalanceResponse>;

/**
 * The `lookaside.v1.LoadBalancer` frontend: one BalanceLoad stream per client and service.
 * Protocol: the first message must be an initial_request naming a valid service (else
 * INVALID_ARGUMENT, as is a second initial_request or none within the timeout); the server answers
 * with an initial_response, then the client's assignment at once (an empty version-0 list for an
 * unknown service; held until the server's initial etcd sync, so a client is never handed an
 * empty list that only means "not loaded yet") and again whenever a newer version is published.
 * client_stats are recorded. Called once by startLbServer; the handlers are added to its grpc.Server.
 */
export function createLookasideV1Handlers(deps: ListStreamDeps): LoadBalancerHandlers {
  const protocol: ListStreamProtocol<LoadBalanceResponse> = {
    event: 'balance_load_rejected',
    message: 'rejected a BalanceLoad stream',
    openEvent: 'balance_load_open',
    // One response object per assignment, shared by every stream of its group.
    responseFor: perAssignment((a: Assignment) => ({ serverList: toLookasideServerList(a) })),
  };
  return {
    BalanceLoad(call: BalanceLoadCall): void {
      new BalanceLoadStream(call, deps, protocol).start();
    },
  };
}

/** One lookaside.v1 BalanceLoad stream: its protocol's requests over the shared ListStream. */
class BalanceLoadStream extends ListStream<LoadBalanceRequest__Output, LoadBalanceResponse> {
  protected override onRequest(req: LoadBalanceRequest__Output): void {
    const initial = req.initialRequest;
    if (initial) {
      this.initial(() => {
        const refused = checkClientIdentity('initial_request', initial);
        if (refused !== undefined) return { ok: false, reason: refused };
        return {
          ok: true,
          identity: {
            clientId: initial.clientId || randomUUID(),
            service: initial.name,
            peer: this.call.getPeer(),
            zone: initial.zone,
            protocol: 'lookaside.v1',
          },
          initialResponse: {
            initialResponse: { clientStatsReportIntervalMs: this.deps.clientStatsIntervalMs },
          },
        };
      });
    } else if (req.clientStats) {
      const stats = req.clientStats;
      this.stats(() => stats.backends);
    } else {
      this.unexpected();
    }
  }
}
