import type { Clock, TimerHandle } from '../../common/clock';
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
 * least one. Only failures that point at the backend count (BACKEND_FAILURE_CODES); other non-OK
 * answers (NOT_FOUND, INVALID_ARGUMENT, …) are answers of a working backend and count as successes.
 * Clients that report no per-status counts add their successes only.
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
 * 100,000 calls a second at the default interval): a client reporting absurd numbers weighs no
 * more than a very busy honest one.
 */
export const MAX_CALLS_PER_CLIENT_PER_INTERVAL = 1_000_000;

/** What the detector needs from the rest of the server. */
export interface OutlierDetectorDeps {
  readonly clock: Clock;
  readonly options: OutlierDetectionOptions;
  /** The service-wide assignment of `service` (its endpoints' addresses are the candidates). */
  readonly assignmentOf: (service: string) => Assignment;
  /** Ejections began or ended in `service`: the owner republishes it (and logs, counts). */
  readonly onChange: (service: string, changes: readonly EjectionChange[]) => void;
}

/** One endpoint address of one service. */
interface AddressState {
  /** Finished calls and backend failures in the current interval. */
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

/** The backend failures among one report's failed calls (at most `failed`). */
function backendFailures(d: BackendCallCounts, failed: number): number {
  let n = 0;
  for (const s of d.failedByStatus ?? []) if (BACKEND_FAILURE_CODES.has(s.code)) n += counter(s.count);
  return Math.min(n, failed);
}

export class OutlierDetector implements ClientActivityObserver {
  private readonly services = new Map<string, Map<string, AddressState>>();
  /** Per client (its identity object) and address: finished calls counted this interval. */
  private perClient = new Map<ClientIdentity, Map<string, number>>();
  /** The address set of each assignment seen, so a report checks its addresses in O(1). */
  private readonly addressSets = new WeakMap<Assignment, ReadonlySet<string>>();
  private timer: TimerHandle | undefined;
  private lastRunMs: number;
  private closed = false;

  constructor(private readonly deps: OutlierDetectorDeps) {
    this.lastRunMs = deps.clock.now();
    this.schedule();
  }

  get options(): OutlierDetectionOptions {
    return this.deps.options;
  }

  assigned(): void {}

  /** Adds a client's report (deltas) to the current interval, within the per-client bound. */
  reported(identity: ClientIdentity, deltas: readonly BackendCallCounts[]): void {
    if (this.closed) return;
    const addresses = this.addressesOf(identity.service);
    if (addresses.size === 0) return;
    for (const d of deltas) {
      if (!addresses.has(d.address)) continue;
      const failed = counter(d.callsFailed);
      let requests = counter(d.callsSucceeded) + failed;
      let failures = backendFailures(d, failed);
      if (requests === 0) continue;
      let used = this.perClient.get(identity);
      if (!used) {
        used = new Map();
        this.perClient.set(identity, used);
      }
      const before = used.get(d.address) ?? 0;
      const room = Math.max(0, MAX_CALLS_PER_CLIENT_PER_INTERVAL - before);
      if (requests > room) {
        failures = (failures * room) / requests;
        requests = room;
      }
      if (requests === 0) continue;
      used.set(d.address, before + requests);
      const s = this.stateOf(identity.service, d.address);
      s.requests += requests;
      s.failures += failures;
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
    this.perClient = new Map();
    for (const [service, states] of [...this.services]) {
      const addresses = this.addressesOf(service);
      for (const address of states.keys()) if (!addresses.has(address)) states.delete(address);
      const changes = this.checkService(service, states, addresses.size, now);
      for (const [address, s] of states) {
        s.last =
          s.requests === 0
            ? NO_RATES
            : Object.freeze({
                callsPerSecond: s.requests / seconds,
                failuresPerSecond: s.failures / seconds,
                failureRate: s.failures / s.requests,
              });
        s.requests = 0;
        s.failures = 0;
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

  private schedule(): void {
    this.timer = this.deps.clock.setTimeout(() => {
      this.runChecks();
      if (!this.closed) this.schedule();
    }, this.deps.options.intervalMs);
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
      s = { requests: 0, failures: 0, last: NO_RATES, multiplier: 0, ejection: undefined };
      states.set(address, s);
    }
    return s;
  }

  /** A50's checks for one service, then the returns; the changes, in address order. */
  private checkService(
    service: string,
    states: Map<string, AddressState>,
    endpointCount: number,
    now: number,
  ): EjectionChange[] {
    const { options } = this.deps;
    const changes: EjectionChange[] = [];
    const sorted = [...states.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    const allowed =
      options.enabled && options.maxEjectionPercent > 0
        ? Math.max(1, Math.floor((endpointCount * options.maxEjectionPercent) / 100))
        : 0;
    let ejectedNow = sorted.filter(([, s]) => s.ejection).length;
    const eject = (address: string, s: AddressState, rule: EjectionRule, threshold: number): void => {
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
        threshold,
      });
      ejectedNow += 1;
      changes.push({ service, address, ejection: s.ejection, ejected: true });
    };
    const ejectedBefore = new Set(sorted.filter(([, s]) => s.ejection).map(([a]) => a));

    const sr = options.successRate;
    if (allowed > 0 && sr) {
      const candidates = sorted.filter(([, s]) => !s.ejection && s.requests >= sr.requestVolume);
      if (candidates.length >= sr.minimumHosts) {
        const rates = candidates.map(([, s]) => 1 - s.failures / s.requests);
        const mean = rates.reduce((a, b) => a + b, 0) / rates.length;
        const stdev = Math.sqrt(rates.reduce((a, r) => a + (r - mean) ** 2, 0) / rates.length);
        const threshold = mean - sr.stdevFactor * stdev;
        candidates.forEach(([address, s], i) => {
          if (rates[i] < threshold) eject(address, s, 'success-rate', threshold);
        });
      }
    }
    const fp = options.failurePercentage;
    if (allowed > 0 && fp) {
      const candidates = sorted.filter(([, s]) => !s.ejection && s.requests >= fp.requestVolume);
      if (candidates.length >= fp.minimumHosts) {
        for (const [address, s] of candidates) {
          if ((100 * s.failures) / s.requests > fp.threshold)
            eject(address, s, 'failure-percentage', fp.threshold);
        }
      }
    }

    for (const [address, s] of sorted) {
      if (!s.ejection) {
        if (s.multiplier > 0) s.multiplier -= 1;
      } else if (ejectedBefore.has(address) && (now >= s.ejection.untilMs || !options.enabled)) {
        changes.push({ service, address, ejection: s.ejection, ejected: false });
        s.ejection = undefined;
      }
    }
    return changes;
  }
}
