import * as grpc from '@grpc/grpc-js';
import { service as healthServiceDefinition } from 'grpc-health-check';
import type { Logger } from 'pino';
import { BackoffSchedule } from '../../common/backoff-schedule';
import type { Clock, TimerHandle } from '../../common/clock';
import type { HealthSignal } from '../assignment/assignment-signals';
import type { RegistryEndpoint } from '../core/registry-state';
import { OrcaSubscriber, type OrcaLoad, type OrcaState } from './orca-subscriber';

export type { OrcaLoad, OrcaState } from './orca-subscriber';

/**
 * What this LB replica knows of an endpoint's health:
 * - `unknown`: no answer yet (the stream is queued or opening);
 * - `serving`, `not-serving`: what the backend's grpc.health.v1 Watch said (NOT_SERVING,
 *   SERVICE_UNKNOWN, UNKNOWN and numbers outside the enum are not serving, as in gRFC A17);
 * - `no-health-service`: the backend answered UNIMPLEMENTED: healthy, never asked again;
 * - `unreachable`: this replica cannot reach it, or its stream broke, including on an answer that
 *   does not decode as a HealthCheckResponse (grpc-js ends the call with INTERNAL). Not a verdict:
 *   clients' own connections avoid dead backends, and a partition between LB and backend must not
 *   remove one clients reach; a garbled health answer says nothing about the backend's calls.
 */
export type EndpointHealth = 'unknown' | 'serving' | 'not-serving' | 'no-health-service' | 'unreachable';

/** How the checker is tuned. */
export interface HealthCheckerOptions {
  readonly clock: Clock;
  readonly logger: Logger;
  /** Credentials of the checker's connections to backends (insecure unless TLS backends). */
  readonly credentials: grpc.ChannelCredentials;
  /**
   * With TLS credentials: the name to verify in the certificate of an endpoint of `service`
   * (`grpc.ssl_target_name_override`). The SDK's rule is the service name (its channels'
   * authority) unless the application overrides it; the LB server passes the same rule.
   */
  readonly serverNameOf?: (service: string) => string;
  /** Called with a service whose endpoints' health verdict changed (the owner republishes it). */
  readonly onChange: (service: string) => void;
  /** At most this many streams are opened per tick (gradual start for large registries). */
  readonly opensPerTick?: number;
  readonly tickMs?: number;
  /** Reconnection backoff of one endpoint's stream; default 1 s growing to 30 s. */
  readonly backoff?: { initialMs: number; maxMs: number };
  /**
   * Out-of-band ORCA (gRFC A51): the `report_interval` asked of every checked endpoint on its
   * health check's connection, ms. 0 or absent: no ORCA streams.
   */
  readonly orcaIntervalMs?: number;
  /**
   * Called with every verdict change of an endpoint, right after its `health_changed` log line
   * (the console records it as an event).
   */
  readonly onHealthChange?: (change: {
    service: string;
    address: string;
    from: EndpointHealth;
    to: EndpointHealth;
  }) => void;
  /** Called with every accepted ORCA report of an endpoint (after orcaOf() returns it). */
  readonly onOrca?: (service: string, key: string, load: OrcaLoad) => void;
}

/** By default 50 streams per 100 ms: 10,000 endpoints are all watched within 20 s. */
const DEFAULT_OPENS_PER_TICK = 50;
const DEFAULT_TICK_MS = 100;
const DEFAULT_BACKOFF = { initialMs: 1000, maxMs: 30_000 };

/** A decoded HealthCheckResponse: the enum's name, or its number when it has none (e.g. 99). */
/** One grpc.health.v1 Watch answer as the generic client decodes it. */
export type WatchResponse = { status?: unknown };

/** A grpc.health.v1 client (the checker's, and the benchmark's bare baseline). */
export type HealthClient = grpc.Client & {
  Watch(request: { service: string }): grpc.ClientReadableStream<WatchResponse>;
};
export const HealthClientConstructor = grpc.makeGenericClientConstructor(
  healthServiceDefinition as unknown as grpc.ServiceDefinition,
  'Health',
) as unknown as new (
  address: string,
  credentials: grpc.ChannelCredentials,
  options: grpc.ChannelOptions,
) => HealthClient;

/** The options of the checker's connections (keepalive finds a backend that vanished silently). */
export const CHECKER_CHANNEL_OPTIONS: grpc.ChannelOptions = Object.freeze({
  'grpc.enable_http_proxy': 0,
  'grpc.keepalive_time_ms': 20_000,
  'grpc.keepalive_timeout_ms': 10_000,
});

/** One endpoint's check: its stream, state and retry timer. */
interface Check {
  readonly service: string;
  readonly key: string;
  readonly address: string;
  readonly healthService: string;
  health: EndpointHealth;
  client: HealthClient | undefined;
  call: grpc.ClientReadableStream<WatchResponse> | undefined;
  /** When the open stream delivered its first answer (clock ms), if it did. */
  answeredAt: number | undefined;
  retry: TimerHandle | undefined;
  readonly backoff: BackoffSchedule;
  unknownStatusLogged: boolean;
  queued: boolean;
  closed: boolean;
}

const KNOWN_STATUSES: ReadonlySet<unknown> = new Set([
  'UNKNOWN',
  'SERVING',
  'NOT_SERVING',
  'SERVICE_UNKNOWN',
]);

/**
 * gRFC A17: every status other than SERVING is "not serving", including a number outside the
 * enum (protobuf keeps unknown enum values as numbers) and a missing field.
 */
function servingOf(status: unknown): boolean {
  return status === 'SERVING' || status === 1;
}

/**
 * Active health checking from the LB server (gRFC A17 semantics, done once per replica instead of
 * once per client): one `grpc.health.v1.Health/Watch` stream per endpoint, on a connection of its
 * own, for the record's `healthService`. The owner calls sync() with a service's endpoints after
 * every publish; the checker opens streams for new endpoints gradually (opensPerTick per tick),
 * closes those of endpoints that left, reconnects broken streams with backoff (reset only by a
 * stream that answered and lasted the longest backoff), and calls onChange
 * when an endpoint starts or stops being "not serving" (the only verdict that moves an
 * assignment). Every transition is logged. With orcaIntervalMs it also subscribes to each
 * endpoint's out-of-band ORCA reports on the same client (see OrcaSubscriber): orcaOf() and
 * onOrca. close() ends every stream and timer; idempotent.
 */
export class HealthChecker {
  private readonly checks = new Map<string, Check>();
  private readonly byService = new Map<string, Set<string>>();
  private readonly queue: Check[] = [];
  private tickTimer: TimerHandle | undefined;
  private unimplementedLogged = false;
  private closed = false;
  private readonly orca: OrcaSubscriber | undefined;

  constructor(private readonly options: HealthCheckerOptions) {
    const intervalMs = options.orcaIntervalMs ?? 0;
    this.orca =
      intervalMs > 0
        ? new OrcaSubscriber({
            clock: options.clock,
            logger: options.logger,
            intervalMs,
            backoff: options.backoff ?? DEFAULT_BACKOFF,
            onOrca: options.onOrca,
          })
        : undefined;
  }

  /** Makes the checked endpoints of `service` exactly `endpoints` (by key, address and health service). */
  sync(service: string, endpoints: readonly RegistryEndpoint[]): void {
    if (this.closed) return;
    const wanted = new Map(endpoints.map((e) => [e.key, e]));
    const keys = this.byService.get(service) ?? new Set<string>();
    for (const key of [...keys]) {
      const check = this.checks.get(key);
      const e = wanted.get(key);
      if (check && e && e.address === check.address && e.healthService === check.healthService) continue;
      if (check) this.stop(check);
      keys.delete(key);
    }
    for (const e of wanted.values()) {
      if (keys.has(e.key)) continue;
      const check: Check = {
        service,
        key: e.key,
        address: e.address,
        healthService: e.healthService,
        health: 'unknown',
        client: undefined,
        call: undefined,
        answeredAt: undefined,
        retry: undefined,
        backoff: new BackoffSchedule(this.options.backoff ?? DEFAULT_BACKOFF),
        unknownStatusLogged: false,
        queued: false,
        closed: false,
      };
      this.checks.set(e.key, check);
      keys.add(e.key);
      this.enqueue(check);
    }
    if (keys.size > 0) this.byService.set(service, keys);
    else this.byService.delete(service);
  }

  /** What this replica knows of the endpoint with registry key `key` (undefined: not checked). */
  healthOf(key: string): EndpointHealth | undefined {
    return this.checks.get(key)?.health;
  }

  /** The verdict for the assignment stage: not serving only when the backend said so. */
  signal(key: string): HealthSignal | undefined {
    const h = this.checks.get(key)?.health;
    if (h === 'not-serving') return { serving: false };
    if (h === 'serving' || h === 'no-health-service') return { serving: true };
    return undefined;
  }

  /**
   * The latest valid out-of-band ORCA report of the endpoint with registry key `key`; undefined
   * when ORCA is off, the endpoint is not checked, or it has sent no valid report yet. The
   * composition root hands this to the load-weight computation.
   */
  orcaOf(key: string): OrcaLoad | undefined {
    return this.orca?.loadOf(key);
  }

  /** Where the endpoint's ORCA stream stands (undefined: ORCA off or endpoint not checked). */
  orcaStateOf(key: string): OrcaState | undefined {
    return this.orca?.stateOf(key);
  }

  /** ORCA reports ignored for a NaN, negative or absurd value, since start (for the metrics). */
  rejectedOrcaReports(): number {
    return this.orca?.rejected() ?? 0;
  }

  /** How many endpoints are checked, and how many have an open stream. */
  get size(): { endpoints: number; streams: number } {
    let streams = 0;
    for (const c of this.checks.values()) if (c.call) streams += 1;
    return { endpoints: this.checks.size, streams };
  }

  /** Ends every stream and timer. Idempotent. */
  close(): void {
    this.closed = true;
    this.tickTimer?.cancel();
    this.tickTimer = undefined;
    for (const check of this.checks.values()) this.stop(check);
    this.orca?.close();
    this.checks.clear();
    this.byService.clear();
    this.queue.length = 0;
  }

  private enqueue(check: Check): void {
    if (check.queued || check.closed) return;
    check.queued = true;
    this.queue.push(check);
    this.tickTimer ??= this.options.clock.setTimeout(() => this.tick(), 0);
  }

  /** Opens the next streams of the queue, at most opensPerTick, and comes back for the rest. */
  private tick(): void {
    this.tickTimer = undefined;
    if (this.closed) return;
    const budget = this.options.opensPerTick ?? DEFAULT_OPENS_PER_TICK;
    let opened = 0;
    while (opened < budget && this.queue.length > 0) {
      const check = this.queue.shift() as Check;
      check.queued = false;
      if (check.closed) continue;
      this.open(check);
      opened += 1;
    }
    if (this.queue.length > 0) {
      this.tickTimer = this.options.clock.setTimeout(
        () => this.tick(),
        this.options.tickMs ?? DEFAULT_TICK_MS,
      );
    }
  }

  private open(check: Check): void {
    const serverName = this.options.serverNameOf?.(check.service);
    check.client ??= new HealthClientConstructor(check.address, this.options.credentials, {
      ...CHECKER_CHANNEL_OPTIONS,
      ...(serverName !== undefined ? { 'grpc.ssl_target_name_override': serverName } : {}),
    });
    // ORCA rides the same client (channel, connection); started once, it reconnects by itself.
    this.orca?.start(check.service, check.key, check.address, check.client);
    const call = check.client.Watch({ service: check.healthService });
    check.call = call;
    check.answeredAt = undefined;
    call.on('data', (response: WatchResponse) => {
      if (check.call !== call || check.closed) return;
      check.answeredAt ??= this.options.clock.now();
      const status = response?.status;
      if (!KNOWN_STATUSES.has(status) && !check.unknownStatusLogged) {
        check.unknownStatusLogged = true;
        this.options.logger.warn(
          { event: 'health_check_unknown_status', service: check.service, address: check.address, status },
          'backend answered a health status outside grpc.health.v1: treated as not serving (logged once per endpoint)',
        );
      }
      this.set(check, servingOf(status) ? 'serving' : 'not-serving', { status });
    });
    call.on('error', (err: grpc.ServiceError) => this.ended(check, call, err.code, err.details));
    call.on('end', () => this.ended(check, call, grpc.status.UNAVAILABLE, 'stream ended'));
  }

  private ended(
    check: Check,
    call: grpc.ClientReadableStream<WatchResponse>,
    code: grpc.status,
    details: string,
  ): void {
    if (check.call !== call || check.closed) return;
    check.call = undefined;
    // Reconnect at once only after a stream that answered and then lasted the longest backoff:
    // a backend that answers and drops every stream at once backs off like one that never
    // answers, instead of flapping (and, if it said NOT_SERVING, moving assignments) every second.
    if (
      check.answeredAt !== undefined &&
      this.options.clock.now() - check.answeredAt >= check.backoff.maxMs
    ) {
      check.backoff.reset();
    }
    if (code === grpc.status.UNIMPLEMENTED) {
      // gRFC A17: a backend without the health service is healthy; never asked again on it.
      if (!this.unimplementedLogged) {
        this.unimplementedLogged = true;
        this.options.logger.info(
          { event: 'health_check_unimplemented', service: check.service, address: check.address },
          'backend does not serve grpc.health.v1: treated as healthy (logged once per LB server)',
        );
      }
      this.set(check, 'no-health-service', { code });
      return;
    }
    this.set(check, 'unreachable', { code, details: details.slice(0, 200) });
    const delay = check.backoff.next();
    check.retry = this.options.clock.setTimeout(() => {
      check.retry = undefined;
      this.enqueue(check);
    }, delay);
  }

  private set(check: Check, health: EndpointHealth, detail: Record<string, unknown>): void {
    if (check.health === health) return;
    const before = check.health;
    // Only "not serving" moves an assignment: unknown → serving needs no push.
    const outBefore = this.signal(check.key)?.serving === false;
    check.health = health;
    this.options.logger.info(
      {
        event: 'health_changed',
        service: check.service,
        address: check.address,
        from: before,
        to: health,
        ...detail,
      },
      `endpoint health ${before} -> ${health}`,
    );
    this.options.onHealthChange?.({
      service: check.service,
      address: check.address,
      from: before,
      to: health,
    });
    if ((this.signal(check.key)?.serving === false) !== outBefore) this.options.onChange(check.service);
  }

  private stop(check: Check): void {
    check.closed = true;
    this.orca?.stop(check.key);
    check.retry?.cancel();
    check.retry = undefined;
    check.call?.cancel();
    check.call = undefined;
    check.client?.close();
    check.client = undefined;
    this.checks.delete(check.key);
  }
}
