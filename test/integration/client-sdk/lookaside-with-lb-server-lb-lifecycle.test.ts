import * as grpc from '@grpc/grpc-js';
import { LookasideChannelOptions } from '../../../client-sdk';
import pino from 'pino';
import { startGreeterServer } from '../../../demo-service';
import { startLbServer } from '../../../lb-server';
import { freePort } from '../../../etcd/etcd-process';
import type { ListClientsResponse__Output } from '../../../proto/gen/lookaside/v1/ListClientsResponse';
import { loadProtos } from '../../../proto/protos';
import { callMany, sayHello } from '../../support/greeter-load';
import { scrapeMetric } from '../../support/scrape-metric';
import { waitFor } from '../../support/wait-for';
import { useLookasideWithLbServer } from './lookaside-with-lb-server-harness';

/**
 * The end-to-end promises, LB server side: restarts, replicas, the admin view of clients,
 * an LB server down at start-up and an unknown service. The backend side is in
 * lookaside-with-lb-server-backends.test.ts.
 */
describe('lookaside:// with the real LB server: LB restarts, replicas, stats and start-up', () => {
  const h = useLookasideWithLbServer();

  test('an LB server restarted mid-load fails no call, and the client reconnects to it', async () => {
    const service = h.newService();
    const lb = await h.lbServer();
    const a = await h.instance(service);
    const cl = h.client(`lookaside://${lb.address}/${service}`);
    const l = await h.load(cl);
    await waitFor('a to serve', () => l.servedBy(a.greeter.address) > 20);
    await lb.close();
    const down = l.servedBy(a.greeter.address);
    await waitFor(
      'calls to keep succeeding while the LB server is down',
      () => l.servedBy(a.greeter.address) > down + 100,
    );
    await h.lbServer(lb.address);
    const b = await h.instance(service);
    await waitFor('the reconnected client to send calls to b', () => l.servedBy(b.greeter.address) > 20, {
      timeoutMs: 15_000,
    });
    await l.stop();
    expect(l.failures).toEqual([]);
  });

  test('with two LB replicas, losing one fails no call and the client follows the other', async () => {
    const service = h.newService();
    const [lbA, lbB] = [await h.lbServer(), await h.lbServer()];
    const a = await h.instance(service);
    const cl = h.client(`lookaside://${lbA.address},${lbB.address}/${service}`);
    const l = await h.load(cl);
    await waitFor('a to serve', () => l.servedBy(a.greeter.address) > 20);
    await lbA.close();
    const b = await h.instance(service);
    await waitFor('b, registered after the loss, to serve', () => l.servedBy(b.greeter.address) > 20, {
      timeoutMs: 15_000,
    });
    await l.stop();
    expect(l.failures).toEqual([]);
  });

  test('the LB server sees the client (id and zone) and its per-backend call counts', async () => {
    const service = h.newService();
    const lb = await h.lbServer();
    const a = await h.instance(service);
    const cl = h.client(`lookaside://${lb.address}/${service}`, {
      [LookasideChannelOptions.CLIENT_ID]: 'stats-client',
      [LookasideChannelOptions.ZONE]: 'zone-a',
    });
    await waitFor('a first call to succeed', async () => (await sayHello(cl)).ok);
    expect((await callMany(cl, 50)).failures).toEqual([]);
    const admin = new (loadProtos().admin.Admin)(lb.address, grpc.credentials.createInsecure());
    h.defer(() => admin.close());
    const listClients = () =>
      new Promise<ListClientsResponse__Output>((resolve, reject) =>
        admin.ListClients({ service }, (err, res) => (err || !res ? reject(err) : resolve(res))),
      );
    const info = await waitFor('the LB server to hold all 51 calls', async () => {
      const c = (await listClients()).clients.find((x) => x.clientId === 'stats-client');
      const s = c?.stats.find((x) => x.address === a.greeter.address);
      return s && Number(s.callsSucceeded) >= 51 ? c : undefined;
    });
    expect(info.zone).toBe('zone-a');
    expect(info.protocol).toBe('lookaside.v1');

    // Failures are reported by status code, so the LB server can tell backend faults from app errors.
    a.greeter.setFailureRate(1);
    expect((await callMany(cl, 10)).failures).toHaveLength(10);
    await waitFor('10 INTERNAL failures in the admin view', async () => {
      const c = (await listClients()).clients.find((x) => x.clientId === 'stats-client');
      const s = c?.stats.find((x) => x.address === a.greeter.address);
      return (
        s?.failedByStatus.some((f) => f.code === grpc.status.INTERNAL && Number(f.count) === 10) ?? false
      );
    });
  });

  test('a client that closes before its first report interval still has its calls counted by the LB server', async () => {
    const service = h.newService();
    // Reports every 10 minutes: only the flush on close can bring these counts in time.
    const lb = await startLbServer({
      etcd: h.etcd.endpoints,
      listen: '127.0.0.1:0',
      clientStatsIntervalMs: 600_000,
      metricsListen: '127.0.0.1:0',
      logger: pino({ level: 'silent' }),
    });
    h.defer(() => lb.close());
    await lb.synced();
    const a = await h.instance(service);
    const cl = h.client(`lookaside://${lb.address}/${service}`);
    await waitFor('a first call to succeed', async () => (await sayHello(cl)).ok);
    expect((await callMany(cl, 6)).failures).toEqual([]);
    const series = `lookaside_client_calls_total{service="${service}",backend="${a.greeter.address}",result="succeeded"}`;
    expect(await scrapeMetric(lb.metricsAddress ?? '', series)).toBe(0); // nothing reported yet
    cl.close();
    await waitFor(
      'the LB server to count the 7 calls',
      async () => (await scrapeMetric(lb.metricsAddress ?? '', series)) === 7,
    );
  });

  test('with the LB server down at start-up, fallback addresses serve until it answers', async () => {
    const service = h.newService();
    const port = await freePort();
    const fallback = await startGreeterServer({ port: 0 });
    h.defer(() => fallback.forceClose());
    const cl = h.client(`lookaside://127.0.0.1:${port}/${service}`, {
      [LookasideChannelOptions.STARTUP_TIMEOUT_MS]: 500,
      [LookasideChannelOptions.FALLBACK_ADDRESSES]: fallback.address,
    });
    expect(await callMany(cl, 20)).toEqual({ byBackend: { [fallback.address]: 20 }, failures: [] });
    const b = await h.instance(service);
    await h.lbServer(`127.0.0.1:${port}`);
    await waitFor(
      'calls to move to the registered instance',
      async () => {
        const r = await callMany(cl, 10);
        return r.byBackend[b.greeter.address] === 10;
      },
      { timeoutMs: 15_000 },
    );
  });

  test('an LB server that cannot reach etcd: calls fail at the start-up timeout saying it answered but has no list', async () => {
    const service = h.newService();
    const lb = await startLbServer({
      etcd: [`http://127.0.0.1:${await freePort()}`],
      listen: '127.0.0.1:0',
      logger: pino({ level: 'silent' }),
    });
    h.defer(() => lb.close());
    const cl = h.client(`lookaside://${lb.address}/${service}`, {
      [LookasideChannelOptions.STARTUP_TIMEOUT_MS]: 500,
    });
    const r = await sayHello(cl, { deadlineMs: 10_000 });
    expect(r).toMatchObject({ ok: false, code: grpc.status.UNAVAILABLE });
    const details = r.ok ? '' : r.details;
    expect(details).toContain(`LB server ${lb.address} answered but has no server list yet`);
    expect(details).toContain('can it reach etcd?');
    expect(details).not.toMatch(/no LB server answered|no attempt yet/);
  });

  test('an unknown service fails fast with UNAVAILABLE and a message naming it', async () => {
    const lb = await h.lbServer();
    const cl = h.client(`lookaside://${lb.address}/no-such-service`);
    const started = Date.now();
    const r = await sayHello(cl, { deadlineMs: 20_000 });
    expect(r).toMatchObject({ ok: false, code: grpc.status.UNAVAILABLE });
    expect(r.ok ? '' : r.details).toContain('"no-such-service"');
    // Well before the 5 s start-up timeout: the LB server's empty list answered it.
    expect(Date.now() - started).toBeLessThan(5000);
  });
});
