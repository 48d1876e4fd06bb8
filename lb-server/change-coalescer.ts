import type { Clock, TimerHandle } from './clock';

/**
 * Turns a burst of changes into one flush. The etcd adapter add()s the services each event
 * changed; `delayMs` after the first change of a burst, flush() receives every service changed
 * since, once each. Under continuous churn it still flushes every `delayMs`, so a push is never
 * held back longer than that. Single-threaded; close() drops what is pending.
 */
export class ChangeCoalescer {
  private pending = new Set<string>();
  private timer: TimerHandle | undefined;
  private closed = false;

  constructor(
    private readonly clock: Clock,
    private readonly delayMs: number,
    private readonly flush: (keys: string[]) => void,
  ) {
    if (!(delayMs >= 0)) throw new RangeError(`coalesce delay ${delayMs} ms must be >= 0`);
  }

  /** Notes changed keys; schedules a flush if none is pending. */
  add(keys: Iterable<string>): void {
    if (this.closed) return;
    for (const k of keys) this.pending.add(k);
    if (this.pending.size > 0 && !this.timer) {
      this.timer = this.clock.setTimeout(() => this.flushNow(), this.delayMs);
    }
  }

  /** Flushes what is pending now (also cancels the timer). */
  flushNow(): void {
    this.timer?.cancel();
    this.timer = undefined;
    if (this.pending.size === 0) return;
    const keys = [...this.pending].sort();
    this.pending = new Set();
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
