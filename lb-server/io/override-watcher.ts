import type { Etcd3 } from 'etcd3';
import type { Logger } from 'pino';
import type { BackoffSchedule } from '../../common/backoff-schedule';
import type { Clock, TimerHandle } from '../../common/clock';

/** How many times an expired override's key delete is tried, the first retry after this long (doubling). */
const EXPIRED_DELETE_ATTEMPTS = 6;
const EXPIRED_DELETE_BACKOFF_MS = 5_000;
import { OverrideState, type HeldOverride } from '../core/override-state';
import { EtcdRegistryWatcher, type EtcdWatchStatus } from './etcd-registry-watcher';

export interface OverrideWatcherOptions {
  /** An etcd client the caller owns (and closes after close()). */
  readonly client: Etcd3;
  readonly endpoints?: readonly string[];
  /** The registry prefix; overrides are watched under overridesPrefix(prefix). */
  readonly registryPrefix: string;
  /** Called with the services whose applied overrides changed (a put, a delete, an expiry). */
  readonly onChange: (services: string[]) => void;
  /** Called when synced, connected or fullReads change. */
  readonly onStatus?: (status: EtcdWatchStatus) => void;
  readonly logger: Logger;
  readonly clock: Clock;
  readonly requestTimeoutMs?: number;
  readonly backoff?: BackoffSchedule;
}

/**
 * The etcd watch of operator overrides: a full read of `<root>/overrides/`, then a watch, into an
 * OverrideState (the same adapter as the registry's, so the same reconnect after etcd failures:
 * the last known overrides stay applied meanwhile). A malformed value is logged once
 * (`override_rejected`, key and reason) and ignored. At an override's expiry it logs
 * `override_expired` (who, why), reports the service changed, and deletes the key from etcd
 * guarded by its mod revision: every replica may try, only the first delete of that exact value
 * succeeds, and an override written again meanwhile is never removed. Owned by startLbServer:
 * start() once, close() once (idempotent).
 */
export class OverrideWatcher {
  readonly state: OverrideState;
  private readonly watcher: EtcdRegistryWatcher;
  private closed = false;
  /** Pending retries of expired keys' deletes (cancelled by close()). */
  private readonly retries = new Set<TimerHandle>();

  constructor(private readonly options: OverrideWatcherOptions) {
    this.state = new OverrideState({
      registryPrefix: options.registryPrefix,
      clock: options.clock,
      onExpired: (expired) => this.expired(expired),
    });
    this.watcher = new EtcdRegistryWatcher({
      client: options.client,
      endpoints: options.endpoints,
      prefix: this.state.prefix,
      state: this.state,
      onChange: options.onChange,
      onStatus: options.onStatus,
      logger: options.logger,
      clock: options.clock,
      requestTimeoutMs: options.requestTimeoutMs,
      backoff: options.backoff,
      what: 'override',
    });
  }

  /** Starts reading and watching in the background. Idempotent. */
  start(): void {
    this.watcher.start();
  }

  /** Resolves after the first full read was applied (never rejects). */
  synced(): Promise<void> {
    return this.watcher.synced();
  }

  current(): EtcdWatchStatus {
    return this.watcher.current();
  }

  /** Stops the watch and the expiry timer. Idempotent. */
  async close(): Promise<void> {
    this.closed = true;
    for (const r of this.retries) r.cancel();
    this.retries.clear();
    this.state.close();
    await this.watcher.close();
  }

  private expired(expired: readonly HeldOverride[]): void {
    const { logger } = this.options;
    for (const o of expired) {
      logger.info(
        {
          event: 'override_expired',
          service: o.service,
          instanceId: o.instanceId,
          who: o.who,
          why: o.why,
          weight: o.weight,
          draining: o.draining,
          expiresAtMs: o.expiresAtMs,
        },
        `override of ${o.service}/${o.instanceId} by ${o.who} expired`,
      );
    }
    this.options.onChange([...new Set(expired.map((o) => o.service))]);
    for (const o of expired) this.deleteExpired(o, 0);
  }

  /**
   * Deletes an expired override's key, guarded by its mod revision (an override written again
   * meanwhile stays). A failure (etcd away, a role without write) is retried with backoff, up to
   * EXPIRED_DELETE_ATTEMPTS times, then logged as a warning: the override no longer applies
   * either way.
   */
  private deleteExpired(o: HeldOverride, attempt: number): void {
    if (this.closed) return;
    const { logger, client, clock } = this.options;
    client
      .if(o.key, 'Mod', '==', o.modRevision)
      .then(client.delete().key(o.key))
      .commit()
      .catch((err: unknown) => {
        if (this.closed) return;
        if (attempt + 1 >= EXPIRED_DELETE_ATTEMPTS) {
          logger.warn(
            { event: 'override_expired_delete_failed', key: o.key, attempts: attempt + 1, err: String(err) },
            'could not delete an expired override (it no longer applies; delete the key by hand, or give the LB server write access to the overrides prefix)',
          );
          return;
        }
        const retry = clock.setTimeout(
          () => {
            this.retries.delete(retry);
            this.deleteExpired(o, attempt + 1);
          },
          EXPIRED_DELETE_BACKOFF_MS * 2 ** attempt,
        );
        this.retries.add(retry);
      });
  }
}
