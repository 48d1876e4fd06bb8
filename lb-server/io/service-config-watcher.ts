import type { Etcd3 } from 'etcd3';
import type { Logger } from 'pino';
import type { Clock } from '../../common/clock';
import { configPrefix } from '../../common/key-layout';
import type { RejectedRecordInfo } from '../core/registry-state';
import {
  ServiceConfigState,
  type ServiceConfig,
  type ServiceConfigValues,
} from '../core/service-config-state';
import { EtcdRegistryWatcher } from './etcd-registry-watcher';

export interface ServiceConfigWatcherOptions {
  /** An etcd client the caller owns (and closes after close()). */
  readonly client: Etcd3;
  readonly endpoints?: readonly string[];
  /** The registry prefix; the config folder is derived from it (`configPrefix`). */
  readonly prefix: string;
  /** What a service without a valid setting gets (the LB server's flags). */
  readonly defaults: ServiceConfigValues;
  readonly clock: Clock;
  readonly logger: Logger;
}

/**
 * Per-service configuration from etcd (`<root>/config/<service>`): a full read, then a watch,
 * reconnecting after outages like the registry's watch (the last state is kept meanwhile).
 * A rejected value is logged once (`service_config_rejected` with key and reason), kept for the
 * admin view and the metric, and changes nothing: the last valid setting, or the default, stays
 * in force. Owned by startLbServer: start() once, close() once (idempotent).
 */
export class ServiceConfigWatcher {
  private readonly state: ServiceConfigState;
  private readonly watcher: EtcdRegistryWatcher;
  private readonly listeners: ((services: readonly string[]) => void)[] = [];

  constructor(options: ServiceConfigWatcherOptions) {
    this.state = new ServiceConfigState(configPrefix(options.prefix), options.defaults);
    this.watcher = new EtcdRegistryWatcher({
      client: options.client,
      endpoints: options.endpoints,
      prefix: configPrefix(options.prefix),
      state: this.state,
      what: 'service config',
      clock: options.clock,
      logger: options.logger,
      onChange: (services) => {
        for (const s of services) {
          const c = this.state.configOf(s);
          options.logger.info(
            { event: 'service_config_applied', service: s, ...c },
            `config of ${s} changed`,
          );
        }
        for (const l of this.listeners) l(services);
      },
    });
  }

  /** Starts reading and watching in the background. Idempotent. */
  start(): void {
    this.watcher.start();
  }

  /** Resolves after the first full read (never rejects). */
  synced(): Promise<void> {
    return this.watcher.synced();
  }

  /** The effective configuration of `service`: its valid setting over the defaults, or the defaults. */
  configOf(service: string): ServiceConfig {
    return this.state.configOf(service);
  }

  /** The service's latest value when it was rejected (key, reason), else undefined. */
  rejectionOf(service: string): RejectedRecordInfo | undefined {
    return this.state.rejectionOf(service);
  }

  /** How many config keys hold a rejected value now. */
  rejectedCount(): number {
    return this.state.rejectedCount();
  }

  /** The defaults in force for services without a setting. */
  get defaults(): ServiceConfigValues {
    return this.state.defaults;
  }

  /**
   * Adds a listener called with the services whose effective configuration changed, after each
   * applied read or watch batch (synchronously, from the etcd event).
   */
  onChange(listener: (services: readonly string[]) => void): void {
    this.listeners.push(listener);
  }

  /** Stops the watch; resolves when it has ended. Idempotent. */
  close(): Promise<void> {
    return this.watcher.close();
  }
}
