import * as net from 'node:net';
import * as grpc from '@grpc/grpc-js';
import pino from 'pino';
import { LbServerConfigError, startLbServer } from '../../../lb-server';
import { freePort } from '../../../etcd/etcd-process';
import { DEFAULT_PREFIX, recordKey } from '../../../common/registry-record';
import { capturingLogger, type LogEvent } from '../../support/capturing-logger';
import { startTcpProxy } from '../../support/tcp-proxy';
import { waitFor } from '../../support/wait-for';
import { put, useResilienceHarness } from './resilience-harness';

// "stops retrying" watches the etcd client retry, then a window after close().
jest.setTimeout(90_000);

const logger = pino({ level: process.env.LOG_LEVEL ?? 'silent' });

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

/** The second half of the LB server's resilience tests (see resilience-etcd-outages). */
describe('LB server replicas, start-up and shutdown', () => {
  const h = useResilienceHarness();

  it('holds a stream opened before the initial sync until then, and sends the real list, not an empty one', async () => {
    const writer = h.etcd.client();
    await put(writer, 'early', 'a', '127.0.0.1:9301');
    const member = h.etcd.cluster.members[0];
    await member.kill('SIGKILL');
    const lb = await h.start();
    const p = h.open(lb, 'early');
    await waitFor('the initial response', () => p.responses.length === 1);
    expect(p.responses[0].initialResponse).toBeTruthy();
    await member.restart();
    await lb.synced();
    await waitFor('the first list', () => p.lists.length >= 1);
    expect(p.lists[0].servers.map((s) => s.address)).toEqual(['127.0.0.1:9301']);
  });

  it('gives clients of two replicas the same lists', async () => {
    const writer = h.etcd.client();
    const [a, b] = [await h.start(), await h.start()];
    await Promise.all([a.synced(), b.synced()]);
    const pa = h.open(a, 'dup');
    const pb = h.open(b, 'dup');
    for (let i = 0; i < 20; i++) await put(writer, 'dup', `i${i}`, `127.0.0.1:${9200 + i}`);
    await writer.delete().key(recordKey(DEFAULT_PREFIX, 'dup', 'i3'));
    await waitFor(
      'both replicas at 19 instances',
      () => pa.addresses().length === 19 && pb.addresses().length === 19,
    );
    expect(pa.last).toEqual(pb.last);
  });

  it('close() ends streams with UNAVAILABLE, frees the port, and can be called twice', async () => {
    const lb = await h.start();
    await lb.synced();
    const p = h.open(lb, 'bye');
    await waitFor('the first list', () => p.lists.length === 1);
    await lb.close();
    await lb.close();
    const status = await waitFor('the stream status', () => p.status);
    expect(status.code).toBe(grpc.status.UNAVAILABLE);
    expect(await refused(lb.address)).toBe(true);
  });
});

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

  it('without etcd from the start, logs that it has no registry state yet, not a last known state nor a circuit breaker', async () => {
    const log = capturingLogger();
    const lb = await startLbServer({
      etcd: [`http://127.0.0.1:${await freePort()}`],
      listen: '127.0.0.1:0',
      logger: log.logger,
    });
    try {
      // Attempts 1-4 come within about 1 s (backoff 100, 200, 400 ms); etcd3's breaker opens after the first.
      await waitFor('four failed attempts', () => log.events('etcd_sync_failed').length >= 4);
      const failures = log.events('etcd_sync_failed');
      // The registry's watch says what it lacks; the other watches (overrides, clients, config)
      // log etcd_watch_sync_failed, each naming its own.
      for (const e of failures) {
        expect(e).toMatchObject({ step: 'read', synced: false, prefix: '/lookaside/services/' });
        expect(String(e.msg)).toContain('no registry state yet');
      }
      await waitFor('the overrides watch fails too', () =>
        log.events('etcd_watch_sync_failed').some((e) => e.prefix === '/lookaside/overrides/'),
      );
      expect(log.lines.filter((l) => /last known state|circuit breaker/i.test(l))).toEqual([]);
      // The first attempt reached the network and says how it failed.
      expect(String(failures[0].err)).toMatch(/ECONNREFUSED/);
      // An attempt etcd3 held back carries the last failure it really saw.
      for (const e of failures.filter((x) => String(x.err).includes('not attempted'))) {
        expect(String(e.lastFailure)).toMatch(/ECONNREFUSED/);
      }
    } finally {
      await lb.close();
    }
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
