import type { Clock, TimerHandle } from '../../common/clock';

/**
 * Turns a burst of changes into few flushes, without delaying a lone change. The etcd adapter
 * add()s the services each event batch changed. A change after a quiet period (no flush in the
 * last `delayMs`) is flushed at once; changes that follow within `delayMs` of a flush are
 * gathered and flushed together when that window ends, each key once. So pushes happen at most
 * once per `delayMs`, and none is held back longer than `delayMs`. Single-threaded; close()
 * drops what is pending.
 */
export class ChangeCoalescer {
  private pending = new Set<string>();
  private timer: TimerHandle | undefined;
  private lastFlushAt = Number.NEGATIVE_INFINITY;
  private closed = false;

  constructor(
    private readonly clock: Clock,
    private readonly delayMs: number,
    private readonly flush: (keys: string[]) => void,
  ) {
    if (!(delayMs >= 0)) throw new RangeError(`coalesce delay ${delayMs} ms must be >= 0`);
  }

  /** Notes changed keys; flushes now after a quiet period, else at the end of the current window. */
  add(keys: Iterable<string>): void {
    if (this.closed) return;
    for (const k of keys) this.pending.add(k);
    if (this.pending.size === 0 || this.timer) return;
    // Clamped: a wall clock stepped back after a flush must not hold every push for the step.
    const wait = Math.min(this.delayMs, this.lastFlushAt + this.delayMs - this.clock.now());
    if (wait <= 0) this.flushNow();
    else this.timer = this.clock.setTimeout(() => this.flushNow(), wait);
  }

  /** Flushes what is pending now (also cancels the timer). */
  flushNow(): void {
    this.timer?.cancel();
    this.timer = undefined;
    if (this.pending.size === 0 || this.closed) return;
    const keys = [...this.pending].sort();
    this.pending = new Set();
    this.lastFlushAt = this.clock.now();
    this.flush(keys);
  }

  /** Stops for good; pending keys are dropped. Idempotent. */
  close(): void {
    this.closed = true;
    this.timer?.cancel();
    this.timer = undefined;
    this.pending.clear();
  }
}
