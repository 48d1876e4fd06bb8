/**
 * Time as the LB server's cores see it: the current time and one-shot timers. The cores take a
 * Clock instead of calling Date.now()/setTimeout themselves, so unit tests drive time by hand.
 */
export interface Clock {
  /** Unix milliseconds. */
  now(): number;
  /** Runs `fn` once after `ms`; the handle cancels it (idempotent, also after it ran). */
  setTimeout(fn: () => void, ms: number): TimerHandle;
}

/** A pending one-shot timer. */
export interface TimerHandle {
  cancel(): void;
}

/** The longest delay one Node timer takes (2^31 - 1 ms, about 24.8 days); longer ones fire at once. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * The real clock: Date.now() and unref'd Node timers (a pending timer never keeps a process up).
 * A delay longer than one Node timer takes (an override that expires in 30 days) is waited out
 * in steps of at most MAX_TIMER_MS, instead of Node's overflow to 1 ms.
 */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout(fn: () => void, ms: number): TimerHandle {
    let timer: NodeJS.Timeout | undefined;
    let cancelled = false;
    const arm = (left: number): void => {
      const step = Math.min(Math.max(0, left), MAX_TIMER_MS);
      timer = setTimeout(() => {
        if (cancelled) return;
        if (left > MAX_TIMER_MS) arm(left - MAX_TIMER_MS);
        else fn();
      }, step);
      timer.unref();
    };
    arm(ms);
    return {
      cancel: () => {
        cancelled = true;
        if (timer !== undefined) clearTimeout(timer);
      },
    };
  },
};

/**
 * Runs `fn` every `ms` on `clock` until the handle is cancelled; a throwing run does not stop the
 * next ones (the error propagates to the timer, as any timer callback's would).
 */
export function repeatEvery(clock: Clock, ms: number, fn: () => void): TimerHandle {
  let cancelled = false;
  let current: TimerHandle | undefined;
  const next = (): void => {
    current = clock.setTimeout(() => {
      try {
        fn();
      } finally {
        if (!cancelled) next();
      }
    }, ms);
  };
  next();
  return {
    cancel: () => {
      cancelled = true;
      current?.cancel();
    },
  };
}
