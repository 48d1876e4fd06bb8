import * as grpc from '@grpc/grpc-js';
import type { Logger } from 'pino';
import type { ClientRecord, ClientRegistry } from '../core/client-registry';
import type { Clock, TimerHandle } from '../../common/clock';
import type { ServiceView } from '../core/registry-state';
import type { StreamTracker } from './stream-tracker';
import type { VersionedHub } from '../core/versioned-hub';

/** What a one-service list stream (lookaside.v1 or grpclb BalanceLoad) needs from the server. */
export interface ListStreamDeps {
  readonly hub: VersionedHub<ServiceView>;
  readonly clients: ClientRegistry;
  readonly streams: StreamTracker;
  readonly clientStatsIntervalMs: number;
  /** A stream without an initial request after this long ends with INVALID_ARGUMENT. */
  readonly initialRequestTimeoutMs: number;
  readonly clock: Clock;
  readonly logger: Logger;
}

/** How a frontend's rejections are logged (event name and message). */
export interface RejectionLog {
  readonly event: string;
  readonly message: string;
}

/**
 * The life of one BalanceLoad-style stream, shared by the lookaside.v1 and grpclb frontends: the
 * client names one service in its first message, then gets that service's list at once and on
 * every newer version. This class owns what both do alike: ending the stream on server shutdown
 * (UNAVAILABLE) or without an initial request in time (INVALID_ARGUMENT), the hub subscription,
 * a pump that skips to the latest version when the send buffer drains (versions strictly
 * increase, none is sent twice), and an idempotent cleanup on every end path. A subclass parses
 * its protocol's requests (onRequest), calls subscribe() once the initial request is valid, and
 * turns a snapshot into its response (responseFor).
 */
export abstract class ListStream<Req, Res> {
  /** The client's record, once its initial request was accepted. */
  protected record: ClientRecord | undefined;
  private service = '';
  private sentVersion = -1;
  private waitingForDrain = false;
  private finished = false;
  private unsubscribe: (() => void) | undefined;
  private untrack: (() => void) | undefined;
  private initialTimer: TimerHandle | undefined;

  constructor(
    protected readonly call: grpc.ServerDuplexStream<Req, Res>,
    protected readonly deps: ListStreamDeps,
    private readonly rejection: RejectionLog,
  ) {}

  /** Called once by the handler that received the call. */
  start(): void {
    this.untrack = this.deps.streams.add({
      closeForShutdown: () => this.fail(grpc.status.UNAVAILABLE, 'LB server is shutting down; reconnect'),
    });
    if (this.finished) return; // opened while the server was shutting down: already ended
    this.call.on('data', (req: Req) => {
      if (!this.finished) this.onRequest(req);
    });
    this.call.on('end', () => {
      // The client half-closed: finish with OK.
      if (this.finished) return;
      this.cleanup();
      this.call.end();
    });
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

  /** One request of the client; never called after the stream ended. */
  protected abstract onRequest(req: Req): void;

  /** The response carrying `view`'s list (cache it per snapshot: many streams share one). */
  protected abstract responseFor(view: ServiceView): Res;

  /**
   * Accepts the initial request: records the client, writes `initialResponse`, subscribes to
   * `service` and sends its current list (once the server's initial sync is done).
   */
  protected subscribe(service: string, record: ClientRecord, initialResponse: Res): void {
    this.initialTimer?.cancel();
    this.service = service;
    this.record = record;
    this.call.write(initialResponse);
    this.unsubscribe = this.deps.hub.subscribe(service, () => this.pump());
    this.pump();
  }

  /** Sends the latest list if it is newer than the last one sent and the stream can take it. */
  private pump(): void {
    if (this.finished || this.waitingForDrain || !this.record) return;
    const view = this.deps.hub.newerThan(this.service, this.sentVersion);
    if (!view) return;
    this.sentVersion = view.version;
    const response = this.responseFor(view);
    this.record.assigned(view);
    if (!this.call.write(response)) {
      this.waitingForDrain = true;
      this.call.once('drain', () => {
        this.waitingForDrain = false;
        this.pump();
      });
    }
  }

  /** Ends the stream with `code`; no further messages are sent. */
  protected fail(code: grpc.status, details: string): void {
    if (this.finished) return;
    if (code === grpc.status.INVALID_ARGUMENT) {
      this.deps.logger.info(
        { event: this.rejection.event, peer: this.call.getPeer(), reason: details },
        this.rejection.message,
      );
    }
    this.cleanup();
    const status: Partial<grpc.StatusObject> = { code, details };
    this.call.emit('error', status);
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
