import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import {
  experimental,
  status as Status,
  type ChannelCredentials,
  type ChannelOptions,
  type ClientDuplexStream,
} from '@grpc/grpc-js';
import type { ServiceConfig } from '@grpc/grpc-js';
import { loadProtos } from '../proto/protos';
import type { LoadBalancerClient } from '../proto/gen/lookaside/v1/LoadBalancer';
import type { LoadBalanceRequest } from '../proto/gen/lookaside/v1/LoadBalanceRequest';
import type { LoadBalanceResponse__Output } from '../proto/gen/lookaside/v1/LoadBalanceResponse';
import { BackoffSchedule } from '../common/backoff-schedule';
import { ClientStatsAccumulator } from './client-stats-accumulator';
import { LOOKASIDE_CONTEXT_KEY, LookasideContext } from './lookaside-context';
import { fallbackEndpoints, serverListToEndpoints, type LookasideEndpoint } from './lookaside-endpoint';
import { readLookasideChannelOptions, type LookasideSettings } from './lookaside-channel-options';
import { parseLookasideTarget } from './lookaside-target';
import { LOOKASIDE_WRR_POLICY } from './lookaside-wrr-balancer';
import { sdkDefaults } from './sdk-defaults';

type Listener = experimental.ResolverListener;
type Stream = ClientDuplexStream<LoadBalanceRequest, LoadBalanceResponse__Output>;

const TRACER = 'lookaside_resolver';

function log(level: 'debug' | 'warn', event: string, fields: Record<string, unknown>): void {
  experimental.trace(0 /* LogVerbosity.DEBUG */, TRACER, `${event} ${JSON.stringify(fields)}`);
  sdkDefaults.logger?.[level]({ event, ...fields });
}

/** Always passed with every result, errors included: with none grpc-js falls back to pick_first. */
const SERVICE_CONFIG: experimental.StatusOr<ServiceConfig> = experimental.statusOrFromValue({
  loadBalancingConfig: [{ [LOOKASIDE_WRR_POLICY]: {} }],
  methodConfig: [],
});

/**
 * Options of the LB stream's own channel: never through a proxy (nor through this resolver).
 * Keepalive pings every 10 s (answered within 5 s) find an LB host that died silently (power
 * loss, partition, SIGSTOP): without them the stream would wait on a dead TCP connection forever
 * and the client would never move to another replica. The LB server accepts pings this often.
 */
const LB_CHANNEL_OPTIONS: ChannelOptions = {
  'grpc.enable_http_proxy': 0,
  'grpc.service_config_disable_resolution': 1,
  // HTTP/2 pings find an LB host that died without closing the connection (power loss, a dropped
  // NAT entry): without them the stream would hang on a stale list instead of failing over.
  'grpc.keepalive_time_ms': 10_000,
  'grpc.keepalive_timeout_ms': 5_000,
  'grpc.keepalive_permit_without_calls': 1,
};

/** One attempt at a BalanceLoad stream to one LB replica. */
interface Attempt {
  readonly lbServer: string;
  readonly client: LoadBalancerClient;
  readonly stream: Stream;
  /** Version of the last list accepted on this stream (versions are per LB server). */
  lastVersion: number | null;
  answered: boolean;
  receivedList: boolean;
  answerTimer: NodeJS.Timeout | undefined;
  statsTimer: NodeJS.Timeout | undefined;
  /** Holds back an empty first list that would wipe a known one (see onMessage). */
  emptyHoldTimer: NodeJS.Timeout | undefined;
}

/**
 * The `lookaside` resolver. grpc-js constructs one per channel whose target is
 * `lookaside://<lb:port[,lb:port…]>/<service>`; `updateResolution()` (called when the channel
 * leaves IDLE and whenever the policy asks) opens `lookaside.v1.LoadBalancer/BalanceLoad` to one LB
 * replica, and every newer ServerList becomes a list of weighted endpoints for `lookaside_wrr`.
 * It reports ClientStats on the interval the LB server asks for. When the stream breaks it keeps
 * the last list, and reconnects to the next replica after an exponential, jittered, capped delay,
 * so a dead LB server is never flooded. An empty first list from a reconnected stream does not wipe a
 * known, non-empty list until the start-up timeout (a restarting LB server may answer before it
 * has read etcd) unless a newer list arrives first. Until a first list arrives: after the start-up timeout it
 * serves the fallback addresses if configured, or reports UNAVAILABLE naming the service and the
 * LB servers so calls fail instead of waiting forever. Never calls the listener synchronously, nor
 * after destroy().
 */
export class LookasideResolver implements experimental.Resolver {
  private readonly service: string;
  private readonly lbServers: readonly string[];
  private readonly settings: LookasideSettings;
  private readonly fallback: LookasideEndpoint[];
  private readonly clientId: string;
  private readonly context: LookasideContext;
  private readonly attributes: { [key: string]: unknown };
  private readonly backoff: BackoffSchedule;

  private running = false;
  private attempt: Attempt | null = null;
  private replica = 0;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private startupTimer: NodeJS.Timeout | undefined;
  private pendingReport: NodeJS.Immediate | undefined;
  /** The last list an LB server sent; kept across broken streams and idle periods. */
  private lastEndpoints: LookasideEndpoint[] | null = null;
  /** The fallback addresses are in use (no LB list since the start-up timeout); kept across idle. */
  private fallbackInUse = false;
  private lastError = 'no attempt yet';

  /** The service name: the `:authority` (and TLS name) of every call on the channel. */
  static getDefaultAuthority(target: experimental.GrpcUri): string {
    return parseLookasideTarget(target).service;
  }

  constructor(
    target: experimental.GrpcUri,
    private readonly listener: Listener,
    channelOptions: ChannelOptions,
  ) {
    const parsed = parseLookasideTarget(target);
    this.service = parsed.service;
    this.lbServers = parsed.lbServers;
    this.settings = readLookasideChannelOptions(channelOptions);
    this.fallback = fallbackEndpoints(this.settings.fallbackAddresses);
    this.clientId =
      this.settings.clientId ?? `${hostname()}-${process.pid}-${randomBytes(4).toString('hex')}`;
    const credsName = this.settings.lbCredentialsName;
    if (credsName !== undefined && !sdkDefaults.namedLbCredentials.has(credsName)) {
      throw new RangeError(
        `invalid channel option "lookaside.lb_credentials": no LB credentials registered as ` +
          `${JSON.stringify(credsName)} (call registerLookasideCredentials first)`,
      );
    }
    this.context = new LookasideContext(this.service, this.lbServers, new ClientStatsAccumulator());
    this.attributes = { [LOOKASIDE_CONTEXT_KEY]: this.context };
    this.backoff = new BackoffSchedule({
      initialMs: this.settings.reconnectInitialBackoffMs,
      maxMs: this.settings.reconnectMaxBackoffMs,
    });
    this.replica = Math.floor(Math.random() * this.lbServers.length);
  }

  updateResolution(): void {
    if (this.running) return; // the stream (or its reconnection timer) is already at work
    this.running = true;
    if (this.lastEndpoints !== null && this.lastEndpoints.length > 0) {
      // Back from IDLE: serve the last list at once; the new stream refreshes it.
      const endpoints = this.lastEndpoints;
      this.reportLater(() => this.report(experimental.statusOrFromValue(endpoints), 'last known list'));
    } else if (this.fallbackInUse) {
      // Back from IDLE on the fallback: keep using it at once rather than after another timeout.
      this.reportLater(() =>
        this.report(experimental.statusOrFromValue(this.fallback), 'fallback addresses (still no LB list)'),
      );
    } else {
      // An empty last list is not replayed: the call that woke the channel would fail at once,
      // moments before the new stream's list arrives. Wait for it (or the start-up timeout).
      this.lastEndpoints = null;
      this.startupTimer = setTimeout(() => this.onStartupTimeout(), this.settings.startupTimeoutMs);
      this.startupTimer.unref();
    }
    this.connect();
  }

  destroy(): void {
    this.running = false;
    clearTimeout(this.reconnectTimer);
    clearTimeout(this.startupTimer);
    if (this.pendingReport) clearImmediate(this.pendingReport);
    this.reconnectTimer = undefined;
    this.startupTimer = undefined;
    this.pendingReport = undefined;
    this.endAttempt();
    this.context.stats.enabled = false;
  }

  private reportLater(fn: () => void): void {
    if (this.pendingReport) clearImmediate(this.pendingReport);
    this.pendingReport = setImmediate(() => {
      this.pendingReport = undefined;
      if (this.running) fn();
    });
  }

  private report(endpoints: experimental.StatusOr<LookasideEndpoint[]>, note: string): void {
    if (!this.running) return;
    this.listener(endpoints, this.attributes, SERVICE_CONFIG, note);
  }

  private connect(): void {
    this.reconnectTimer = undefined;
    if (!this.running) return;
    const lbServer = this.lbServers[this.replica % this.lbServers.length];
    const Client = loadProtos().loadBalancer.LoadBalancer;
    // "dns:" keeps the LB channel on grpc-js's own resolver, never on this one.
    const client = new Client(`dns:${lbServer}`, this.lbCredentials(), this.lbChannelOptions());
    const stream = client.BalanceLoad();
    const attempt: Attempt = {
      lbServer,
      client,
      stream,
      lastVersion: null,
      answered: false,
      receivedList: false,
      answerTimer: undefined,
      statsTimer: undefined,
      emptyHoldTimer: undefined,
    };
    this.attempt = attempt;
    log('debug', 'lb_connect', { service: this.service, lbServer });
    // A replica counts as answering only once it sends a server list: one that accepts the stream
    // but has not read etcd (unreachable, wrong credentials) must not hold the client forever.
    attempt.answerTimer = setTimeout(() => {
      if (!attempt.receivedList) {
        this.onBroken(
          attempt,
          attempt.answered
            ? `no server list within ${this.settings.lbAnswerTimeoutMs} ms`
            : `no answer within ${this.settings.lbAnswerTimeoutMs} ms`,
        );
      }
    }, this.settings.lbAnswerTimeoutMs);
    attempt.answerTimer.unref();
    stream.on('data', (message: LoadBalanceResponse__Output) => this.onMessage(attempt, message));
    stream.on('error', (err: Error) => this.onBroken(attempt, err.message));
    stream.on('end', () => this.onBroken(attempt, 'the LB server ended the stream'));
    stream.write({
      initialRequest: { name: this.service, clientId: this.clientId, zone: this.settings.zone },
    });
  }

  /** The named credentials (looked up per connection, so a re-registration applies) or the default. */
  private lbCredentials(): ChannelCredentials {
    const name = this.settings.lbCredentialsName;
    return (
      (name !== undefined ? sdkDefaults.namedLbCredentials.get(name) : undefined) ?? sdkDefaults.lbCredentials
    );
  }

  private lbChannelOptions(): ChannelOptions {
    const name = this.settings.lbTlsServerName;
    return name === undefined
      ? LB_CHANNEL_OPTIONS
      : { ...LB_CHANNEL_OPTIONS, 'grpc.ssl_target_name_override': name };
  }

  private onMessage(attempt: Attempt, message: LoadBalanceResponse__Output): void {
    if (attempt !== this.attempt) return;
    attempt.answered = true;
    if (message.initialResponse) {
      this.startStatsReports(attempt, message.initialResponse.clientStatsReportIntervalMs);
    }
    const list = message.serverList;
    if (!list) return;
    const version = Number(list.version);
    if (attempt.lastVersion !== null && !(version > attempt.lastVersion)) {
      log('debug', 'stale_list_ignored', { service: this.service, version, last: attempt.lastVersion });
      return;
    }
    const firstOnStream = !attempt.receivedList;
    attempt.lastVersion = version;
    attempt.receivedList = true;
    this.backoff.reset();
    clearTimeout(this.startupTimer);
    this.startupTimer = undefined;
    clearTimeout(attempt.emptyHoldTimer);
    attempt.emptyHoldTimer = undefined;
    const { endpoints, rejected } = serverListToEndpoints(list.servers);
    if (rejected.length > 0) {
      log('warn', 'servers_rejected', { service: this.service, lbServer: attempt.lbServer, rejected });
    }
    const note = `server list version ${version} from LB server ${attempt.lbServer}`;
    if (
      firstOnStream &&
      endpoints.length === 0 &&
      this.lastEndpoints !== null &&
      this.lastEndpoints.length > 0
    ) {
      // A freshly (re)started LB server may answer before it has read etcd. Like xDS clients that
      // ignore resource deletions (gRFC A53), do not let its first, empty list wipe the backends
      // in use at once: keep them for the start-up timeout unless a newer list comes first.
      log('warn', 'empty_list_held', { service: this.service, lbServer: attempt.lbServer, version });
      attempt.emptyHoldTimer = setTimeout(() => {
        attempt.emptyHoldTimer = undefined;
        if (attempt !== this.attempt) return;
        this.applyList(endpoints, version, note);
      }, this.settings.startupTimeoutMs);
      attempt.emptyHoldTimer.unref();
      return;
    }
    this.applyList(endpoints, version, note);
  }

  private applyList(endpoints: LookasideEndpoint[], version: number, note: string): void {
    if (this.pendingReport) clearImmediate(this.pendingReport); // an older list must not follow
    this.pendingReport = undefined;
    this.lastEndpoints = endpoints;
    this.fallbackInUse = false;
    log('debug', 'server_list', { service: this.service, version, endpoints: endpoints.length });
    this.report(experimental.statusOrFromValue(endpoints), note);
  }

  private startStatsReports(attempt: Attempt, intervalMs: number): void {
    clearInterval(attempt.statsTimer);
    attempt.statsTimer = undefined;
    this.context.stats.enabled = intervalMs > 0;
    if (intervalMs <= 0) return;
    attempt.statsTimer = setInterval(
      () => {
        if (attempt !== this.attempt) return;
        attempt.stream.write({ clientStats: { backends: this.context.stats.takeReport() } });
      },
      Math.max(100, intervalMs),
    );
    attempt.statsTimer.unref();
  }

  private onBroken(attempt: Attempt, reason: string): void {
    if (attempt !== this.attempt) return;
    this.endAttempt();
    this.lastError = `LB server ${attempt.lbServer}: ${reason}`;
    if (!this.running) return;
    this.replica = (this.replica + 1) % this.lbServers.length;
    const delay = this.backoff.next();
    log(attempt.receivedList ? 'warn' : 'debug', 'lb_stream_broken', {
      service: this.service,
      lbServer: attempt.lbServer,
      reason,
      reconnectInMs: delay,
      keptEndpoints: this.lastEndpoints?.length ?? 0,
    });
    this.reconnectTimer = setTimeout(() => this.connect(), delay);
    this.reconnectTimer.unref();
  }

  private endAttempt(): void {
    const attempt = this.attempt;
    if (attempt === null) return;
    this.attempt = null;
    clearTimeout(attempt.answerTimer);
    clearInterval(attempt.statsTimer);
    clearTimeout(attempt.emptyHoldTimer);
    attempt.stream.removeAllListeners('data');
    attempt.stream.on('error', () => {}); // a cancelled stream still emits its status
    attempt.stream.cancel();
    attempt.client.close();
  }

  private onStartupTimeout(): void {
    this.startupTimer = undefined;
    if (!this.running || this.lastEndpoints !== null) return;
    if (this.fallback.length > 0) {
      this.fallbackInUse = true;
      log('warn', 'fallback_in_use', {
        service: this.service,
        lbServers: this.lbServers,
        fallback: this.fallback.map((e) => e.address),
        lastError: this.lastError,
      });
      this.report(
        experimental.statusOrFromValue(this.fallback),
        `fallback addresses: no LB server answered within ${this.settings.startupTimeoutMs} ms`,
      );
      return;
    }
    const details =
      `lookaside: no LB server answered for service "${this.service}" within ` +
      `${this.settings.startupTimeoutMs} ms (LB servers: ${this.lbServers.join(', ')}; last error: ${this.lastError})`;
    log('warn', 'startup_timeout', {
      service: this.service,
      lbServers: this.lbServers,
      lastError: this.lastError,
    });
    this.report(experimental.statusOrFromError({ code: Status.UNAVAILABLE, details }), details);
  }
}
