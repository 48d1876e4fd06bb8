import * as net from 'node:net';
import * as grpc from '@grpc/grpc-js';
import type { Etcd3 } from 'etcd3';
import pino, { type Logger } from 'pino';
import { AdminClient } from '../../../cli/admin-client';
import { installLookaside } from '../../../client-sdk';
import { startGreeterServer, type GreeterServer } from '../../../demo-service';
import { LbServerConfigError, startLbServer, type LbServer } from '../../../lb-server';
import { freePort } from '../../../etcd/etcd-process';
import { DEFAULT_PREFIX, encodeRecordValue, recordKey } from '../../../common/registry-record';
import type { GreeterClient } from '../../../proto/gen/helloworld/Greeter';
import { capturingLogger, type LogEvent } from '../../support/capturing-logger';
import { TestEtcd } from '../../support/etcd';
import { startTcpProxy } from '../../support/tcp-proxy';
import { callMany, greeterClient, sayHello } from '../../support/greeter-load';
import { waitFor } from '../../support/wait-for';
import { BalanceLoadProbe } from './balance-load-probe';

jest.setTimeout(90_000);

const logger = pino({ level: process.env.LOG_LEVEL ?? 'silent' });

async function put(kv: Etcd3, service: string, id: string, address: string): Promise<void> {
  await kv.put(recordKey(DEFAULT_PREFIX, service, id)).value(encodeRecordValue({ address }));
}

function refused(address: string): Promise<boolean> {
  const [host, port] = [address.slice(0, address.lastIndexOf(':')), Number(address.split(':').pop())];
  return new Promise((resolve) => {
    const s = net.connect({ host, port });
    s.once('connect', () => {
      s.destroy();
      resolve(false);
    });
    s.once('error', () => resolve(true));
  });
}

describe('LB server through etcd trouble, replicas and shutdown', () => {
  installLookaside();
  let etcd: TestEtcd;
  const servers: LbServer[] = [];
  const probes: BalanceLoadProbe[] = [];
  const cleanups: Array<() => unknown> = [];

  async function start(lbLogger: Logger = logger): Promise<LbServer> {
    const lb = await startLbServer({ etcd: etcd.endpoints, listen: '127.0.0.1:0', logger: lbLogger });
    servers.push(lb);
    return lb;
  }

  async function greeter(): Promise<GreeterServer> {
    const g = await startGreeterServer({ port: 0 });
    cleanups.push(() => g.forceClose());
    return g;
  }

  /** A greeter client on a lookaside:// target, once a first call through it has succeeded. */
  async function caller(target: string): Promise<GreeterClient> {
    const c = greeterClient(target);
    cleanups.push(() => c.close());
    await waitFor('a first call to succeed', async () => (await sayHello(c)).ok);
    return c;
  }

  function open(lb: LbServer, name: string): BalanceLoadProbe {
    const p = BalanceLoadProbe.open(lb.address, name);
    probes.push(p);
    return p;
  }

  beforeEach(async () => {
    etcd = await TestEtcd.start();
  });

  afterEach(async () => {
    for (const fn of cleanups.splice(0).reverse()) await fn();
    for (const p of probes.splice(0)) p.close();
    await Promise.all(servers.splice(0).map((s) => s.close()));
    await etcd.close();
  });

  it('keeps the last list while etcd is down and converges to etcd once it is back (writes and a compaction right after)', async () => {
    const writer = etcd.client();
    await put(writer, 'svc', 'old', '127.0.0.1:9101');
    await put(writer, 'svc', 'stays', '127.0.0.1:9102');
    const lb = await start();
    await lb.synced();
    const p = open(lb, 'svc');
    await waitFor('both instances', () => p.addresses().length === 2);
    const admin = new AdminClient({ target: lb.address });
    try {
      const member = etcd.cluster.members[0];
      await member.kill('SIGKILL');
      await waitFor('the LB to see etcd gone', async () => !(await admin.listServices()).etcdConnected);
      expect(p.addresses()).toEqual(['127.0.0.1:9101', '127.0.0.1:9102']);
      expect(p.status).toBeUndefined();

      await member.restart();
      // Writes from another client once etcd is back, then a compaction past them.
      const other = etcd.client();
      await other.delete().key(recordKey(DEFAULT_PREFIX, 'svc', 'old'));
      await put(other, 'svc', 'new', '127.0.0.1:9103');
      const { header } = await other.get('any').exec();
      await other.kv.compact({ revision: header.revision, physical: true }).catch(() => undefined);

      await waitFor('the list to converge', () => p.addresses().join() === '127.0.0.1:9102,127.0.0.1:9103', {
        timeoutMs: 30_000,
      });
      await waitFor('etcd connected again', async () => (await admin.listServices()).etcdConnected, {
        timeoutMs: 30_000,
      });
      await put(other, 'svc', 'later', '127.0.0.1:9104');
      await waitFor('a write after the recovery', () => p.addresses().length === 3);
      const versions = p.lists.map((l) => l.version);
      for (let i = 1; i < versions.length; i++) expect(versions[i]).toBeGreaterThan(versions[i - 1]);
    } finally {
      admin.close();
    }
  });

  it('rides out a frozen etcd (SIGSTOP): keeps the list and the stream, then follows writes after it thaws', async () => {
    const log = capturingLogger();
    const [a, b] = [await greeter(), await greeter()];
    const writer = etcd.client();
    await put(writer, 'frozen', 'a', a.address);
    const lb = await start(log.logger);
    await lb.synced();
    const p = open(lb, 'frozen');
    await waitFor('the instance', () => p.addresses().length === 1);
    const calls = await caller(`lookaside://${lb.address}/frozen`);
    const admin = new AdminClient({ target: lb.address });
    cleanups.push(() => admin.close());
    const member = etcd.cluster.members[0];
    member.pause();
    try {
      // The frozen etcd keeps its TCP connections open and answers nothing: only the etcd
      // client's keepalive (a ping every 10 s, 5 s to answer) can tell, within about 15 s.
      const frozenSeen = async (): Promise<boolean> => !(await admin.listServices()).etcdConnected;
      await waitFor('the LB server to see etcd gone', frozenSeen, { timeoutMs: 30_000, intervalMs: 250 });
      // ...and then tries to read everything again, which the frozen etcd cannot answer either.
      await waitFor(
        'a full read against the frozen etcd to fail',
        () => log.events('etcd_sync_failed').some((e) => String(e.err).startsWith('etcd read')),
        { timeoutMs: 15_000 },
      );
      expect((await admin.listServices()).synced).toBe(true);
      expect(p.addresses()).toEqual([a.address]);
      expect(p.status).toBeUndefined();
      expect(await callMany(calls, 50)).toEqual({ byBackend: { [a.address]: 50 }, failures: [] });
    } finally {
      member.resume();
    }
    await waitFor('etcd connected again', async () => (await admin.listServices()).etcdConnected, {
      timeoutMs: 30_000,
      intervalMs: 250,
    });
    // Connected again means read again: the LB server re-synced rather than trusting its old watch.
    expect(log.events('etcd_synced').filter((e) => e.first === false).length).toBeGreaterThan(0);
    await put(writer, 'frozen', 'b', b.address);
    await waitFor('the write after the thaw', () => p.addresses().length === 2);
    const after = await waitFor('calls to reach the instance written after the thaw', async () => {
      const r = await callMany(calls, 10);
      return r.byBackend[b.address] !== undefined ? r : undefined;
    });
    expect(after.failures).toEqual([]);
    expect(p.status).toBeUndefined();
  });

  it('holds a stream opened before the initial sync until then, and sends the real list, not an empty one', async () => {
    const writer = etcd.client();
    await put(writer, 'early', 'a', '127.0.0.1:9301');
    const member = etcd.cluster.members[0];
    await member.kill('SIGKILL');
    const lb = await start();
    const p = open(lb, 'early');
    await waitFor('the initial response', () => p.responses.length === 1);
    expect(p.responses[0].initialResponse).toBeTruthy();
    await member.restart();
    await lb.synced();
    await waitFor('the first list', () => p.lists.length >= 1);
    expect(p.lists[0].servers.map((s) => s.address)).toEqual(['127.0.0.1:9301']);
  });

  it('with three etcd members, keeps watching through the loss of the leader', async () => {
    await etcd.close();
    etcd = await TestEtcd.start({ size: 3 });
    const writer = etcd.client();
    const lb = await start();
    await lb.synced();
    const p = open(lb, 'ha');
    await put(writer, 'ha', 'a', '127.0.0.1:9401');
    await waitFor('the first instance', () => p.addresses().length === 1);
    const leader = await etcd.cluster.leader();
    await leader.kill('SIGKILL');
    await waitFor(
      'a write through the surviving members',
      async () => {
        await writer
          .put(recordKey(DEFAULT_PREFIX, 'ha', 'b'))
          .value(encodeRecordValue({ address: '127.0.0.1:9402' }))
          .options({ deadline: new Date(Date.now() + 2000) });
        return true;
      },
      { timeoutMs: 20_000, intervalMs: 200 },
    );
    await waitFor('the second instance', () => p.addresses().length === 2, { timeoutMs: 30_000 });
  });

  it('gives clients of two replicas the same lists', async () => {
    const writer = etcd.client();
    const [a, b] = [await start(), await start()];
    await Promise.all([a.synced(), b.synced()]);
    const pa = open(a, 'dup');
    const pb = open(b, 'dup');
    for (let i = 0; i < 20; i++) await put(writer, 'dup', `i${i}`, `127.0.0.1:${9200 + i}`);
    await writer.delete().key(recordKey(DEFAULT_PREFIX, 'dup', 'i3'));
    await waitFor(
      'both replicas at 19 instances',
      () => pa.addresses().length === 19 && pb.addresses().length === 19,
    );
    expect(pa.last).toEqual(pb.last);
  });

  it('close() ends streams with UNAVAILABLE, frees the port, and can be called twice', async () => {
    const lb = await start();
    await lb.synced();
    const p = open(lb, 'bye');
    await waitFor('the first list', () => p.lists.length === 1);
    await lb.close();
    await lb.close();
    const status = await waitFor('the stream status', () => p.status);
    expect(status.code).toBe(grpc.status.UNAVAILABLE);
    expect(await refused(lb.address)).toBe(true);
  });
});

/**
 * etcd3's close() leaves a channel that is still CONNECTING open for up to 1 s (its workaround for
 * grpc-node#1487), in which it may dial once more; 3 s leaves room for a busy machine.
 */
const ETCD3_CLOSE_GRACE_MS = 3000;

/** Polls `count` every 20 ms for `ms`; returns when (ms after the start) it grew. Bounded by `ms`. */
async function growthTimes(count: () => number, ms: number): Promise<number[]> {
  const start = Date.now();
  const times: number[] = [];
  let last = count();
  while (Date.now() - start < ms) {
    await new Promise((resolve) => setTimeout(resolve, 20));
    for (const now = count(); last < now; last++) times.push(Date.now() - start);
  }
  return times;
}

describe('LB server with no etcd answering', () => {
  // resolveLbServerConfig's unit test checks every field; this checks that startLbServer applies
  // it, before it binds or dials anything (the etcd endpoint below is never contacted).
  it('rejects an invalid config naming the field', async () => {
    await expect(startLbServer({ etcd: [] })).rejects.toThrow(LbServerConfigError);
    const listen = `127.0.0.1:${await freePort()}`;
    const rejected = startLbServer({ etcd: ['http://127.0.0.1:1'], listen, coalesceMs: -1, logger });
    await expect(rejected).rejects.toMatchObject({ name: 'LbServerConfigError', field: 'coalesceMs' });
    await expect(rejected).rejects.toThrow(/coalesceMs/);
    expect(await refused(listen)).toBe(true);
  });

  it('close() before the initial sync rejects synced() and stops retrying', async () => {
    // A proxy in front of a port nothing listens on: every dial of the LB server's etcd client
    // is counted, and refused.
    const proxy = await startTcpProxy({ host: '127.0.0.1', port: await freePort() });
    const log = capturingLogger();
    const lb = await startLbServer({
      etcd: [`http://${proxy.address}`],
      listen: '127.0.0.1:0',
      logger: log.logger,
    });
    try {
      const dials: number[] = [];
      const failures = (): LogEvent[] => log.events('etcd_sync_failed');
      // The watcher's backoff doubles from 100 ms to its 3 s cap by the 7th failed attempt; from
      // then on the gaps between attempts (and dials) are those of a server that keeps retrying.
      await waitFor(
        "the LB server's retries to reach their steady pace",
        () => {
          while (dials.length < proxy.accepted()) dials.push(Date.now());
          return failures().length >= 7 && dials.length >= 2;
        },
        { timeoutMs: 30_000 },
      );
      const synced = lb.synced();
      await lb.close();
      await expect(synced).rejects.toThrow(/closed before the initial etcd sync/);
      const failuresAtClose = failures().length;
      // An absence can only be seen over a window: etcd3's close grace, then twice the longest gap
      // between dials or failed attempts while it retried, in which a retrying server would dial.
      const longestGap = (times: number[]): number =>
        Math.max(0, ...times.slice(1).map((t, i) => t - times[i]));
      const window = 2 * Math.max(longestGap(dials), longestGap(failures().map((e) => Number(e.time))));
      const dialsAfterClose = await growthTimes(() => proxy.accepted(), ETCD3_CLOSE_GRACE_MS + window);
      expect(dialsAfterClose.filter((t) => t > ETCD3_CLOSE_GRACE_MS)).toEqual([]);
      expect(proxy.open()).toBe(0);
      expect(failures().length).toBe(failuresAtClose);
    } finally {
      await lb.close();
      await proxy.close();
    }
  });
});
