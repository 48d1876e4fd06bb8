import type { Etcd3 } from 'etcd3';
import pino, { type Logger } from 'pino';
import type { EtcdOptions } from '../../../etcd/etcd-process';
import { startLbServer, type LbServer } from '../../../lb-server';
import { DEFAULT_PREFIX, encodeRecordValue, recordKey } from '../../../common/registry-record';
import { TestEtcd } from '../../support/etcd';
import { BalanceLoadProbe } from './balance-load-probe';

const silent = pino({ level: process.env.LOG_LEVEL ?? 'silent' });

/** Writes the registry record of `service`/`id` at `address`. */
export async function put(kv: Etcd3, service: string, id: string, address: string): Promise<void> {
  await kv.put(recordKey(DEFAULT_PREFIX, service, id)).value(encodeRecordValue({ address }));
}

/** What the resilience tests share: each test gets its own etcd, to kill, freeze or replace. */
export interface ResilienceHarness {
  /** This test's etcd (one member unless replaced). */
  readonly etcd: TestEtcd;
  /** Closes this test's etcd and starts another, e.g. `{ size: 3 }`. */
  replaceEtcd(options: EtcdOptions): Promise<void>;
  /** An LB server on this test's etcd, listening on a free port; silent unless given a logger. */
  start(logger?: Logger): Promise<LbServer>;
  /** A BalanceLoad stream for `name` on `lb`. */
  open(lb: LbServer, name: string): BalanceLoadProbe;
  /** Runs `fn` after the test, before probes, LB servers and etcd close; the last deferred first. */
  defer(fn: () => unknown): void;
}

/**
 * Registers beforeEach/afterEach in the calling describe: a fresh etcd before each test; after it,
 * the deferred clean-ups, the probes, the LB servers and etcd are closed, in that order.
 */
export function useResilienceHarness(): ResilienceHarness {
  let etcd: TestEtcd | undefined;
  const servers: LbServer[] = [];
  const probes: BalanceLoadProbe[] = [];
  const cleanups: Array<() => unknown> = [];
  const current = (): TestEtcd => {
    if (!etcd) throw new Error('the resilience harness has no etcd outside a test');
    return etcd;
  };

  beforeEach(async () => {
    etcd = await TestEtcd.start();
  });

  afterEach(async () => {
    for (const fn of cleanups.splice(0).reverse()) await fn();
    for (const p of probes.splice(0)) p.close();
    await Promise.all(servers.splice(0).map((s) => s.close()));
    await etcd?.close();
    etcd = undefined;
  });

  return {
    get etcd() {
      return current();
    },
    async replaceEtcd(options) {
      await current().close();
      etcd = await TestEtcd.start(options);
    },
    async start(logger = silent) {
      const lb = await startLbServer({ etcd: current().endpoints, listen: '127.0.0.1:0', logger });
      servers.push(lb);
      return lb;
    },
    open(lb, name) {
      const p = BalanceLoadProbe.open(lb.address, name);
      probes.push(p);
      return p;
    },
    defer(fn) {
      cleanups.push(fn);
    },
  };
}
