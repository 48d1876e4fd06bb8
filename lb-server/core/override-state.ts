import type { Clock, TimerHandle } from '../../common/clock';
import { overridesPrefix, parseOverride, type OverrideRecord } from '../../common/override-record';
import { normalizePrefix, parseKey, recordKey } from '../../common/registry-record';
import type { OperatorOverride } from '../assignment/assignment-signals';
import type { RegistryKeyValue, RejectedRecordInfo } from './registry-state';

/** One valid override as the LB server holds it. */
export interface HeldOverride extends OverrideRecord {
  /** Its etcd key (under `<root>/overrides/`). */
  readonly key: string;
  /** The registry key of the instance it steers (`recordKey(prefix, service, instanceId)`). */
  readonly registryKey: string;
  readonly modRevision: number;
}

/** A rejected override value, with the service its key names (undefined: the key names none). */
export interface RejectedOverride extends RejectedRecordInfo {
  readonly service: string | undefined;
}

interface Entry {
  readonly held?: HeldOverride;
  readonly rejected?: RejectedOverride;
  /** The expiry of `held` was reported (onExpired) already. */
  expiredReported: boolean;
}

/** How many fresh rejections are kept between two takeNewRejections() calls. */
const MAX_FRESH_REJECTIONS = 1000;

export interface OverrideStateOptions {
  /** The registry prefix; overrides are read under overridesPrefix(prefix). */
  readonly registryPrefix: string;
  readonly clock: Clock;
  /**
   * Called (from a clock timer) with the overrides that just expired, once each; they are no
   * longer applied from then on. The owner republishes their services. Must not throw.
   */
  readonly onExpired: (expired: readonly HeldOverride[]) => void;
}

/**
 * The LB server's view of operator overrides: every value under `<root>/overrides/`, valid ones
 * keyed by the registry key of the instance they steer, rejected ones with their reason. An
 * override is applied (override()) from its put until it is deleted or replaced, or until its
 * expiresAtMs: a timer on the clock reports the expiry (onExpired) at that time. An override for
 * an instance that has no record is kept and applies as soon as the instance registers
 * (the pipeline looks it up by registry key). Fed by the etcd adapter (replaceAll, put, delete,
 * as the WatchedKeyState it is); read by the assignment pipeline, the override store, the admin
 * views and the metrics. No I/O. close() cancels the timer.
 */
export class OverrideState {
  readonly prefix: string;
  private readonly registryPrefix: string;
  private readonly entries = new Map<string, Entry>();
  /** Registry key → etcd key of its valid override. */
  private readonly byRegistryKey = new Map<string, string>();
  /** The stage's signal of each held override, built once per put (the stage reads it per publish). */
  private readonly signals = new WeakMap<HeldOverride, OperatorOverride>();
  private fresh: RejectedOverride[] = [];
  private freshDropped = 0;
  private rejections = 0;
  private rev = 0;
  private timer: TimerHandle | undefined;
  private timerAt = Infinity;
  private closed = false;

  constructor(private readonly options: OverrideStateOptions) {
    this.registryPrefix = normalizePrefix(options.registryPrefix);
    this.prefix = overridesPrefix(options.registryPrefix);
  }

  /** The highest etcd revision applied. */
  get revision(): number {
    return this.rev;
  }

  /** Replaces everything with a full read; returns the services whose overrides changed. */
  replaceAll(kvs: readonly RegistryKeyValue[], revision: number): string[] {
    const touched = new Set<string>();
    const seen = new Set(kvs.map((kv) => kv.key));
    for (const key of [...this.entries.keys()]) if (!seen.has(key)) this.remove(key, touched);
    for (const kv of kvs) this.apply(kv, touched);
    this.rev = Math.max(this.rev, revision);
    this.reschedule();
    return [...touched];
  }

  /** Applies one put; returns the services whose overrides changed. */
  put(kv: RegistryKeyValue): string[] {
    const touched = new Set<string>();
    this.apply(kv, touched);
    this.rev = Math.max(this.rev, kv.modRevision);
    this.reschedule();
    return [...touched];
  }

  /** Applies one delete; returns the services whose overrides changed. */
  delete(key: string, revision: number): string[] {
    const touched = new Set<string>();
    this.remove(key, touched);
    this.rev = Math.max(this.rev, revision);
    this.reschedule();
    return [...touched];
  }

  /** The override to apply to the instance with registry key `registryKey` now (none once expired). */
  override(registryKey: string): OperatorOverride | undefined {
    const key = this.byRegistryKey.get(registryKey);
    const held = key === undefined ? undefined : this.entries.get(key)?.held;
    if (!held || this.isExpired(held)) return undefined;
    return this.signals.get(held);
  }

  /** The valid, unexpired override of one instance. */
  get(service: string, instanceId: string): HeldOverride | undefined {
    const key = this.byRegistryKey.get(recordKey(this.registryPrefix, service, instanceId));
    const held = key === undefined ? undefined : this.entries.get(key)?.held;
    return held && !this.isExpired(held) ? held : undefined;
  }

  /** The valid, unexpired overrides (of `service`, or all), sorted by key. */
  list(service?: string): HeldOverride[] {
    const out: HeldOverride[] = [];
    for (const e of this.entries.values()) {
      if (e.held && !this.isExpired(e.held) && (service === undefined || e.held.service === service)) {
        out.push(e.held);
      }
    }
    return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  /** How many unexpired overrides each service has (services with none are left out). */
  activeCounts(): Map<string, number> {
    const counts = new Map<string, number>();
    for (const h of this.list()) counts.set(h.service, (counts.get(h.service) ?? 0) + 1);
    return counts;
  }

  /** Rejected override values of `service` (or all), sorted by key. */
  rejected(service?: string): RejectedOverride[] {
    const out: RejectedOverride[] = [];
    for (const e of this.entries.values()) {
      if (e.rejected && (service === undefined || e.rejected.service === service)) out.push(e.rejected);
    }
    return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  /** Rejections seen so far (each rejected put once), for a counter. */
  get rejectionsTotal(): number {
    return this.rejections;
  }

  /** Rejections since the last call, each once; the etcd adapter logs them. */
  takeNewRejections(): { rejected: RejectedOverride[]; dropped: number } {
    const out = { rejected: this.fresh, dropped: this.freshDropped };
    this.fresh = [];
    this.freshDropped = 0;
    return out;
  }

  /** Cancels the expiry timer; later changes schedule none. Idempotent. */
  close(): void {
    this.closed = true;
    this.timer?.cancel();
    this.timer = undefined;
  }

  private isExpired(h: HeldOverride): boolean {
    return h.expiresAtMs !== undefined && h.expiresAtMs <= this.options.clock.now();
  }

  private apply(kv: RegistryKeyValue, touched: Set<string>): void {
    const prev = this.entries.get(kv.key);
    if (prev && (prev.held?.modRevision ?? prev.rejected?.modRevision) === kv.modRevision) return;
    this.remove(kv.key, touched);
    const parsed = parseOverride(this.prefix, kv.key, kv.value);
    if (!parsed.ok) {
      const k = parseKey(this.prefix, kv.key);
      const rejected: RejectedOverride = {
        key: kv.key,
        reason: parsed.reason,
        modRevision: kv.modRevision,
        service: k.ok ? k.value.service : undefined,
      };
      this.entries.set(kv.key, { rejected, expiredReported: false });
      this.rejections += 1;
      if (this.fresh.length < MAX_FRESH_REJECTIONS) this.fresh.push(rejected);
      else this.freshDropped += 1;
      return;
    }
    const o = parsed.value;
    const registryKey = recordKey(this.registryPrefix, o.service, o.instanceId);
    const held: HeldOverride = Object.freeze({ ...o, key: kv.key, registryKey, modRevision: kv.modRevision });
    this.entries.set(kv.key, { held, expiredReported: false });
    this.signals.set(
      held,
      Object.freeze({
        ...(o.weight !== undefined ? { weight: o.weight } : {}),
        ...(o.draining === true ? { draining: true } : {}),
      }),
    );
    this.byRegistryKey.set(registryKey, kv.key);
    touched.add(o.service);
  }

  private remove(key: string, touched: Set<string>): void {
    const prev = this.entries.get(key);
    if (!prev) return;
    this.entries.delete(key);
    if (prev.held) {
      this.byRegistryKey.delete(prev.held.registryKey);
      touched.add(prev.held.service);
    }
  }

  /** Keeps one timer at the earliest expiry not reported yet. */
  private reschedule(): void {
    if (this.closed) return;
    let next = Infinity;
    for (const e of this.entries.values()) {
      const at = e.held?.expiresAtMs;
      if (at !== undefined && !e.expiredReported && at < next) next = at;
    }
    if (next === this.timerAt && this.timer) return;
    this.timer?.cancel();
    this.timer = undefined;
    this.timerAt = next;
    if (next === Infinity) return;
    this.timer = this.options.clock.setTimeout(
      () => this.fire(),
      Math.max(0, next - this.options.clock.now()),
    );
  }

  private fire(): void {
    this.timer = undefined;
    this.timerAt = Infinity;
    const expired: HeldOverride[] = [];
    for (const e of this.entries.values()) {
      if (e.held && !e.expiredReported && this.isExpired(e.held)) {
        e.expiredReported = true;
        expired.push(e.held);
      }
    }
    this.reschedule();
    if (expired.length > 0) this.options.onExpired(expired);
  }
}
