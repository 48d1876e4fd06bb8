import { performance } from 'node:perf_hooks';
import * as grpc from '@grpc/grpc-js';

/** What a LoadReporter last published (and what a StreamCoreMetrics stream now sends). */
export interface LoadSample {
  /** `application_utilization`: busy share over the last interval, 0..1 (ELU by default). */
  readonly applicationUtilization: number;
  /** `rps_fractional`: calls finished per second over the last interval. */
  readonly rpsFractional: number;
  /** `eps`: calls finished with a non-OK status per second over the last interval. */
  readonly eps: number;
}

/** A repeating timer as the reporter needs it; tests drive `fn` by hand. */
export interface LoadReporterTimer {
  cancel(): void;
}

/** How a LoadReporter measures; every field has a default. */
export interface LoadReporterOptions {
  /** How often the figures are recomputed, ms; default 1000 (>= 10). */
  readonly intervalMs?: number;
  /**
   * The utilization over the interval since its previous call, 0..1; called once per interval.
   * Default: Node's event-loop utilization (`performance.eventLoopUtilization()` deltas), the
   * honest signal for a CPU-bound Node service. A service whose capacity is something else (a
   * pool of workers, a connection limit) supplies its own busy share.
   */
  readonly utilization?: () => number;
  /** Monotonic ms; default performance.now. */
  readonly now?: () => number;
  /** Starts the repeating timer; default an unref'd setInterval. */
  readonly every?: (fn: () => void, ms: number) => LoadReporterTimer;
}

/** grpc-js's in-process channelz GetServer handler and the call it reads (only `request`). */
type GetServerHandler = ReturnType<typeof grpc.getChannelzHandlers>['GetServer'];
type GetServerCall = Parameters<GetServerHandler>[0];

/** A server's finished calls so far. */
interface CallTotals {
  readonly finished: number;
  readonly failed: number;
}

/**
 * Reads `server`'s channelz call counters (grpc-js counts every call a server finishes, when
 * channelz is on, its default) through grpc-js's public channelz handlers, called in-process: the
 * handler answers synchronously and reads only `call.request`. Undefined when the server has no
 * channelz entry (`'grpc.enable_channelz': 0`, or the server has shut down).
 */
function channelzCallTotals(server: grpc.Server): () => CallTotals | undefined {
  const getServer = grpc.getChannelzHandlers().GetServer;
  // The handler reads call.request only; a whole ServerUnaryCall cannot be built outside grpc-js.
  const call = { request: { server_id: String(server.getChannelzRef().id) } } as unknown as GetServerCall;
  return () => {
    let totals: CallTotals | undefined;
    getServer(call, (error, response) => {
      const data = error ? undefined : response?.server?.data;
      if (!data) return;
      const failed = Number(data.calls_failed ?? 0);
      totals = { finished: Number(data.calls_succeeded ?? 0) + failed, failed };
    });
    return totals;
  };
}

/** The ORCA method a LoadReporter adds to its server (and removes on close). */
const ORCA_METHOD = '/xds.service.orca.v3.OpenRcaService/StreamCoreMetrics';

/** The reporter currently serving ORCA on each server: one per grpc.Server (the load is the server's). */
const reporterOf = new WeakMap<grpc.Server, LoadReporter>();

/** Services whose calls are not the service's load: the LB server's own streams. */
const UNCOUNTED_PREFIXES = ['/grpc.health.v1.Health/', '/xds.service.orca.v3.OpenRcaService/'];

function eluSource(): () => number {
  let last = performance.eventLoopUtilization();
  return () => {
    const now = performance.eventLoopUtilization();
    const delta = performance.eventLoopUtilization(now, last);
    last = now;
    return delta.utilization;
  };
}

function defaultEvery(fn: () => void, ms: number): LoadReporterTimer {
  const timer = setInterval(fn, ms);
  timer.unref();
  return { cancel: () => clearInterval(timer) };
}

/** A finite number in [0, max], else 0: a broken source must not publish NaN. */
function clamp(value: number, max: number): number {
  return Number.isFinite(value) ? Math.min(Math.max(value, 0), max) : 0;
}

/**
 * Keeps a backend's out-of-band ORCA load report (gRFC A51) current, so that an LB server (or a
 * grpc-js `weighted_round_robin` client with OOB reports) can weigh it by load. It owns a
 * grpc-js `ServerMetricRecorder`; every `intervalMs` it sets `application_utilization` (from
 * `utilization`), `rps_fractional` and `eps` (from the calls counted since the last tick).
 * Calls are counted by `interceptor` (give it to `new grpc.Server({ interceptors: [...] })`;
 * health and ORCA streams are not counted) or by `recordCall()`. Until either has counted a
 * call, the server's own channelz counters are used: every call the server finished, including
 * health and ORCA streams that end and health `Check` probes; with channelz off
 * (`'grpc.enable_channelz': 0`) only the interceptor counts.
 *
 * The owner calls addToServer(server) before `bindAsync` (an LB server that meets a backend
 * without the ORCA service never asks again), and close() when the server stops. One reporter
 * per grpc.Server at a time.
 */
export class LoadReporter {
  /** Counts every finished call and its status; for `grpc.ServerOptions.interceptors`. */
  readonly interceptor: grpc.ServerInterceptor;
  private readonly recorder = new grpc.ServerMetricRecorder();
  private readonly intervalMs: number;
  private readonly utilization: () => number;
  private readonly now: () => number;
  private readonly every: (fn: () => void, ms: number) => LoadReporterTimer;
  private timer: LoadReporterTimer | undefined;
  private calls = 0;
  private errors = 0;
  private lastTickAt: number;
  private latest: LoadSample = { applicationUtilization: 0, rpsFractional: 0, eps: 0 };
  private closed = false;
  /** Set by the first recordCall: from then on the interceptor's counts, never channelz's. */
  private counted = false;
  private serverTotals: (() => CallTotals | undefined) | undefined;
  private server: grpc.Server | undefined;
  private lastTotals: CallTotals | undefined;

  constructor(options: LoadReporterOptions = {}) {
    this.intervalMs = options.intervalMs ?? 1000;
    if (!(Number.isInteger(this.intervalMs) && this.intervalMs >= 10)) {
      throw new RangeError(`load report intervalMs ${this.intervalMs} must be an integer >= 10`);
    }
    this.utilization = options.utilization ?? eluSource();
    this.now = options.now ?? (() => performance.now());
    this.every = options.every ?? defaultEvery;
    this.lastTickAt = this.now();
    this.interceptor = (method, call) => {
      if (UNCOUNTED_PREFIXES.some((p) => method.path.startsWith(p)))
        return new grpc.ServerInterceptingCall(call);
      return new grpc.ServerInterceptingCall(call, {
        sendStatus: (status, next) => {
          this.recordCall(status.code ?? grpc.status.OK);
          next(status);
        },
      });
    };
    this.publish(this.latest);
  }

  /**
   * Adds the ORCA service (xds.service.orca.v3.OpenRcaService) to `server` and starts the timer.
   * Call once, before `server.bindAsync`. Returns this.
   */
  addToServer(server: grpc.Server): this {
    if (this.timer || this.closed) throw new Error('LoadReporter.addToServer: already added or closed');
    if (reporterOf.has(server)) {
      throw new Error(
        'this grpc.Server already reports its load (one LoadReporter per server: its load is the whole server’s, so give reportLoad to one registration)',
      );
    }
    this.recorder.addToServer(server);
    reporterOf.set(server, this);
    this.server = server;
    this.serverTotals = channelzCallTotals(server);
    this.lastTotals = this.serverTotals();
    this.lastTickAt = this.now();
    this.utilization(); // starts the source's first interval now
    this.timer = this.every(() => this.tick(), this.intervalMs);
    return this;
  }

  /** Counts one finished call (what `interceptor` does for each call it sees). */
  recordCall(code: grpc.status): void {
    this.counted = true;
    this.calls += 1;
    if (code !== grpc.status.OK) this.errors += 1;
  }

  /** The figures last published. */
  sample(): LoadSample {
    return this.latest;
  }

  /**
   * Recomputes and publishes the figures over the time since the last tick. The timer calls it
   * every intervalMs; exposed for tests and for owners that drive their own schedule.
   */
  tick(): LoadSample {
    const at = this.now();
    const seconds = (at - this.lastTickAt) / 1000;
    this.lastTickAt = at;
    let calls = this.calls;
    let errors = this.errors;
    this.calls = 0;
    this.errors = 0;
    const totals = this.serverTotals?.();
    if (!this.counted && totals && this.lastTotals) {
      calls = Math.max(0, totals.finished - this.lastTotals.finished);
      errors = Math.max(0, totals.failed - this.lastTotals.failed);
    }
    this.lastTotals = totals;
    const sample: LoadSample = {
      applicationUtilization: clamp(this.utilization(), 1),
      rpsFractional: seconds > 0 ? clamp(calls / seconds, 1e9) : 0,
      eps: seconds > 0 ? clamp(errors / seconds, 1e9) : 0,
    };
    this.publish(sample);
    return sample;
  }

  /**
   * Stops the timer and takes the ORCA service off the server (open streams keep the last
   * figures until the server closes them; a new one is answered UNIMPLEMENTED). Idempotent.
   */
  close(): void {
    this.closed = true;
    this.timer?.cancel();
    this.timer = undefined;
    // Off the server too, so that a later registration (a retry after a failed first one) can
    // report its load again.
    if (this.server && reporterOf.get(this.server) === this) {
      this.server.unregister(ORCA_METHOD);
      reporterOf.delete(this.server);
    }
    this.server = undefined;
  }

  private publish(sample: LoadSample): void {
    this.latest = sample;
    this.recorder.setApplicationUtilizationMetric(sample.applicationUtilization);
    this.recorder.setQpsMetric(sample.rpsFractional);
    this.recorder.setEpsMetric(sample.eps);
  }
}

/**
 * The one line for a backend: `const load = reportLoad(server)`, before `bindAsync` (or give the
 * server to registerService's `reportLoad` option, which does it before the record is written).
 * Utilization is event-loop utilization unless `options.utilization` says otherwise; calls and
 * errors per second come from the server's channelz counters (see LoadReporter).
 * `reportLoad(server, options)` is `new LoadReporter(options).addToServer(server)`.
 */
export function reportLoad(server: grpc.Server, options?: LoadReporterOptions): LoadReporter {
  return new LoadReporter(options).addToServer(server);
}
