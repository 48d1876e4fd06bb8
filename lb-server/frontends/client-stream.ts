import * as grpc from '@grpc/grpc-js';
import type { Logger } from 'pino';
import type { Clock, TimerHandle } from '../../common/clock';
import type { StreamTracker } from './stream-tracker';

/** What every long-lived client stream needs from the server around it. */
export interface ClientStreamDeps {
  readonly streams: StreamTracker;
  /** A stream whose first request is not accepted within this long ends with INVALID_ARGUMENT. */
  readonly initialRequestTimeoutMs: number;
  readonly clock: Clock;
  readonly logger: Logger;
}

/** How a frontend names its first request and logs its rejections. */
export interface StreamProtocol {
  /** The log event of a rejected stream. */
  readonly event: string;
  readonly message: string;
  /** What the first request is called on the wire, for the timeout's message. */
  readonly firstRequest: string;
}

/** The status a stream open at shutdown ends with, whatever its protocol. */
const SHUTDOWN_DETAILS = 'LB server is shutting down; reconnect';

/**
 * The life of one long-lived client stream, shared by every frontend (lookaside.v1 and grpclb
 * BalanceLoad, xDS ADS): ending it on server shutdown (UNAVAILABLE) or when no first request was
 * accepted in time (INVALID_ARGUMENT, logged), an idempotent cleanup on every end path (client
 * half-close answered with OK, cancel, close, error), and backpressure: send() reports a full
 * buffer and pump() is called again when it drains, so a slow stream skips to the latest state
 * instead of queueing every intermediate one. A subclass parses its protocol's requests
 * (onRequest), calls accepted() once the first request is valid, sends from pump(), and releases
 * what it holds in onCleanup().
 */
export abstract class ClientStream<Req, Res> {
  private waitingForDrain = false;
  private ended = false;
  private wasAccepted = false;
  private untrack: (() => void) | undefined;
  private initialTimer: TimerHandle | undefined;

  constructor(
    protected readonly call: grpc.ServerDuplexStream<Req, Res>,
    protected readonly deps: ClientStreamDeps,
    private readonly protocol: StreamProtocol,
  ) {}

  /** Called once by the handler that received the call. */
  start(): void {
    this.untrack = this.deps.streams.add({
      closeForShutdown: () => this.fail(grpc.status.UNAVAILABLE, SHUTDOWN_DETAILS),
    });
    if (this.ended) return; // opened while the server was shutting down: already ended
    this.call.on('data', (req: Req) => {
      if (!this.ended) this.onRequest(req);
    });
    this.call.on('end', () => {
      if (this.ended) return;
      this.cleanup();
      this.call.end();
    });
    this.call.on('cancelled', () => this.cleanup());
    this.call.on('close', () => this.cleanup());
    this.call.on('error', () => this.cleanup());
    this.initialTimer = this.deps.clock.setTimeout(() => {
      if (!this.wasAccepted) {
        this.fail(
          grpc.status.INVALID_ARGUMENT,
          `no ${this.protocol.firstRequest} within ${this.deps.initialRequestTimeoutMs} ms`,
        );
      }
    }, this.deps.initialRequestTimeoutMs);
  }

  /** True once the stream ended (nothing more is sent or read). */
  protected get finished(): boolean {
    return this.ended;
  }

  /** True while a write is waiting for the send buffer to drain. */
  protected get blocked(): boolean {
    return this.waitingForDrain;
  }

  /** One request of the client; never called after the stream ended. */
  protected abstract onRequest(req: Req): void;

  /** Sends whatever is newer than what the client has; called again when the buffer drains. */
  protected abstract pump(): void;

  /** Releases what the subclass holds (subscriptions, client records); called once. */
  protected abstract onCleanup(): void;

  /** The first request was valid: the initial-request timeout no longer applies. */
  protected accepted(): void {
    this.wasAccepted = true;
    this.initialTimer?.cancel();
  }

  /** Writes `response`; false when the buffer is full (pump() runs again once it drains). */
  protected send(response: Res): boolean {
    if (this.call.write(response)) return true;
    if (!this.waitingForDrain) {
      this.waitingForDrain = true;
      this.call.once('drain', () => {
        this.waitingForDrain = false;
        if (!this.ended) this.pump();
      });
    }
    return false;
  }

  /** Ends the stream with `code`; no further messages are sent. INVALID_ARGUMENT is logged. */
  protected fail(code: grpc.status, details: string): void {
    if (this.ended) return;
    if (code === grpc.status.INVALID_ARGUMENT) {
      this.deps.logger.info(
        { event: this.protocol.event, peer: this.call.getPeer(), reason: details },
        this.protocol.message,
      );
    }
    this.cleanup();
    const status: Partial<grpc.StatusObject> = { code, details };
    this.call.emit('error', status);
  }

  private cleanup(): void {
    if (this.ended) return;
    this.ended = true;
    this.initialTimer?.cancel();
    this.untrack?.();
    this.onCleanup();
  }
}
