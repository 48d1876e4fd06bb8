import { repeatEvery, type Clock, type TimerHandle } from '../../common/clock';
import { median } from '../../common/median';
import type { Assignment } from '../assignment/assignment';
import type { BackendCallCounts, ClientActivityObserver, ClientIdentity } from './client-registry';

/**
 * Outlier ejection from what every client reports (gRFC A50's rules, run once per LB replica over
 * the ClientStats of all its clients instead of once per client over its own calls). Every
 * interval the detector looks at each service's endpoints (by address, as clients report them):
 * - **success rate**: among endpoints with at least `requestVolume` finished calls (and at least
 *   `minimumHosts` of them), eject those whose success rate is below mean − stdevFactor × stdev;
 * - **failure percentage**: among the same kind of candidates, eject those whose backend-failure
 *   share is above `threshold` %.
 * An ejection lasts baseEjectionMs × its consecutive count (at most max(base, maxEjectionMs)) and
 * ends at the first interval after that; each interval without an ejection lowers the count by one.
 * At most maxEjectionPercent % of a service's endpoints are ejected at once, rounded down, but at
 * least one, and never so many that the service would fall into panic (the ejections would then be
 * ignored, and the health verdicts with them). Only endpoints that would serve without an ejection
 * (not draining, weight 0 or unhealthy) are candidates. Only failures that point at the backend
 * count (BACKEND_FAILURE_CODES); other non-OK answers (NOT_FOUND, INVALID_ARGUMENT, …) are answers
 * of a working backend and count as successes. Reports without per-status counts add their
 * successful calls only. A repeat ejection lasts longer unless the endpoint carried the request
 * volume without being ejected in between (clients report late, so an interval without calls says
 * nothing). One client (by client id) weighs at most twice the median reporting client of an
 * endpoint when three or more report it.
 *
 * No I/O: the clock drives the interval, the composition root feeds reports (as a
 * ClientActivityObserver) and republishes the services onChange names. Deterministic for the
 * same reports (A50's enforcement percentage is always 100 %).
 */

/** The rule that ejected an endpoint. */
export type EjectionRule = 'success-rate' | 'failure-percentage';

/** An endpoint's current ejection. */
export interface Ejection {
  readonly rule: EjectionRule;
  readonly sinceMs: number;
  /** When it may return: it does at the first interval at or after this time. */
  readonly untilMs: number;
  /** How many times in a row it was ejected (the multiplier of the ejection time). */
  readonly consecutive: number;
  /** What the interval that ejected it saw: finished calls, backend failures. */
  readonly requests: number;
  readonly failures: number;
  /** The rule's limit it crossed: the success-rate threshold (0..1) or the failure percentage. */
  readonly threshold: number;
}

/** What clients reported for one endpoint in the last complete interval. */
export interface ReportedRates {
  readonly callsPerSecond: number;
  /** Backend failures per second (BACKEND_FAILURE_CODES only). */
  readonly failuresPerSecond: number;
  /** failures / calls; 0 without calls. */
  readonly failureRate: number;
}

/** One endpoint's ejection or return, as onChange reports it (for logs and metrics). */
export interface EjectionChange {
  readonly service: string;
  readonly address: string;
  /** The ejection that began, or the one that ended. */
  readonly ejection: Ejection;
  readonly ejected: boolean;
}

export interface SuccessRateRule {
  /** The threshold is mean − stdevFactor × stdev (A50: stdev_factor 1900 / 1000). */
  readonly stdevFactor: number;
  readonly minimumHosts: number;
  readonly requestVolume: number;
}

export interface FailurePercentageRule {
  /** Eject above this percentage of backend failures (0..100). */
  readonly threshold: number;
  readonly minimumHosts: number;
  readonly requestVolume: number;
}

export interface OutlierDetectionOptions {
  /** False: reports are still added up (admin shows the rates) but nothing is ejected. */
  readonly enabled: boolean;
  /** The assignment stage's panic threshold: ejections never take a service below it. */
  readonly panicThreshold?: number;
  readonly intervalMs: number;
  readonly baseEjectionMs: number;
  readonly maxEjectionMs: number;
  /** At most this share (0..100) of a service's endpoints, rounded down but at least one; 0: none. */
  readonly maxEjectionPercent: number;
  readonly successRate: SuccessRateRule | undefined;
  readonly failurePercentage: FailurePercentageRule | undefined;
}

/** Both A50 rules need at least this many endpoints with enough calls. */
export const DEFAULT_OUTLIER_MIN_HOSTS = 5;

/** gRFC A50's defaults, except the max ejection share: half the service (the issue's choice). */
export const DEFAULT_OUTLIER_DETECTION: OutlierDetectionOptions = Object.freeze({
  enabled: true,
  intervalMs: 10_000,
  baseEjectionMs: 30_000,
  maxEjectionMs: 300_000,
  maxEjectionPercent: 50,
  successRate: Object.freeze({
    stdevFactor: 1.9,
    minimumHosts: DEFAULT_OUTLIER_MIN_HOSTS,
    requestVolume: 100,
  }),
  failurePercentage: Object.freeze({
    threshold: 85,
    minimumHosts: DEFAULT_OUTLIER_MIN_HOSTS,
    requestVolume: 50,
  }),
});

/**
 * Status codes that point at the backend rather than at the request: UNKNOWN, DEADLINE_EXCEEDED,
 * RESOURCE_EXHAUSTED, INTERNAL, UNAVAILABLE, DATA_LOSS.
 */
export const BACKEND_FAILURE_CODES: ReadonlySet<number> = new Set([2, 4, 8, 13, 14, 15]);

/**
 * At most this many finished calls of one client count for one endpoint per interval (about
 * 100,000 calls a second at the default interval), however many it reports.
 */
export const MAX_CALLS_PER_CLIENT_PER_INTERVAL = 1_000_000;

/** With at least this many clients reporting an endpoint, each weighs at most CLIENT_WEIGHT_CAP × the median. */
export const MIN_CLIENTS_FOR_RELATIVE_CAP = 3;
export const CLIENT_WEIGHT_CAP = 2;

/** A late timer (or a clock tick) does not push a return to the next interval. */
const RETURN_SLACK_MS = 50;

/** What the detector needs from the rest of the server. */
export interface OutlierDetectorDeps {
  readonly clock: Clock;
  readonly options: OutlierDetectionOptions;
  /** The service-wide assignment of `service` (its endpoints' addresses are the candidates). */
  readonly assignmentOf: (service: string) => Assignment;
  /** Ejections began or ended in `service`: the owner republishes it (and logs, counts). */
  readonly onChange: (service: string, changes: readonly EjectionChange[]) => void;
}

/** One client's finished calls and backend failures on one endpoint in the current interval. */
interface ClientCounts {
  requests: number;
  failures: number;
}

/** One endpoint address of one service. */
interface AddressState {
  /** This interval's counts, by client id. */
  byClient: Map<string, ClientCounts>;
  /** The interval's totals once the per-client bounds are applied (set by runChecks). */
  requests: number;
  failures: number;
  /** The last complete interval's figures. */
  last: ReportedRates;
  multiplier: number;
  ejection: Ejection | undefined;
}

const NO_RATES: ReportedRates = Object.freeze({ callsPerSecond: 0, failuresPerSecond: 0, failureRate: 0 });

function counter(n: number): number {
  return Number.isFinite(n) && n > 0 ? n : 0;
}

/**
 * The finished calls and backend failures of one report. Without per-status counts its failed
 * calls cannot be told apart, so only its successful calls count.
 */
function countsOf(d: BackendCallCounts): ClientCounts {
  const succeeded = counter(d.callsSucceeded);
  const failed = counter(d.callsFailed);
  let byStatus = 0;
  let backend = 0;
  for (const s of d.failedByStatus ?? []) {
    const n = counter(s.count);
    byStatus += n;
    if (BACKEND_FAILURE_CODES.has(s.code)) backend += n;
  }
  if (byStatus === 0) return { requests: succeeded, failures: 0 };
  return { requests: succeeded + failed, failures: Math.min(backend, failed) };
}

/** The interval's totals of one endpoint, each client within the bounds. */
function totalsOf(byClient: ReadonlyMap<string, ClientCounts>): ClientCounts {
  const all = [...byClient.values()];
  const cap =
    all.length >= MIN_CLIENTS_FOR_RELATIVE_CAP
      ? CLIENT_WEIGHT_CAP * median(all.map((c) => c.requests))
      : Infinity;
  let requests = 0;
  let failures = 0;
  for (const c of all) {
    const r = Math.min(c.requests, cap);
    requests += r;
    failures += c.requests > 0 ? (c.failures * r) / c.requests : 0;
  }
  return { requests, failures };
}

/** Whether an entry would take calls but for an ejection (held and load do not zero a weight). */
function servableApartFromEjection(e: Assignment['endpoints'][number]): boolean {
  return (
    e.eligible ||
    (e.reasons.includes('ejected') && e.reasons.every((r) => r === 'ejected' || r === 'held' || r === 'load'))
  );
}

export class OutlierDetector implements ClientActivityObserver {
  private readonly services = new Map<string, Map<string, AddressState>>();
  /** The address set of each assignment seen, so a report checks its addresses in O(1). */
  private readonly addressSets = new WeakMap<Assignment, ReadonlySet<string>>();
  private timer: TimerHandle | undefined;
  private lastRunMs: number;
  private closed = false;

  constructor(private readonly deps: OutlierDetectorDeps) {
    this.lastRunMs = deps.clock.now();
    this.timer = repeatEvery(deps.clock, deps.options.intervalMs, () => this.runChecks());
  }

  get options(): OutlierDetectionOptions {
    return this.deps.options;
  }

  assigned(): void {}

  /** Adds a client's report (deltas) to the current interval, within the per-client bounds. */
  reported(identity: ClientIdentity, deltas: readonly BackendCallCounts[]): void {
    if (this.closed) return;
    const addresses = this.addressesOf(identity.service);
    if (addresses.size === 0) return;
    for (const d of deltas) {
      if (!addresses.has(d.address)) continue;
      const add = countsOf(d);
      if (add.requests === 0) continue;
      const s = this.stateOf(identity.service, d.address);
      let c = s.byClient.get(identity.clientId);
      if (!c) {
        c = { requests: 0, failures: 0 };
        s.byClient.set(identity.clientId, c);
      }
      const room = MAX_CALLS_PER_CLIENT_PER_INTERVAL - c.requests;
      const scale = add.requests > room ? room / add.requests : 1;
      c.requests += add.requests * scale;
      c.failures += add.failures * scale;
    }
  }

  /** The current ejection of `address` in `service`, if any. */
  ejection(service: string, address: string): Ejection | undefined {
    return this.services.get(service)?.get(address)?.ejection;
  }

  /** What clients reported for `address` in `service` over the last complete interval. */
  rates(service: string, address: string): ReportedRates {
    return this.services.get(service)?.get(address)?.last ?? NO_RATES;
  }

  /** How many endpoints of `service` are ejected now. */
  ejectedCount(service: string): number {
    let n = 0;
    for (const s of this.services.get(service)?.values() ?? []) if (s.ejection) n += 1;
    return n;
  }

  /** Runs one interval's checks now (the timer calls it; tests may too). */
  runChecks(): void {
    if (this.closed) return;
    const now = this.deps.clock.now();
    const seconds = Math.max(0.001, (now - this.lastRunMs) / 1000);
    this.lastRunMs = now;
    for (const [service, states] of [...this.services]) {
      const assignment = this.deps.assignmentOf(service);
      const addresses = this.addressesOf(service);
      const changes: EjectionChange[] = [];
      for (const [address, s] of states) {
        if (addresses.has(address)) continue;
        // Gone from the service while ejected: the ejection ends with it (logged as a return).
        if (s.ejection) changes.push({ service, address, ejection: s.ejection, ejected: false });
        states.delete(address);
      }
      for (const s of states.values()) {
        const t = totalsOf(s.byClient);
        s.requests = t.requests;
        s.failures = t.failures;
        s.byClient = new Map();
      }
      changes.push(...this.checkService(service, states, assignment, now));
      for (const [address, s] of states) {
        s.last =
          s.requests === 0
            ? NO_RATES
            : Object.freeze({
                callsPerSecond: s.requests / seconds,
                failuresPerSecond: s.failures / seconds,
                failureRate: s.failures / s.requests,
              });
        if (!s.ejection && s.multiplier === 0 && s.last === NO_RATES) states.delete(address);
      }
      if (states.size === 0) this.services.delete(service);
      if (changes.length > 0) this.deps.onChange(service, changes);
    }
  }

  /** Stops the interval timer; later reports are ignored. Idempotent. */
  close(): void {
    this.closed = true;
    this.timer?.cancel();
    this.timer = undefined;
  }

  private addressesOf(service: string): ReadonlySet<string> {
    const assignment = this.deps.assignmentOf(service);
    let set = this.addressSets.get(assignment);
    if (!set) {
      set = new Set(assignment.endpoints.map((e) => e.endpoint.address));
      this.addressSets.set(assignment, set);
    }
    return set;
  }

  private stateOf(service: string, address: string): AddressState {
    let states = this.services.get(service);
    if (!states) {
      states = new Map();
      this.services.set(service, states);
    }
    let s = states.get(address);
    if (!s) {
      s = {
        byClient: new Map(),
        requests: 0,
        failures: 0,
        last: NO_RATES,
        multiplier: 0,
        ejection: undefined,
      };
      states.set(address, s);
    }
    return s;
  }

  /** A50's checks for one service, then the returns; the changes, in address order. */
  private checkService(
    service: string,
    states: Map<string, AddressState>,
    assignment: Assignment,
    now: number,
  ): EjectionChange[] {
    const { options } = this.deps;
    const changes: EjectionChange[] = [];
    const sorted = [...states.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    // Candidates: endpoints that would serve but for an ejection (not draining, weight 0, unhealthy).
    const servable = new Set<string>();
    const wouldServe = new Set<string>();
    for (const e of assignment.endpoints) {
      if (servableApartFromEjection(e)) servable.add(e.endpoint.address);
      if (servableApartFromEjection(e) || e.reasons.includes('unhealthy')) wouldServe.add(e.endpoint.address);
    }
    const ejectedAtStart = new Set(sorted.filter(([, s]) => s.ejection).map(([a]) => a));
    const byShare =
      options.enabled && options.maxEjectionPercent > 0
        ? Math.max(1, Math.floor((servable.size * options.maxEjectionPercent) / 100))
        : 0;
    // Never so many that the stage's panic threshold would trip (it would ignore them all).
    const threshold = options.panicThreshold ?? 0;
    const byPanic =
      threshold > 0 ? Math.floor(servable.size - threshold * wouldServe.size + 1e-9) : servable.size;
    const allowed = Math.min(byShare, byPanic);
    let ejectedNow = ejectedAtStart.size;
    const eject = (address: string, s: AddressState, rule: EjectionRule, limit: number): void => {
      if (ejectedNow >= allowed || s.ejection) return;
      s.multiplier += 1;
      const duration = Math.min(
        options.baseEjectionMs * s.multiplier,
        Math.max(options.baseEjectionMs, options.maxEjectionMs),
      );
      s.ejection = Object.freeze({
        rule,
        sinceMs: now,
        untilMs: now + duration,
        consecutive: s.multiplier,
        requests: s.requests,
        failures: s.failures,
        threshold: limit,
      });
      ejectedNow += 1;
      changes.push({ service, address, ejection: s.ejection, ejected: true });
    };
    const withVolume = (volume: number) =>
      sorted.filter(([address, s]) => !s.ejection && servable.has(address) && s.requests >= volume);

    // Both rules choose their candidates before either ejects (as grpc-js counts its hosts).
    const sr = options.successRate;
    const srCandidates = sr ? withVolume(sr.requestVolume) : [];
    const fp = options.failurePercentage;
    const fpCandidates = fp ? withVolume(fp.requestVolume) : [];
    if (allowed > 0 && sr && srCandidates.length >= sr.minimumHosts) {
      const rates = srCandidates.map(([, s]) => 1 - s.failures / s.requests);
      const mean = rates.reduce((a, b) => a + b, 0) / rates.length;
      const stdev = Math.sqrt(rates.reduce((a, r) => a + (r - mean) ** 2, 0) / rates.length);
      const limit = mean - sr.stdevFactor * stdev;
      srCandidates.forEach(([address, s], i) => {
        if (rates[i] < limit) eject(address, s, 'success-rate', limit);
      });
    }
    if (allowed > 0 && fp && fpCandidates.length >= fp.minimumHosts) {
      for (const [address, s] of fpCandidates) {
        if ((100 * s.failures) / s.requests > fp.threshold)
          eject(address, s, 'failure-percentage', fp.threshold);
      }
    }

    // The multiplier falls only after an interval in which the endpoint carried the volume and was
    // not ejected; an ejection ends at the first interval at or after its end.
    const volume = Math.min(sr?.requestVolume ?? Infinity, fp?.requestVolume ?? Infinity);
    for (const [address, s] of sorted) {
      if (!s.ejection) {
        if (s.multiplier > 0 && s.requests >= volume) s.multiplier -= 1;
      } else if (
        ejectedAtStart.has(address) &&
        (now + RETURN_SLACK_MS >= s.ejection.untilMs || !options.enabled)
      ) {
        changes.push({ service, address, ejection: s.ejection, ejected: false });
        s.ejection = undefined;
      }
    }
    return changes;
  }
}
