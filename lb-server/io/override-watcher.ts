import type { Etcd3 } from 'etcd3';
import type { Logger } from 'pino';
import type { BackoffSchedule } from '../../common/backoff-schedule';
import type { Clock } from '../../common/clock';
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
    this.state.close();
    await this.watcher.close();
  }

  private expired(expired: readonly HeldOverride[]): void {
    const { logger, client } = this.options;
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
    if (this.closed) return;
    for (const o of expired) {
      client
        .if(o.key, 'Mod', '==', o.modRevision)
        .then(client.delete().key(o.key))
        .commit()
        .catch((err: unknown) =>
          logger.debug(
            { event: 'override_expired_delete_failed', key: o.key, err: String(err) },
            'could not delete an expired override (it no longer applies; another replica, or this one when it next starts, deletes it)',
          ),
        );
    }
  }
}
