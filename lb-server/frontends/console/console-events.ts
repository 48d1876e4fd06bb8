import type { Clock } from '../../../common/clock';

/**
 * What the console's events page shows: the transitions the LB server logs at info level or
 * above, named after their log line's `event` field.
 */
export type ConsoleEventKind =
  | 'endpoint_joined'
  | 'endpoint_left'
  | 'endpoint_draining'
  | 'endpoint_undrained'
  | 'endpoint_duplicate_address'
  | 'endpoint_duplicate_address_resolved'
  | 'client_connected'
  | 'client_disconnected'
  | 'health_changed'
  | 'endpoint_ejected'
  | 'endpoint_returned'
  | 'override_set'
  | 'override_cleared'
  | 'override_expired'
  | 'subsets_changed'
  | 'zone_routing_changed'
  | 'self_preservation_hold'
  | 'self_preservation_released'
  | 'self_preservation_expired'
  | 'panic_started'
  | 'panic_ended';

/** A field of an event: what its log line carries, flattened to JSON scalars. */
export type ConsoleEventFields = Readonly<Record<string, string | number | boolean>>;

/** One recorded event. `seq` grows by one per event, from 1, for the server's life. */
export interface ConsoleEvent {
  readonly seq: number;
  readonly atMs: number;
  readonly kind: ConsoleEventKind;
  /** The service it concerns ('' for server-wide events). */
  readonly service: string;
  /** The log line's message. */
  readonly message: string;
  readonly fields: ConsoleEventFields;
}

/** Where the LB server's log sites record an event (ConsoleEvents, or nothing). */
export interface ConsoleEventSink {
  record(kind: ConsoleEventKind, service: string, message: string, fields?: ConsoleEventFields): void;
}

/** How much ConsoleEvents keeps. */
export interface ConsoleEventsOptions {
  /** Events older than this are dropped; default 10 minutes. */
  readonly maxAgeMs: number;
  /** At most this many events are kept (the oldest go first); default 2000. */
  readonly maxEntries: number;
}

export const DEFAULT_CONSOLE_EVENTS: ConsoleEventsOptions = Object.freeze({
  maxAgeMs: 10 * 60_000,
  maxEntries: 2000,
});

/** What since() answers. */
export interface ConsoleEventsPage {
  /** Events with seq > the asked one, oldest first. */
  readonly events: readonly ConsoleEvent[];
  /** The seq of the newest event ever recorded (0: none yet): ask since this next time. */
  readonly latestSeq: number;
  /** True when events after the asked seq were already dropped (by age or count). */
  readonly truncated: boolean;
}

/**
 * A bounded ring buffer of the last minutes' events for the console: fixed capacity, oldest
 * entries overwritten, entries past maxAgeMs skipped and dropped. Pure (takes a clock, no
 * timers). Written by the LB server's log sites (membership log, pipeline observer, ejection
 * handler, health checker, console actions) on the event loop, read by the console API.
 */
export class ConsoleEvents implements ConsoleEventSink {
  private readonly ring: (ConsoleEvent | undefined)[];
  /** Index of the oldest kept entry. */
  private head = 0;
  private size = 0;
  private seq = 0;
  private readonly listeners = new Set<() => void>();

  constructor(
    private readonly clock: Clock,
    readonly options: ConsoleEventsOptions = DEFAULT_CONSOLE_EVENTS,
  ) {
    if (!Number.isInteger(options.maxEntries) || options.maxEntries < 1) {
      throw new RangeError(`maxEntries must be a positive integer, got ${options.maxEntries}`);
    }
    this.ring = new Array<ConsoleEvent | undefined>(options.maxEntries);
  }

  record(kind: ConsoleEventKind, service: string, message: string, fields: ConsoleEventFields = {}): void {
    this.expire();
    const event: ConsoleEvent = Object.freeze({
      seq: ++this.seq,
      atMs: this.clock.now(),
      kind,
      service,
      message,
      fields: Object.freeze({ ...fields }),
    });
    const capacity = this.ring.length;
    if (this.size === capacity) {
      this.ring[this.head] = event;
      this.head = (this.head + 1) % capacity;
    } else {
      this.ring[(this.head + this.size) % capacity] = event;
      this.size++;
    }
    for (const l of this.listeners) l();
  }

  /** Kept events newer than `seq` (0: all), oldest first, at most `limit` (the newest ones). */
  since(seq: number, limit: number = this.ring.length): ConsoleEventsPage {
    this.expire();
    const out: ConsoleEvent[] = [];
    for (let i = 0; i < this.size; i++) {
      const e = this.ring[(this.head + i) % this.ring.length];
      if (e !== undefined && e.seq > seq) out.push(e);
    }
    const oldestKept = this.size > 0 ? (this.ring[this.head]?.seq ?? this.seq + 1) : this.seq + 1;
    const kept = out.length > limit ? out.slice(out.length - limit) : out;
    return {
      events: kept,
      latestSeq: this.seq,
      truncated: seq + 1 < oldestKept || kept.length < out.length,
    };
  }

  /** The seq of the newest event recorded (0: none). */
  get latestSeq(): number {
    return this.seq;
  }

  /** Calls `listener` after every record (the console's live stream); returns the unsubscribe. */
  subscribe(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private expire(): void {
    const oldest = this.clock.now() - this.options.maxAgeMs;
    while (this.size > 0) {
      const e = this.ring[this.head];
      if (e !== undefined && e.atMs >= oldest) break;
      this.ring[this.head] = undefined;
      this.head = (this.head + 1) % this.ring.length;
      this.size--;
    }
  }
}
