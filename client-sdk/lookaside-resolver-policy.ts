import { experimental, status as Status } from '@grpc/grpc-js';
import type { BackoffSchedule } from '../common/backoff-schedule';
import type { Clock, TimerHandle } from '../common/clock';
import type { BalanceLoadSessionOwner, SessionEnd, SessionServerList } from './balance-load-session';
import type { LookasideEndpoint } from './lookaside-endpoint';
import type { ResolverLog } from './resolver-log';

type Result = experimental.StatusOr<LookasideEndpoint[]>;

/** The part of a BalanceLoad session the policy holds: a way to end it. */
export interface LbSession {
  /** Idempotent; no owner call follows. */
  close(): void;
}

/**
 * Opens one BalanceLoad session to `lbServer` that reports to `owner`. Must not call the owner
 * before it returns. LookasideResolver passes BalanceLoadSession.open; tests pass a fake.
 */
export type OpenLbSession = (lbServer: string, owner: BalanceLoadSessionOwner) => LbSession;

/**
 * Hands one result to the channel and returns its verdict: grpc-js's resolver listener, which
 * answers false when the LB policy did not accept the result.
 */
export type DeliverResolution = (result: Result, note: string) => boolean;

/** What the policy needs; LookasideResolver builds it from the target and the channel options. */
export interface LookasideResolverPolicyOptions {
  readonly service: string;
  /** The LB replicas, in target order; at least one. */
  readonly lbServers: readonly string[];
  /** Served when no LB list came within the start-up timeout; may be empty. */
  readonly fallback: readonly LookasideEndpoint[];
  readonly startupTimeoutMs: number;
  /** The delays between stream attempts; reset by a list the channel accepted. */
  readonly backoff: BackoffSchedule;
  readonly clock: Clock;
  /** Picks the first replica. */
  readonly random: () => number;
  readonly openSession: OpenLbSession;
  readonly deliver: DeliverResolution;
  readonly log: ResolverLog;
}

/** What the channel has been given. Kept across idle periods (stop() then start()). */
export type ResolutionState =
  /** Nothing yet: calls wait, while running, for a list or the start-up timeout. */
  | { readonly kind: 'awaiting-list' }
  /** The start-up timeout passed with no list and no fallback: calls fail with UNAVAILABLE. */
  | { readonly kind: 'unavailable' }
  /** The start-up timeout passed with no list: the fallback addresses serve. */
  | { readonly kind: 'fallback' }
  /** An LB server's list (possibly empty) serves. */
  | { readonly kind: 'lb-list'; readonly endpoints: readonly LookasideEndpoint[] };

/** The stream side, replaced as a whole on every change. */
type Link =
  | { readonly kind: 'stopped' }
  | {
      readonly kind: 'streaming';
      readonly lbServer: string;
      readonly owner: BalanceLoadSessionOwner;
      readonly session: LbSession;
      /** The replica sent its initial response (it is up), whether or not a list followed. */
      readonly answered: boolean;
      /** An empty first list held back so as not to wipe a known one (see onServerList). */
      readonly emptyHold: TimerHandle | null;
    }
  | { readonly kind: 'backing-off'; readonly timer: TimerHandle };

/** A result the channel refused, offered again on the next start(). */
interface Refused {
  readonly next: ResolutionState;
  readonly result: Result;
  readonly note: string;
}

/**
 * The `lookaside` resolver's policy: which LB replica to stream from, what to give the channel
 * before the first list (nothing, then the fallback addresses or UNAVAILABLE after the start-up
 * timeout), holding back an empty first list from a reconnected replica, and reconnecting to the
 * next replica after an exponential, jittered, capped delay when a stream ends (keeping the last
 * list). No I/O of its own: it opens sessions and delivers results through the functions it is
 * given, and its timers come from the clock. LookasideResolver owns one and calls start() from
 * updateResolution() and stop() from destroy().
 *
 * The channel's verdict (the listener's boolean) is used as grpc-js's DNS resolver uses it: the
 * state moves and the backoff resets only on an accepted result; a refused one is offered again on
 * the next start() (grpc-js calls updateResolution when the LB policy asks for re-resolution).
 *
 * Never delivers synchronously from start(), nor after stop().
 */
export class LookasideResolverPolicy {
  private running = false;
  private resolution: ResolutionState = { kind: 'awaiting-list' };
  private link: Link = { kind: 'stopped' };
  private replica: number;
  private startupTimer: TimerHandle | null = null;
  /** A delivery deferred by start() (never synchronous). */
  private deferred: TimerHandle | null = null;
  private refused: Refused | null = null;
  /** How the last stream ended, for the start-up timeout's message; null while none has ended. */
  private lastError: string | null = null;

  constructor(private readonly options: LookasideResolverPolicyOptions) {
    if (options.lbServers.length === 0) throw new RangeError('the resolver policy needs an LB server');
    this.replica = Math.floor(options.random() * options.lbServers.length) % options.lbServers.length;
  }

  /** What the channel has been given (for tests and diagnostics). */
  get state(): ResolutionState {
    return this.resolution;
  }

  /**
   * Starts streaming (the channel left IDLE), or, when already running, offers a refused result
   * again. Replays the last non-empty list or the fallback at once (on the next turn); otherwise
   * waits for a list or the start-up timeout. Called by LookasideResolver.updateResolution().
   */
  start(): void {
    if (this.running) {
      const refused = this.refused;
      if (refused !== null) this.deliverLater(refused.next, refused.result, refused.note);
      return;
    }
    this.running = true;
    const state = this.resolution;
    if (state.kind === 'lb-list' && state.endpoints.length > 0) {
      // Back from IDLE: serve the last list at once; the new stream refreshes it.
      this.deliverLater(state, experimental.statusOrFromValue([...state.endpoints]), 'last known list');
    } else if (state.kind === 'fallback') {
      // Back from IDLE on the fallback: keep using it at once rather than after another timeout.
      this.deliverLater(state, this.fallbackResult(), 'fallback addresses (still no LB list)');
    } else {
      // An empty last list is not replayed: the call that woke the channel would fail at once,
      // moments before the new stream's list arrives. Wait for it (or the start-up timeout).
      this.resolution = { kind: 'awaiting-list' };
      this.startupTimer = this.options.clock.setTimeout(
        () => this.onStartupTimeout(),
        this.options.startupTimeoutMs,
      );
    }
    this.connect();
  }

  /** Ends the stream and every timer; keeps what the channel was given. Idempotent. */
  stop(): void {
    this.running = false;
    this.startupTimer?.cancel();
    this.startupTimer = null;
    this.deferred?.cancel();
    this.deferred = null;
    this.refused = null;
    this.endLink();
  }

  private endLink(): void {
    const link = this.link;
    this.link = { kind: 'stopped' };
    if (link.kind === 'streaming') {
      link.emptyHold?.cancel();
      link.session.close();
    } else if (link.kind === 'backing-off') {
      link.timer.cancel();
    }
  }

  private connect(): void {
    if (!this.running) return;
    const lbServers = this.options.lbServers;
    const lbServer = lbServers[this.replica % lbServers.length];
    this.options.log('debug', 'lb_connect', { service: this.options.service, lbServer });
    const owner: BalanceLoadSessionOwner = {
      onInitialResponse: (intervalMs) => {
        if (this.link.kind === 'streaming' && this.link.owner === owner) {
          this.link = { ...this.link, answered: true };
          this.options.log('debug', 'lb_answered', { service: this.options.service, lbServer, intervalMs });
        }
      },
      onServerList: (list) => this.onServerList(owner, list),
      onEnded: (end) => this.onEnded(owner, end),
    };
    const session = this.options.openSession(lbServer, owner);
    this.link = { kind: 'streaming', lbServer, owner, session, answered: false, emptyHold: null };
  }

  private onServerList(owner: BalanceLoadSessionOwner, list: SessionServerList): void {
    const link = this.link;
    if (link.kind !== 'streaming' || link.owner !== owner) return;
    const { service } = this.options;
    if (list.rejected.length > 0) {
      this.options.log('warn', 'servers_rejected', {
        service,
        lbServer: link.lbServer,
        rejected: list.rejected,
      });
    }
    link.emptyHold?.cancel();
    const note = `server list version ${list.version} from LB server ${link.lbServer}`;
    const known = this.resolution;
    if (
      list.firstOnStream &&
      list.endpoints.length === 0 &&
      known.kind === 'lb-list' &&
      known.endpoints.length > 0
    ) {
      // A freshly (re)started LB server may answer before it has read etcd. Like xDS clients that
      // ignore resource deletions (gRFC A53), do not let its first, empty list wipe the backends
      // in use at once: keep them for the start-up timeout unless a newer list comes first.
      this.options.backoff.reset(); // the stream works; only its content is held back
      this.options.log('warn', 'empty_list_held', {
        service,
        lbServer: link.lbServer,
        version: list.version,
      });
      const emptyHold = this.options.clock.setTimeout(() => {
        if (this.link.kind === 'streaming' && this.link.owner === owner) {
          this.link = { ...this.link, emptyHold: null };
          this.applyList(list, note);
        }
      }, this.options.startupTimeoutMs);
      this.link = { ...link, emptyHold };
      return;
    }
    this.link = { ...link, emptyHold: null };
    this.applyList(list, note);
  }

  private applyList(list: SessionServerList, note: string): void {
    this.deferred?.cancel(); // an older list must not follow
    this.deferred = null;
    this.options.log('debug', 'server_list', {
      service: this.options.service,
      version: list.version,
      endpoints: list.endpoints.length,
    });
    const state: ResolutionState = { kind: 'lb-list', endpoints: list.endpoints };
    if (this.offer(state, experimental.statusOrFromValue(list.endpoints), note)) {
      this.options.backoff.reset();
    }
  }

  private onEnded(owner: BalanceLoadSessionOwner, end: SessionEnd): void {
    const link = this.link;
    if (link.kind !== 'streaming' || link.owner !== owner) return;
    link.emptyHold?.cancel();
    this.lastError = `LB server ${link.lbServer}: ${end.reason}`;
    this.replica = (this.replica + 1) % this.options.lbServers.length;
    const delay = this.options.backoff.next();
    const known = this.resolution;
    this.options.log(end.receivedList ? 'warn' : 'debug', 'lb_stream_broken', {
      service: this.options.service,
      lbServer: link.lbServer,
      code: end.code,
      reason: end.reason,
      reconnectInMs: delay,
      keptEndpoints: known.kind === 'lb-list' ? known.endpoints.length : 0,
    });
    const timer = this.options.clock.setTimeout(() => {
      if (this.link.kind === 'backing-off' && this.link.timer === timer) this.connect();
    }, delay);
    this.link = { kind: 'backing-off', timer };
  }

  /**
   * Why no list came, as true as the policy knows it: a replica that answered and is silent has
   * not read the registry yet (an LB server holds the first list until its first etcd read); one
   * that never answered is down, unreachable or not an LB server.
   */
  private whyNoList(): { readonly reason: string; readonly answeredBy: string | undefined } {
    const link = this.link;
    if (link.kind === 'streaming' && link.answered) {
      return {
        reason:
          `LB server ${link.lbServer} answered but has no server list yet ` +
          `(it sends one once it has read the registry: can it reach etcd?)`,
        answeredBy: link.lbServer,
      };
    }
    const waiting = link.kind === 'streaming' ? `; waiting for ${link.lbServer}` : '';
    const last = this.lastError !== null ? `; last error: ${this.lastError}` : '';
    return { reason: `no LB server answered${last}${waiting}`, answeredBy: undefined };
  }

  private onStartupTimeout(): void {
    this.startupTimer = null;
    if (!this.running || this.resolution.kind !== 'awaiting-list') return;
    const { service, lbServers, fallback, startupTimeoutMs } = this.options;
    const why = this.whyNoList();
    if (fallback.length > 0) {
      this.options.log('warn', 'fallback_in_use', {
        service,
        lbServers,
        fallback: fallback.map((e) => e.address),
        reason: why.reason,
        answeredBy: why.answeredBy,
        lastError: this.lastError,
      });
      this.offer(
        { kind: 'fallback' },
        this.fallbackResult(),
        `fallback addresses: no server list within ${startupTimeoutMs} ms: ${why.reason}`,
      );
      return;
    }
    const details =
      `lookaside: no server list for service "${service}" within ${startupTimeoutMs} ms: ` +
      `${why.reason} (LB servers: ${lbServers.join(', ')})`;
    this.options.log('warn', 'startup_timeout', {
      service,
      lbServers,
      reason: why.reason,
      answeredBy: why.answeredBy,
      lastError: this.lastError,
    });
    this.offer(
      { kind: 'unavailable' },
      experimental.statusOrFromError({ code: Status.UNAVAILABLE, details }),
      details,
    );
  }

  private fallbackResult(): Result {
    return experimental.statusOrFromValue([...this.options.fallback]);
  }

  private deliverLater(next: ResolutionState, result: Result, note: string): void {
    this.deferred?.cancel();
    this.deferred = this.options.clock.setTimeout(() => {
      this.deferred = null;
      if (this.running) this.offer(next, result, note);
    }, 0);
  }

  /**
   * Delivers `result`; when the channel accepts it, `next` becomes the state. A refused result is
   * kept to offer again on the next start(). Returns the channel's verdict.
   */
  private offer(next: ResolutionState, result: Result, note: string): boolean {
    this.refused = null;
    if (!this.running) return false;
    if (!this.options.deliver(result, note)) {
      this.refused = { next, result, note };
      this.options.log('warn', 'resolution_refused', { service: this.options.service, note });
      return false;
    }
    if (next.kind !== 'awaiting-list') {
      this.startupTimer?.cancel();
      this.startupTimer = null;
    }
    this.resolution = next;
    return true;
  }
}
