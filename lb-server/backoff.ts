/** How a Backoff grows; every field has a default. */
export interface BackoffOptions {
  /** First delay in ms. Default 100. */
  readonly initialMs?: number;
  /** Largest delay in ms. Default 5000. */
  readonly maxMs?: number;
  /** Growth factor per attempt. Default 2. */
  readonly multiplier?: number;
  /** Fraction of each delay that is randomised (0..1). Default 0.2. */
  readonly jitter?: number;
  /** Source of randomness in [0, 1); default Math.random. Tests pass a fixed one. */
  readonly random?: () => number;
}

/**
 * An exponential backoff schedule with jitter. Pure: it computes delays, it does not wait.
 * The etcd adapter asks next() after each failed attempt and reset()s after a success.
 */
export class Backoff {
  private readonly initialMs: number;
  private readonly maxMs: number;
  private readonly multiplier: number;
  private readonly jitter: number;
  private readonly random: () => number;
  private attempt = 0;

  constructor(options: BackoffOptions = {}) {
    this.initialMs = options.initialMs ?? 100;
    this.maxMs = options.maxMs ?? 5000;
    this.multiplier = options.multiplier ?? 2;
    this.jitter = Math.min(1, Math.max(0, options.jitter ?? 0.2));
    this.random = options.random ?? Math.random;
    if (!(this.initialMs > 0) || !(this.maxMs >= this.initialMs) || !(this.multiplier >= 1)) {
      throw new RangeError(
        `invalid backoff: initialMs ${this.initialMs}, maxMs ${this.maxMs}, multiplier ${this.multiplier}`,
      );
    }
  }

  /** The delay before the next attempt; grows until maxMs, never exceeds it. */
  next(): number {
    const base = Math.min(this.maxMs, this.initialMs * this.multiplier ** this.attempt);
    if (base < this.maxMs) this.attempt += 1;
    const spread = base * this.jitter;
    return Math.min(this.maxMs, Math.max(0, Math.round(base - spread + 2 * spread * this.random())));
  }

  /** Back to the first delay (after a success). */
  reset(): void {
    this.attempt = 0;
  }
}
