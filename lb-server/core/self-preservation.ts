import type { Clock, TimerHandle } from '../../common/clock';
import type { RegistryEndpoint, ServiceView } from './registry-state';

/**
 * Self-preservation: an etcd hiccup must not become an outage.
 *
 * When etcd is stopped or frozen for longer than the lease TTL and comes back, it expires every
 * lease at once: every instance of every service vanishes from the registry for the moment it
 * takes the registrars to notice and register again. Published as is, that is an outage of
 * healthy backends. Like Eureka's self-preservation and Envoy's panic threshold, this rule treats
 * a *mass* removal as a fault of the registry rather than of the backends:
 *
 * - A removal of a record that was `draining` is graceful (the registrar marked it first) and is
 *   applied at once.
 * - Any other removal is *unexpected* (crash or lease expiry). When the unexpected removals of a
 *   service within `windowMs` (those applied in the window, those held, and the new ones) are
 *   more than `threshold` of its non-draining endpoints, or all of them, the new ones are *held*:
 *   still published to clients, for `graceMs`. A held endpoint that re-registers (same key) is
 *   simply live again; one still absent when its grace ends is removed then.
 * - `graceMs` 0 disables the rule (every removal applies at once).
 *
 * The trade-off: a backend that really died together with many others stays in clients' lists
 * for up to `graceMs`. That costs little: clients only pick READY subchannels, so a dead held
 * backend (connection refused) gets no calls; and the LB server releases a held endpoint early
 * when it cannot connect to it (see release()). What the rule buys: a registry hiccup leaves the
 * serving set intact. No I/O and single-threaded: the assignment pipeline calls viewToPublish() for each changed
 * service before publishing, and the timer it sets (through the Clock) calls `onExpire` when a
 * hold ends, for the owner to compute the view and publish again.
 */
export interface SelfPreservationOptions {
  /** How long a held endpoint stays published; 0 disables the rule. */
  readonly graceMs: number;
  /** Fraction (0..1] of a service's endpoints whose unexpected removal counts as mass removal. */
  readonly threshold: number;
  /** How far back unexpected removals add up; default 5000 ms. */
  readonly windowMs?: number;
}

/** What a service has held right now, for the admin view. */
export interface HeldSummary {
  /** Held endpoints (published although absent from etcd). */
  readonly count: number;
  /** Unix ms when the last current hold ends; 0 when nothing is held. */
  readonly untilMs: number;
  /** Keys of the held endpoints, sorted. */
  readonly keys: readonly string[];
}

/** The default grace: longer than a registrar's capped re-registration backoff plus a put. */
export const DEFAULT_SELF_PRESERVATION_GRACE_MS = 15_000;
/** The default threshold: losing more than half of a service's endpoints at once is suspicious. */
export const DEFAULT_SELF_PRESERVATION_THRESHOLD = 0.5;
const DEFAULT_WINDOW_MS = 5000;

interface Held {
  readonly endpoint: RegistryEndpoint;
  readonly untilMs: number;
}

interface ServiceSlot {
  published: Map<string, RegistryEndpoint>;
  readonly held: Map<string, Held>;
  /** Times of unexpected removals applied recently (one entry per endpoint). */
  recent: number[];
  lastVersion: number;
}

function byKey(a: RegistryEndpoint, b: RegistryEndpoint): number {
  return a.key < b.key ? -1 : a.key > b.key ? 1 : 0;
}

/** See the module comment. One instance per LB server; close() cancels its timer. */
export class SelfPreservation {
  private readonly slots = new Map<string, ServiceSlot>();
  private readonly windowMs: number;
  private timer: TimerHandle | undefined;
  private timerAt = Number.POSITIVE_INFINITY;
  private closed = false;

  constructor(
    private readonly clock: Clock,
    readonly options: SelfPreservationOptions,
    private readonly onExpire: (services: string[]) => void,
  ) {
    if (!(options.graceMs >= 0))
      throw new RangeError(`self-preservation grace ${options.graceMs} ms must be >= 0`);
    if (!(options.threshold > 0 && options.threshold <= 1)) {
      throw new RangeError(`self-preservation threshold ${options.threshold} must be in (0, 1]`);
    }
    this.windowMs = options.windowMs ?? DEFAULT_WINDOW_MS;
  }

  /** True when the rule is on (graceMs > 0). */
  get enabled(): boolean {
    return this.options.graceMs > 0;
  }

  /**
   * The view to publish for `real` (the registry's current view of one service): its endpoints
   * plus the held ones, sorted by key, with a version greater than every earlier result for the
   * service. Applies holds whose grace has ended. Call it for every change of the service.
   */
  viewToPublish(real: ServiceView): ServiceView {
    const now = this.clock.now();
    const slot = this.slot(real.name);
    const realKeys = new Set(real.endpoints.map((e) => e.key));
    for (const [key, h] of slot.held) {
      if (realKeys.has(key)) slot.held.delete(key);
      else if (h.untilMs <= now) {
        // Confirmed after the grace: removed now, not held again.
        slot.held.delete(key);
        slot.published.delete(key);
      }
    }
    const removed = [...slot.published.values()].filter((e) => !realKeys.has(e.key) && !slot.held.has(e.key));
    const unexpected = this.enabled && !this.closed ? removed.filter((e) => !e.draining) : [];
    if (unexpected.length > 0) {
      slot.recent = slot.recent.filter((t) => t > now - this.windowMs);
      let known = slot.recent.length;
      for (const e of slot.published.values()) if (!e.draining) known += 1;
      const lost = unexpected.length + slot.held.size + slot.recent.length;
      if (lost >= known || lost / known > this.options.threshold) {
        const untilMs = now + this.options.graceMs;
        for (const e of unexpected) slot.held.set(e.key, { endpoint: e, untilMs });
        this.arm(untilMs);
      } else {
        for (let i = 0; i < unexpected.length; i++) slot.recent.push(now);
      }
    }
    const endpoints = [...real.endpoints];
    for (const h of slot.held.values()) endpoints.push(h.endpoint);
    endpoints.sort(byKey);
    slot.published = new Map(endpoints.map((e) => [e.key, e]));
    slot.lastVersion = Math.max(real.version, slot.lastVersion + 1);
    return Object.freeze({ ...real, version: slot.lastVersion, endpoints: Object.freeze(endpoints) });
  }

  /**
   * Drops the memory of `service` when it holds and publishes nothing (the service is gone), so
   * that names that come and go do not accumulate. Returns whether it did.
   */
  forget(service: string): boolean {
    return this.isIdle(service) && this.slots.delete(service);
  }

  /** True when `service` holds nothing (expired holds not yet applied count) and publishes nothing. */
  isIdle(service: string): boolean {
    const slot = this.slots.get(service);
    return !slot || (slot.held.size === 0 && slot.published.size === 0);
  }

  /** What `service` has held now (expired holds not counted). */
  held(service: string): HeldSummary {
    const slot = this.slots.get(service);
    const now = this.clock.now();
    if (!slot) return { count: 0, untilMs: 0, keys: [] };
    const live = [...slot.held.values()].filter((h) => h.untilMs > now);
    return {
      count: live.length,
      untilMs: live.reduce((m, h) => Math.max(m, h.untilMs), 0),
      keys: live.map((h) => h.endpoint.key).sort(),
    };
  }

  /** Every held endpoint, for the owner's reachability checks. */
  heldEndpoints(): Array<{ service: string; endpoint: RegistryEndpoint }> {
    const out: Array<{ service: string; endpoint: RegistryEndpoint }> = [];
    for (const [service, slot] of this.slots)
      for (const h of slot.held.values()) out.push({ service, endpoint: h.endpoint });
    return out;
  }

  /**
   * Ends the hold of `key` now (the owner found the backend unreachable). Returns true if it was
   * held; the owner then republishes the service.
   */
  release(service: string, key: string): boolean {
    const slot = this.slots.get(service);
    if (!slot?.held.delete(key)) return false;
    slot.published.delete(key);
    return true;
  }

  /** Cancels the timer; later views apply every removal at once. Idempotent. */
  close(): void {
    this.closed = true;
    this.timer?.cancel();
    this.timer = undefined;
    for (const slot of this.slots.values()) slot.held.clear();
  }

  private slot(name: string): ServiceSlot {
    let slot = this.slots.get(name);
    if (!slot) {
      slot = { published: new Map(), held: new Map(), recent: [], lastVersion: 0 };
      this.slots.set(name, slot);
    }
    return slot;
  }

  /** Makes sure a timer fires at or before `at`. */
  private arm(at: number): void {
    if (this.closed || (this.timer && this.timerAt <= at)) return;
    this.timer?.cancel();
    this.timerAt = at;
    this.timer = this.clock.setTimeout(() => this.onTimer(), Math.max(0, at - this.clock.now()));
  }

  private onTimer(): void {
    this.timer = undefined;
    this.timerAt = Number.POSITIVE_INFINITY;
    if (this.closed) return;
    const now = this.clock.now();
    const due: string[] = [];
    let next = Number.POSITIVE_INFINITY;
    for (const [service, slot] of this.slots) {
      let expired = false;
      for (const h of slot.held.values()) {
        if (h.untilMs <= now) expired = true;
        else next = Math.min(next, h.untilMs);
      }
      if (expired) due.push(service);
    }
    if (next < Number.POSITIVE_INFINITY) this.arm(next);
    if (due.length > 0) this.onExpire(due.sort());
  }
}
