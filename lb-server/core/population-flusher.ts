import { repeatEvery, type Clock, type TimerHandle } from '../../common/clock';
import type { ClientPopulationState, PopulationOp } from './client-population-state';

/** At most this many operations in one etcd txn (etcd's default limit is 128). */
export const MAX_OPS_PER_TXN = 64;
/** At most this many txns per flush: under heavy churn the rest waits for the next flush. */
export const MAX_TXNS_PER_FLUSH = 16;
/** At most this many bytes of keys and values in one txn (etcd refuses requests over 1.5 MiB). */
export const MAX_BYTES_PER_TXN = 512 * 1024;

/** Counters of what the flusher wrote, for the metrics. */
export interface PopulationWrites {
  readonly put: number;
  readonly delete: number;
  /**
   * etcd txns sent for the writes above, each of at most MAX_OPS_PER_TXN operations (a batch
   * whose delete guard failed counts once, and once more for each op sent again alone).
   */
  readonly txns: number;
}

export interface PopulationFlusherOptions {
  readonly state: ClientPopulationState;
  readonly clock: Clock;
  /** How often the owed writes go out, ms. */
  readonly flushMs: number;
  /**
   * Writes one batch atomically (an etcd txn); rejects when it could not. Returns how many
   * commits it took (1, or more when it had to fall back to one op at a time).
   */
  readonly commit: (ops: readonly PopulationOp[]) => Promise<number>;
  /** Whether a commit can be tried now (the lease is granted). */
  readonly ready: () => boolean;
  /** A commit failed: its ops are owed again (called before the next flush may start). */
  readonly onFailed: (err: Error, ops: readonly PopulationOp[]) => void;
  readonly maxOpsPerTxn?: number;
  readonly maxBytesPerTxn?: number;
  readonly maxTxnsPerFlush?: number;
}

/**
 * The population's coalescing write loop: every `flushMs` it takes the writes owed from the state
 * (dirty records, left clients) in batches of at most `maxOpsPerTxn` operations and
 * `maxBytesPerTxn` bytes, at most `maxTxnsPerFlush` of them per flush, and commits them one after
 * the other. A client that joins and leaves within
 * one window is never written; the write rate is bounded by the flush period whatever the churn.
 * One flush at a time. Time comes from the clock; the commit is given (ClientPopulation's etcd
 * txn), so the loop is tested with a fake clock.
 */
export class PopulationFlusher {
  private loop: TimerHandle | undefined;
  private running: Promise<void> | undefined;
  private closed = false;
  private sending = 0;
  private readonly counts = { put: 0, delete: 0, txns: 0 };

  constructor(private readonly options: PopulationFlusherOptions) {}

  /** Starts the periodic flush. Idempotent. */
  start(): void {
    if (this.loop || this.closed) return;
    this.loop = repeatEvery(this.options.clock, this.options.flushMs, () => void this.flush());
  }

  /**
   * Writes what is owed now (the loop calls it; so does ClientPopulation once a lease is granted).
   * Resolves when this flush, or the one in flight, is done; never rejects.
   */
  flush(): Promise<void> {
    if (this.running) return this.running;
    const { state, ready } = this.options;
    if (this.closed || !ready() || state.pendingCount === 0) return Promise.resolve();
    const run = this.run().finally(() => {
      if (this.running === run) this.running = undefined;
    });
    this.running = run;
    return run;
  }

  /** Operations of the commit in flight (taken from the state, not yet confirmed by etcd). */
  get inFlight(): number {
    return this.sending;
  }

  /** What was written so far. */
  writes(): PopulationWrites {
    return { ...this.counts };
  }

  /** Stops the loop; resolves when a flush in flight is done. Idempotent. */
  async close(): Promise<void> {
    this.closed = true;
    this.loop?.cancel();
    await this.running;
  }

  private async run(): Promise<void> {
    const { state, commit, ready, onFailed } = this.options;
    const maxOps = this.options.maxOpsPerTxn ?? MAX_OPS_PER_TXN;
    const maxTxns = this.options.maxTxnsPerFlush ?? MAX_TXNS_PER_FLUSH;
    const maxBytes = this.options.maxBytesPerTxn ?? MAX_BYTES_PER_TXN;
    for (let txn = 0; txn < maxTxns && !this.closed && ready(); txn++) {
      const ops = state.takeFlush(maxOps, maxBytes);
      if (ops.length === 0) return;
      let commits: number;
      this.sending = ops.length;
      try {
        commits = await commit(ops);
      } catch (err) {
        this.sending = 0;
        state.flushFailed(ops);
        onFailed(err instanceof Error ? err : new Error(String(err)), ops);
        return;
      }
      this.sending = 0;
      for (const op of ops) this.counts[op.kind] += 1;
      this.counts.txns += commits;
    }
  }
}
