import type { Clock, TimerHandle } from '../../common/clock';

/** A Clock driven by hand: advance(ms) runs the timers that fall due, in order. */
export class FakeClock implements Clock {
  private time = 1_000_000;
  private seq = 0;
  private timers: Array<{ at: number; seq: number; fn: () => void; cancelled: boolean }> = [];

  now(): number {
    return this.time;
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    const timer = { at: this.time + ms, seq: this.seq++, fn, cancelled: false };
    this.timers.push(timer);
    return { cancel: () => (timer.cancelled = true) };
  }

  /** Timers not yet run nor cancelled. */
  get pending(): number {
    return this.timers.filter((t) => !t.cancelled).length;
  }

  /**
   * Steps the wall clock back by `ms` (an NTP step, a VM resume). Pending timers keep their
   * remaining durations, as real timers do.
   */
  stepBack(ms: number): void {
    this.time -= ms;
    for (const t of this.timers) t.at -= ms;
  }

  advance(ms: number): void {
    const until = this.time + ms;
    for (let guard = 0; guard < 10_000; guard++) {
      const due = this.timers
        .filter((t) => !t.cancelled && t.at <= until)
        .sort((a, b) => a.at - b.at || a.seq - b.seq)[0];
      if (!due) break;
      this.timers = this.timers.filter((t) => t !== due);
      this.time = due.at;
      due.fn();
    }
    this.time = until;
  }
}
