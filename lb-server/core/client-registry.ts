import type { Clock } from '../../common/clock';
import type { Assignment } from '../assignment/assignment';

/** Which protocol a client speaks. */
export type ClientProtocol = 'lookaside.v1' | 'xds' | 'grpclb';

/** Per-backend call counters, as a client reports them (deltas) or as totals. */
export interface BackendCallCounts {
  readonly address: string;
  readonly callsStarted: number;
  readonly callsSucceeded: number;
  readonly callsFailed: number;
  readonly latencyMsSum: number;
  /** The fastest successful call's latency in the report, ms; 0 or absent: not reported. */
  readonly latencyMsMin?: number;
  /** Failed calls by gRPC status code (codes 1..16; others are ignored). Absent: not reported. */
  readonly failedByStatus?: readonly StatusCount[];
}

/** A count of failed calls with one gRPC status code. */
export interface StatusCount {
  readonly code: number;
  readonly count: number;
}

/** The highest gRPC status code (UNAUTHENTICATED); reported codes above it are ignored. */
const MAX_STATUS_CODE = 16;

/** What a frontend knows of a client when its stream opens. */
export interface ClientIdentity {
  readonly clientId: string;
  readonly service: string;
  readonly peer: string;
  readonly zone: string;
  readonly protocol: ClientProtocol;
}

/** An immutable picture of one connected client, for the admin service. */
export interface ClientSnapshot extends ClientIdentity {
  readonly connectedAtMs: number;
  /** Version of the last list sent; 0 before the first. */
  readonly assignedVersion: number;
  readonly assignedAtMs: number;
  /** The last assignment sent, exactly as sent (undefined before the first). */
  readonly assigned: Assignment | undefined;
  /** Totals accumulated from every report, sorted by address. */
  readonly stats: readonly BackendCallCounts[];
  readonly lastStatsAtMs: number;
  /** Updates the client rejected (xDS NACKs); 0 for protocols without them. */
  readonly nacks: number;
}

/**
 * Told of what every client is sent and reports, whatever its protocol (the metrics listen here).
 * Called synchronously from ClientRecord; must not throw.
 */
export interface ClientActivityObserver {
  /** An assignment was just sent to the client. */
  assigned(identity: ClientIdentity, assignment: Assignment): void;
  /** The client reported these deltas (raw, before the record's bounds). */
  reported(identity: ClientIdentity, deltas: readonly BackendCallCounts[]): void;
  /** The client's initial request was accepted: it is connected now. Once per record. */
  connected?(identity: ClientIdentity): void;
  /** The client's stream ended; `last` is its record as it was then (totals included). Once per record. */
  disconnected?(last: ClientSnapshot): void;
}

/** Bounds that keep a misbehaving client from growing the server's memory. */
export const MAX_STATS_BACKENDS_PER_CLIENT = 1024;
export const MAX_STATS_ADDRESS_LENGTH = 300;

interface MutableTotals {
  callsStarted: number;
  callsSucceeded: number;
  callsFailed: number;
  latencyMsSum: number;
  /** Index = status code. */
  readonly failedByStatus: number[];
}

function counter(n: number): number {
  return Number.isFinite(n) && n > 0 ? n : 0;
}

/**
 * A connected client's record. The frontend that owns the stream calls assigned() after each
 * list it sends, addStats() for each report, and disconnect() when the stream ends.
 */
export class ClientRecord {
  private assignedValue: Assignment | undefined;
  private assignedAtMs = 0;
  private lastStatsAtMs = 0;
  private nackCount = 0;
  private readonly totals = new Map<string, MutableTotals>();

  constructor(
    readonly identity: ClientIdentity,
    readonly connectedAtMs: number,
    private readonly clock: Clock,
    private readonly onDisconnect: (record: ClientRecord) => void,
    private readonly observer: ClientActivityObserver,
  ) {}

  /** Notes that `assignment` was just sent to this client. */
  assigned(assignment: Assignment): void {
    this.assignedValue = assignment;
    this.assignedAtMs = this.clock.now();
    this.observer.assigned(this.identity, assignment);
  }

  /**
   * Adds one report's deltas to the totals. Negative or non-finite counters count as 0; backends
   * beyond MAX_STATS_BACKENDS_PER_CLIENT and over-long addresses are ignored.
   */
  addStats(deltas: readonly BackendCallCounts[]): void {
    this.lastStatsAtMs = this.clock.now();
    this.observer.reported(this.identity, deltas);
    for (const d of deltas) {
      if (d.address.length === 0 || d.address.length > MAX_STATS_ADDRESS_LENGTH) continue;
      let t = this.totals.get(d.address);
      if (!t) {
        if (this.totals.size >= MAX_STATS_BACKENDS_PER_CLIENT) continue;
        t = {
          callsStarted: 0,
          callsSucceeded: 0,
          callsFailed: 0,
          latencyMsSum: 0,
          failedByStatus: new Array<number>(MAX_STATUS_CODE + 1).fill(0),
        };
        this.totals.set(d.address, t);
      }
      t.callsStarted += counter(d.callsStarted);
      t.callsSucceeded += counter(d.callsSucceeded);
      t.callsFailed += counter(d.callsFailed);
      t.latencyMsSum += counter(d.latencyMsSum);
      for (const s of d.failedByStatus ?? []) {
        if (Number.isInteger(s.code) && s.code >= 1 && s.code <= MAX_STATUS_CODE) {
          t.failedByStatus[s.code] += counter(s.count);
        }
      }
    }
  }

  /** Notes that the client rejected an update (an xDS NACK). */
  nacked(): void {
    this.nackCount += 1;
  }

  /** Removes the client from its registry. Idempotent. */
  disconnect(): void {
    this.onDisconnect(this);
  }

  snapshot(): ClientSnapshot {
    const stats = [...this.totals.entries()]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([address, t]) => ({
        address,
        callsStarted: t.callsStarted,
        callsSucceeded: t.callsSucceeded,
        callsFailed: t.callsFailed,
        latencyMsSum: t.latencyMsSum,
        failedByStatus: t.failedByStatus.flatMap((count, code) => (count > 0 ? [{ code, count }] : [])),
      }));
    return {
      ...this.identity,
      connectedAtMs: this.connectedAtMs,
      assignedVersion: this.assignedValue?.version ?? 0,
      assignedAtMs: this.assignedAtMs,
      assigned: this.assignedValue,
      stats,
      lastStatsAtMs: this.lastStatsAtMs,
      nacks: this.nackCount,
    };
  }
}

/**
 * Every client connected to this LB server, across frontends. Frontends connect() when a stream's
 * initial request is accepted; the admin service lists them. No I/O: time comes from the clock.
 */
export class ClientRegistry {
  private readonly clients = new Set<ClientRecord>();
  private readonly observers: ClientActivityObserver[] = [];
  /** Fans each record's activity out to the observers added so far. */
  private readonly fanOut: ClientActivityObserver = {
    assigned: (identity, assignment) => {
      for (const o of this.observers) o.assigned(identity, assignment);
    },
    reported: (identity, deltas) => {
      for (const o of this.observers) o.reported(identity, deltas);
    },
  };

  private notifyConnected(identity: ClientIdentity): void {
    for (const o of this.observers) o.connected?.(identity);
  }

  private notifyDisconnected(record: ClientRecord): void {
    if (!this.observers.some((o) => o.disconnected)) return;
    const last = record.snapshot();
    for (const o of this.observers) o.disconnected?.(last);
  }

  constructor(private readonly clock: Clock) {}

  /** Adds an observer of every client's activity (the metrics do, once they exist). */
  observe(observer: ClientActivityObserver): void {
    this.observers.push(observer);
  }

  /** Registers a newly connected client; the caller owns the record and must disconnect() it. */
  connect(identity: ClientIdentity): ClientRecord {
    const record = new ClientRecord(
      identity,
      this.clock.now(),
      this.clock,
      (r) => {
        if (this.clients.delete(r)) this.notifyDisconnected(r);
      },
      this.fanOut,
    );
    this.clients.add(record);
    this.notifyConnected(identity);
    return record;
  }

  /** Snapshots of the connected clients (of `service`, if given), in connection order. */
  list(service?: string): ClientSnapshot[] {
    const out: ClientSnapshot[] = [];
    for (const c of this.clients) {
      if (service === undefined || c.identity.service === service) out.push(c.snapshot());
    }
    return out;
  }

  /** How many clients are connected for `service`. */
  count(service: string): number {
    let n = 0;
    for (const c of this.clients) if (c.identity.service === service) n += 1;
    return n;
  }

  /** Services at least one client asked for, sorted. */
  requestedServices(): string[] {
    return [...new Set([...this.clients].map((c) => c.identity.service))].sort();
  }

  get size(): number {
    return this.clients.size;
  }
}
