import { normalizePrefix, parseRecord, type RegistryRecord } from '../../common/registry-record';
import { validateServiceName } from '../../common/service-name';

/**
 * The LB server's view of the registry: every record under the prefix, grouped by service, with a
 * per-service version. No I/O and protocol-neutral: it is fed etcd key/values by the etcd adapter
 * and read by the assignment pipeline (which decides what clients are sent) and by the admin
 * service (rejected records).
 */

/**
 * One key/value as etcd holds it. Revisions as numbers (they count writes: far below 2^53); lease
 * ids as etcd's decimal strings, because they are random 63-bit values that a number would round.
 */
export interface RegistryKeyValue {
  readonly key: string;
  readonly value: string | Buffer;
  readonly modRevision: number;
  /** Lease id in decimal, "0" when the key has none. */
  readonly lease: string;
}

/** A valid record as the LB server serves it. */
export interface RegistryEndpoint extends RegistryRecord {
  readonly key: string;
  /** Lease id in decimal (exact), "0" when the record has none. */
  readonly lease: string;
  readonly modRevision: number;
  /** Opaque per-endpoint token handed to clients (the instance id). */
  readonly loadBalanceToken: string;
}

/** A record that failed validation: skipped, kept here so operators can see why. */
export interface RejectedRecordInfo {
  readonly key: string;
  readonly reason: string;
  readonly modRevision: number;
}

/**
 * An immutable snapshot of one service. Replaced, never mutated, on every change. `version` grows
 * whenever the endpoint list a client would receive changes; a change that clients cannot see
 * (a rejected record, a re-put of the same value) updates the snapshot but keeps the version.
 */
export interface ServiceView {
  readonly name: string;
  /** 0 for a service never seen; else the etcd revision of (or after) its last visible change. */
  readonly version: number;
  /** Sorted by key, so every replica lists them in the same order. */
  readonly endpoints: readonly RegistryEndpoint[];
  readonly rejected: readonly RejectedRecordInfo[];
}

interface Entry {
  readonly service: string | undefined;
  readonly endpoint?: RegistryEndpoint;
  readonly rejected?: RejectedRecordInfo;
}

interface ServiceSlot {
  version: number;
  readonly keys: Set<string>;
  view: ServiceView | undefined;
}

/** What clients see of an endpoint; two endpoints with the same fingerprint need no push. */
function fingerprint(e: RegistryEndpoint | undefined): string {
  if (!e) return '';
  const metadata = Object.keys(e.metadata)
    .sort()
    .map((k) => [k, e.metadata[k]]);
  return JSON.stringify([
    e.instanceId,
    e.address,
    e.weight,
    e.zone,
    metadata,
    e.draining,
    e.healthService,
    e.format,
    e.loadBalanceToken,
  ]);
}

/** How many new rejections RegistryState keeps between two takeNewRejections() calls. */
export const MAX_FRESH_REJECTIONS = 1000;

function sameRejection(a: RejectedRecordInfo | undefined, b: RejectedRecordInfo): boolean {
  return a !== undefined && a.modRevision === b.modRevision && a.reason === b.reason;
}

/** The empty view of a service nobody registered. */
export function emptyServiceView(name: string): ServiceView {
  return { name, version: 0, endpoints: [], rejected: [] };
}

/**
 * Registry state under one prefix. The etcd adapter calls replaceAll() after every full read and
 * put()/delete() for each watch event, in revision order; each returns the services whose version
 * changed, for the adapter to publish. Never throws on bad records.
 */
export class RegistryState {
  private readonly prefix: string;
  private readonly entries = new Map<string, Entry>();
  private readonly services = new Map<string, ServiceSlot>();
  private readonly orphans = new Map<string, RejectedRecordInfo>();
  private lastRevision = 0;
  private fresh: RejectedRecordInfo[] = [];
  private freshDropped = 0;

  constructor(prefix: string) {
    this.prefix = normalizePrefix(prefix);
  }

  /** The highest etcd revision applied so far. */
  get revision(): number {
    return this.lastRevision;
  }

  /**
   * Replaces everything with the result of a full read at `revision`: keys absent from `kvs` are
   * gone. Services whose lists changed get one new version each. Returns them, sorted.
   */
  replaceAll(kvs: readonly RegistryKeyValue[], revision: number): string[] {
    const touched = new Map<string, string>();
    const seen = new Set<string>();
    for (const kv of kvs) {
      seen.add(kv.key);
      this.setEntry(kv.key, this.parse(kv), touched);
    }
    for (const key of [...this.entries.keys()]) {
      if (!seen.has(key)) this.setEntry(key, undefined, touched);
    }
    return this.finish(touched, revision);
  }

  /** Applies one put event. Returns the services whose version changed (0 or 1). */
  put(kv: RegistryKeyValue): string[] {
    const touched = new Map<string, string>();
    this.setEntry(kv.key, this.parse(kv), touched);
    return this.finish(touched, kv.modRevision);
  }

  /** Applies one delete event at `revision`. Returns the services whose version changed. */
  delete(key: string, revision: number): string[] {
    const touched = new Map<string, string>();
    this.setEntry(key, undefined, touched);
    return this.finish(touched, revision);
  }

  /** The current snapshot of `name`; an empty version-0 view if it was never registered. */
  service(name: string): ServiceView {
    const slot = this.services.get(name);
    if (!slot) return emptyServiceView(name);
    if (!slot.view) slot.view = this.buildView(name, slot);
    return slot.view;
  }

  /**
   * Drops the slot of `name` when no record (valid or rejected) is left under it, so that service
   * names that come and go (per-deploy names, tests) do not accumulate. The LB server calls it once
   * nothing subscribes to the service. Returns whether the slot was dropped; a later record starts
   * a new slot with a version above every revision applied so far.
   */
  forget(name: string): boolean {
    const slot = this.services.get(name);
    if (!slot || slot.keys.size > 0) return false;
    return this.services.delete(name);
  }

  /** True when `name` has a slot: a record under the prefix, or had one and was not forgotten. */
  has(name: string): boolean {
    return this.services.has(name);
  }

  /** Every service that has a record under the prefix (or had one and was not forgotten), sorted. */
  serviceNames(): string[] {
    return [...this.services.keys()].sort();
  }

  /** Rejected records whose key names no service at all (e.g. directly under the prefix). */
  unattributedRejected(): RejectedRecordInfo[] {
    return [...this.orphans.values()].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  /** Total rejected records, attributed or not. */
  rejectedCount(): number {
    let n = this.orphans.size;
    for (const e of this.entries.values()) if (e.rejected && e.service !== undefined) n += 1;
    return n;
  }

  /**
   * Records rejected since the last call (each rejected put once; at most
   * MAX_FRESH_REJECTIONS kept between calls), and how many more were not kept. The etcd adapter
   * logs them, so that every bad record is logged once.
   */
  takeNewRejections(): { rejected: RejectedRecordInfo[]; dropped: number } {
    const out = { rejected: this.fresh, dropped: this.freshDropped };
    this.fresh = [];
    this.freshDropped = 0;
    return out;
  }

  private parse(kv: RegistryKeyValue): Entry {
    const parsed = parseRecord(this.prefix, kv.key, kv.value);
    if (parsed.ok) {
      const r = parsed.value;
      return {
        service: r.service,
        endpoint: {
          ...r,
          key: kv.key,
          lease: kv.lease,
          modRevision: kv.modRevision,
          loadBalanceToken: r.instanceId,
        },
      };
    }
    return {
      service: this.serviceOfKey(kv.key),
      rejected: { key: kv.key, reason: parsed.reason, modRevision: kv.modRevision },
    };
  }

  /** The service a (possibly malformed) key belongs to, when its first segment names one. */
  private serviceOfKey(key: string): string | undefined {
    const base = `${this.prefix}/`;
    if (!key.startsWith(base)) return undefined;
    const rest = key.slice(base.length);
    const slash = rest.indexOf('/');
    const candidate = slash < 0 ? rest : rest.slice(0, slash);
    return validateServiceName(candidate).ok ? candidate : undefined;
  }

  /** Records the new entry of `key` (undefined: deleted) and notes what the change means. */
  private setEntry(key: string, next: Entry | undefined, touched: Map<string, string>): void {
    const prev = this.entries.get(key);
    if (!prev && !next) return;
    if (next?.rejected && !sameRejection(prev?.rejected, next.rejected)) {
      if (this.fresh.length < MAX_FRESH_REJECTIONS) this.fresh.push(next.rejected);
      else this.freshDropped += 1;
    }
    // A key always maps to the same service (the key names it), so prev and next agree on it.
    const service = next?.service ?? prev?.service;
    if (next) this.entries.set(key, next);
    else this.entries.delete(key);
    if (service === undefined) {
      if (next?.rejected) this.orphans.set(key, next.rejected);
      else this.orphans.delete(key);
      return;
    }
    let slot = this.services.get(service);
    if (!slot) {
      // A service seen again after forget() must not reuse a version of its earlier life.
      slot = { version: this.lastRevision, keys: new Set(), view: undefined };
      this.services.set(service, slot);
    }
    if (next) slot.keys.add(key);
    else slot.keys.delete(key);
    slot.view = undefined;
    const visible = fingerprint(prev?.endpoint) !== fingerprint(next?.endpoint);
    if (visible) touched.set(service, 'visible');
    else if (!touched.has(service)) touched.set(service, 'invisible');
  }

  private finish(touched: Map<string, string>, revision: number): string[] {
    if (revision > this.lastRevision) this.lastRevision = revision;
    const changed: string[] = [];
    for (const [service, kind] of touched) {
      if (kind !== 'visible') continue;
      const slot = this.services.get(service);
      if (!slot) continue;
      slot.version = Math.max(slot.version + 1, revision);
      changed.push(service);
    }
    return changed.sort();
  }

  private buildView(name: string, slot: ServiceSlot): ServiceView {
    const keys = [...slot.keys].sort();
    const endpoints: RegistryEndpoint[] = [];
    const rejected: RejectedRecordInfo[] = [];
    for (const key of keys) {
      const e = this.entries.get(key);
      if (e?.endpoint) endpoints.push(e.endpoint);
      else if (e?.rejected) rejected.push(e.rejected);
    }
    return Object.freeze({
      name,
      version: slot.version,
      endpoints: Object.freeze(endpoints),
      rejected: Object.freeze(rejected),
    });
  }
}
