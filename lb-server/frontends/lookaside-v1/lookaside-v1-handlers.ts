import { randomUUID } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import type { LoadBalancerHandlers } from '../../../proto/gen/lookaside/v1/LoadBalancer';
import type { LoadBalanceRequest__Output } from '../../../proto/gen/lookaside/v1/LoadBalanceRequest';
import type { LoadBalanceResponse } from '../../../proto/gen/lookaside/v1/LoadBalanceResponse';
import { MAX_ZONE_LENGTH } from '../../../common/registry-record';
import { validateServiceName } from '../../../common/service-name';
import { ListStream, type ListStreamDeps } from '../list-stream';
import type { ServiceView } from '../../core/registry-state';
import { toServerList } from './lookaside-v1-server-list';

export const MAX_CLIENT_ID_LENGTH = 256;

/** One response object per snapshot, shared by every stream (encoded once, see withSharedSerialization). */
const responses = new WeakMap<ServiceView, LoadBalanceResponse>();
function responseFor(view: ServiceView): LoadBalanceResponse {
  let r = responses.get(view);
  if (!r) {
    r = { serverList: toServerList(view) };
    responses.set(view, r);
  }
  return r;
}

/** What the lookaside.v1 frontend needs from the server around it. */
export type LoadBalancerHandlersDeps = ListStreamDeps;

type BalanceLoadCall = grpc.ServerDuplexStream<LoadBalanceRequest__Output, LoadBalanceResponse>;

/**
 * The `lookaside.v1.LoadBalancer` frontend: one BalanceLoad stream per client and service.
 * Protocol: the first message must be an initial_request naming a valid service (else
 * INVALID_ARGUMENT, as is a second initial_request or none within the timeout); the server answers
 * with an initial_response, then the service's full list at once (an empty version-0 list for an
 * unknown service; held until the server's initial etcd sync, so a client is never handed an
 * empty list that only means "not loaded yet") and again whenever the hub publishes a newer
 * version. A stream with a full send buffer skips to the latest version when it drains, so
 * versions on a stream strictly increase and none is sent twice. client_stats are recorded.
 * Called once by startLbServer; the handlers are added to its grpc.Server.
 */
export function createLoadBalancerHandlers(deps: LoadBalancerHandlersDeps): LoadBalancerHandlers {
  return {
    BalanceLoad(call: BalanceLoadCall): void {
      new BalanceLoadStream(call, deps).start();
    },
  };
}

/** One lookaside.v1 BalanceLoad stream: its protocol's requests over the shared ListStream. */
class BalanceLoadStream extends ListStream<LoadBalanceRequest__Output, LoadBalanceResponse> {
  constructor(call: BalanceLoadCall, deps: LoadBalancerHandlersDeps) {
    super(call, deps, { event: 'balance_load_rejected', message: 'rejected a BalanceLoad stream' });
  }

  protected override responseFor(view: ServiceView): LoadBalanceResponse {
    return responseFor(view);
  }

  protected override onRequest(req: LoadBalanceRequest__Output): void {
    if (req.initialRequest) {
      if (this.record) {
        this.fail(grpc.status.INVALID_ARGUMENT, 'initial_request sent twice: send it once, first');
        return;
      }
      const { name, clientId, zone } = req.initialRequest;
      const valid = validateServiceName(name);
      if (!valid.ok) {
        this.fail(
          grpc.status.INVALID_ARGUMENT,
          `initial_request.name ${JSON.stringify(name.slice(0, 300))}: ${valid.reason}`,
        );
        return;
      }
      if (clientId.length > MAX_CLIENT_ID_LENGTH) {
        this.fail(
          grpc.status.INVALID_ARGUMENT,
          `initial_request.client_id is longer than ${MAX_CLIENT_ID_LENGTH} characters`,
        );
        return;
      }
      if (zone.length > MAX_ZONE_LENGTH) {
        this.fail(
          grpc.status.INVALID_ARGUMENT,
          `initial_request.zone is longer than ${MAX_ZONE_LENGTH} characters`,
        );
        return;
      }
      const record = this.deps.clients.connect({
        clientId: clientId || randomUUID(),
        service: name,
        peer: this.call.getPeer(),
        zone,
        protocol: 'lookaside.v1',
      });
      this.deps.logger.debug(
        {
          event: 'balance_load_open',
          service: name,
          clientId: record.identity.clientId,
          peer: this.call.getPeer(),
        },
        'client subscribed',
      );
      this.subscribe(name, record, {
        initialResponse: { clientStatsReportIntervalMs: this.deps.clientStatsIntervalMs },
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
      this.record.addStats(req.clientStats.backends);
      return;
    }
    this.fail(
      grpc.status.INVALID_ARGUMENT,
      this.record ? 'empty request: expected client_stats' : 'expected initial_request as the first message',
    );
  }
}
