import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import type { Logger } from 'pino';
import { BackoffSchedule } from '../../common/backoff-schedule';
import type { Clock, TimerHandle } from '../../common/clock';

/**
 * An endpoint's latest out-of-band ORCA report (gRFC A51), as the LB server's health checker
 * received it, validated: every number is finite and within the bounds below. Fields the
 * backend did not set are 0 (proto3 defaults): a consumer that needs a utilization uses
 * `applicationUtilization`, else `cpuUtilization`, and treats 0 as "not reported".
 */
export interface OrcaLoad {
  /** `application_utilization`, 0..MAX_ORCA_UTILIZATION (1 = fully busy; may exceed 1). */
  readonly applicationUtilization: number;
  /** `cpu_utilization`, 0..MAX_ORCA_UTILIZATION. */
  readonly cpuUtilization: number;
  /** `rps_fractional`: queries per second, 0..MAX_ORCA_RATE. */
  readonly rpsFractional: number;
  /** `eps`: errors per second, 0..MAX_ORCA_RATE. */
  readonly eps: number;
  /** When the report arrived (the checker's clock, Unix ms). */
  readonly receivedAtMs: number;
}

/** Where an endpoint's ORCA stream stands on this LB replica. */
export type OrcaState = 'opening' | 'streaming' | 'unimplemented' | 'broken';

/** A utilization above this is nonsense (a 100-core machine at 100 %); the report is ignored. */
export const MAX_ORCA_UTILIZATION = 100;
/** A rate (rps, eps) above this is nonsense; the report is ignored. */
export const MAX_ORCA_RATE = 1e9;
/** A rejected report is logged at most once per endpoint per this window. */
const REJECT_LOG_WINDOW_MS = 60_000;

const STREAM_CORE_METRICS_PATH = '/xds.service.orca.v3.OpenRcaService/StreamCoreMetrics';

/** The fields of a decoded xds.data.orca.v3.OrcaLoadReport that the LB server reads. */
interface RawOrcaReport {
  application_utilization?: unknown;
  cpu_utilization?: unknown;
  rps_fractional?: unknown;
  eps?: unknown;
}
interface OrcaRequest {
  report_interval: { seconds: string; nanos: number };
}
interface OrcaCodec {
  serialize(request: OrcaRequest): Buffer;
  deserialize(bytes: Buffer): RawOrcaReport;
}

let codec: OrcaCodec | undefined;
/**
 * The StreamCoreMetrics request serializer and report deserializer, from the orca.proto that
 * grpc-js ships, parsed once per process (grpc-js 1.14.7's own loader re-parses on every use).
 */
function orcaCodec(): OrcaCodec {
  if (codec) return codec;
  const protoDir = path.join(path.dirname(require.resolve('@grpc/grpc-js/package.json')), 'proto');
  const definition = protoLoader.loadSync('xds/service/orca/v3/orca.proto', {
    keepCase: true,
    longs: String,
    enums: String,
    defaults: true,
    includeDirs: [path.join(protoDir, 'xds'), path.join(protoDir, 'protoc-gen-validate')],
  });
  const service = definition['xds.service.orca.v3.OpenRcaService'] as protoLoader.ServiceDefinition;
  const method = service.StreamCoreMetrics as protoLoader.MethodDefinition<OrcaRequest, RawOrcaReport>;
  codec = {
    serialize: (request) => method.requestSerialize(request),
    deserialize: (bytes) => method.responseDeserialize(bytes),
  };
  return codec;
}

/** Why a report was ignored, or the validated load. */
export type OrcaValidation = { ok: true; load: OrcaLoad } | { ok: false; reason: string };

/**
 * Validates a decoded report: each read field must be a finite number, not negative, and within
 * MAX_ORCA_UTILIZATION / MAX_ORCA_RATE; a missing field is 0. Pure; the subscriber calls it on
 * every report.
 */
export function validateOrcaReport(raw: RawOrcaReport, receivedAtMs: number): OrcaValidation {
  const fields = [
    ['application_utilization', raw.application_utilization, MAX_ORCA_UTILIZATION],
    ['cpu_utilization', raw.cpu_utilization, MAX_ORCA_UTILIZATION],
    ['rps_fractional', raw.rps_fractional, MAX_ORCA_RATE],
    ['eps', raw.eps, MAX_ORCA_RATE],
  ] as const;
  const values: number[] = [];
  for (const [name, value, max] of fields) {
    const v = value ?? 0;
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || v > max) {
      return { ok: false, reason: `${name} ${String(v)} is not a number in [0, ${max}]` };
    }
    values.push(v);
  }
  const [applicationUtilization, cpuUtilization, rpsFractional, eps] = values as [
    number,
    number,
    number,
    number,
  ];
  return { ok: true, load: { applicationUtilization, cpuUtilization, rpsFractional, eps, receivedAtMs } };
}

/** How the subscriber is tuned; the health checker builds it from its own options. */
export interface OrcaSubscriberOptions {
  readonly clock: Clock;
  readonly logger: Logger;
  /** The `report_interval` asked of every backend, ms (> 0). */
  readonly intervalMs: number;
  /** Reconnection backoff of one endpoint's stream (the checker's). */
  readonly backoff: { initialMs: number; maxMs: number };
  /** Called with every accepted report, after orcaOf() returns it. */
  readonly onOrca?: (service: string, key: string, load: OrcaLoad) => void;
}

/** One endpoint's ORCA stream: on the checker's client for that endpoint. */
interface Subscription {
  readonly service: string;
  readonly key: string;
  readonly address: string;
  client: grpc.Client;
  state: OrcaState;
  call: grpc.ClientReadableStream<RawOrcaReport> | undefined;
  /** When the open stream delivered its first report (clock ms), if it did. */
  reportedAt: number | undefined;
  retry: TimerHandle | undefined;
  readonly backoff: BackoffSchedule;
  load: OrcaLoad | undefined;
  rejectLoggedAt: number | undefined;
}

/**
 * Out-of-band ORCA (gRFC A51) for the endpoints the health checker watches, owned by the checker:
 * one `xds.service.orca.v3.OpenRcaService/StreamCoreMetrics` stream per endpoint on the very
 * `grpc.Client` (channel, so connection) of its health check. The checker calls start() when it
 * first opens an endpoint's health stream and stop() when the endpoint leaves. UNIMPLEMENTED
 * means the backend has no ORCA: logged once for the endpoint, never asked again; other errors
 * and ends reopen the stream after a backoff (reset only by a stream that reported and lasted the
 * longest backoff). A report with a NaN, negative or absurd value is ignored, counted
 * (rejected()), and logged at most once per endpoint per minute; the last good load stays.
 * close() ends every stream and timer; idempotent.
 */
export class OrcaSubscriber {
  private readonly subs = new Map<string, Subscription>();
  private rejectedCount = 0;
  private closed = false;

  constructor(private readonly options: OrcaSubscriberOptions) {
    if (!(options.intervalMs > 0)) throw new RangeError(`ORCA interval ${options.intervalMs} must be > 0 ms`);
    orcaCodec();
  }

  /** Subscribes endpoint `key` on `client` (the health check's); no-op if already subscribed. */
  start(service: string, key: string, address: string, client: grpc.Client): void {
    if (this.closed || this.subs.has(key)) return;
    const sub: Subscription = {
      service,
      key,
      address,
      client,
      state: 'opening',
      call: undefined,
      reportedAt: undefined,
      retry: undefined,
      backoff: new BackoffSchedule(this.options.backoff),
      load: undefined,
      rejectLoggedAt: undefined,
    };
    this.subs.set(key, sub);
    this.open(sub);
  }

  /** Ends endpoint `key`'s stream and forgets its load. Idempotent. */
  stop(key: string): void {
    const sub = this.subs.get(key);
    if (!sub) return;
    this.subs.delete(key);
    sub.retry?.cancel();
    sub.retry = undefined;
    const call = sub.call;
    sub.call = undefined;
    call?.cancel();
  }

  /** The latest accepted report of endpoint `key`, if any. */
  loadOf(key: string): OrcaLoad | undefined {
    return this.subs.get(key)?.load;
  }

  stateOf(key: string): OrcaState | undefined {
    return this.subs.get(key)?.state;
  }

  /** Reports ignored as invalid since start, over all endpoints. */
  rejected(): number {
    return this.rejectedCount;
  }

  /** How many endpoints have an open ORCA stream. */
  streams(): number {
    let n = 0;
    for (const s of this.subs.values()) if (s.call) n += 1;
    return n;
  }

  close(): void {
    this.closed = true;
    for (const key of [...this.subs.keys()]) this.stop(key);
  }

  private open(sub: Subscription): void {
    const { serialize, deserialize } = orcaCodec();
    const ms = this.options.intervalMs;
    const request: OrcaRequest = {
      report_interval: { seconds: String(Math.floor(ms / 1000)), nanos: (ms % 1000) * 1_000_000 },
    };
    const call = sub.client.makeServerStreamRequest(
      STREAM_CORE_METRICS_PATH,
      serialize,
      deserialize,
      request,
    );
    sub.call = call;
    sub.reportedAt = undefined;
    sub.state = 'opening';
    call.on('data', (raw: RawOrcaReport) => {
      if (sub.call !== call) return;
      const now = this.options.clock.now();
      sub.reportedAt ??= now;
      sub.state = 'streaming';
      const v = validateOrcaReport(raw ?? {}, now);
      if (!v.ok) {
        this.rejectedCount += 1;
        if (sub.rejectLoggedAt === undefined || now - sub.rejectLoggedAt >= REJECT_LOG_WINDOW_MS) {
          sub.rejectLoggedAt = now;
          this.options.logger.warn(
            { event: 'orca_report_rejected', service: sub.service, address: sub.address, reason: v.reason },
            'ignored an ORCA report with an invalid value (logged at most once per endpoint per minute)',
          );
        }
        return;
      }
      sub.load = v.load;
      this.options.onOrca?.(sub.service, sub.key, v.load);
    });
    call.on('error', (err: grpc.ServiceError) => this.ended(sub, call, err.code, err.details));
    call.on('end', () => this.ended(sub, call, grpc.status.UNAVAILABLE, 'stream ended'));
  }

  private ended(
    sub: Subscription,
    call: grpc.ClientReadableStream<RawOrcaReport>,
    code: grpc.status,
    details: string,
  ): void {
    if (sub.call !== call || this.subs.get(sub.key) !== sub) return;
    sub.call = undefined;
    if (code === grpc.status.UNIMPLEMENTED) {
      // gRFC A51: no ORCA on this connection; never asked again for this endpoint.
      sub.state = 'unimplemented';
      this.options.logger.info(
        { event: 'orca_unimplemented', service: sub.service, address: sub.address },
        'backend does not serve ORCA (OpenRcaService): no load reports from it (logged once per endpoint)',
      );
      return;
    }
    sub.state = 'broken';
    if (sub.reportedAt !== undefined && this.options.clock.now() - sub.reportedAt >= sub.backoff.maxMs) {
      sub.backoff.reset();
    }
    this.options.logger.debug(
      {
        event: 'orca_stream_ended',
        service: sub.service,
        address: sub.address,
        code,
        details: details.slice(0, 200),
      },
      'ORCA stream ended; reopening after a backoff',
    );
    sub.retry = this.options.clock.setTimeout(() => {
      sub.retry = undefined;
      if (this.subs.get(sub.key) === sub && !this.closed) this.open(sub);
    }, sub.backoff.next());
  }
}
