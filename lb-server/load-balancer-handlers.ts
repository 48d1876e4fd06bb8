import { randomUUID } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import type { Logger } from 'pino';
import type { LoadBalancerHandlers } from '../proto/gen/lookaside/v1/LoadBalancer';
import type { LoadBalanceRequest__Output } from '../proto/gen/lookaside/v1/LoadBalanceRequest';
import type { LoadBalanceResponse } from '../proto/gen/lookaside/v1/LoadBalanceResponse';
import { MAX_ZONE_LENGTH, validateServiceName } from '../proto/registry-record';
import type { ClientRecord, ClientRegistry } from './client-registry';
import type { Clock, TimerHandle } from './clock';
import type { ServiceView } from './registry-state';
import type { StreamTracker } from './stream-tracker';
import { toServerList } from './to-server-list';
import type { VersionedHub } from './versioned-hub';

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
export interface LoadBalancerHandlersDeps {
  readonly hub: VersionedHub<ServiceView>;
  readonly clients: ClientRegistry;
  readonly streams: StreamTracker;
  readonly clientStatsIntervalMs: number;
  /** A stream without an initial_request after this long ends with INVALID_ARGUMENT. */
  readonly initialRequestTimeoutMs: number;
  readonly clock: Clock;
  readonly logger: Logger;
}

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

/** The state of one BalanceLoad stream. */
class BalanceLoadStream {
  private record: ClientRecord | undefined;
  private service = '';
  private sentVersion = -1;
  private waitingForDrain = false;
  private finished = false;
  private unsubscribe: (() => void) | undefined;
  private untrack: (() => void) | undefined;
  private initialTimer: TimerHandle | undefined;

  constructor(
    private readonly call: BalanceLoadCall,
    private readonly deps: LoadBalancerHandlersDeps,
  ) {}

  start(): void {
    this.untrack = this.deps.streams.add({
      closeForShutdown: () => this.fail(grpc.status.UNAVAILABLE, 'LB server is shutting down; reconnect'),
    });
    if (this.finished) return; // opened while the server was shutting down: already ended
    this.call.on('data', (req: LoadBalanceRequest__Output) => this.onRequest(req));
    this.call.on('end', () => this.finish());
    this.call.on('cancelled', () => this.cleanup());
    this.call.on('close', () => this.cleanup());
    this.call.on('error', () => this.cleanup());
    this.initialTimer = this.deps.clock.setTimeout(() => {
      if (!this.record) {
        this.fail(
          grpc.status.INVALID_ARGUMENT,
          `no initial_request within ${this.deps.initialRequestTimeoutMs} ms`,
        );
      }
    }, this.deps.initialRequestTimeoutMs);
  }

  private onRequest(req: LoadBalanceRequest__Output): void {
    if (this.finished) return;
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
      this.initialTimer?.cancel();
      this.service = name;
      this.record = this.deps.clients.connect({
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
          clientId: this.record.identity.clientId,
          peer: this.call.getPeer(),
        },
        'client subscribed',
      );
      this.call.write({
        initialResponse: { clientStatsReportIntervalMs: this.deps.clientStatsIntervalMs },
      });
      this.unsubscribe = this.deps.hub.subscribe(name, () => this.pump());
      this.pump();
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

  /** Sends the latest list if it is newer than the last one sent and the stream can take it. */
  private pump(): void {
    if (this.finished || this.waitingForDrain || !this.record) return;
    const view = this.deps.hub.newerThan(this.service, this.sentVersion);
    if (!view) return;
    this.sentVersion = view.version;
    this.record.assigned(view);
    const writable = this.call.write(responseFor(view));
    if (!writable) {
      this.waitingForDrain = true;
      this.call.once('drain', () => {
        this.waitingForDrain = false;
        this.pump();
      });
    }
  }

  /** Ends the stream with `code`; no further messages are sent. */
  private fail(code: grpc.status, details: string): void {
    if (this.finished) return;
    if (code === grpc.status.INVALID_ARGUMENT) {
      this.deps.logger.info(
        { event: 'balance_load_rejected', peer: this.call.getPeer(), reason: details },
        'rejected a BalanceLoad stream',
      );
    }
    this.cleanup();
    const status: Partial<grpc.StatusObject> = { code, details };
    this.call.emit('error', status);
  }

  /** The client half-closed: finish with OK. */
  private finish(): void {
    if (this.finished) return;
    this.cleanup();
    this.call.end();
  }

  private cleanup(): void {
    if (this.finished) return;
    this.finished = true;
    this.initialTimer?.cancel();
    this.unsubscribe?.();
    this.untrack?.();
    this.record?.disconnect();
  }
}
