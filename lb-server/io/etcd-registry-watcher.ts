import {
  EtcdAuthenticationFailedError,
  EtcdPermissionDeniedError,
  EtcdUserNotFoundError,
  type Etcd3,
  type IKeyValue,
  type IWatchResponse,
  type Watcher,
} from 'etcd3';
import type { Logger } from 'pino';
import { normalizePrefix } from '../../common/registry-record';
import { BackoffSchedule } from '../../common/backoff-schedule';
import type { Clock, TimerHandle } from '../../common/clock';
import type { RegistryKeyValue, RejectedRecordInfo } from '../core/registry-state';

/**
 * What the adapter feeds: the registry state, or any other pure state of keys under one prefix
 * (the client population, per-service config). Each call returns the services it changed.
 */
export interface WatchedKeyState {
  /** The highest etcd revision applied. */
  readonly revision: number;
  replaceAll(kvs: readonly RegistryKeyValue[], revision: number): string[];
  put(kv: RegistryKeyValue): string[];
  delete(key: string, revision: number): string[];
  /** Invalid values seen since the last call, each once, and how many more were not kept. */
  takeNewRejections(): { rejected: RejectedRecordInfo[]; dropped: number };
}

/** Where the etcd adapter stands, for health and the admin view. */
export interface EtcdWatchStatus {
  /** True once the first full read succeeded (stays true through later outages). */
  readonly synced: boolean;
  /** True while a watch is established and delivering events. */
  readonly connected: boolean;
  /** The highest etcd revision applied. */
  readonly revision: number;
  /** Full reads done so far (1 after the initial sync; more after each outage). */
  readonly fullReads: number;
}

export interface EtcdRegistryWatcherOptions {
  /** An etcd client the caller owns (and closes after close()). */
  readonly client: Etcd3;
  /** The client's endpoints, named in errors and logs. */
  readonly endpoints?: readonly string[];
  readonly prefix: string;
  readonly state: WatchedKeyState;
  /**
   * What is watched, for logs. Default: the registry, whose events are `etcd_synced`,
   * `etcd_sync_failed`, `etcd_auth_failed`, `record_rejected`. Any other watch logs
   * `etcd_watch_synced`, `etcd_watch_sync_failed`, `etcd_watch_auth_failed` with a `watch: what`
   * field, and `<what>_rejected` (so "the LB server synced" still means the registry's read).
   */
  readonly what?: string;
  /** Called with the services whose versions changed, after each applied read or event batch. */
  readonly onChange: (services: string[]) => void;
  /** Called when synced, connected or fullReads change (not on every new revision). */
  readonly onStatus?: (status: EtcdWatchStatus) => void;
  readonly logger: Logger;
  readonly clock: Clock;
  /** Deadline of one read or watch creation. Default 3000 ms. */
  readonly requestTimeoutMs?: number;
  /** Reconnect schedule; default 100 ms growing to 3 s. */
  readonly backoff?: BackoffSchedule;
}

/**
 * True for the error etcd3's per-host circuit breaker (cockatiel's BrokenCircuitError) throws
 * after failed calls: the request was not sent at all, so the error says nothing new about etcd.
 */
export function isCircuitOpen(cause: unknown): boolean {
  return (
    typeof cause === 'object' &&
    cause !== null &&
    (cause as { isBrokenCircuitError?: unknown }).isBrokenCircuitError === true
  );
}

/** A read or watch attempt against etcd failed; says which and why. */
export class EtcdSyncError extends Error {
  /** True when etcd3 did not even try (its circuit breaker is open after failed attempts). */
  readonly notAttempted: boolean;

  constructor(
    readonly step: 'read' | 'watch',
    readonly prefix: string,
    cause: unknown,
  ) {
    const notAttempted = isCircuitOpen(cause);
    super(
      notAttempted
        ? `etcd ${step} of prefix "${prefix}" not attempted: etcd was unreachable and its client waits before trying again`
        : `etcd ${step} of prefix "${prefix}" failed: ${cause instanceof Error ? cause.message : String(cause)}`,
      { cause },
    );
    this.name = 'EtcdSyncError';
    this.notAttempted = notAttempted;
  }

  /** True when etcd refused the credentials (wrong user or password, or no permission). */
  get authFailure(): boolean {
    return (
      this.cause instanceof EtcdAuthenticationFailedError ||
      this.cause instanceof EtcdPermissionDeniedError ||
      this.cause instanceof EtcdUserNotFoundError
    );
  }
}

function toKeyValue(kv: IKeyValue): RegistryKeyValue {
  return {
    key: kv.key.toString('utf8'),
    value: kv.value,
    modRevision: Number(kv.mod_revision),
    // etcd3 hands int64 fields over as decimal strings; a lease id does not fit in a number.
    lease: String(kv.lease),
  };
}

function withTimeout<T>(promise: Promise<T>, ms: number, clock: Clock, what: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = clock.setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
    promise.then(
      (v) => {
        timer.cancel();
        resolve(v);
      },
      (err: unknown) => {
        timer.cancel();
        reject(err instanceof Error ? err : new Error(String(err)));
      },
    );
  });
}

/**
 * The thin etcd adapter of the LB server: a full read of the prefix, then a watch from the next
 * revision, feeding the registry state. When the watch breaks (etcd down, compaction, stream
 * error) the state is kept as it is, and after a backoff the adapter reads everything again and
 * watches from there; the fresh read makes compaction harmless and converges to etcd's real state.
 * Owned by startLbServer: start() once, close() once (idempotent).
 */
export class EtcdRegistryWatcher {
  private readonly keyPrefix: string;
  private readonly requestTimeoutMs: number;
  private readonly backoff: BackoffSchedule;
  private status: EtcdWatchStatus = { synced: false, connected: false, revision: 0, fullReads: 0 };
  private closed = false;
  private started = false;
  private watcher: Watcher | undefined;
  private retryTimer: TimerHandle | undefined;
  private loop: Promise<void> | undefined;
  private wakeLoop: (() => void) | undefined;
  private readonly syncedPromise: Promise<void>;
  private resolveSynced!: () => void;

  constructor(private readonly options: EtcdRegistryWatcherOptions) {
    this.keyPrefix = `${normalizePrefix(options.prefix)}/`;
    this.requestTimeoutMs = options.requestTimeoutMs ?? 3000;
    this.backoff = options.backoff ?? new BackoffSchedule({ initialMs: 100, maxMs: 3000, multiplier: 2 });
    this.syncedPromise = new Promise((resolve) => (this.resolveSynced = resolve));
  }

  /** Starts reading and watching in the background. Idempotent. */
  start(): void {
    if (this.started || this.closed) return;
    this.started = true;
    this.loop = this.run();
  }

  /** Resolves after the first full read was applied (never rejects; pending until then). */
  synced(): Promise<void> {
    return this.syncedPromise;
  }

  current(): EtcdWatchStatus {
    return this.status;
  }

  /** Stops the watch and any pending retry; resolves when the loop has ended. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return this.loop;
    this.closed = true;
    this.retryTimer?.cancel();
    this.wakeLoop?.();
    await this.cancelWatcher();
    await this.loop;
  }

  /** Updates the status; calls onStatus when synced, connected or fullReads changed (not revision). */
  private setStatus(next: Partial<EtcdWatchStatus>): void {
    const prev = this.status;
    this.status = { ...prev, ...next };
    if (
      this.status.synced !== prev.synced ||
      this.status.connected !== prev.connected ||
      this.status.fullReads !== prev.fullReads
    ) {
      this.options.onStatus?.(this.status);
    }
  }

  private async run(): Promise<void> {
    const log = this.options.logger;
    let attempt = 0;
    /** The last failure etcd3 really attempted (a breaker's refusal repeats nothing new). */
    let lastFailure: string | undefined;
    while (!this.closed) {
      attempt += 1;
      try {
        const revision = await this.readAll();
        if (this.closed) break;
        this.backoff.reset();
        attempt = 0;
        await this.watchFrom(revision + 1);
      } catch (err) {
        if (this.closed) break;
        this.setStatus({ connected: false });
        const endpoints = (this.options.endpoints ?? []).join(',');
        const message = err instanceof Error ? err.message : String(err);
        const notAttempted = err instanceof EtcdSyncError && err.notAttempted;
        if (!notAttempted) lastFailure = message;
        const step = err instanceof EtcdSyncError ? err.step : 'read';
        const synced = this.status.synced;
        if (err instanceof EtcdSyncError && err.authFailure) {
          log.error(
            {
              event: this.eventName('etcd_auth_failed'),
              ...this.watchField(),
              attempt,
              endpoints,
              err: message,
            },
            `etcd at ${endpoints} refused the credentials (check --etcd-user, --etcd-password and the user's role: it needs read on ${this.keyPrefix})`,
          );
        } else {
          // Before the first read there is no state to keep: say so, not "keeping the last known state".
          const what =
            step === 'watch' ? `the etcd watch at ${endpoints} broke` : `cannot read etcd at ${endpoints}`;
          log.warn(
            {
              event: this.eventName('etcd_sync_failed'),
              ...this.watchField(),
              step,
              synced,
              attempt,
              endpoints,
              err: message,
              ...(notAttempted && lastFailure !== undefined ? { lastFailure } : {}),
            },
            synced
              ? `${what}; keeping the last known state, retrying`
              : this.options.what === undefined
                ? `${what}; no registry state yet (clients get no server list until a first read succeeds), retrying`
                : `${what}; no ${this.options.what} state yet, retrying`,
          );
        }
      }
      if (this.closed) break;
      await this.sleep(this.backoff.next());
    }
    this.setStatus({ connected: false });
  }

  /** One full read; applies it and returns its revision. */
  private async readAll(): Promise<number> {
    const { client, state, clock } = this.options;
    let res;
    try {
      res = await withTimeout(
        client
          .getAll()
          .prefix(this.keyPrefix)
          .options({ deadline: new Date(clock.now() + this.requestTimeoutMs) })
          .exec(),
        this.requestTimeoutMs,
        clock,
        'read',
      );
    } catch (err) {
      throw new EtcdSyncError('read', this.keyPrefix, err);
    }
    if (this.closed) return 0;
    const revision = Number(res.header.revision);
    const changed = state.replaceAll(res.kvs.map(toKeyValue), revision);
    const first = !this.status.synced;
    this.options.logger.info(
      {
        event: this.eventName('etcd_synced'),
        ...this.watchField(),
        revision,
        keys: res.kvs.length,
        changedServices: changed.length,
        first,
      },
      `read the ${this.options.what ?? 'registry'} from etcd`,
    );
    this.logRejections();
    // Changes first, then the status: a listener that sees `synced` finds the changes announced.
    if (changed.length > 0) this.options.onChange(changed);
    this.setStatus({ synced: true, revision: state.revision, fullReads: this.status.fullReads + 1 });
    if (first) this.resolveSynced();
    return revision;
  }

  /** Watches from `startRevision`; resolves when the watch breaks or the adapter closes. */
  private watchFrom(startRevision: number): Promise<void> {
    const { client, state, clock } = this.options;
    return new Promise<void>((resolve, reject) => {
      let settled = false;
      // Declared before end() so that end() can always cancel it.
      const createTimer: TimerHandle = clock.setTimeout(
        () => end(new EtcdSyncError('watch', this.keyPrefix, `no answer in ${this.requestTimeoutMs} ms`)),
        this.requestTimeoutMs,
      );
      const end = (err?: Error): void => {
        if (settled) return;
        settled = true;
        createTimer.cancel();
        this.wakeLoop = undefined;
        void this.cancelWatcher();
        if (err && !this.closed) reject(err);
        else resolve();
      };
      this.wakeLoop = () => end();
      const onData = (res: IWatchResponse): void => {
        const changed = new Set<string>();
        for (const ev of res.events) {
          const kv = toKeyValue(ev.kv);
          const services =
            String(ev.type).toLowerCase() === 'delete' ? state.delete(kv.key, kv.modRevision) : state.put(kv);
          for (const s of services) changed.add(s);
        }
        this.logRejections();
        this.setStatus({ revision: state.revision });
        if (changed.size > 0) this.options.onChange([...changed]);
      };
      // watcher() rather than create(): we need the handle to cancel a creation that times out.
      const watcher = client.watch().prefix(this.keyPrefix).startRevision(String(startRevision)).watcher();
      this.watcher = watcher;
      watcher.on('connected', () => {
        createTimer.cancel();
        if (!settled) this.setStatus({ connected: true });
      });
      watcher.on('data', onData);
      watcher.on('disconnected', (err) => {
        end(new EtcdSyncError('watch', this.keyPrefix, err));
      });
      watcher.on('error', (err) => {
        end(new EtcdSyncError('watch', this.keyPrefix, err));
      });
      watcher.on('end', () => {
        end(new EtcdSyncError('watch', this.keyPrefix, 'watch ended'));
      });
    });
  }

  /** The registry's event name as it always was; `etcd_watch_…` for any other watch. */
  private eventName(registryEvent: string): string {
    return this.options.what === undefined ? registryEvent : registryEvent.replace(/^etcd_/, 'etcd_watch_');
  }

  /** The prefix watched, and `watch: what` for a watch other than the registry's. */
  private watchField(): { watch?: string; prefix: string } {
    return this.options.what === undefined
      ? { prefix: this.keyPrefix }
      : { watch: this.options.what, prefix: this.keyPrefix };
  }

  /** Logs each newly rejected record once, with its key and reason. */
  private logRejections(): void {
    const { rejected, dropped } = this.options.state.takeNewRejections();
    const what = this.options.what;
    const event = what === undefined ? 'record_rejected' : `${what.replace(/[^a-z]+/g, '_')}_rejected`;
    for (const r of rejected) {
      this.options.logger.warn(
        { event, key: r.key, reason: r.reason, modRevision: r.modRevision },
        `skipped an invalid ${what ?? 'registry record'}`,
      );
    }
    if (dropped > 0) {
      this.options.logger.warn(
        {
          event: `${what === undefined ? 'records' : event.replace(/_rejected$/, '')}_rejected_unlogged`,
          count: dropped,
        },
        'more invalid records',
      );
    }
  }

  private async cancelWatcher(): Promise<void> {
    const w = this.watcher;
    this.watcher = undefined;
    if (!w) return;
    w.removeAllListeners('data');
    // Keep a no-op error listener: the client may still emit on a watcher being torn down.
    w.removeAllListeners('error');
    w.on('error', () => undefined);
    try {
      await withTimeout(w.cancel(), 1000, this.options.clock, 'watch cancel');
    } catch {
      // the stream is gone or etcd is unreachable: nothing left to cancel
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const done = (): void => {
        this.retryTimer?.cancel();
        this.retryTimer = undefined;
        this.wakeLoop = undefined;
        resolve();
      };
      this.wakeLoop = done;
      this.retryTimer = this.options.clock.setTimeout(done, ms);
    });
  }
}
