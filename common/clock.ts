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

/** The real clock: Date.now() and unref'd Node timers (a pending timer never keeps a process up). */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout(fn: () => void, ms: number): TimerHandle {
    const timer = setTimeout(fn, ms);
    timer.unref();
    return { cancel: () => clearTimeout(timer) };
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
