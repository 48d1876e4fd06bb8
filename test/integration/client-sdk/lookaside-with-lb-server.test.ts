import * as grpc from '@grpc/grpc-js';
import pino from 'pino';
import { installLookaside, LookasideChannelOptions } from '../../../client-sdk';
import { startGreeterServer, type GreeterServer } from '../../../demo-service/greeter-server';
import { freePort } from '../../../etcd/etcd-process';
import { startLbServer, type LbServer } from '../../../lb-server';
import { registerService, type Registration } from '../../../registrar';
import type { GreeterClient } from '../../../proto/gen/helloworld/Greeter';
import type { ListClientsResponse__Output } from '../../../proto/gen/lookaside/v1/ListClientsResponse';
import { loadProtos } from '../../../proto/protos';
import { DEFAULT_PREFIX, encodeRecordValue, recordKey } from '../../../common/registry-record';
import { TestEtcd } from '../../support/etcd';
import { callMany, greeterClient, GreeterLoad, sayHello } from '../../support/greeter-load';
import { waitFor } from '../../support/wait-for';

const silent = pino({ level: 'silent' });

/**
 * The end-to-end promises: real etcd, the real LB server, real greeter backends and a real
 * grpc-js channel on a `lookaside://` target.
 */
describe('lookaside:// with the real LB server', () => {
  installLookaside();
  let etcd: TestEtcd;
  let serviceCounter = 0;
  const cleanups: Array<() => unknown> = [];

  beforeAll(async () => {
    etcd = await TestEtcd.start();
  });
  afterEach(async () => {
    for (const fn of cleanups.splice(0).reverse()) await fn();
  });
  afterAll(async () => {
    await etcd.close();
  });

  const newService = () => `greeter-${++serviceCounter}`;

  async function lbServer(listen = '127.0.0.1:0'): Promise<LbServer> {
    const lb = await startLbServer({
      etcd: etcd.endpoints,
      listen,
      coalesceMs: 5,
      clientStatsIntervalMs: 500,
      logger: silent,
    });
    cleanups.push(() => lb.close());
    await lb.synced();
    return lb;
  }

  /** A greeter registered with the registrar. */
  async function instance(
    service: string,
    weight = 100,
  ): Promise<{ greeter: GreeterServer; registration: Registration }> {
    const greeter = await startGreeterServer({ port: 0 });
    cleanups.push(() => greeter.forceClose());
    const registration = await registerService({
      etcd: etcd.endpoints,
      service,
      address: greeter.address,
      weight,
      ttlSeconds: 2,
      logger: silent,
    });
    cleanups.push(() => registration.close());
    return { greeter, registration };
  }

  function client(target: string, options: grpc.ChannelOptions = {}): GreeterClient {
    const c = greeterClient(target, {
      [LookasideChannelOptions.RECONNECT_INITIAL_BACKOFF_MS]: 200,
      [LookasideChannelOptions.RECONNECT_MAX_BACKOFF_MS]: 1000,
      ...options,
    });
    cleanups.push(() => c.close());
    return c;
  }

  /** Starts steady load once a first call has succeeded (the registration has reached the LB). */
  async function load(c: GreeterClient): Promise<GreeterLoad> {
    await waitFor('a first call to succeed', async () => (await sayHello(c)).ok);
    const l = new GreeterLoad(c, { concurrency: 4 });
    cleanups.push(() => l.stop());
    return l;
  }

  test('weights 1:2:3 split 600 calls within 5 points of 1/6, 2/6, 3/6', async () => {
    const service = newService();
    const lb = await lbServer();
    const [a, b, c] = [await instance(service, 1), await instance(service, 2), await instance(service, 3)];
    const cl = client(`lookaside://${lb.address}/${service}`);
    await waitFor('all three backends answering', async () => {
      const r = await callMany(cl, 30);
      return Object.keys(r.byBackend).length === 3;
    });
    const { byBackend, failures } = await callMany(cl, 600);
    expect(failures).toEqual([]);
    const share = (x: { greeter: GreeterServer }) => (byBackend[x.greeter.address] ?? 0) / 600;
    expect(Math.abs(share(a) - 1 / 6)).toBeLessThanOrEqual(0.05);
    expect(Math.abs(share(b) - 2 / 6)).toBeLessThanOrEqual(0.05);
    expect(Math.abs(share(c) - 3 / 6)).toBeLessThanOrEqual(0.05);
  });

  test('a new instance starts taking calls without a client restart', async () => {
    const service = newService();
    const lb = await lbServer();
    const a = await instance(service);
    const cl = client(`lookaside://${lb.address}/${service}`);
    const l = await load(cl);
    await waitFor('a to serve', () => l.servedBy(a.greeter.address) > 20);
    const b = await instance(service);
    await waitFor('b to serve', () => l.servedBy(b.greeter.address) > 20);
    await l.stop();
    expect(l.failures).toEqual([]);
  });

  test('a hard-killed instance stops getting calls once its lease expires, and calls keep succeeding', async () => {
    const service = newService();
    const lb = await lbServer();
    const a = await instance(service);
    // The victim registers through a raw lease so it can die like kill -9: no revoke, no drain.
    const victim = await startGreeterServer({ port: 0 });
    cleanups.push(() => victim.forceClose());
    const admin = etcd.client();
    const lease = admin.lease(2, { autoKeepAlive: true });
    cleanups.push(() => lease.revoke().catch(() => undefined));
    const key = recordKey(DEFAULT_PREFIX, service, 'victim');
    await lease.put(key).value(encodeRecordValue({ address: victim.address }));
    const cl = client(`lookaside://${lb.address}/${service}`);
    const l = await load(cl);
    await waitFor(
      'both to serve',
      () => l.servedBy(a.greeter.address) > 20 && l.servedBy(victim.address) > 20,
    );
    victim.forceClose();
    lease.release(); // the keepalive stops; the record expires with the TTL
    await waitFor('the record to expire', async () => (await admin.get(key).string()) === null, {
      timeoutMs: 15_000,
    });
    const victimServed = l.servedBy(victim.address);
    const aServed = l.servedBy(a.greeter.address);
    await waitFor('a to serve 100 more calls', () => l.servedBy(a.greeter.address) >= aServed + 100);
    await l.stop();
    expect(l.servedBy(victim.address)).toBe(victimServed);
    // Only calls already on the wire when the process died may fail.
    expect(l.failures.length).toBeLessThanOrEqual(4);
    const after = await callMany(cl, 50);
    expect(after).toEqual({ byBackend: { [a.greeter.address]: 50 }, failures: [] });
  });

  test('drain then close during steady load fails no call', async () => {
    const service = newService();
    const lb = await lbServer();
    const a = await instance(service);
    const b = await instance(service);
    const cl = client(`lookaside://${lb.address}/${service}`);
    const l = await load(cl);
    await waitFor(
      'both to serve',
      () => l.servedBy(a.greeter.address) > 20 && l.servedBy(b.greeter.address) > 20,
    );
    await b.registration.drain({ inFlight: () => b.greeter.inFlight(), timeoutMs: 5000 });
    await waitFor('b to get no new calls while a serves 50', async () => {
      const b0 = b.greeter.served();
      const a0 = a.greeter.served();
      await waitFor('a to serve 50 calls', () => a.greeter.served() >= a0 + 50);
      return b.greeter.served() === b0;
    });
    await b.registration.close();
    await b.greeter.close();
    const a1 = a.greeter.served();
    await waitFor('a to serve 100 more calls', () => a.greeter.served() >= a1 + 100);
    await l.stop();
    expect(l.failures).toEqual([]);
  });

  test('an LB server restarted mid-load fails no call, and the client reconnects to it', async () => {
    const service = newService();
    const lb = await lbServer();
    const a = await instance(service);
    const cl = client(`lookaside://${lb.address}/${service}`);
    const l = await load(cl);
    await waitFor('a to serve', () => l.servedBy(a.greeter.address) > 20);
    await lb.close();
    const down = l.servedBy(a.greeter.address);
    await waitFor(
      'calls to keep succeeding while the LB server is down',
      () => l.servedBy(a.greeter.address) > down + 100,
    );
    await lbServer(lb.address);
    const b = await instance(service);
    await waitFor('the reconnected client to send calls to b', () => l.servedBy(b.greeter.address) > 20, {
      timeoutMs: 15_000,
    });
    await l.stop();
    expect(l.failures).toEqual([]);
  });

  test('with two LB replicas, losing one fails no call and the client follows the other', async () => {
    const service = newService();
    const [lbA, lbB] = [await lbServer(), await lbServer()];
    const a = await instance(service);
    const cl = client(`lookaside://${lbA.address},${lbB.address}/${service}`);
    const l = await load(cl);
    await waitFor('a to serve', () => l.servedBy(a.greeter.address) > 20);
    await lbA.close();
    const b = await instance(service);
    await waitFor('b, registered after the loss, to serve', () => l.servedBy(b.greeter.address) > 20, {
      timeoutMs: 15_000,
    });
    await l.stop();
    expect(l.failures).toEqual([]);
  });

  test('the LB server sees the client (id and zone) and its per-backend call counts', async () => {
    const service = newService();
    const lb = await lbServer();
    const a = await instance(service);
    const cl = client(`lookaside://${lb.address}/${service}`, {
      [LookasideChannelOptions.CLIENT_ID]: 'stats-client',
      [LookasideChannelOptions.ZONE]: 'zone-a',
    });
    await waitFor('a first call to succeed', async () => (await sayHello(cl)).ok);
    expect((await callMany(cl, 50)).failures).toEqual([]);
    const admin = new (loadProtos().admin.Admin)(lb.address, grpc.credentials.createInsecure());
    cleanups.push(() => admin.close());
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
  });

  test('with the LB server down at start-up, fallback addresses serve until it answers', async () => {
    const service = newService();
    const port = await freePort();
    const fallback = await startGreeterServer({ port: 0 });
    cleanups.push(() => fallback.forceClose());
    const cl = client(`lookaside://127.0.0.1:${port}/${service}`, {
      [LookasideChannelOptions.STARTUP_TIMEOUT_MS]: 500,
      [LookasideChannelOptions.FALLBACK_ADDRESSES]: fallback.address,
    });
    expect(await callMany(cl, 20)).toEqual({ byBackend: { [fallback.address]: 20 }, failures: [] });
    const b = await instance(service);
    await lbServer(`127.0.0.1:${port}`);
    await waitFor(
      'calls to move to the registered instance',
      async () => {
        const r = await callMany(cl, 10);
        return r.byBackend[b.greeter.address] === 10;
      },
      { timeoutMs: 15_000 },
    );
  });

  test('an unknown service fails fast with UNAVAILABLE and a message naming it', async () => {
    const lb = await lbServer();
    const cl = client(`lookaside://${lb.address}/no-such-service`);
    const started = Date.now();
    const r = await sayHello(cl, { deadlineMs: 20_000 });
    expect(r).toMatchObject({ ok: false, code: grpc.status.UNAVAILABLE });
    expect(r.ok ? '' : r.details).toContain('"no-such-service"');
    // Well before the 5 s start-up timeout: the LB server's empty list answered it.
    expect(Date.now() - started).toBeLessThan(5000);
  });
});
