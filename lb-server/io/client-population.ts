import type { Etcd3, Lease } from 'etcd3';
import type { Logger } from 'pino';
import { BackoffSchedule } from '../../common/backoff-schedule';
import type { Clock, TimerHandle } from '../../common/clock';
import { clientsPrefix } from '../../common/key-layout';
import type { RejectedRecordInfo } from '../core/registry-state';
import type { ClientActivityObserver, ClientIdentity, ClientSnapshot } from '../core/client-registry';
import {
  ClientPopulationState,
  type PopulationClient,
  type PopulationJoin,
  type PopulationOp,
} from '../core/client-population-state';
import { PopulationFlusher, type PopulationWrites } from '../core/population-flusher';
import { EtcdRegistryWatcher, isCircuitOpen } from './etcd-registry-watcher';

export type { PopulationClient, PopulationJoin } from '../core/client-population-state';
export type { PopulationWrites } from '../core/population-flusher';

/** Bound on one etcd write or lease call. */
const REQUEST_DEADLINE_MS = 5000;

export interface ClientPopulationOptions {
  /** An etcd client the caller owns (and closes after close()). */
  readonly client: Etcd3;
  readonly endpoints?: readonly string[];
  /** The registry prefix; the clients folder is derived from it (`clientsPrefix`). */
  readonly prefix: string;
  /** This replica's id, written into its records. */
  readonly replicaId: string;
  /** TTL of this replica's lease, seconds. */
  readonly leaseTtlSeconds: number;
  /** How often owed writes are flushed, ms. */
  readonly flushMs: number;
  readonly clock: Clock;
  readonly logger: Logger;
}

/**
 * The client population across LB replicas, as one replica sees it: every client of every
 * service (the etcd records of all replicas under `<root>/clients/`, plus this replica's own
 * clients not written yet), kept by a full read and a watch of the folder. This replica's clients
 * are written on a lease of its own (`leaseTtlSeconds`, kept alive; a lost lease is granted
 * again and every local client rewritten), coalesced: every `flushMs` the flush loop writes the
 * records that changed (a join, a new subset) and deletes the left ones, in txns of at most
 * MAX_OPS_PER_TXN operations (PopulationFlusher), so a client that joins and leaves between two
 * flushes costs no write. Joins, leaves and watched changes (other replicas' joins, leaves, zones
 * and subsets) call the onChange listeners in a microtask, coalesced; setSubset does not.
 * Owned by startLbServer: start() once, close() once (idempotent).
 */
export class ClientPopulation {
  readonly replicaId: string;
  private readonly state: ClientPopulationState;
  private readonly watcher: EtcdRegistryWatcher;
  private readonly listeners: ((services: readonly string[]) => void)[] = [];
  private readonly changed = new Set<string>();
  private notifyScheduled = false;
  private readonly backoff = new BackoffSchedule({ initialMs: 250, maxMs: 3000 });
  private lease: Lease | undefined;
  private leaseId: string | undefined;
  private granting = false;
  private grantTimer: TimerHandle | undefined;
  private readonly flusher: PopulationFlusher;
  private started = false;
  private closed = false;
  private closing: Promise<void> | undefined;

  constructor(private readonly options: ClientPopulationOptions) {
    this.replicaId = options.replicaId;
    this.state = new ClientPopulationState(clientsPrefix(options.prefix), options.replicaId);
    this.watcher = new EtcdRegistryWatcher({
      client: options.client,
      endpoints: options.endpoints,
      prefix: clientsPrefix(options.prefix),
      state: this.state,
      what: 'client record',
      clock: options.clock,
      logger: options.logger,
      onChange: (services) => this.noteChanged(services),
    });
    this.flusher = new PopulationFlusher({
      state: this.state,
      clock: options.clock,
      flushMs: options.flushMs,
      ready: () => this.leaseId !== undefined,
      commit: (ops) => {
        const leaseId = this.leaseId;
        if (leaseId === undefined) return Promise.reject(new Error('no lease'));
        return this.commit(ops, leaseId);
      },
      onFailed: (err, ops) =>
        options.logger.warn(
          {
            event: 'client_population_flush_failed',
            replica: this.replicaId,
            ops: ops.length,
            pending: this.state.pendingCount,
            err: err.message,
          },
          'could not write client records; retrying at the next flush',
        ),
    });
  }

  /** Grants the lease, starts the watch and the flush loop. Idempotent. */
  start(): void {
    if (this.started || this.closed) return;
    this.started = true;
    this.watcher.start();
    this.grant();
    this.flusher.start();
  }

  /** Resolves after the first full read of the clients folder (never rejects). */
  synced(): Promise<void> {
    return this.watcher.synced();
  }

  /**
   * Every client of `service` this replica knows of: the etcd records of all replicas and this
   * replica's local clients (also those not written yet; a local client overrides a record of the
   * same id), sorted by clientId. Synchronous, cheap enough to call on every change.
   */
  clients(service: string): readonly PopulationClient[] {
    return this.state.clients(service);
  }

  /** Services with at least one known client, sorted. */
  services(): string[] {
    return this.state.services();
  }

  /**
   * A local client connected (its stream was accepted). Returns its leave function (idempotent):
   * call it when the stream ends. Several streams with one client id are one record, refcounted.
   */
  join(c: PopulationJoin): () => void {
    if (this.closed) return () => undefined;
    if (this.state.join(c, this.options.clock.now())) this.noteChanged([c.service]);
    let left = false;
    return () => {
      if (left) return;
      left = true;
      if (this.state.leave(c.service, c.clientId)) this.noteChanged([c.service]);
    };
  }

  /**
   * The subset the assignment stage gave a LOCAL client (instance ids); marks its record dirty
   * only when it changed. Does not call the onChange listeners (the caller made the change).
   */
  setSubset(service: string, clientId: string, subset: readonly string[]): void {
    this.state.setSubset(service, clientId, subset);
  }

  /**
   * Adds a listener called (in a microtask, coalesced) with the services whose population
   * changed: local joins and leaves, and other replicas' records as the watch sees them.
   */
  onChange(listener: (services: readonly string[]) => void): void {
    this.listeners.push(listener);
  }

  /**
   * Writes owed to etcd now: dirty records and left clients not yet deleted, including those of
   * the commit in flight (0 means etcd holds exactly this replica's clients).
   */
  pending(): number {
    return this.state.pendingCount + this.flusher.inFlight;
  }

  /** What the flush loop has written so far. */
  writeCounts(): PopulationWrites {
    return this.flusher.writes();
  }

  /** Client records under the folder that failed validation now (key, reason). */
  rejectedRecords(): RejectedRecordInfo[] {
    return this.state.rejectedRecords();
  }

  /**
   * Writes what is owed now, without waiting for the loop (the loop calls it; tests may).
   * Resolves when this flush (or the one in flight) is done; never rejects.
   */
  flush(): Promise<void> {
    return this.flusher.flush();
  }

  /**
   * Stops the flush loop and the watch. Graceful (`revoke`, the default): revokes the lease, so
   * every record of this replica is deleted at once. `revoke: false` releases it instead (as a
   * crash would: the records vanish when the TTL runs out). Idempotent; never rejects.
   */
  close(options: { revoke?: boolean } = {}): Promise<void> {
    return (this.closing ??= (async () => {
      this.closed = true;
      this.grantTimer?.cancel();
      await this.flusher.close();
      await this.watcher.close();
      const lease = this.lease;
      this.lease = undefined;
      this.leaseId = undefined;
      if (!lease) return;
      if (options.revoke === false) {
        lease.release();
        return;
      }
      try {
        await lease.revoke({ deadline: Date.now() + REQUEST_DEADLINE_MS });
        this.options.logger.info(
          { event: 'client_population_revoked', replica: this.replicaId },
          "revoked this replica's lease: its client records are gone",
        );
      } catch (err) {
        this.options.logger.warn(
          { event: 'client_population_revoke_failed', replica: this.replicaId, err: (err as Error).message },
          'could not revoke the lease: the client records expire with its TTL',
        );
        lease.release();
      }
    })());
  }

  private noteChanged(services: readonly string[]): void {
    for (const s of services) this.changed.add(s);
    if (this.notifyScheduled || this.changed.size === 0) return;
    this.notifyScheduled = true;
    queueMicrotask(() => {
      this.notifyScheduled = false;
      if (this.closed) return;
      const list = [...this.changed].sort();
      this.changed.clear();
      for (const l of this.listeners) l(list);
    });
  }

  /** Grants a lease (retrying with backoff); on success every local client is owed a put. */
  private grant(): void {
    if (this.closed || this.granting || this.lease) return;
    this.granting = true;
    const { client, leaseTtlSeconds, logger } = this.options;
    const lease = client.lease(leaseTtlSeconds, { autoKeepAlive: true });
    lease.on('lost', (err) => this.onLost(lease, err));
    lease.grant().then(
      (id) => {
        this.granting = false;
        if (this.closed) {
          void lease.revoke().catch(() => undefined);
          return;
        }
        this.lease = lease;
        this.leaseId = id;
        this.backoff.reset();
        this.state.leaseLost();
        logger.info(
          {
            event: 'client_population_lease',
            replica: this.replicaId,
            lease: id,
            ttlSeconds: leaseTtlSeconds,
          },
          "granted the lease for this replica's client records",
        );
        void this.flush();
      },
      (err: unknown) => {
        this.granting = false;
        lease.release();
        if (this.closed) return;
        // etcd3 refused to try (etcd failed just before): say so, not the breaker's own words.
        const notAttempted = isCircuitOpen(err);
        logger.warn(
          {
            event: 'client_population_lease_failed',
            replica: this.replicaId,
            notAttempted,
            err: notAttempted
              ? 'not attempted: etcd was unreachable and its client waits before trying again'
              : (err as Error).message,
          },
          'could not grant the lease for client records; retrying',
        );
        this.retryGrant();
      },
    );
  }

  private retryGrant(): void {
    if (this.closed || this.grantTimer) return;
    this.grantTimer = this.options.clock.setTimeout(() => {
      this.grantTimer = undefined;
      this.grant();
    }, this.backoff.next());
  }

  private onLost(lease: Lease, err: Error): void {
    if (lease !== this.lease || this.closed) return;
    this.lease = undefined;
    this.leaseId = undefined;
    this.state.leaseLost();
    this.options.logger.warn(
      { event: 'client_population_lease_lost', replica: this.replicaId, err: err.message },
      'lost the lease of the client records; granting a new one and rewriting every local client',
    );
    this.retryGrant();
  }

  /**
   * One txn: the puts on the lease, the deletes only of records still on it (a client that moved
   * to another replica keeps the record that replica wrote). When a delete's guard fails, the
   * ops go one by one.
   */
  private async commit(ops: readonly PopulationOp[], leaseId: string): Promise<number> {
    const { client } = this.options;
    const deadline = { deadline: Date.now() + REQUEST_DEADLINE_MS };
    const build = (op: PopulationOp) =>
      op.kind === 'put' ? client.put(op.key).value(op.value).lease(leaseId) : client.delete().key(op.key);
    const deletes = ops.filter((op) => op.kind === 'delete');
    // A txn needs a comparison: a key's version is always > -1 (0 when absent).
    let txn = client.if(ops[0].key, 'Version', '>', -1);
    for (const d of deletes) txn = txn.and(d.key, 'Lease', '==', leaseId);
    const res = await txn
      .then(...ops.map(build))
      .options(deadline)
      .commit();
    if (res.succeeded) return 1;
    // Some record to delete is not ours (any more): each op alone, deletes guarded.
    for (const op of ops) {
      if (op.kind === 'put') await build(op).options(deadline);
      else
        await client
          .if(op.key, 'Lease', '==', leaseId)
          .then(client.delete().key(op.key))
          .options(deadline)
          .commit();
    }
    return 1 + ops.length;
  }
}

/**
 * The ClientRegistry observer that joins every accepted client (of any frontend) to the
 * population and lets it leave when its stream ends. Added by startLbServer.
 */
export function populationObserver(population: ClientPopulation): ClientActivityObserver {
  /** Leave functions of open streams, by service and client id (refcounted by the population). */
  const open = new Map<string, (() => void)[]>();
  const keyOf = (c: { service: string; clientId: string }): string => `${c.service}\u0000${c.clientId}`;
  return {
    assigned: () => undefined,
    reported: () => undefined,
    connected(identity: ClientIdentity) {
      const leave = population.join({
        service: identity.service,
        clientId: identity.clientId,
        zone: identity.zone,
        protocol: identity.protocol,
      });
      const k = keyOf(identity);
      const list = open.get(k);
      if (list) list.push(leave);
      else open.set(k, [leave]);
    },
    disconnected(last: ClientSnapshot) {
      const k = keyOf(last);
      const list = open.get(k);
      list?.pop()?.();
      if (list && list.length === 0) open.delete(k);
    },
  };
}
