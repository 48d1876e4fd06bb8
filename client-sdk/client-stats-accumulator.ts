import { status as Status } from '@grpc/grpc-js';
import type { BackendStats } from '../proto/gen/lookaside/v1/BackendStats';
import type { StatusCount } from '../proto/gen/lookaside/v1/StatusCount';

/**
 * The call counters of one backend. The weighted picker holds a reference per backend and bumps
 * it from the pick's onCallStarted / onCallEnded hooks, so the hot path does no map lookup.
 */
export class BackendCallCounters {
  started = 0;
  succeeded = 0;
  failed = 0;
  latencyMsSum = 0;
  /** The fastest successful call since the last report, ms (Infinity: none). */
  latencyMsMin = Infinity;
  /** Failed calls by status code (index = code, 0..16), allocated once. */
  readonly failedByStatus = new Float64Array(17);
  /** Calls started and not yet ended (not reset by reports). */
  inFlight = 0;
  /** Set when the backend left the server list; the entry is dropped once it is idle. */
  retired = false;

  constructor(readonly address: string) {}

  /** Shared by every pick of this backend (no allocation per call). */
  readonly onCallStarted = (): void => {
    this.started++;
    this.inFlight++;
  };

  /** Records the end of one call that started on this backend. */
  callEnded(code: Status, latencyMs: number): void {
    if (this.inFlight > 0) this.inFlight--;
    if (code === Status.OK) {
      this.succeeded++;
      if (latencyMs < this.latencyMsMin) this.latencyMsMin = latencyMs;
    } else {
      this.failed++;
      if (code >= 0 && code < this.failedByStatus.length) this.failedByStatus[code]++;
    }
    this.latencyMsSum += latencyMs;
  }
}

/** The non-zero entries of a per-code counter array, as the report carries them. */
function statusCounts(byCode: Float64Array): StatusCount[] {
  const out: StatusCount[] = [];
  for (let code = 1; code < byCode.length; code++) {
    if (byCode[code] > 0) out.push({ code, count: byCode[code] });
  }
  return out;
}

/**
 * Per-backend call counters since the last ClientStats report, shared by the resolver (which
 * reports them on the LB stream) and the LB policy of the same channel (whose picker counts).
 * Pure: the clock is injected; nothing here sends or schedules anything.
 */
export class ClientStatsAccumulator {
  /** Whether pickers should count at all (the LB server asked for reports). Set by the resolver. */
  enabled = false;
  private readonly byAddress = new Map<string, BackendCallCounters>();

  /** `now` is a monotonic clock in milliseconds, used for call latency. */
  constructor(readonly now: () => number = () => performance.now()) {}

  /** The counters of `address`, created on first use; the same object until it is dropped. */
  counters(address: string): BackendCallCounters {
    let c = this.byAddress.get(address);
    if (c === undefined) {
      c = new BackendCallCounters(address);
      this.byAddress.set(address, c);
    }
    c.retired = false;
    return c;
  }

  /**
   * Called by the LB policy when `address` leaves the server list: its counters are still reported
   * until its in-flight calls end, then forgotten.
   */
  retire(address: string): void {
    const c = this.byAddress.get(address);
    if (c === undefined) return;
    c.retired = true;
    // Nothing left to report (or reports are off): forget it now, so backend churn cannot grow the
    // map when takeReport() never runs.
    const unreported = c.started > 0 || c.succeeded > 0 || c.failed > 0;
    if (c.inFlight === 0 && (!unreported || !this.enabled)) this.byAddress.delete(address);
  }

  /**
   * The deltas since the previous call, one entry per backend that saw calls, and zeroes them.
   * Called by the resolver each report interval.
   */
  takeReport(): BackendStats[] {
    const report: BackendStats[] = [];
    for (const [address, c] of this.byAddress) {
      if (c.started > 0 || c.succeeded > 0 || c.failed > 0) {
        report.push({
          address,
          callsStarted: c.started,
          callsSucceeded: c.succeeded,
          callsFailed: c.failed,
          latencyMsSum: c.latencyMsSum,
          latencyMsMin: Number.isFinite(c.latencyMsMin) ? c.latencyMsMin : 0,
          failedByStatus: statusCounts(c.failedByStatus),
        });
        c.failedByStatus.fill(0);
        c.started = 0;
        c.succeeded = 0;
        c.failed = 0;
        c.latencyMsSum = 0;
        c.latencyMsMin = Infinity;
      } else if (c.retired && c.inFlight === 0) {
        this.byAddress.delete(address);
      }
    }
    return report;
  }

  /** How many backends have counters (for tests and diagnostics). */
  get size(): number {
    return this.byAddress.size;
  }
}
