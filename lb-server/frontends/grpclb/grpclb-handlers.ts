import { randomUUID } from 'node:crypto';
import type * as grpc from '@grpc/grpc-js';
import type { ClientStats__Output } from '../../../proto/gen/grpc/lb/v1/ClientStats';
import type { LoadBalancerHandlers } from '../../../proto/gen/grpc/lb/v1/LoadBalancer';
import type { LoadBalanceRequest__Output } from '../../../proto/gen/grpc/lb/v1/LoadBalanceRequest';
import type { LoadBalanceResponse } from '../../../proto/gen/grpc/lb/v1/LoadBalanceResponse';
import { serviceOfTargetName } from '../../../common/service-name';
import type { Assignment } from '../../assignment/assignment';
import type { BackendCallCounts } from '../../core/client-registry';
import { ListStream, type ListStreamDeps, type ListStreamProtocol } from '../list-stream';
import { perAssignment } from '../per-assignment';
import { quoteName } from '../request-guards';
import { toGrpclbServerList } from './grpclb-server-list';

/** The stats row that holds a grpclb client's totals (grpclb counts calls, not per backend). */
export const GRPCLB_ALL_BACKENDS = '*';
/** Prefix of the stats rows that count a grpclb client's dropped calls, per drop token. */
export const GRPCLB_DROP_PREFIX = 'drop:';

type GrpclbCall = grpc.ServerDuplexStream<LoadBalanceRequest__Output, LoadBalanceResponse>;

/**
 * Translates one grpclb ClientStats report (deltas since the last) into our per-backend counters:
 * a "*" row with the calls started, known received (as succeeded) and failed to send, and one
 * "drop:<token>" row per drop token (as failed). Pure.
 */
export function grpclbStatsToCounts(stats: ClientStats__Output): BackendCallCounts[] {
  const out: BackendCallCounts[] = [
    {
      address: GRPCLB_ALL_BACKENDS,
      callsStarted: stats.numCallsStarted,
      callsSucceeded: stats.numCallsFinishedKnownReceived,
      callsFailed: stats.numCallsFinishedWithClientFailedToSend,
      latencyMsSum: 0,
    },
  ];
  for (const drop of stats.callsFinishedWithDrop) {
    out.push({
      address: `${GRPCLB_DROP_PREFIX}${drop.loadBalanceToken}`,
      callsStarted: 0,
      callsSucceeded: 0,
      callsFailed: drop.numCalls,
      latencyMsSum: 0,
    });
  }
  return out;
}

/**
 * The grpclb v1 frontend: `grpc.lb.v1.LoadBalancer/BalanceLoad` for stock gRPC clients. The first
 * message must be an initial_request whose name is the target as the client wrote it (a port
 * suffix is ignored: `greeter:443` is service `greeter`; else INVALID_ARGUMENT). The server
 * answers with the client stats interval, then the client's assignment (see toGrpclbServerList:
 * weights by repetition, ineligible entries left out) once the initial etcd sync is done and
 * again on every newer version; a slow stream skips to the latest. ClientStats are added to the
 * client's record (clientStatsIntervalMs 0 asks clients not to report). Called once by startLbServer.
 */
export function createGrpclbHandlers(deps: ListStreamDeps): LoadBalancerHandlers {
  const protocol: ListStreamProtocol<LoadBalanceResponse> = {
    event: 'grpclb_rejected',
    message: 'rejected a grpclb stream',
    openEvent: 'grpclb_open',
    // One response per assignment, shared by every stream of its group; logged once when it has
    // to leave host names out.
    responseFor: perAssignment((assignment: Assignment): LoadBalanceResponse => {
      const list = toGrpclbServerList(assignment);
      if (list.skipped.some((s) => s.reason === 'not-an-ip')) {
        deps.logger.warn(
          { event: 'grpclb_skipped_endpoints', service: assignment.service, skipped: list.skipped },
          'endpoints with host names cannot be sent to grpclb clients',
        );
      }
      return { serverList: list.serverList };
    }),
  };
  return {
    BalanceLoad(call: GrpclbCall): void {
      new GrpclbStream(call, deps, protocol).start();
    },
  };
}

/** One grpclb BalanceLoad stream: its protocol's requests over the shared ListStream. */
class GrpclbStream extends ListStream<LoadBalanceRequest__Output, LoadBalanceResponse> {
  protected override onRequest(req: LoadBalanceRequest__Output): void {
    const initial = req.initialRequest;
    if (initial) {
      this.initial(() => {
        const service = serviceOfTargetName(initial.name);
        if (service === undefined) {
          return {
            ok: false,
            reason: `initial_request.name ${quoteName(initial.name)} is not a service name (optionally with ":port")`,
          };
        }
        const ms = this.deps.clientStatsIntervalMs;
        return {
          ok: true,
          identity: {
            clientId: `grpclb-${randomUUID()}`,
            service,
            peer: this.call.getPeer(),
            zone: '',
            protocol: 'grpclb',
          },
          initialResponse: {
            initialResponse: {
              clientStatsReportInterval: { seconds: Math.floor(ms / 1000), nanos: (ms % 1000) * 1_000_000 },
            },
          },
        };
      });
    } else if (req.clientStats) {
      const stats = req.clientStats;
      this.stats(() => grpclbStatsToCounts(stats));
    } else {
      this.unexpected();
    }
  }
}
