import { randomUUID } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import type { ClientStats__Output } from '../../../proto/gen/grpc/lb/v1/ClientStats';
import type { LoadBalancerHandlers } from '../../../proto/gen/grpc/lb/v1/LoadBalancer';
import type { LoadBalanceRequest__Output } from '../../../proto/gen/grpc/lb/v1/LoadBalanceRequest';
import type { LoadBalanceResponse } from '../../../proto/gen/grpc/lb/v1/LoadBalanceResponse';
import type { BackendCallCounts } from '../../core/client-registry';
import { toGrpclbServerList } from './grpclb-server-list';
import { ListStream, type ListStreamDeps } from '../list-stream';
import type { ServiceView } from '../../core/registry-state';
import { serviceOfTargetName } from '../../../common/service-name';

/** The stats row that holds a grpclb client's totals (grpclb counts calls, not per backend). */
export const GRPCLB_ALL_BACKENDS = '*';
/** Prefix of the stats rows that count a grpclb client's dropped calls, per drop token. */
export const GRPCLB_DROP_PREFIX = 'drop:';

/** One response object per snapshot, shared by every stream (encoded once). */
const responses = new WeakMap<ServiceView, LoadBalanceResponse>();

/**
 * What the grpclb frontend needs from the server around it (clientStatsIntervalMs is sent as
 * client_stats_report_interval; 0 asks clients not to report).
 */
export type GrpclbHandlersDeps = ListStreamDeps;

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
 * answers with the client stats interval, then the service's list (see toGrpclbServerList: weights
 * by repetition, draining left out) once the initial etcd sync is done and again on every newer
 * version; a slow stream skips to the latest. ClientStats are added to the client's record.
 * Called once by startLbServer.
 */
export function createGrpclbHandlers(deps: GrpclbHandlersDeps): LoadBalancerHandlers {
  return {
    BalanceLoad(call: GrpclbCall): void {
      new GrpclbStream(call, deps).start();
    },
  };
}

/** One grpclb BalanceLoad stream: its protocol's requests over the shared ListStream. */
class GrpclbStream extends ListStream<LoadBalanceRequest__Output, LoadBalanceResponse> {
  constructor(call: GrpclbCall, deps: GrpclbHandlersDeps) {
    super(call, deps, { event: 'grpclb_rejected', message: 'rejected a grpclb stream' });
  }

  protected override responseFor(view: ServiceView): LoadBalanceResponse {
    let response = responses.get(view);
    if (!response) {
      const list = toGrpclbServerList(view);
      if (list.skipped.some((s) => s.reason === 'not-an-ip')) {
        this.deps.logger.warn(
          { event: 'grpclb_skipped_endpoints', service: view.name, skipped: list.skipped },
          'endpoints with host names cannot be sent to grpclb clients',
        );
      }
      response = { serverList: list.serverList };
      responses.set(view, response);
    }
    return response;
  }

  protected override onRequest(req: LoadBalanceRequest__Output): void {
    if (req.initialRequest) {
      if (this.record) {
        this.fail(grpc.status.INVALID_ARGUMENT, 'initial_request sent twice: send it once, first');
        return;
      }
      const name = req.initialRequest.name;
      const service = serviceOfTargetName(name);
      if (service === undefined) {
        this.fail(
          grpc.status.INVALID_ARGUMENT,
          `initial_request.name ${JSON.stringify(name.slice(0, 300))} is not a service name (optionally with ":port")`,
        );
        return;
      }
      const record = this.deps.clients.connect({
        clientId: `grpclb-${randomUUID()}`,
        service,
        peer: this.call.getPeer(),
        zone: '',
        protocol: 'grpclb',
      });
      this.deps.logger.debug(
        {
          event: 'grpclb_open',
          service,
          name,
          clientId: record.identity.clientId,
          peer: this.call.getPeer(),
        },
        'grpclb client subscribed',
      );
      const ms = this.deps.clientStatsIntervalMs;
      this.subscribe(service, record, {
        initialResponse: {
          clientStatsReportInterval: { seconds: Math.floor(ms / 1000), nanos: (ms % 1000) * 1_000_000 },
        },
      });
      return;
    }
    if (req.clientStats) {
      if (!this.record) {
        this.fail(
          grpc.status.INVALID_ARGUMENT,
          'client_stats before initial_request: send initial_request first',
        );
        return;
      }
      this.record.addStats(grpclbStatsToCounts(req.clientStats));
      return;
    }
    this.fail(grpc.status.INVALID_ARGUMENT, 'expected initial_request or client_stats');
  }
}
