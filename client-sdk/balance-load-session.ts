import {
  status as Status,
  type ChannelCredentials,
  type ChannelOptions,
  type ClientDuplexStream,
  type ServiceError,
} from '@grpc/grpc-js';
import { loadProtos } from '../proto/protos';
import type { LoadBalancerClient } from '../proto/gen/lookaside/v1/LoadBalancer';
import type { LoadBalanceRequest } from '../proto/gen/lookaside/v1/LoadBalanceRequest';
import type { LoadBalanceResponse__Output } from '../proto/gen/lookaside/v1/LoadBalanceResponse';
import type { Clock, TimerHandle } from '../common/clock';
import type { ClientStatsAccumulator } from './client-stats-accumulator';
import { serverListToEndpoints, type LookasideEndpoint, type RejectedServer } from './lookaside-endpoint';
import { resolverLog } from './resolver-log';

type Stream = ClientDuplexStream<LoadBalanceRequest, LoadBalanceResponse__Output>;

/**
 * Options of the LB stream's own channel: never through a proxy (nor through this resolver).
 * Keepalive pings every 10 s (answered within 5 s) find an LB host that died silently (power
 * loss, a dropped NAT entry, SIGSTOP): without them the stream would wait on a dead TCP
 * connection forever and the client would never move to another replica. The LB server accepts
 * pings this often.
 */
const LB_CHANNEL_OPTIONS: ChannelOptions = {
  'grpc.enable_http_proxy': 0,
  'grpc.service_config_disable_resolution': 1,
  'grpc.keepalive_time_ms': 10_000,
  'grpc.keepalive_timeout_ms': 5_000,
  'grpc.keepalive_permit_without_calls': 1,
};

/** Client stats are never sent more often than this, whatever the LB server asks. */
const MIN_STATS_INTERVAL_MS = 100;

/** How long close() lets the last report reach the LB server before it cuts the stream. */
const FLUSH_BOUND_MS = 1000;

/** A server list as a session hands it on: converted, and newer than the previous one. */
export interface SessionServerList {
  /** The LB server's version (versions are per LB server, so per session). */
  readonly version: number;
  readonly endpoints: LookasideEndpoint[];
  /** Entries left out (bad or duplicate address). */
  readonly rejected: readonly RejectedServer[];
  /** The first list of this session. */
  readonly firstOnStream: boolean;
}

/** How a session ended. */
export interface SessionEnd {
  /** The stream's status; DEADLINE_EXCEEDED when the replica sent no list in time. */
  readonly code: Status;
  /** For humans: the error's message, or what the replica failed to do. */
  readonly reason: string;
  /** Whether the replica sent at least one server list. */
  readonly receivedList: boolean;
}

/**
 * What a BalanceLoadSession tells its owner (the resolver's policy), in stream order, from the
 * stream's callbacks (never during open()) and never after close().
 */
export interface BalanceLoadSessionOwner {
  /** The replica answered; it asks for client stats every `intervalMs` (0: never). */
  onInitialResponse(intervalMs: number): void;
  /** A server list newer than the last one of this session (the first one whatever its version). */
  onServerList(list: SessionServerList): void;
  /** The stream is over and the session has released everything. Called at most once. */
  onEnded(end: SessionEnd): void;
}

/** What a session needs to open one stream. */
export interface BalanceLoadSessionOptions {
  /** "host:port" of the LB replica. */
  readonly lbServer: string;
  readonly service: string;
  readonly clientId: string;
  readonly zone: string;
  readonly credentials: ChannelCredentials;
  /** The TLS name expected in the replica's certificate, when it differs from the host. */
  readonly tlsServerName: string | undefined;
  /** The replica must send a first list within this (else the session ends). */
  readonly answerTimeoutMs: number;
  /** The channel's call counters, reported on the interval the replica asks for. */
  readonly stats: ClientStatsAccumulator;
  readonly clock: Clock;
}

/**
 * One `lookaside.v1.LoadBalancer/BalanceLoad` stream to one LB replica, and its timers: the
 * answer timeout (a replica counts as answering only once it sends a server list: one that
 * accepts the stream but cannot read etcd must not hold the client) and the ClientStats report
 * timer. Opened by the resolver's policy for each attempt; it reports what happened to its owner
 * and ends itself when the stream fails. close() is idempotent and releases the stream, the LB
 * channel and the timers; no owner call follows it. When client stats are on, close() first sends
 * the counts since the last report and half-closes, so a client that lives shorter than the
 * report interval is still counted; the stream and channel go once the LB server has ended the
 * stream, or after FLUSH_BOUND_MS.
 */
export class BalanceLoadSession {
  private readonly client: LoadBalancerClient;
  private readonly stream: Stream;
  private closed = false;
  private answered = false;
  private lastVersion: number | null = null;
  private answerTimer: TimerHandle | null;
  private statsTimer: TimerHandle | null = null;
  /** True once the replica asked for client stats (a non-zero interval). */
  private reporting = false;

  private constructor(
    private readonly options: BalanceLoadSessionOptions,
    private readonly owner: BalanceLoadSessionOwner,
  ) {
    const Client = loadProtos().loadBalancer.LoadBalancer;
    const channelOptions =
      options.tlsServerName === undefined
        ? LB_CHANNEL_OPTIONS
        : { ...LB_CHANNEL_OPTIONS, 'grpc.ssl_target_name_override': options.tlsServerName };
    // "dns:" keeps the LB channel on grpc-js's own resolver, never on this one.
    this.client = new Client(`dns:${options.lbServer}`, options.credentials, channelOptions);
    this.stream = this.client.BalanceLoad();
    this.answerTimer = options.clock.setTimeout(() => {
      this.answerTimer = null;
      const what = this.answered ? 'no server list' : 'no answer';
      this.end(Status.DEADLINE_EXCEEDED, `${what} within ${options.answerTimeoutMs} ms`);
    }, options.answerTimeoutMs);
    this.stream.on('data', (message: LoadBalanceResponse__Output) => this.onMessage(message));
    this.stream.on('error', (err: Partial<ServiceError>) =>
      this.end(typeof err.code === 'number' ? err.code : Status.UNKNOWN, err.message ?? String(err)),
    );
    this.stream.on('end', () => this.end(Status.OK, 'the LB server ended the stream'));
    this.stream.write({
      initialRequest: { name: options.service, clientId: options.clientId, zone: options.zone },
    });
  }

  /** Opens the stream and sends the initial request. Called by the resolver's policy. */
  static open(options: BalanceLoadSessionOptions, owner: BalanceLoadSessionOwner): BalanceLoadSession {
    return new BalanceLoadSession(options, owner);
  }

  /**
   * Ends the session and its timers, sending the unreported call counts first (see the class
   * comment); no owner call follows. Called by the resolver's policy when the channel closes or
   * goes idle. Idempotent.
   */
  close(): void {
    if (this.closed) return;
    const report = this.reporting ? this.options.stats.takeReport() : [];
    this.release();
    if (report.length === 0) {
      this.cutStream();
      return;
    }
    // The LB server records the report, then answers the half-close by ending the stream.
    const bound = this.options.clock.setTimeout(() => this.cutStream(), FLUSH_BOUND_MS);
    this.stream.once('status', () => {
      bound.cancel();
      this.client.close();
    });
    this.stream.write({ clientStats: { backends: report } });
    this.stream.end();
  }

  /** Stops the timers and the owner calls; the stream stays as it is. */
  private release(): void {
    this.closed = true;
    this.answerTimer?.cancel();
    this.statsTimer?.cancel();
    this.answerTimer = null;
    this.statsTimer = null;
    this.stream.removeAllListeners('data');
    this.stream.on('error', () => {}); // a cancelled or ended stream still emits its status
  }

  private cutStream(): void {
    this.stream.cancel();
    this.client.close();
  }

  /** The stream failed or timed out: nothing to flush on it. */
  private end(code: Status, reason: string): void {
    if (this.closed) return;
    const receivedList = this.lastVersion !== null;
    this.release();
    this.cutStream();
    this.owner.onEnded({ code, reason, receivedList });
  }

  private onMessage(message: LoadBalanceResponse__Output): void {
    if (this.closed) return;
    this.answered = true;
    if (message.initialResponse) {
      const intervalMs = message.initialResponse.clientStatsReportIntervalMs;
      this.startStatsReports(intervalMs);
      this.owner.onInitialResponse(intervalMs);
    }
    const list = message.serverList;
    if (!list) return;
    const version = Number(list.version);
    const last = this.lastVersion;
    if (last !== null && !(version > last)) {
      resolverLog('debug', 'stale_list_ignored', { service: this.options.service, version, last });
      return;
    }
    this.lastVersion = version;
    this.answerTimer?.cancel();
    this.answerTimer = null;
    const { endpoints, rejected } = serverListToEndpoints(list.servers);
    this.owner.onServerList({ version, endpoints, rejected, firstOnStream: last === null });
  }

  /** Turns the channel's client stats on or off as the replica asked, and reports them on its interval. */
  private startStatsReports(intervalMs: number): void {
    this.statsTimer?.cancel();
    this.statsTimer = null;
    const stats = this.options.stats;
    stats.enabled = intervalMs > 0;
    this.reporting = intervalMs > 0;
    if (intervalMs <= 0) return;
    const period = Math.max(MIN_STATS_INTERVAL_MS, intervalMs);
    const tick = (): void => {
      if (this.closed) return;
      this.statsTimer = this.options.clock.setTimeout(tick, period);
      this.stream.write({ clientStats: { backends: stats.takeReport() } });
    };
    this.statsTimer = this.options.clock.setTimeout(tick, period);
  }
}
