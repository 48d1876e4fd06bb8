import { z } from 'zod';
import { MAX_VALUE_BYTES, MAX_ZONE_LENGTH, parseJsonValue } from '../../common/registry-record';
import { validateServiceName } from '../../common/service-name';
import type { RegistryKeyValue, RejectedRecordInfo } from './registry-state';
import { MAX_FRESH_REJECTIONS } from './registry-state';

/**
 * The client population: every client of every service, across LB replicas. Each replica writes
 * the clients it serves to etcd under `<root>/clients/<service>/<client-id segment>` (see
 * `clientKeySegment`) on its own lease, and watches the whole folder. This is the pure state
 * behind ClientPopulation: the records read from etcd, this replica's local clients (refcounted:
 * several streams with one client id are one record), and the writes still owed to etcd
 * (coalesced: a client that joins and leaves between two flushes costs nothing). No I/O.
 */

/** One client of a service as the population knows it. */
export interface PopulationClient {
  readonly clientId: string;
  readonly service: string;
  readonly zone: string;
  /** The replica id of the LB replica that serves it. */
  readonly replica: string;
  /** 'lookaside.v1', 'xds', 'grpclb'. */
  readonly protocol: string;
  /** Unix ms when it connected (to its replica). */
  readonly connectedAtMs: number;
  /** Its current subset as instance ids; [] when none (subsetting off, or not assigned yet). */
  readonly subset: readonly string[];
  /** True for a client this replica serves (its stats and assignment are here). */
  readonly local: boolean;
}

/** What a frontend knows of a local client when it joins. */
export interface PopulationJoin {
  readonly service: string;
  readonly clientId: string;
  readonly zone: string;
  readonly protocol: string;
}

/** A write owed to etcd: a record to put (on this replica's lease) or to delete (if still ours). */
export type PopulationOp =
  | { readonly kind: 'put'; readonly key: string; readonly value: string }
  | { readonly kind: 'delete'; readonly key: string };

export const MAX_CLIENT_ID_LENGTH = 256;
export const MAX_REPLICA_LENGTH = 128;
export const MAX_PROTOCOL_LENGTH = 32;
export const MAX_SUBSET_ENTRIES = 10_000;
export const MAX_SUBSET_ID_LENGTH = 256;

/** The JSON value of a client record. Unknown fields are ignored (newer replicas may add some). */
export const ClientRecordValueSchema = z.object({
  clientId: z.string().min(1).max(MAX_CLIENT_ID_LENGTH),
  service: z.string().superRefine((v, ctx) => {
    const r = validateServiceName(v);
    if (!r.ok) ctx.addIssue({ code: 'custom', message: r.reason });
  }),
  zone: z.string().max(MAX_ZONE_LENGTH),
  replica: z
    .string()
    .min(1)
    .max(MAX_REPLICA_LENGTH)
    .regex(/^[^/]*$/, 'must not contain "/"'),
  protocol: z.string().min(1).max(MAX_PROTOCOL_LENGTH),
  connectedAtMs: z.number().int().min(0),
  subset: z.array(z.string().min(1).max(MAX_SUBSET_ID_LENGTH)).max(MAX_SUBSET_ENTRIES),
});

export type ClientRecordValue = z.infer<typeof ClientRecordValueSchema>;

/** Client ids that are key segments as they are: printable ASCII without '/', ' ' or '%'. */
const PLAIN_SEGMENT_RE = /^[!-$&-.0-~]+$/;

/**
 * The key segment of a client id: the id itself when it is printable ASCII without '/', space
 * or '%', else its encodeURIComponent form (so every id has exactly one segment, and two ids
 * never share one).
 */
export function clientKeySegment(clientId: string): string {
  return PLAIN_SEGMENT_RE.test(clientId) ? clientId : encodeURIComponent(clientId);
}

/** The etcd key of a client record under `folder` (`clientsPrefix(prefix)`, ending with '/'). */
export function clientRecordKey(folder: string, service: string, clientId: string): string {
  return `${folder}${service}/${clientKeySegment(clientId)}`;
}

function describeIssues(error: z.ZodError): string {
  return error.issues
    .map((issue) => `${issue.path.length > 0 ? issue.path.join('.') : 'value'}: ${issue.message}`)
    .join('; ');
}

/** Parses one client record under `folder`, or says why it is not one. Never throws. */
export function parseClientRecord(
  folder: string,
  key: string,
  value: string | Buffer,
): { ok: true; value: ClientRecordValue } | { ok: false; reason: string } {
  if (!key.startsWith(folder)) return { ok: false, reason: `key is not under ${folder}` };
  const rest = key.slice(folder.length);
  const slash = rest.indexOf('/');
  if (slash <= 0 || slash === rest.length - 1 || rest.indexOf('/', slash + 1) >= 0) {
    return { ok: false, reason: `key is not ${folder}<service>/<client-id>` };
  }
  const service = rest.slice(0, slash);
  const segment = rest.slice(slash + 1);
  const read = parseJsonValue(value);
  if (!read.ok) return read;
  const json = read.value;
  const parsed = ClientRecordValueSchema.safeParse(json);
  if (!parsed.success) return { ok: false, reason: describeIssues(parsed.error) };
  const v = parsed.data;
  if (v.service !== service) {
    return { ok: false, reason: `value names service "${v.service}" but the key names "${service}"` };
  }
  if (clientKeySegment(v.clientId) !== segment) {
    return { ok: false, reason: `value names client "${v.clientId}" but the key names "${segment}"` };
  }
  return { ok: true, value: v };
}

/** Serialises a client record value (field order fixed, so equal records are equal strings). */
export function encodeClientRecord(v: ClientRecordValue): string {
  return JSON.stringify({
    clientId: v.clientId,
    service: v.service,
    zone: v.zone,
    replica: v.replica,
    protocol: v.protocol,
    connectedAtMs: v.connectedAtMs,
    subset: v.subset,
  });
}

interface LocalClient {
  readonly key: string;
  readonly service: string;
  readonly clientId: string;
  readonly zone: string;
  readonly protocol: string;
  readonly connectedAtMs: number;
  subset: readonly string[];
  /** Open streams with this client id. */
  refs: number;
  /** The value etcd holds (or is being sent) for this client; undefined: nothing of ours there. */
  written: string | undefined;
}

/** `written` when etcd may hold an older record of ours: never equal to an encoded value. */
const STALE = '<stale>';

function sameSubset(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

function samePopulationClient(a: PopulationClient | undefined, b: PopulationClient | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  return (
    a.clientId === b.clientId &&
    a.zone === b.zone &&
    a.replica === b.replica &&
    a.protocol === b.protocol &&
    a.connectedAtMs === b.connectedAtMs &&
    a.local === b.local &&
    sameSubset(a.subset, b.subset)
  );
}

/** Entries by key, indexed by service too (a service's clients without a scan of all). */
class ByService<T extends { readonly service: string }> {
  private readonly all = new Map<string, T>();
  private readonly perService = new Map<string, Map<string, T>>();

  /** @param touched called with the service of every entry set or deleted ("" on clear) */
  constructor(private readonly touched: (service: string) => void) {}

  get size(): number {
    return this.all.size;
  }

  get(key: string): T | undefined {
    return this.all.get(key);
  }

  has(key: string): boolean {
    return this.all.has(key);
  }

  set(key: string, value: T): void {
    this.delete(key);
    this.all.set(key, value);
    let m = this.perService.get(value.service);
    if (!m) this.perService.set(value.service, (m = new Map()));
    m.set(key, value);
    this.touched(value.service);
  }

  delete(key: string): boolean {
    const old = this.all.get(key);
    if (old === undefined) return false;
    this.all.delete(key);
    const m = this.perService.get(old.service);
    m?.delete(key);
    if (m && m.size === 0) this.perService.delete(old.service);
    this.touched(old.service);
    return true;
  }

  clear(): void {
    this.all.clear();
    this.perService.clear();
    this.touched('');
  }

  values(): IterableIterator<T> {
    return this.all.values();
  }

  ofService(service: string): Iterable<T> {
    return this.perService.get(service)?.values() ?? [];
  }

  services(): IterableIterator<string> {
    return this.perService.keys();
  }
}

const byId = (a: PopulationClient, b: PopulationClient): number =>
  a.clientId < b.clientId ? -1 : a.clientId > b.clientId ? 1 : 0;

/**
 * The population's state on one replica. The etcd adapter feeds replaceAll/put/delete (each
 * returns the services whose visible population changed); the frontends' joins and leaves come
 * through join/leave; the flush loop takes the writes owed with takeFlush and reports failures
 * with flushFailed. Records this replica wrote itself are not shown from etcd: its local clients
 * are the truth for its own replica id (a record of a client that left is stale until deleted).
 */
export class ClientPopulationState {
  /** Valid records from etcd, by key. */
  /** clients(service) as last computed, until an entry of the service changes. */
  private readonly views = new Map<string, readonly PopulationClient[]>();
  private readonly touch = (service: string): void => {
    if (service === '') this.views.clear();
    else this.views.delete(service);
  };
  private readonly records = new ByService<PopulationClient>(this.touch);
  /** Rejected records from etcd, by key. */
  private readonly rejected = new Map<string, RejectedRecordInfo>();
  private fresh: RejectedRecordInfo[] = [];
  private freshDropped = 0;
  private readonly locals = new ByService<LocalClient>(this.touch);
  /** Local keys whose record must be (re)written. */
  private readonly dirty = new Set<string>();
  /** Keys of local clients that left while their record was in etcd: to delete. */
  private readonly leaving = new Set<string>();
  private rev = 0;

  /**
   * @param folder the clients folder, ending with '/' (`clientsPrefix(prefix)`)
   * @param replica this replica's id, written into its records
   */
  constructor(
    readonly folder: string,
    readonly replica: string,
  ) {}

  get revision(): number {
    return this.rev;
  }

  /**
   * Every client of `service` this replica knows of: the etcd records of other replicas and this
   * replica's local clients (a local client overrides a record of the same id), sorted by id.
   * The same frozen array until a client of the service changes (callers may compare by identity).
   */
  clients(service: string): readonly PopulationClient[] {
    const cached = this.views.get(service);
    if (cached) return cached;
    const byClient = new Map<string, PopulationClient>();
    for (const r of this.records.ofService(service)) {
      if (r.replica !== this.replica) byClient.set(r.clientId, r);
    }
    for (const l of this.locals.ofService(service)) byClient.set(l.clientId, this.toClient(l));
    const view = Object.freeze([...byClient.values()].sort(byId));
    this.views.set(service, view);
    return view;
  }

  /** Services with at least one known client, sorted. */
  services(): string[] {
    const out = new Set<string>();
    for (const s of this.records.services()) {
      for (const r of this.records.ofService(s)) {
        if (r.replica !== this.replica) {
          out.add(s);
          break;
        }
      }
    }
    for (const s of this.locals.services()) out.add(s);
    return [...out].sort();
  }

  /**
   * A local client connected at `nowMs`. Returns true when it is new to the population (the
   * first stream with this id), false for one more stream of a known local client.
   */
  join(c: PopulationJoin, nowMs: number): boolean {
    const key = clientRecordKey(this.folder, c.service, c.clientId);
    const known = this.locals.get(key);
    if (known) {
      known.refs += 1;
      return false;
    }
    // Rejoined before its delete went out: the delete is cancelled, the new record overwrites.
    const stillWritten = this.leaving.delete(key);
    const local: LocalClient = {
      key,
      service: c.service,
      clientId: c.clientId,
      zone: c.zone,
      protocol: c.protocol,
      connectedAtMs: nowMs,
      subset: [],
      refs: 1,
      written: stillWritten ? STALE : undefined,
    };
    this.locals.set(key, local);
    this.dirty.add(key);
    return true;
  }

  /**
   * One stream of a local client ended. Returns true when it was the last one (the client left
   * the population), false otherwise, also for a client not known (idempotent callers).
   */
  leave(service: string, clientId: string): boolean {
    const key = clientRecordKey(this.folder, service, clientId);
    const local = this.locals.get(key);
    if (!local) return false;
    local.refs -= 1;
    if (local.refs > 0) return false;
    this.locals.delete(key);
    this.dirty.delete(key);
    if (local.written !== undefined) this.leaving.add(key);
    return true;
  }

  /**
   * The subset assigned to a local client; marks its record dirty only when it changed. Returns
   * whether it changed (false too for a client that is not local).
   */
  setSubset(service: string, clientId: string, subset: readonly string[]): boolean {
    const local = this.locals.get(clientRecordKey(this.folder, service, clientId));
    if (!local || sameSubset(local.subset, subset)) return false;
    local.subset = Object.freeze([...subset]);
    this.touch(service);
    this.dirty.add(local.key);
    return true;
  }

  /** Writes owed to etcd now (puts of dirty records, deletes of left ones). */
  get pendingCount(): number {
    return this.dirty.size + this.leaving.size;
  }

  /** How many local clients this replica serves. */
  get localCount(): number {
    return this.locals.size;
  }

  /**
   * Takes at most `maxOps` writes owed, in key order (deletes first), and counts them as sent: a
   * put's value is what etcd is taken to hold from now. Report a failed commit with flushFailed.
   */
  takeFlush(maxOps: number, maxBytes = Number.POSITIVE_INFINITY): PopulationOp[] {
    const ops: PopulationOp[] = [];
    let bytes = 0;
    // Always at least one op, so that one large record cannot stall the flush.
    const fits = (size: number): boolean =>
      ops.length === 0 || (ops.length < maxOps && bytes + size <= maxBytes);
    for (const key of [...this.leaving].sort()) {
      if (!fits(key.length)) return ops;
      this.leaving.delete(key);
      bytes += key.length;
      ops.push({ kind: 'delete', key });
    }
    for (const key of [...this.dirty].sort()) {
      if (ops.length >= maxOps) break;
      const local = this.locals.get(key);
      if (!local) {
        this.dirty.delete(key);
        continue;
      }
      const value = this.encodeLocal(local);
      if (value === local.written) {
        this.dirty.delete(key);
        continue;
      }
      const size = key.length + Buffer.byteLength(value);
      if (!fits(size)) break;
      this.dirty.delete(key);
      bytes += size;
      local.written = value;
      ops.push({ kind: 'put', key, value });
    }
    return ops;
  }

  /** A commit of `ops` failed: they are owed again (unless overtaken by later changes). */
  flushFailed(ops: readonly PopulationOp[]): void {
    for (const op of ops) {
      const local = this.locals.get(op.key);
      if (op.kind === 'put') {
        if (local && local.written === op.value) {
          local.written = STALE;
          this.dirty.add(op.key);
        } else if (!local) {
          // Left meanwhile; the put may have landed.
          this.leaving.add(op.key);
        }
      } else if (!local) {
        this.leaving.add(op.key);
      }
    }
  }

  /**
   * The lease is gone, and every record written on it with it: every local client is owed a
   * put on the next lease, and nothing is left to delete.
   */
  leaseLost(): void {
    this.leaving.clear();
    for (const l of this.locals.values()) {
      l.written = undefined;
      this.dirty.add(l.key);
    }
  }

  replaceAll(kvs: readonly RegistryKeyValue[], revision: number): string[] {
    const before = this.snapshotByService();
    const wasRejected = new Map(this.rejected);
    this.records.clear();
    this.rejected.clear();
    for (const kv of kvs) this.apply(kv, wasRejected);
    this.rev = Math.max(this.rev, revision);
    // A local client whose record etcd does not hold (any more) is written again.
    for (const l of this.locals.values()) {
      const r = this.records.get(l.key);
      if (l.written !== undefined && (r === undefined || r.replica !== this.replica)) {
        l.written = undefined;
        this.dirty.add(l.key);
      }
    }
    return this.diff(before, this.snapshotByService());
  }

  put(kv: RegistryKeyValue): string[] {
    this.rev = Math.max(this.rev, kv.modRevision);
    const prev = this.records.get(kv.key);
    const next = this.apply(kv);
    return this.changedBy(prev, next);
  }

  delete(key: string, revision: number): string[] {
    this.rev = Math.max(this.rev, revision);
    this.rejected.delete(key);
    const prev = this.records.get(key);
    this.records.delete(key);
    const local = this.locals.get(key);
    // Our record vanished under a client still here (its lease expired, or another replica that
    // served the same id deleted it): write it again.
    if (local && local.written !== undefined && !this.leaving.has(key)) {
      local.written = undefined;
      this.dirty.add(key);
    }
    return this.changedBy(prev, undefined);
  }

  takeNewRejections(): { rejected: RejectedRecordInfo[]; dropped: number } {
    const out = { rejected: this.fresh, dropped: this.freshDropped };
    this.fresh = [];
    this.freshDropped = 0;
    return out;
  }

  /** Records under the folder that failed validation now, sorted by key. */
  rejectedRecords(): RejectedRecordInfo[] {
    return [...this.rejected.values()].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  get rejectedCount(): number {
    return this.rejected.size;
  }

  /** A record's change is visible when it is another replica's and no local client hides it. */
  private changedBy(prev: PopulationClient | undefined, next: PopulationClient | undefined): string[] {
    const visible = (c: PopulationClient | undefined): PopulationClient | undefined =>
      c !== undefined &&
      c.replica !== this.replica &&
      !this.locals.has(clientRecordKey(this.folder, c.service, c.clientId))
        ? c
        : undefined;
    const a = visible(prev);
    const b = visible(next);
    if (samePopulationClient(a, b)) return [];
    return [...new Set([a?.service, b?.service].filter((s): s is string => s !== undefined))].sort();
  }

  /**
   * Applies one key; returns the valid record it holds now (undefined if rejected). A rejection
   * is new (to be logged) unless `known` (default: the current ones) holds the same revision of
   * the key: a full read after an outage does not log the same bad record again.
   */
  private apply(
    kv: RegistryKeyValue,
    known: ReadonlyMap<string, RejectedRecordInfo> = this.rejected,
  ): PopulationClient | undefined {
    const parsed = parseClientRecord(this.folder, kv.key, kv.value);
    if (!parsed.ok) {
      this.records.delete(kv.key);
      const r = { key: kv.key, reason: parsed.reason, modRevision: kv.modRevision };
      const seen = known.get(kv.key)?.modRevision === kv.modRevision;
      this.rejected.set(kv.key, r);
      if (seen) return undefined;
      if (this.fresh.length < MAX_FRESH_REJECTIONS) this.fresh.push(r);
      else this.freshDropped += 1;
      return undefined;
    }
    this.rejected.delete(kv.key);
    const v = parsed.value;
    const record: PopulationClient = Object.freeze({
      ...v,
      subset: Object.freeze([...v.subset]),
      local: false,
    });
    this.records.set(kv.key, record);
    return record;
  }

  private snapshotByService(): Map<string, readonly PopulationClient[]> {
    const out = new Map<string, readonly PopulationClient[]>();
    for (const s of this.services()) out.set(s, this.clients(s));
    return out;
  }

  private diff(
    before: Map<string, readonly PopulationClient[]>,
    after: Map<string, readonly PopulationClient[]>,
  ): string[] {
    const changed: string[] = [];
    for (const s of new Set([...before.keys(), ...after.keys()])) {
      const a = before.get(s) ?? [];
      const b = after.get(s) ?? [];
      if (a.length !== b.length || a.some((c, i) => !samePopulationClient(c, b[i]))) changed.push(s);
    }
    return changed.sort();
  }

  /**
   * The record of a local client as written. A subset too large for a record (more than
   * MAX_VALUE_BYTES with it) is written as [] (every replica computes subsets itself; the record's
   * subset is for operators), so no replica ever rejects a record another one wrote.
   */
  private encodeLocal(l: LocalClient): string {
    const value = encodeClientRecord(this.valueOf(l));
    if (Buffer.byteLength(value) <= MAX_VALUE_BYTES) return value;
    return encodeClientRecord({ ...this.valueOf(l), subset: [] });
  }

  private valueOf(l: LocalClient): ClientRecordValue {
    return {
      clientId: l.clientId,
      service: l.service,
      zone: l.zone,
      replica: this.replica,
      protocol: l.protocol,
      connectedAtMs: l.connectedAtMs,
      subset: [...l.subset],
    };
  }

  private toClient(l: LocalClient): PopulationClient {
    return Object.freeze({
      clientId: l.clientId,
      service: l.service,
      zone: l.zone,
      replica: this.replica,
      protocol: l.protocol,
      connectedAtMs: l.connectedAtMs,
      subset: l.subset,
      local: true,
    });
  }
}
