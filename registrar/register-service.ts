import { randomBytes } from 'node:crypto';
import './etcd3-present';
import { Etcd3, type Lease } from 'etcd3';
import type { EventLogger } from '../common/event-logger';
import { z } from 'zod';
import { etcdClientOptions, EtcdSecurityError, type EtcdSecurity } from '../etcd/etcd-client-options';
import {
  DEFAULT_PREFIX,
  DEFAULT_WEIGHT,
  MAX_METADATA_ENTRIES,
  MAX_WEIGHT,
  MAX_ZONE_LENGTH,
  encodeRecordValue,
  recordKey,
  validateInstanceId,
  type RecordValueInput,
} from '../common/registry-record';
import { parseAddress } from '../common/host-port';
import { validateServiceName } from '../common/service-name';
import { BackoffSchedule } from '../common/backoff-schedule';
import { reportLoad, type LoadReporter, type LoadReporterOptions } from './load-reporter';

/** registerService's `reportLoad` option with LoadReporter options. */
export interface ReportLoadOptions extends LoadReporterOptions {
  readonly server: GrpcServerLike;
}

/** What reportLoad needs of a grpc.Server (channelz call counts only from the @grpc/grpc-js copy lookaside uses). */
type GrpcServerLike = Parameters<typeof reportLoad>[0];

/**
 * Options of registerService. For a secured etcd add the EtcdSecurity fields: etcdUser and
 * etcdPassword (password auth), etcdCaFile (https:// endpoints), etcdCertFile and etcdKeyFile
 * (etcd's --client-cert-auth). None of them is ever written to the record or logged.
 */
export interface RegisterServiceOptions extends EtcdSecurity {
  /** etcd endpoint URLs, e.g. `['http://127.0.0.1:2379']`. */
  etcd: string[];
  service: string;
  /** "host:port" clients connect to (IPv6 in brackets). */
  address: string;
  /** Relative share of new calls, 0..10000; 0 takes none. Default 100. */
  weight?: number;
  zone?: string;
  metadata?: Record<string, string>;
  /**
   * The `grpc.health.v1` service name the LB server watches for this instance; default "" (the
   * server's overall health). The service should serve grpc.health.v1 (without it, the LB server
   * gets UNIMPLEMENTED and treats the instance as healthy).
   */
  healthService?: string;
  /** Lease TTL: how long after a crash the record disappears. Default 10. */
  ttlSeconds?: number;
  /** Default: the address plus a random suffix. */
  instanceId?: string;
  /** Default '/lookaside/services'. */
  prefix?: string;
  /** Where registration events go (registered, lease_lost, re_registered, ...): a pino Logger or any EventLogger. */
  logger?: EventLogger;
  /**
   * The instance's grpc.Server, to report its load out of band (ORCA) to the LB server: adds the
   * ORCA service to it (`reportLoad`) before the record is written, so the LB server never finds
   * the instance without it, and stops the reports on close(). `{ server, ...LoadReporterOptions }`
   * sets the interval or the utilization source. Default: no load reports.
   */
  reportLoad?: GrpcServerLike | ReportLoadOptions;
}

/** A live registration: the record in etcd, kept alive until close(). */
export interface Registration {
  /** The etcd key of the record: `<prefix>/<service>/<instance-id>`. */
  readonly key: string;
  readonly instanceId: string;
  /** The load reporter the `reportLoad` option started, if any. */
  readonly load: LoadReporter | undefined;
  /** Publishes a new weight (0..10000). Rejects with a RegistrarError if etcd refuses it. */
  setWeight(weight: number): Promise<void>;
  /**
   * Publishes `draining: true` (clients stop sending new calls once the LB server's push reaches
   * them), then waits until the instance is quiet: `inFlight()` is 0 and, when `served` is given,
   * no new call arrived, for `quietMs` (default 300) in a row; or until `timeoutMs` (default
   * 30000) passes. Without `inFlight` it returns once "draining" is published.
   */
  drain(options?: DrainOptions): Promise<void>;
  /** Stops the keepalive and revokes the lease, which deletes the record. Idempotent. */
  close(): Promise<void>;
}

/** Options of Registration.drain(). */
export interface DrainOptions {
  /** Calls being served now. */
  inFlight?: () => number;
  /** Calls served so far (any counter that grows with each new call). */
  served?: () => number;
  /**
   * How long the instance must be quiet before drain() resolves. Covers the push delay: right
   * after "draining" is published, clients that have not yet received it still send calls.
   */
  quietMs?: number;
  timeoutMs?: number;
}

/** A registrar failure, naming the key and the etcd endpoints. */
export class RegistrarError extends Error {
  override readonly name = 'RegistrarError';
  constructor(
    message: string,
    readonly key: string,
    readonly etcd: readonly string[],
    options?: { cause?: unknown },
  ) {
    super(`${message} (key ${key}, etcd ${etcd.join(',')})`, options);
  }
}

const custom = <T>(check: (v: T) => { ok: true } | { ok: false; reason: string }) =>
  z.string().superRefine((value, ctx) => {
    const r = check(value as T);
    if (!r.ok) ctx.addIssue({ code: 'custom', message: r.reason });
  });

const OptionsSchema = z.object({
  etcd: z.array(z.string().min(1)).min(1),
  service: custom(validateServiceName),
  address: custom(parseAddress),
  weight: z.number().int().min(0).max(MAX_WEIGHT).default(DEFAULT_WEIGHT),
  zone: z.string().max(MAX_ZONE_LENGTH).default(''),
  metadata: z
    .record(z.string().min(1), z.string())
    .refine((m) => Object.keys(m).length <= MAX_METADATA_ENTRIES, {
      message: `at most ${MAX_METADATA_ENTRIES} entries`,
    })
    .default({}),
  healthService: z.string().default(''),
  ttlSeconds: z.number().int().min(1).max(3600).default(10),
  instanceId: custom(validateInstanceId).optional(),
  prefix: z.string().default(DEFAULT_PREFIX),
  logger: z.custom<EventLogger>((v) => typeof v === 'object' && v !== null).optional(),
  reportLoad: z
    .custom<GrpcServerLike | ReportLoadOptions>(
      (v) =>
        isServer(v) || (typeof v === 'object' && v !== null && isServer((v as { server?: unknown }).server)),
      { message: 'must be a grpc.Server or { server: grpc.Server, ... }' },
    )
    .optional(),
  etcdUser: z.string().optional(),
  etcdPassword: z.string().optional(),
  etcdCaFile: z.string().optional(),
  etcdCertFile: z.string().optional(),
  etcdKeyFile: z.string().optional(),
});

function isServer(v: unknown): v is GrpcServerLike {
  return (
    typeof v === 'object' && v !== null && typeof (v as { addService?: unknown }).addService === 'function'
  );
}

const DRAIN_POLL_MS = 25;
const DRAIN_QUIET_MS = 300;

/**
 * Registers one instance of a service in etcd: grants a lease with the TTL, puts the record on it
 * and keeps the lease alive. Called by a service at start-up (the demo service does). Resolves once
 * the record is in etcd; rejects with a RangeError naming a bad option, or a RegistrarError when
 * etcd cannot be reached or refuses the record. The first registration is tried once, by design:
 * a wrong endpoint, certificate or password shows at start-up, where the caller decides (exit and
 * let the supervisor restart it, or retry itself), instead of a service that serves unregistered
 * while it retries in the background. Once registered, a lost lease or an etcd outage is retried
 * (new lease, put again) with capped, jittered backoff until close().
 */
export async function registerService(options: RegisterServiceOptions): Promise<Registration> {
  const parsed = OptionsSchema.safeParse(options);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new RangeError(`invalid registerService option "${issue.path.join('.')}": ${issue.message}`);
  }
  const o = parsed.data;
  const instanceId = o.instanceId ?? `${o.address}-${randomBytes(3).toString('hex')}`;
  const key = recordKey(o.prefix, o.service, instanceId);
  const value: RecordValueInput = {
    address: o.address,
    weight: o.weight,
    zone: o.zone,
    metadata: o.metadata,
    draining: false,
    healthService: o.healthService,
  };
  encodeRecordValue(value); // throws a RangeError naming the bad field
  let load: LoadReporter | undefined;
  try {
    load =
      o.reportLoad &&
      (isServer(o.reportLoad) ? reportLoad(o.reportLoad) : reportLoad(o.reportLoad.server, o.reportLoad));
  } catch (err) {
    throw new RangeError(`invalid registerService option "reportLoad": ${(err as Error).message}`, {
      cause: err,
    });
  }
  let client: Etcd3;
  try {
    client = new Etcd3({
      ...etcdClientOptions(o.etcd, o),
      // Pings find a frozen or partitioned etcd member (etcd allows one per 5 s); etcd3 ignores
      // dialTimeout, so puts carry their own deadline.
      grpcOptions: { 'grpc.keepalive_time_ms': 10_000, 'grpc.keepalive_timeout_ms': 5_000 },
    });
  } catch (err) {
    load?.close();
    if (err instanceof EtcdSecurityError) {
      throw new RangeError(`invalid registerService option "${err.field}": ${err.reason}`);
    }
    throw err;
  }
  const registration = new EtcdRegistration(
    client,
    o.etcd,
    key,
    instanceId,
    o.ttlSeconds,
    value,
    o.logger,
    load,
  );
  try {
    await registration.start();
  } catch (err) {
    await registration.close();
    throw new RegistrarError(`could not register: ${(err as Error).message}`, key, o.etcd, { cause: err });
  }
  return registration;
}

/** Bound on one etcd write of the record. */
const PUT_DEADLINE_MS = 5000;

class EtcdRegistration implements Registration {
  // Capped at 2 s: when etcd comes back after an outage, every registrar must be back within the
  // LB server's self-preservation grace (15 s by default), and a 2 s cap costs etcd little.
  private readonly backoff = new BackoffSchedule({ initialMs: 250, maxMs: 2000 });
  private lease: Lease | null = null;
  /** The registration (lease grant + put) in flight, if any; publish() and close() wait for it. */
  private registering: Promise<void> | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private closed = false;
  private closing: Promise<void> | undefined;

  constructor(
    private readonly client: Etcd3,
    private readonly etcd: readonly string[],
    readonly key: string,
    readonly instanceId: string,
    private readonly ttlSeconds: number,
    private readonly value: RecordValueInput,
    private readonly logger: EventLogger | undefined,
    readonly load: LoadReporter | undefined,
  ) {}

  /** The first registration; throws when etcd refuses. */
  async start(): Promise<void> {
    await this.register();
    this.logger?.info({ event: 'registered', key: this.key, ttlSeconds: this.ttlSeconds });
  }

  /**
   * Grants a new lease and puts the current value on it; the lease becomes current on success.
   * A value changed meanwhile (setWeight, drain) is put again, so no change is lost to the race.
   */
  private register(): Promise<void> {
    const run = this.doRegister();
    this.registering = run;
    const done = (): void => {
      if (this.registering === run) this.registering = undefined;
    };
    run.then(done, done);
    return run;
  }

  private async doRegister(): Promise<void> {
    const lease = this.client.lease(this.ttlSeconds, { autoKeepAlive: true });
    lease.on('lost', (err) => this.onLost(lease, err));
    try {
      let written = '';
      for (let i = 0; i < 3 && written !== encodeRecordValue(this.value); i++) {
        written = encodeRecordValue(this.value);
        await lease
          .put(this.key)
          .value(written)
          .options({ deadline: Date.now() + PUT_DEADLINE_MS });
      }
    } catch (err) {
      lease.release();
      throw err;
    }
    if (this.closed) {
      await lease.revoke().catch(() => undefined);
      return;
    }
    this.lease = lease;
    if (lease.revoked()) this.onLost(lease, new Error('lease lost while registering'));
  }

  private onLost(lease: Lease, err: Error): void {
    if (lease !== this.lease || this.closed) return;
    this.lease = null;
    this.logger?.warn({ event: 'lease_lost', key: this.key, err: err.message });
    this.scheduleRegister();
  }

  private scheduleRegister(): void {
    if (this.closed || this.retryTimer !== undefined) return;
    const delay = this.backoff.next();
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      if (this.closed || this.lease !== null) return;
      this.register().then(
        () => {
          if (this.closed) return;
          this.backoff.reset();
          this.logger?.info({ event: 're_registered', key: this.key });
        },
        (err: unknown) => {
          if (this.closed) return;
          this.logger?.warn({ event: 're_register_failed', key: this.key, err: (err as Error).message });
          this.scheduleRegister();
        },
      );
    }, delay);
  }

  /** Writes the current value on the current lease (if any: otherwise re-registration will). */
  private async publish(what: string): Promise<void> {
    if (this.closed)
      throw new RegistrarError(`cannot ${what}: the registration is closed`, this.key, this.etcd);
    // A registration in flight writes the current value itself once its lease is granted.
    if (this.lease === null && this.registering) await this.registering.catch(() => undefined);
    const lease = this.lease;
    if (lease === null) return;
    try {
      await lease
        .put(this.key)
        .value(encodeRecordValue(this.value))
        .options({ deadline: Date.now() + PUT_DEADLINE_MS });
    } catch (err) {
      throw new RegistrarError(`could not ${what}: ${(err as Error).message}`, this.key, this.etcd, {
        cause: err,
      });
    }
  }

  async setWeight(weight: number): Promise<void> {
    if (!Number.isInteger(weight) || weight < 0 || weight > MAX_WEIGHT) {
      throw new RangeError(`invalid weight ${weight}: expected an integer in 0..${MAX_WEIGHT}`);
    }
    this.value.weight = weight;
    await this.publish(`set weight ${weight}`);
  }

  async drain(options: DrainOptions = {}): Promise<void> {
    const timeoutMs = options.timeoutMs ?? 30_000;
    const quietMs = options.quietMs ?? DRAIN_QUIET_MS;
    const deadline = Date.now() + timeoutMs;
    this.value.draining = true;
    await this.publish('publish draining');
    const { inFlight, served } = options;
    if (!inFlight) return;
    // Before this change drain() returned at once when nothing was in flight, and the caller
    // shut down while clients that had not yet seen "draining" still sent calls (UNAVAILABLE).
    let lastServed = served?.() ?? 0;
    let quietSince = Date.now();
    while (Date.now() < deadline && !this.closed) {
      const now = Date.now();
      const s = served?.() ?? 0;
      if (inFlight() > 0 || s !== lastServed) {
        lastServed = s;
        quietSince = now;
      } else if (now - quietSince >= quietMs) {
        break;
      }
      await new Promise((resolve) =>
        setTimeout(resolve, Math.max(1, Math.min(DRAIN_POLL_MS, deadline - now))),
      );
    }
    this.logger?.info({ event: 'drained', key: this.key, inFlight: inFlight() });
  }

  close(): Promise<void> {
    return (this.closing ??= (async () => {
      this.closed = true;
      this.load?.close();
      clearTimeout(this.retryTimer);
      this.retryTimer = undefined;
      // A registration in flight would otherwise leave its record behind for a whole TTL.
      await this.registering?.catch(() => undefined);
      const lease = this.lease;
      this.lease = null;
      try {
        if (lease) {
          await lease.revoke();
          // Only a record that was written is deregistered: after a failed first registration
          // (registerService closes it) or a lost lease, there is nothing to say.
          this.logger?.info({ event: 'deregistered', key: this.key });
        }
      } catch (err) {
        // The record then expires with its TTL.
        this.logger?.warn({ event: 'revoke_failed', key: this.key, err: (err as Error).message });
      } finally {
        this.client.close();
      }
    })());
  }
}
