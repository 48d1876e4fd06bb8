/** Anything a hub can hold: a snapshot with a version that only grows. */
export interface Versioned {
  readonly version: number;
}

/** Ends a subscription; idempotent. */
export type Unsubscribe = () => void;

/**
 * The versioned fan-out between the registry state and the streams of every frontend, keyed by
 * service name. It holds only the latest snapshot per key, never a queue: a subscriber is woken
 * when something newer is published and then asks newerThan(key, lastSentVersion) when it is
 * ready to send, so a slow stream skips intermediate versions instead of buffering them.
 * Until markReady() (the owner's initial load is complete) it answers nothing newer than any
 * version, so that no subscriber is handed a not-yet-loaded (empty) state as if it were real.
 * No I/O and synchronous; wake callbacks run inside publish()/markReady() and must not throw.
 */
export class VersionedHub<T extends Versioned> {
  private readonly latestByKey = new Map<string, T>();
  private readonly subscribers = new Map<string, Set<() => void>>();
  private isReady = false;
  private readonly readyWaiters = new Set<() => void>();

  /**
   * @param empty the snapshot of a key nothing was published for (version 0).
   * @param onUnsubscribed called when the last subscriber of a key leaves (the owner may then
   *   forget() it); runs inside the unsubscribe call and must not throw.
   */
  constructor(
    private readonly empty: (key: string) => T,
    private readonly onUnsubscribed: (key: string) => void = () => undefined,
  ) {}

  /**
   * Makes `value` the latest of `key` and wakes its subscribers, if it is newer than what the hub
   * holds; an older or equal version is ignored (returns false).
   */
  publish(key: string, value: T): boolean {
    const current = this.latest(key);
    if (value.version <= current.version) return false;
    this.latestByKey.set(key, value);
    if (!this.isReady) return true;
    const subs = this.subscribers.get(key);
    if (subs) for (const wake of [...subs]) wake();
    return true;
  }

  /** The latest snapshot of `key` (the empty one if none was published). */
  latest(key: string): T {
    return this.latestByKey.get(key) ?? this.empty(key);
  }

  /** True once markReady() was called. */
  get ready(): boolean {
    return this.isReady;
  }

  /** Declares the initial load complete, wakes every subscriber and every whenReady waiter. Idempotent. */
  markReady(): void {
    if (this.isReady) return;
    this.isReady = true;
    for (const subs of [...this.subscribers.values()]) for (const wake of [...subs]) wake();
    const waiters = [...this.readyWaiters];
    this.readyWaiters.clear();
    for (const fn of waiters) fn();
  }

  /**
   * Calls `fn` once when markReady() is called (at once if it already was), for a subscriber that
   * must act on readiness itself rather than on one key's publish. The returned function cancels
   * a call that has not happened yet.
   */
  whenReady(fn: () => void): Unsubscribe {
    if (this.isReady) {
      fn();
      return () => undefined;
    }
    const once = (): void => fn();
    this.readyWaiters.add(once);
    return () => {
      this.readyWaiters.delete(once);
    };
  }

  /**
   * The latest snapshot if its version is greater than `version`, else undefined; always
   * undefined before markReady().
   */
  newerThan(key: string, version: number): T | undefined {
    if (!this.isReady) return undefined;
    const current = this.latest(key);
    return current.version > version ? current : undefined;
  }

  /** Calls `wake` after each publish of a newer snapshot of `key`, until unsubscribed. */
  subscribe(key: string, wake: () => void): Unsubscribe {
    let subs = this.subscribers.get(key);
    if (!subs) {
      subs = new Set();
      this.subscribers.set(key, subs);
    }
    subs.add(wake);
    return () => {
      const s = this.subscribers.get(key);
      if (!s) return;
      if (!s.delete(wake)) return;
      if (s.size === 0) {
        this.subscribers.delete(key);
        this.onUnsubscribed(key);
      }
    };
  }

  /**
   * Drops the snapshot of `key` when nobody subscribes to it (latest() then answers the empty
   * snapshot again). Returns whether something was dropped.
   */
  forget(key: string): boolean {
    if (this.subscriberCount(key) > 0) return false;
    return this.latestByKey.delete(key);
  }

  /** How many subscribers `key` has. */
  subscriberCount(key: string): number {
    return this.subscribers.get(key)?.size ?? 0;
  }
}
