import * as grpc from '@grpc/grpc-js';
import type { Etcd3 } from 'etcd3';
import pino from 'pino';
import { AdminCallError, AdminClient } from '../../../cli/admin-client';
import { startLbServer, type LbServer } from '../../../lb-server';
import { DEFAULT_PREFIX, encodeRecordValue, recordKey } from '../../../common/registry-record';
import { TestEtcd } from '../../support/etcd';
import { scrapeMetric } from '../../support/scrape-metric';
import { waitFor } from '../../support/wait-for';
import { BalanceLoadProbe } from './balance-load-probe';

const logger = pino({ level: process.env.LOG_LEVEL ?? 'silent' });
const TOKEN = 'adm1n-s3cret';

async function callError(p: Promise<unknown>): Promise<AdminCallError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof AdminCallError) return err;
    throw err;
  }
  throw new Error('expected the call to fail');
}

describe('LB server Admin service', () => {
  let etcd: TestEtcd;
  let kv: Etcd3;
  let lb: LbServer;
  const closers: Array<() => void> = [];

  const admin = (token = TOKEN): AdminClient => {
    const c = new AdminClient({ target: lb.address, token });
    closers.push(() => c.close());
    return c;
  };

  beforeAll(async () => {
    etcd = await TestEtcd.start();
    kv = etcd.client();
    lb = await startLbServer({
      etcd: etcd.endpoints,
      listen: '127.0.0.1:0',
      adminToken: TOKEN,
      clientStatsIntervalMs: 100,
      metricsListen: '127.0.0.1:0',
      logger,
    });
    await lb.synced();
  });

  afterEach(() => {
    for (const c of closers.splice(0)) c();
  });

  afterAll(async () => {
    await lb?.close();
    await etcd?.close();
  });

  it('rejects calls without the bearer token, or with a wrong one, as UNAUTHENTICATED', async () => {
    expect((await callError(admin('').listServices())).code).toBe(grpc.status.UNAUTHENTICATED);
    expect((await callError(admin('wrong').listServices())).code).toBe(grpc.status.UNAUTHENTICATED);
    expect((await callError(admin('wrong').getService('x'))).code).toBe(grpc.status.UNAUTHENTICATED);
    await expect(admin().listServices()).resolves.toMatchObject({ synced: true, etcdConnected: true });
  });

  it('shows endpoints with effective weights and rejected records with key and reason', async () => {
    await kv
      .put(recordKey(DEFAULT_PREFIX, 'shop', 'a'))
      .value(encodeRecordValue({ address: '127.0.0.1:8001', weight: 20, zone: 'z1' }));
    await kv
      .put(recordKey(DEFAULT_PREFIX, 'shop', 'b'))
      .value(encodeRecordValue({ address: '127.0.0.1:8002', draining: true }));
    await kv.put(recordKey(DEFAULT_PREFIX, 'shop', 'broken')).value('{"address":"127.0.0.1"}');
    const c = admin();
    const svc = await waitFor('the service with its rejected record', async () => {
      const r = await c.getService('shop');
      return r.endpoints.length === 2 && r.rejected.length === 1 ? r : undefined;
    });
    expect(svc.version).toBeGreaterThan(0);
    expect(svc.endpoints).toEqual([
      expect.objectContaining({
        instanceId: 'a',
        weight: 20,
        effectiveWeight: 20,
        zone: 'z1',
        format: 'lookaside',
      }),
      expect.objectContaining({ instanceId: 'b', weight: 100, effectiveWeight: 0, draining: true }),
    ]);
    expect(svc.endpoints[0].modRevision).toBeGreaterThan(0);
    expect(svc.rejected[0]).toMatchObject({
      key: `${DEFAULT_PREFIX}/shop/broken`,
      reason: expect.stringMatching(/no port/),
    });
    const list = await c.listServices();
    expect(list.services.find((s) => s.name === 'shop')).toMatchObject({
      endpoints: 2,
      servingEndpoints: 1,
      drainingEndpoints: 1,
      rejectedRecords: 1,
    });
  });

  it("shows each endpoint's etcd lease id exactly, as the decimal string etcdctl takes", async () => {
    const lease = kv.lease(60, { autoKeepAlive: false });
    closers.push(() => void lease.revoke().catch(() => undefined));
    await lease
      .put(recordKey(DEFAULT_PREFIX, 'leased', 'a'))
      .value(encodeRecordValue({ address: '127.0.0.1:8021' }));
    const id = await lease.grant();
    // etcd's lease ids are random 63-bit values: as a JS number they would lose their last digits.
    expect(Number.isSafeInteger(Number(id))).toBe(false);
    const svc = await waitFor('the leased endpoint', async () => {
      const r = await admin().getService('leased');
      return r.endpoints.length === 1 ? r : undefined;
    });
    expect(svc.endpoints[0].lease).toBe(id);
    // `lookaside admin service --json` prints the answer with JSON.stringify: still every digit.
    expect(JSON.parse(JSON.stringify(svc)).endpoints[0].lease).toBe(id);
    await kv
      .put(recordKey(DEFAULT_PREFIX, 'leased', 'b'))
      .value(encodeRecordValue({ address: '127.0.0.1:8022' }));
    const unleased = await waitFor('the endpoint without a lease', async () =>
      (await admin().getService('leased')).endpoints.find((e) => e.instanceId === 'b'),
    );
    expect(unleased.lease).toBe('0');
  });

  it('shows records whose key names no valid service in ListServices, with key and reason', async () => {
    await kv.put(`${DEFAULT_PREFIX}/bad name/x`).value('{"address":"127.0.0.1:9"}');
    await kv.put(`${DEFAULT_PREFIX}/_x/y`).value('{}');
    const list = await waitFor('the records outside any service', async () => {
      const r = await admin().listServices();
      return r.unattributedRejected.length === 2 ? r : undefined;
    });
    expect(list.unattributedRejected.map((r) => r.key)).toEqual([
      `${DEFAULT_PREFIX}/_x/y`,
      `${DEFAULT_PREFIX}/bad name/x`,
    ]);
    expect(list.unattributedRejected.every((r) => r.reason.length > 0 && r.modRevision > 0)).toBe(true);
    expect(list.rejectedRecords).toBeGreaterThanOrEqual(2);
    await kv.delete().key(`${DEFAULT_PREFIX}/bad name/x`);
    await kv.delete().key(`${DEFAULT_PREFIX}/_x/y`);
    await waitFor('the records gone from the view once deleted', async () => {
      const r = await admin().listServices();
      return r.unattributedRejected.length === 0;
    });
  });

  it('answers INVALID_ARGUMENT for an invalid service name', async () => {
    const c = admin();
    expect((await callError(c.getService('no/such name'))).code).toBe(grpc.status.INVALID_ARGUMENT);
    expect((await callError(c.getAssignment(''))).code).toBe(grpc.status.INVALID_ARGUMENT);
    expect((await callError(c.listClients('a b'))).code).toBe(grpc.status.INVALID_ARGUMENT);
  });

  it('records ClientStats and shows them, with each client assignment, in ListClients and GetAssignment', async () => {
    await kv
      .put(recordKey(DEFAULT_PREFIX, 'stats', 'a'))
      .value(encodeRecordValue({ address: '127.0.0.1:8101' }));
    const probe = BalanceLoadProbe.open(lb.address, 'stats', 'client-7', 'zone-q');
    closers.push(() => probe.close());
    await waitFor('the list', () => probe.addresses().length === 1);
    const backend = {
      address: '127.0.0.1:8101',
      callsStarted: 5,
      callsSucceeded: 4,
      callsFailed: 1,
      latencyMsSum: 12.5,
    };
    probe.send({ clientStats: { backends: [backend] } });
    probe.send({ clientStats: { backends: [backend] } });
    const c = admin();
    const info = await waitFor('the accumulated stats', async () => {
      const r = await c.listClients('stats');
      return r.clients[0]?.stats[0]?.callsStarted === 10 ? r.clients[0] : undefined;
    });
    expect(info).toMatchObject({
      clientId: 'client-7',
      service: 'stats',
      zone: 'zone-q',
      protocol: 'lookaside.v1',
      assignedVersion: probe.last?.version,
      stats: [
        { address: '127.0.0.1:8101', callsStarted: 10, callsSucceeded: 8, callsFailed: 2, latencyMsSum: 25 },
      ],
    });
    expect(info.lastStatsAtMs).toBeGreaterThan(0);
    expect(info.peer).toMatch(/127\.0\.0\.1/);

    const a = await c.getAssignment('stats', 'client-7');
    expect(a.current?.servers.map((s) => s.address)).toEqual(['127.0.0.1:8101']);
    expect(a.clients).toHaveLength(1);
    expect(a.clients[0].serverList).toEqual(probe.last);
    expect((await callError(c.getAssignment('stats', 'nobody'))).code).toBe(grpc.status.NOT_FOUND);

    probe.close();
    await waitFor('the client to be gone', async () => (await c.listClients('stats')).clients.length === 0);
  });

  it('lists a service that a client asked for before anyone registered it', async () => {
    const probe = BalanceLoadProbe.open(lb.address, 'wanted');
    closers.push(() => probe.close());
    await waitFor('the empty list', () => probe.lists.length === 1);
    const r = await admin().listServices();
    expect(r.services.find((s) => s.name === 'wanted')).toMatchObject({
      version: 0,
      endpoints: 0,
      clients: 1,
    });
  });

  it('drops a service whose records are all gone once no client subscribes to it', async () => {
    const key = recordKey(DEFAULT_PREFIX, 'ephemeral', 'a');
    await kv.put(key).value(encodeRecordValue({ address: '127.0.0.1:8009' }));
    const probe = BalanceLoadProbe.open(lb.address, 'ephemeral');
    closers.push(() => probe.close());
    await waitFor('the list with the instance', () => probe.lists.some((l) => l.servers.length === 1));
    await kv.delete().key(key);
    await waitFor('the empty list', () => probe.lists.at(-1)?.servers.length === 0);
    const listed = async (): Promise<boolean> =>
      (await admin().listServices()).services.some((s) => s.name === 'ephemeral');
    expect(await listed()).toBe(true); // a client still subscribes
    probe.close();
    await waitFor('the service to leave ListServices', async () => !(await listed()));
  });

  it('admin and metrics agree on what serves: weight 0 and draining are out in both, with the reasons', async () => {
    await kv
      .put(recordKey(DEFAULT_PREFIX, 'agree', 's'))
      .value(encodeRecordValue({ address: '127.0.0.1:9101' }));
    await kv
      .put(recordKey(DEFAULT_PREFIX, 'agree', 'z'))
      .value(encodeRecordValue({ address: '127.0.0.1:9102', weight: 0 }));
    await kv
      .put(recordKey(DEFAULT_PREFIX, 'agree', 'd'))
      .value(encodeRecordValue({ address: '127.0.0.1:9103', draining: true }));
    const a = admin();
    const summary = await waitFor('the three endpoints in the admin view', async () => {
      const r = await a.listServices();
      return r.services.find((x) => x.name === 'agree' && x.endpoints === 3);
    });
    const metric = (state: string): Promise<number> =>
      scrapeMetric(lb.metricsAddress ?? '', `lookaside_endpoints{service="agree",state="${state}"}`);
    expect(summary.servingEndpoints).toBe(1);
    expect(await metric('serving')).toBe(summary.servingEndpoints);
    expect(summary.drainingEndpoints).toBe(1);
    expect(await metric('draining')).toBe(summary.drainingEndpoints);
    expect(await metric('weight-0')).toBe(1);
    const svc = await a.getService('agree');
    expect(svc.endpoints.map((e) => [e.instanceId, e.eligible, e.reasons])).toEqual([
      ['d', false, ['draining']],
      ['s', true, []],
      ['z', false, ['weight-0']],
    ]);
  });
});
