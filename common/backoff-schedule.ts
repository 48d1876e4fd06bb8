/** How a BackoffSchedule grows. All durations in milliseconds. */
export interface BackoffScheduleOptions {
  /** First delay, and the delay after reset(). Default 1000. */
  readonly initialMs?: number;
  /** Largest delay. Default 30000. */
  readonly maxMs?: number;
  /** Growth factor between attempts. Default 1.6 (gRPC's connection backoff). */
  readonly multiplier?: number;
  /** Each delay varies by up to ± this fraction. Default 0.2. */
  readonly jitter?: number;
  /** Uniform random numbers in [0, 1). Default Math.random. */
  readonly random?: () => number;
}

/**
 * Exponential backoff with jitter, capped: the delays between reconnection attempts of the
 * resolver's LB stream, the registrar's re-registration and the LB server's etcd watch. Pure: it computes delays; the caller
 * owns the timers. Not shared between owners.
 */
export class BackoffSchedule {
  readonly initialMs: number;
  readonly maxMs: number;
  private readonly multiplier: number;
  private readonly jitter: number;
  private readonly random: () => number;
  private current: number;

  constructor(options: BackoffScheduleOptions = {}) {
    this.initialMs = options.initialMs ?? 1000;
    this.maxMs = options.maxMs ?? 30_000;
    this.multiplier = options.multiplier ?? 1.6;
    this.jitter = options.jitter ?? 0.2;
    this.random = options.random ?? Math.random;
    if (!(this.initialMs > 0) || !(this.maxMs >= this.initialMs)) {
      throw new RangeError(
        `backoff needs 0 < initialMs <= maxMs, got initialMs=${this.initialMs} maxMs=${this.maxMs}`,
      );
    }
    if (!(this.multiplier >= 1))
      throw new RangeError(`backoff multiplier must be >= 1, got ${this.multiplier}`);
    if (!(this.jitter >= 0 && this.jitter < 1)) {
      throw new RangeError(`backoff jitter must be in [0, 1), got ${this.jitter}`);
    }
    this.current = this.initialMs;
  }

  /** The delay before the next attempt; each call grows the following one, up to maxMs. */
  next(): number {
    const base = this.current;
    this.current = Math.min(this.maxMs, base * this.multiplier);
    const factor = 1 + this.jitter * (2 * this.random() - 1);
    return Math.max(1, Math.min(this.maxMs, Math.round(base * factor)));
  }

  /** Called after a success: the next delay is initialMs again. */
  reset(): void {
    this.current = this.initialMs;
  }
}
