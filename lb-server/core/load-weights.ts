import { repeatEvery, type Clock, type TimerHandle } from '../../common/clock';
import { median } from '../../common/median';
import type { Assignment } from '../assignment/assignment';
import type { LoadSignal } from '../assignment/assignment-signals';
import type { BackendCallCounts, ClientActivityObserver, ClientIdentity } from './client-registry';

/**
 * Load-aware weights computed by the LB server: each endpoint's registered weight (the operator's
 * intent) is multiplied by a load factor, its estimated capacity over the mean capacity of the
 * service's eligible endpoints. No I/O: the clock drives the update period, the composition root
 * feeds ORCA reports (orcaOf) and client reports (as a ClientActivityObserver) and republishes the
 * services onChange names.
 *
 * Capacity estimates, per service, from one source for all its endpoints:
 * - **ORCA** (when at least two endpoints report it and one is busy, MIN_BUSY_UTILIZATION): gRFC A58's `qps / (utilization + penalty ×
 *   eps / qps)`, utilization = application_utilization, else cpu_utilization;
 * - **clients** (otherwise, when at least two endpoints have reported calls): 1 / (latency +
 *   LATENCY_PRIOR_MS) × the share of calls that succeeded, the successful calls per second one
 *   slot of the backend completes (equal concurrency assumed); the prior keeps sub-millisecond
 *   noise between equally fast backends from moving their weights. A client's latency is the
 *   fastest successful call it reported (`latency_ms_min`), else its mean: the fastest call
 *   waited least in the backend's queue, so the estimate does not fall when the backend is sent
 *   more than it can carry and rise when its queue drains (the mean does, and the weights swing).
 *   The latency of an endpoint is the median of its reporting clients' figures when three or more
 *   report it, so one client's numbers cannot move a weight on their own; two must agree within
 *   2× (else that update has no estimate for it); one client alone is believed (it is the only
 *   view, and its calls the only ones the LB server knows of).
 * Endpoints without an estimate get factor 1 (the mean). An estimate is used after a blackout
 * (its first report must be blackoutMs old), expires after expiryMs without reports (factor back
 * to 1), is smoothed (EWMA, `smoothing` per update), and the factor is kept within
 * [floor, 1 / floor] of the mean so a recovered backend is still sent calls and noticed. An
 * ORCA estimate is smoothed once per report, however often it is read. A service is recomputed
 * every update period and soon after an ORCA report of one of its endpoints arrives
 * (orcaReported, coalesced to at most four times a period), and republished when some factor
 * moved by more than pushThreshold (relative) since the last publish; after such a push, once
 * more when the factors have stayed more than a quarter of the threshold off the published ones
 * for a whole period (the last step of a change, which the threshold alone would leave behind:
 * up to 10 % off each factor, more on a share), and otherwise when they have stayed that far off
 * for three periods (a lasting bias); at most once per update period. Noise that swings across
 * the published factors causes no push. Weight-0, draining and
 * otherwise ineligible endpoints take no part (the stage keeps them out whatever their load).
 */

/** An ORCA report as the LB server's subscriber keeps it (see lb-server/io). */
export interface OrcaLoadInput {
  readonly applicationUtilization: number;
  readonly cpuUtilization: number;
  readonly rpsFractional: number;
  readonly eps: number;
  readonly receivedAtMs: number;
}

export interface LoadWeightsOptions {
  /** False: nothing is computed; every endpoint keeps its registered weight. */
  readonly enabled: boolean;
  /** How often factors are recomputed (and at most how often a service is pushed). */
  readonly updateMs: number;
  /** A service is pushed when some factor moved by more than this share since the last push. */
  readonly pushThreshold: number;
  /** A new estimate is used once its first report is this old. */
  readonly blackoutMs: number;
  /** An estimate without reports for this long expires (factor back to 1). */
  readonly expiryMs: number;
  /** Factors stay within [floor, 1 / floor]. */
  readonly floor: number;
  /** EWMA weight of each new estimate (0..1]. */
  readonly smoothing: number;
  /** A58's error_utilization_penalty. */
  readonly errorPenalty: number;
  /** A client's figure for an endpoint counts this long after its report (a few report intervals). */
  readonly clientFigureTtlMs: number;
  /**
   * Which client-reported latency the clients source uses: each client's fastest successful call
   * ('fastest', falling back to the mean for clients that do not report it) or its mean ('mean',
   * which includes the backend's queueing). See the README and the load-aware benchmark.
   */
  readonly clientLatency: ClientLatency;
}

/** The clients source's latency figure. */
export type ClientLatency = 'fastest' | 'mean';

/** On by default (`--load-aware off` turns it off); see the README for what each source is good for. */
export const DEFAULT_LOAD_WEIGHTS: LoadWeightsOptions = Object.freeze({
  enabled: true,
  updateMs: 1000,
  pushThreshold: 0.1,
  blackoutMs: 2000,
  expiryMs: 60_000,
  floor: 0.1,
  smoothing: 0.75,
  errorPenalty: 1,
  clientFigureTtlMs: 30_000,
  clientLatency: 'fastest',
});

/** Where an endpoint's factor comes from. */
export type LoadSource = 'orca' | 'clients';

/** What the admin view shows of an endpoint's load. */
export interface EndpointLoad {
  /** The source the service uses now; undefined: none (registered weights). */
  readonly source: LoadSource | undefined;
  /** The factor the stage applies (1 when none). */
  readonly factor: number;
  /** The smoothed capacity estimate (calls/s per unit of utilization, or per slot), 0 if none. */
  readonly capacity: number;
  /** The latest inputs. */
  readonly utilization: number;
  readonly qps: number;
  readonly eps: number;
  readonly latencyMs: number;
}

export interface LoadWeightsDeps {
  readonly clock: Clock;
  readonly options: LoadWeightsOptions;
  /** The service-wide assignment (its eligible endpoints take part). */
  readonly assignmentOf: (service: string) => Assignment;
  /** The latest ORCA report of an endpoint (by registry key), if any. */
  readonly orcaOf?: (key: string) => OrcaLoadInput | undefined;
  /** The factors of `service` moved: the owner republishes it. */
  readonly onChange: (service: string) => void;
}

/** Reports beyond these are nonsense and ignored (NaN, negative, absurd). */
const MAX_UTILIZATION = 100;
const MAX_RATE = 1e9;
const MAX_LATENCY_MS = 3_600_000;
/** Clients-source estimates need this many calls in an update period. */
const MIN_CALLS_PER_UPDATE = 5;
const MIN_CLIENTS_FOR_MEDIAN = 3;
/** ORCA estimates are used once some endpoint of the service reports at least this utilization. */
export const MIN_BUSY_UTILIZATION = 0.2;
/** Added to every client-reported mean latency (see the clients source above). */
export const LATENCY_PRIOR_MS = 5;
/** Periods a factor must stay more than a quarter of the threshold off what was pushed to be pushed (outside a change). */
const LASTING_OFFSET_PERIODS = 3;

/** One endpoint's estimate and what fed it. */
interface EndpointState {
  capacity: number;
  firstAtMs: number;
  lastAtMs: number;
  utilization: number;
  qps: number;
  eps: number;
  latencyMs: number;
}

interface ServiceState {
  /** Each source's estimates, by registry key: kept side by side, the service uses one. */
  readonly estimates: Record<LoadSource, Map<string, EndpointState>>;
  /**
   * Each client's latest figure per endpoint (address → client id), kept across updates until it
   * is clientFigureTtlMs old: clients report every few seconds, not every update, so the median
   * and the agreement rule see every client that reported lately, not only this update's.
   */
  readonly figures: Map<string, Map<string, ClientFigure>>;
  /** The factors last published, by key. */
  published: ReadonlyMap<string, number>;
  source: LoadSource | undefined;
  /** Client reports since the last update: address → client id → calls, latency sum, fastest call. */
  reports: Map<string, Map<string, ClientCalls>>;
  /** When factors were last computed and published. */
  computedAtMs: number;
  publishedAtMs: number;
  /** Since when the factors have been more than a quarter of the threshold off the published ones (NaN: they are not). */
  offSinceMs: number;
  /** Which factors are that far off, and which way (see offDirection). */
  offDirection: string;
  /** The last push was for a move beyond the threshold: its last step may still be pushed once. */
  settling: boolean;
  /** A recompute scheduled by orcaReported or by a push the rate limit held back. */
  soon: TimerHandle | undefined;
}

/** What one client said of one endpoint in its latest report(s). */
interface ClientFigure {
  readonly latencyMs: number;
  readonly calls: number;
  readonly succeeded: number;
  readonly atMs: number;
}

/** One client's calls on one endpoint since the last update. */
interface ClientCalls {
  calls: number;
  succeeded: number;
  latencyMs: number;
  /** The fastest successful call reported, ms; Infinity: none reported. */
  minMs: number;
}

/** The latency a client's calls say of an endpoint: its fastest call (if asked and reported), else its mean. */
function clientLatency(c: ClientCalls, which: ClientLatency): number {
  return which === 'fastest' && Number.isFinite(c.minMs) ? c.minMs : c.latencyMs / c.calls;
}

/** Each assignment's endpoint addresses, computed once per assignment (assignments are immutable). */
const addressSets = new WeakMap<Assignment, ReadonlySet<string>>();
function addressesOf(assignment: Assignment): ReadonlySet<string> {
  let set = addressSets.get(assignment);
  if (!set) {
    set = new Set(assignment.endpoints.map((e) => e.endpoint.address));
    addressSets.set(assignment, set);
  }
  return set;
}

/** Which factors are more than `fine` (relative) off `from`, and which way: `key+` / `key-`, sorted. */
function offDirection(
  from: ReadonlyMap<string, number>,
  to: ReadonlyMap<string, number>,
  fine: number,
): string {
  const off: string[] = [];
  for (const key of new Set([...from.keys(), ...to.keys()])) {
    const a = from.get(key) ?? 1;
    const d = ((to.get(key) ?? 1) - a) / a;
    if (Math.abs(d) > fine) off.push(`${key}${d > 0 ? '+' : '-'}`);
  }
  return off.sort().join(' ');
}

/** The largest relative move of a factor from `from` to `to` (absent = 1). */
function largestMove(from: ReadonlyMap<string, number>, to: ReadonlyMap<string, number>): number {
  let largest = 0;
  for (const key of new Set([...from.keys(), ...to.keys()])) {
    const a = from.get(key) ?? 1;
    largest = Math.max(largest, Math.abs((to.get(key) ?? 1) - a) / a);
  }
  return largest;
}

function finite(n: number, max: number): boolean {
  return Number.isFinite(n) && n >= 0 && n <= max;
}

/** A58's capacity estimate of an ORCA report, or undefined when it says nothing usable. */
export function orcaCapacity(r: OrcaLoadInput, errorPenalty: number): number | undefined {
  if (![r.applicationUtilization, r.cpuUtilization].every((u) => finite(u, MAX_UTILIZATION)))
    return undefined;
  if (!finite(r.rpsFractional, MAX_RATE) || !finite(r.eps, MAX_RATE)) return undefined;
  const utilization = r.applicationUtilization > 0 ? r.applicationUtilization : r.cpuUtilization;
  const qps = r.rpsFractional;
  if (qps <= 0 || utilization <= 0) return undefined;
  const c = qps / (utilization + (errorPenalty * r.eps) / qps);
  return Number.isFinite(c) && c > 0 ? c : undefined;
}

export class LoadWeights implements ClientActivityObserver {
  private readonly services = new Map<string, ServiceState>();
  private timer: TimerHandle | undefined;
  private closed = false;
  /** Reports ignored as nonsense (ORCA or clients). */
  private rejected = 0;

  constructor(private readonly deps: LoadWeightsDeps) {
    if (deps.options.enabled)
      this.timer = repeatEvery(deps.clock, deps.options.updateMs, () => this.update());
  }

  get options(): LoadWeightsOptions {
    return this.deps.options;
  }

  /** How many reports were ignored as nonsense so far. */
  get rejectedReports(): number {
    return this.rejected;
  }

  assigned(): void {}

  /** Notes a client's report; the latency per call feeds the clients-source estimates. */
  reported(identity: ClientIdentity, deltas: readonly BackendCallCounts[]): void {
    if (this.closed || !this.deps.options.enabled) return;
    const assignment = this.deps.assignmentOf(identity.service);
    if (assignment.endpoints.length === 0) return;
    let state: ServiceState | undefined;
    for (const d of deltas) {
      const calls = d.callsSucceeded + d.callsFailed;
      if (!(calls > 0)) continue;
      if (!finite(calls, MAX_RATE * 3600) || !finite(d.latencyMsSum, MAX_LATENCY_MS * calls)) {
        this.rejected += 1;
        continue;
      }
      if (!addressesOf(assignment).has(d.address)) continue;
      state ??= this.stateOf(identity.service);
      let byClient = state.reports.get(d.address);
      if (!byClient) {
        byClient = new Map();
        state.reports.set(d.address, byClient);
      }
      const c = byClient.get(identity.clientId) ?? { calls: 0, succeeded: 0, latencyMs: 0, minMs: Infinity };
      c.calls += calls;
      c.succeeded += Math.min(calls, Math.max(0, d.callsSucceeded));
      c.latencyMs += d.latencyMsSum;
      const min = d.latencyMsMin ?? 0;
      if (min !== 0) {
        if (finite(min, MAX_LATENCY_MS)) c.minMs = Math.min(c.minMs, min);
        else this.rejected += 1;
      }
      byClient.set(identity.clientId, c);
    }
  }

  /** The load signal of an endpoint for the stage (undefined: as registered). */
  load(service: string, key: string): LoadSignal | undefined {
    const factor = this.services.get(service)?.published.get(key);
    return factor === undefined || factor === 1 ? undefined : { factor };
  }

  /** What admin shows of an endpoint's load. */
  loadOf(service: string, key: string): EndpointLoad {
    const s = this.services.get(service);
    const e = s && (s.estimates[s.source ?? 'orca'].get(key) ?? s.estimates.clients.get(key));
    return {
      source: s?.source,
      factor: s?.published.get(key) ?? 1,
      capacity: e?.capacity ?? 0,
      utilization: e?.utilization ?? 0,
      qps: e?.qps ?? 0,
      eps: e?.eps ?? 0,
      latencyMs: e?.latencyMs ?? 0,
    };
  }

  /** Recomputes every service's factors now (the timer calls it; tests may too). */
  update(): void {
    if (this.closed) return;
    const now = this.deps.clock.now();
    const names = new Set(this.services.keys());
    for (const name of names) this.updateService(name, now);
  }

  /**
   * An ORCA report of an endpoint of `service` arrived: recompute the service soon rather than at
   * the next period (at most four recomputes per period, each O(endpoints of the service)).
   */
  orcaReported(service: string): void {
    if (this.closed || !this.deps.options.enabled) return;
    const s = this.services.get(service);
    if (!s) return;
    this.recomputeAt(service, s, s.computedAtMs + this.deps.options.updateMs / 4);
  }

  /** Makes `service` take part in the updates (its endpoints may report ORCA; called on publish). */
  touch(service: string): void {
    if (this.deps.options.enabled && this.deps.orcaOf) this.stateOf(service);
  }

  close(): void {
    this.closed = true;
    this.timer?.cancel();
    this.timer = undefined;
    for (const s of this.services.values()) s.soon?.cancel();
  }

  /**
   * Turns the client reports since the last update into each client's latest figure per
   * endpoint, and drops figures clientFigureTtlMs old (and those of endpoints that left).
   */
  private takeInClientReports(
    s: ServiceState,
    entries: readonly { endpoint: { address: string } }[],
    now: number,
  ): void {
    const o = this.deps.options;
    for (const [address, byClient] of s.reports) {
      let figures = s.figures.get(address);
      if (!figures) {
        figures = new Map();
        s.figures.set(address, figures);
      }
      for (const [clientId, c] of byClient) {
        figures.set(clientId, {
          latencyMs: clientLatency(c, o.clientLatency),
          calls: c.calls,
          succeeded: c.succeeded,
          atMs: now,
        });
      }
    }
    s.reports = new Map();
    const addresses = new Set(entries.map((e) => e.endpoint.address));
    for (const [address, figures] of s.figures) {
      if (!addresses.has(address)) {
        s.figures.delete(address);
        continue;
      }
      for (const [clientId, f] of figures) if (now - f.atMs >= o.clientFigureTtlMs) figures.delete(clientId);
      if (figures.size === 0) s.figures.delete(address);
    }
  }

  /** Smooths one new observation into `estimates` (EWMA), keeping when the estimate began. */
  private observe(
    estimates: Map<string, EndpointState>,
    key: string,
    capacity: number,
    atMs: number,
    now: number,
    inputs: { utilization: number; qps: number; eps: number; latencyMs: number },
  ): void {
    const prev = estimates.get(key);
    estimates.set(key, {
      capacity: prev ? prev.capacity + this.deps.options.smoothing * (capacity - prev.capacity) : capacity,
      firstAtMs: prev ? prev.firstAtMs : now,
      // An ORCA report's age counts from when it arrived, however often it is read.
      lastAtMs: atMs,
      ...inputs,
    });
  }

  /** Recomputes `service` at `atMs` (or now, if past), unless a recompute is already scheduled. */
  private recomputeAt(service: string, s: ServiceState, atMs: number): void {
    if (s.soon) return;
    const clock = this.deps.clock;
    s.soon = clock.setTimeout(
      () => {
        s.soon = undefined;
        if (!this.closed && this.services.get(service) === s) this.updateService(service, clock.now());
      },
      Math.max(0, atMs - clock.now()),
    );
  }

  private stateOf(service: string): ServiceState {
    let s = this.services.get(service);
    if (!s) {
      s = {
        estimates: { orca: new Map(), clients: new Map() },
        figures: new Map(),
        published: new Map(),
        source: undefined,
        reports: new Map(),
        computedAtMs: -Infinity,
        publishedAtMs: -Infinity,
        offSinceMs: NaN,
        offDirection: '',
        settling: false,
        soon: undefined,
      };
      this.services.set(service, s);
    }
    return s;
  }

  private updateService(name: string, now: number): void {
    const o = this.deps.options;
    const s = this.stateOf(name);
    const assignment = this.deps.assignmentOf(name);
    // The endpoints that take part: the eligible ones.
    const entries = assignment.endpoints.filter((e) => e.eligible);
    if (assignment.endpoints.length === 0) {
      s.soon?.cancel();
      this.services.delete(name);
      if (s.published.size > 0) this.deps.onChange(name);
      return;
    }
    // Nothing known and nothing reported: nothing to compute (most services, most of the time).
    if (
      s.estimates.orca.size === 0 &&
      s.estimates.clients.size === 0 &&
      s.figures.size === 0 &&
      s.published.size === 0 &&
      s.reports.size === 0 &&
      !entries.some((e) => this.deps.orcaOf?.(e.endpoint.key) !== undefined)
    ) {
      return;
    }
    s.computedAtMs = now;
    const keys = new Set(entries.map((e) => e.endpoint.key));
    for (const m of Object.values(s.estimates)) for (const key of m.keys()) if (!keys.has(key)) m.delete(key);
    this.takeInClientReports(s, entries, now);

    for (const e of entries) {
      const key = e.endpoint.key;
      // ORCA: a report read again before the next one arrived is not new.
      const orca = this.deps.orcaOf?.(key);
      const prevOrca = s.estimates.orca.get(key);
      if (
        orca &&
        now - orca.receivedAtMs < o.expiryMs &&
        !(prevOrca && orca.receivedAtMs <= prevOrca.lastAtMs)
      ) {
        const c = orcaCapacity(orca, o.errorPenalty);
        if (c !== undefined) {
          this.observe(s.estimates.orca, key, c, orca.receivedAtMs, now, {
            utilization: orca.applicationUtilization > 0 ? orca.applicationUtilization : orca.cpuUtilization,
            qps: orca.rpsFractional,
            eps: orca.eps,
            latencyMs: 0,
          });
        }
      }
      // Clients: new when some client reported the endpoint since the last update.
      const figures = s.figures.get(e.endpoint.address);
      if (!figures || ![...figures.values()].some((f) => f.atMs === now)) continue;
      const latencies = [...figures.values()].map((f) => f.latencyMs);
      let calls = 0;
      let succeeded = 0;
      let sum = 0;
      for (const f of figures.values()) {
        calls += f.calls;
        succeeded += f.succeeded;
        sum += f.latencyMs * f.calls;
      }
      // Three or more: their median. Two: believed only when they agree within 2× (else one of
      // them could move the weight on its own). One: the only view there is.
      const agree = latencies.length !== 2 || Math.max(...latencies) <= 2 * Math.min(...latencies);
      if (calls < MIN_CALLS_PER_UPDATE || !agree) continue;
      const latencyMs = latencies.length >= MIN_CLIENTS_FOR_MEDIAN ? median(latencies) : sum / calls;
      if (!(latencyMs > 0)) continue;
      // Goodput per slot: a backend that answers fast with errors is not fast.
      const capacity = ((succeeded / calls) * 1000) / (latencyMs + LATENCY_PRIOR_MS);
      this.observe(s.estimates.clients, key, capacity, now, now, {
        utilization: 0,
        qps: 0,
        eps: 0,
        latencyMs,
      });
    }

    // The service's source: ORCA when two endpoints have a usable estimate, else clients.
    const usable = (source: LoadSource) =>
      entries.filter((e) => {
        const st = s.estimates[source].get(e.endpoint.key);
        return st !== undefined && now - st.firstAtMs >= o.blackoutMs && now - st.lastAtMs < o.expiryMs;
      });
    // ORCA decides only once some endpoint is busy: at low load a utilization (an event loop's
    // baseline, say) is not proportional to the calls, and qps / utilization would follow the
    // weights it produces.
    const orcaReported = usable('orca');
    const busy = orcaReported.some(
      (e) => (s.estimates.orca.get(e.endpoint.key)?.utilization ?? 0) >= MIN_BUSY_UTILIZATION,
    );
    const orcaUsable = busy ? orcaReported : [];
    const clientUsable = usable('clients');
    const chosen = orcaUsable.length >= 2 ? orcaUsable : clientUsable.length >= 2 ? clientUsable : [];
    const source: LoadSource | undefined =
      chosen.length >= 2 ? (chosen === orcaUsable ? 'orca' : 'clients') : undefined;
    s.source = source;
    const factors = new Map<string, number>();
    if (chosen.length >= 2) {
      const caps = chosen.map((e) => (source ? s.estimates[source].get(e.endpoint.key)?.capacity : 0) ?? 0);
      const mean = caps.reduce((a, b) => a + b, 0) / caps.length;
      chosen.forEach((e, i) => {
        const f = Math.min(1 / o.floor, Math.max(o.floor, caps[i] / mean));
        // Within the push threshold of the mean is the mean: no weight (nor reason) for noise.
        if (Number.isFinite(f) && Math.abs(f - 1) > o.pushThreshold) factors.set(e.endpoint.key, f);
      });
    }
    // Push when some factor moved by more than the threshold (or appeared, or went), or when the
    // factors have stayed off the published ones, the same way, for long enough (the last step of
    // a change, which the threshold alone would leave behind, or a lasting bias).
    const fine = o.pushThreshold / 4;
    const drift = largestMove(s.published, factors);
    const direction = offDirection(s.published, factors, fine);
    // Back within a quarter of the threshold: the change has settled, later drift is noise.
    if (drift <= fine) s.settling = false;
    if (drift <= fine || direction !== s.offDirection) {
      s.offSinceMs = drift <= fine ? NaN : now;
      s.offDirection = direction;
    }
    const moved = drift > o.pushThreshold;
    // Right after a threshold push one period off is enough; otherwise the offset must last three
    // (a lasting bias is pushed; noise that swings across the published value is not).
    const settled =
      drift > fine && now - s.offSinceMs >= (s.settling ? 1 : LASTING_OFFSET_PERIODS) * o.updateMs;
    if (moved || settled) {
      if (now - s.publishedAtMs < o.updateMs) {
        this.recomputeAt(name, s, s.publishedAtMs + o.updateMs);
        return;
      }
      s.published = factors;
      s.publishedAtMs = now;
      s.settling = moved;
      s.offSinceMs = NaN;
      s.offDirection = '';
      this.deps.onChange(name);
    }
  }
}
