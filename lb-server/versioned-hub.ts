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
 * Pure and synchronous; wake callbacks run inside publish() and must not throw.
 */
export class VersionedHub<T extends Versioned> {
  private readonly latestByKey = new Map<string, T>();
  private readonly subscribers = new Map<string, Set<() => void>>();

  /** @param empty the snapshot of a key nothing was published for (version 0). */
  constructor(private readonly empty: (key: string) => T) {}

  /**
   * Makes `value` the latest of `key` and wakes its subscribers, if it is newer than what the hub
   * holds; an older or equal version is ignored (returns false).
   */
  publish(key: string, value: T): boolean {
    const current = this.latest(key);
    if (value.version <= current.version) return false;
    this.latestByKey.set(key, value);
    const subs = this.subscribers.get(key);
    if (subs) for (const wake of [...subs]) wake();
    return true;
  }

  /** The latest snapshot of `key` (the empty one if none was published). */
  latest(key: string): T {
    return this.latestByKey.get(key) ?? this.empty(key);
  }

  /** The latest snapshot if its version is greater than `version`, else undefined. */
  newerThan(key: string, version: number): T | undefined {
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
      s.delete(wake);
      if (s.size === 0) this.subscribers.delete(key);
    };
  }

  /** How many subscribers `key` has. */
  subscriberCount(key: string): number {
    return this.subscribers.get(key)?.size ?? 0;
  }
}
