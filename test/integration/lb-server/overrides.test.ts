import * as grpc from '@grpc/grpc-js';
import type { Etcd3 } from 'etcd3';
import pino from 'pino';
import { AdminCallError, AdminClient } from '../../../cli/admin-client';
import { startLbServer, type LbServer } from '../../../lb-server';
import { DEFAULT_PREFIX, encodeRecordValue, recordKey } from '../../../common/registry-record';
import { overrideKey } from '../../../common/override-record';
import { CLUSTER_LOAD_ASSIGNMENT_TYPE_URL } from '../../../lb-server/frontends/xds/xds-resources';
import { AdsProbe } from '../../support/ads-probe';
import { TestEtcd } from '../../support/etcd';
import { scrapeMetric } from '../../support/scrape-metric';
import { waitFor } from '../../support/wait-for';
import { BalanceLoadProbe } from './balance-load-probe';

const logger = pino({ level: process.env.LOG_LEVEL ?? 'silent' });
const TOKEN = 'ov3rride-t0ken';

async function callError(p: Promise<unknown>): Promise<AdminCallError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof AdminCallError) return err;
    throw err;
  }
  throw new Error('expected the call to fail');
}

/** The weight of `address` in the probe's last list (undefined: not in it). */
function weightOf(probe: BalanceLoadProbe, address: string): number | undefined {
  return probe.last?.servers.find((s) => s.address === address)?.weight;
}

describe('operator overrides (etcd, Admin API, every frontend, every replica)', () => {
  let etcd: TestEtcd;
  let kv: Etcd3;
  let lb: LbServer;
  let lb2: LbServer;
  const closers: Array<{ close(): void }> = [];

  const admin = (token = TOKEN, target = lb.address): AdminClient => {
    const c = new AdminClient({ target, token });
    closers.push(c);
    return c;
  };
  const register = (service: string, id: string, address: string, weight = 100): Promise<unknown> =>
    kv
      .put(recordKey(DEFAULT_PREFIX, service, id))
      .value(encodeRecordValue({ address, weight }))
      .exec();
  const probe = (target: string, service: string): BalanceLoadProbe => {
    const p = BalanceLoadProbe.open(target, service);
    closers.push(p);
    return p;
  };

  beforeAll(async () => {
    etcd = await TestEtcd.start();
    kv = etcd.client();
    const config = {
      etcd: etcd.endpoints,
      listen: '127.0.0.1:0',
      adminToken: TOKEN,
      healthChecks: false,
      metricsListen: '127.0.0.1:0',
      logger,
    };
    [lb, lb2] = await Promise.all([startLbServer(config), startLbServer(config)]);
    await Promise.all([lb.synced(), lb2.synced()]);
  });

  afterEach(() => {
    for (const c of closers.splice(0)) c.close();
  });

  afterAll(async () => {
    await lb?.close();
    await lb2?.close();
    kv?.close();
    await etcd?.close();
  });

  it('requires the admin token for SetOverride, ClearOverride and ListOverrides', async () => {
    const set = { service: 'tok', instanceId: 'a', draining: true, reason: 'x' };
    expect((await callError(admin('').setOverride(set))).code).toBe(grpc.status.UNAUTHENTICATED);
    expect((await callError(admin('wrong').setOverride(set))).code).toBe(grpc.status.UNAUTHENTICATED);
    expect((await callError(admin('').clearOverride('tok', 'a'))).code).toBe(grpc.status.UNAUTHENTICATED);
    expect((await callError(admin('').listOverrides())).code).toBe(grpc.status.UNAUTHENTICATED);
    // Nothing was written.
    expect(await kv.get(overrideKey(DEFAULT_PREFIX, 'tok', 'a')).string()).toBeNull();
  });

  it('refuses invalid names, weights, durations and reasons with INVALID_ARGUMENT naming the field', async () => {
    const c = admin();
    const cases: Array<[Record<string, unknown>, RegExp]> = [
      [{ service: 'bad name', instanceId: 'a', draining: true }, /service:/],
      [{ service: 'ok', instanceId: 'a/b', draining: true }, /instanceId:/],
      [{ service: 'ok', instanceId: 'a', weight: 10_001 }, /weight: expected an integer in 0\.\.10000/],
      [{ service: 'ok', instanceId: 'a' }, /weight: an override needs a weight or draining/],
      [{ service: 'ok', instanceId: 'a', draining: false }, /weight: an override needs/],
      [
        { service: 'ok', instanceId: 'a', draining: true, reason: 'r'.repeat(513) },
        /reason: longer than 512/,
      ],
      [{ service: 'ok', instanceId: 'a', draining: true, forMs: 400 * 24 * 3600 * 1000 }, /forMs:/],
      [{ service: 'ok', instanceId: 'a', draining: true, who: 'w'.repeat(129) }, /who:/],
    ];
    for (const [req, details] of cases) {
      const err = await callError(c.setOverride({ reason: '', ...req }));
      expect({ req, code: err.code }).toEqual({ req, code: grpc.status.INVALID_ARGUMENT });
      expect(err.message).toMatch(details);
    }
    expect((await callError(c.clearOverride('bad name', 'a'))).code).toBe(grpc.status.INVALID_ARGUMENT);
    expect((await callError(c.listOverrides('bad name'))).code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(await kv.getAll().prefix('/lookaside/overrides/').keys()).toEqual([]);
  });

  it('a drain set through the Admin API is stored in etcd, shown by GetService and followed by lookaside.v1 and xDS clients of both replicas', async () => {
    await register('shop', 'a', '127.0.0.2:8001', 40);
    await register('shop', 'b', '127.0.0.3:8002');
    const v1 = probe(lb.address, 'shop');
    const v1OnReplica2 = probe(lb2.address, 'shop');
    const ads = new AdsProbe(lb.address);
    closers.push(ads);
    ads.send({
      node: { id: 'ov', locality: {} },
      typeUrl: CLUSTER_LOAD_ASSIGNMENT_TYPE_URL,
      resourceNames: ['shop'],
    });
    await waitFor(
      'both endpoints as registered',
      () => weightOf(v1, '127.0.0.2:8001') === 40 && weightOf(v1, '127.0.0.3:8002') === 100,
    );
    await waitFor('a in EDS', () => ads.hostCount(CLUSTER_LOAD_ASSIGNMENT_TYPE_URL, '127.0.0.2') === 1);

    const c = admin();
    const set = await c.setOverride({
      service: 'shop',
      instanceId: 'a',
      draining: true,
      reason: 'disk replacement',
      who: 'alice',
    });
    expect(set.override).toMatchObject({
      service: 'shop',
      instanceId: 'a',
      draining: true,
      who: 'alice',
      dangling: false,
    });
    expect(set.override?.weight).toBeUndefined();

    const stored = JSON.parse((await kv.get('/lookaside/overrides/shop/a').string()) ?? 'null') as Record<
      string,
      unknown
    >;
    expect(stored).toMatchObject({
      draining: true,
      who: 'alice',
      why: 'disk replacement',
      atMs: expect.any(Number),
    });
    expect(stored).not.toHaveProperty('expiresAtMs');

    await waitFor('a sent with weight 0 (lookaside.v1)', () => weightOf(v1, '127.0.0.2:8001') === 0);
    expect(weightOf(v1, '127.0.0.3:8002')).toBe(100);
    await waitFor(
      'a sent with weight 0 by the second replica',
      () => weightOf(v1OnReplica2, '127.0.0.2:8001') === 0,
    );
    await waitFor(
      'a left out of EDS (xDS)',
      () => ads.hostCount(CLUSTER_LOAD_ASSIGNMENT_TYPE_URL, '127.0.0.2') === 0,
    );
    expect(ads.hostCount(CLUSTER_LOAD_ASSIGNMENT_TYPE_URL, '127.0.0.3')).toBe(1);

    const svc = await c.getService('shop');
    const a = svc.endpoints.find((e) => e.instanceId === 'a');
    expect(a).toMatchObject({
      weight: 40,
      effectiveWeight: 0,
      eligible: false,
      reasons: ['overridden'],
      override: { draining: true, who: 'alice', reason: 'disk replacement', expiresAtMs: 0, dangling: false },
    });
    expect(svc.endpoints.find((e) => e.instanceId === 'b')?.override).toBeNull();
    expect(await scrapeMetric(lb.metricsAddress ?? '', 'lookaside_overrides{service="shop"}')).toBe(1);

    // A weight replaces the drain.
    await c.setOverride({ service: 'shop', instanceId: 'a', weight: 7, reason: 'canary', who: 'bob' });
    await waitFor('a sent with weight 7', () => weightOf(v1, '127.0.0.2:8001') === 7);
    await waitFor('replica 2 too', () => weightOf(v1OnReplica2, '127.0.0.2:8001') === 7);
    await waitFor('a back in EDS', () => ads.hostCount(CLUSTER_LOAD_ASSIGNMENT_TYPE_URL, '127.0.0.2') === 1);
    const again = (await c.getService('shop')).endpoints.find((e) => e.instanceId === 'a');
    expect(again).toMatchObject({
      weight: 40,
      effectiveWeight: 7,
      reasons: ['overridden'],
      override: { weight: 7, draining: false, who: 'bob' },
    });

    await expect(c.clearOverride('shop', 'a', 'carol')).resolves.toEqual({ cleared: true });
    await expect(c.clearOverride('shop', 'a', 'carol')).resolves.toEqual({ cleared: false });
    expect(await kv.get('/lookaside/overrides/shop/a').string()).toBeNull();
    await waitFor('a back to its registered weight', () => weightOf(v1, '127.0.0.2:8001') === 40);
    await waitFor('replica 2 too', () => weightOf(v1OnReplica2, '127.0.0.2:8001') === 40);
  });

  it('an override with a duration stops applying at its expiry, and its key is deleted', async () => {
    await register('exp', 'a', '127.0.0.4:8001');
    const v1 = probe(lb.address, 'exp');
    await waitFor('a as registered', () => weightOf(v1, '127.0.0.4:8001') === 100);
    const c = admin();
    const set = await c.setOverride({
      service: 'exp',
      instanceId: 'a',
      weight: 3,
      reason: 'short',
      forMs: 1500,
    });
    expect(Number(set.override?.expiresAtMs)).toBe(Number(set.override?.atMs) + 1500);
    await waitFor('a sent with weight 3', () => weightOf(v1, '127.0.0.4:8001') === 3);
    await waitFor('a back to 100 after the expiry', () => weightOf(v1, '127.0.0.4:8001') === 100, {
      timeoutMs: 10_000,
    });
    await waitFor(
      'the expired key deleted',
      async () => (await kv.get(overrideKey(DEFAULT_PREFIX, 'exp', 'a')).string()) === null,
    );
    expect((await c.listOverrides('exp')).overrides).toEqual([]);
  });

  it('who defaults to the caller’s peer address', async () => {
    const set = await admin().setOverride({ service: 'peer', instanceId: 'a', draining: true, reason: '' });
    expect(set.override?.who).toMatch(/^peer (ipv4:)?127\.0\.0\.1:\d+$/);
    await admin().clearOverride('peer', 'a');
  });

  it('a malformed override written by hand is reported as rejected with its key and reason, counted, and ignored', async () => {
    await register('bad', 'a', '127.0.0.5:8001');
    const v1 = probe(lb.address, 'bad');
    await waitFor('a as registered', () => weightOf(v1, '127.0.0.5:8001') === 100);
    const before = await scrapeMetric(lb.metricsAddress ?? '', 'lookaside_overrides_rejected_total');
    await kv.put('/lookaside/overrides/bad/a').value('{"weight":-1,"who":"mallory","why":"","atMs":1}');
    const svc = await waitFor('the rejected override in GetService', async () => {
      const r = await admin().getService('bad');
      return r.rejected.length === 1 ? r : undefined;
    });
    expect(svc.rejected[0]).toMatchObject({
      key: '/lookaside/overrides/bad/a',
      reason: expect.stringMatching(/^weight: /),
    });
    expect(await scrapeMetric(lb.metricsAddress ?? '', 'lookaside_overrides_rejected_total')).toBe(
      before + 1,
    );
    expect(svc.endpoints[0]).toMatchObject({ effectiveWeight: 100, reasons: [] });
    expect(weightOf(v1, '127.0.0.5:8001')).toBe(100);
    expect((await admin().listOverrides('bad')).overrides).toEqual([]);
  });

  it('a dangling override (no record yet) is stored, shown as dangling, and applies when the instance registers', async () => {
    const c = admin();
    const set = await c.setOverride({
      service: 'late',
      instanceId: 'x',
      weight: 9,
      reason: 'pre-set',
      who: 'dan',
    });
    expect(set.override?.dangling).toBe(true);
    const listed = await waitFor(
      'the dangling override listed',
      async () => (await c.listOverrides('late')).overrides[0],
    );
    expect(listed).toMatchObject({ instanceId: 'x', weight: 9, dangling: true, who: 'dan' });
    const svc = await c.getService('late');
    expect(svc.danglingOverrides).toEqual([
      expect.objectContaining({ instanceId: 'x', weight: 9, dangling: true }),
    ]);

    const v1 = probe(lb.address, 'late');
    const v1OnReplica2 = probe(lb2.address, 'late');
    await register('late', 'x', '127.0.0.6:8001');
    await waitFor('x sent with the override’s weight', () => weightOf(v1, '127.0.0.6:8001') === 9);
    await waitFor('by replica 2 too', () => weightOf(v1OnReplica2, '127.0.0.6:8001') === 9);
    expect((await c.listOverrides('late')).overrides[0]).toMatchObject({ dangling: false });
    expect((await c.getService('late')).danglingOverrides).toEqual([]);
  });

  // Last: it restarts the shared etcd.
  it('keeps overrides applied through an etcd outage and follows the changes made after it', async () => {
    await register('outage', 'a', '127.0.0.7:8001');
    await register('outage', 'b', '127.0.0.8:8001');
    const c = admin();
    await c.setOverride({ service: 'outage', instanceId: 'a', weight: 11, reason: 'before', who: 'ops' });
    const v1 = probe(lb.address, 'outage');
    await waitFor('a at 11', () => weightOf(v1, '127.0.0.7:8001') === 11);

    const member = etcd.cluster.members[0];
    await member.kill('SIGKILL');
    await expect(
      c.setOverride({ service: 'outage', instanceId: 'b', draining: true, reason: '' }),
    ).rejects.toMatchObject({
      code: grpc.status.UNAVAILABLE,
    });
    expect(weightOf(v1, '127.0.0.7:8001')).toBe(11);
    expect((await c.listOverrides('outage')).overrides.map((o) => o.instanceId)).toEqual(['a']);
    await member.restart();

    await waitFor(
      'an override written after the outage',
      async () => {
        try {
          await c.setOverride({
            service: 'outage',
            instanceId: 'b',
            draining: true,
            reason: 'after',
            who: 'ops',
          });
          return true;
        } catch {
          return false;
        }
      },
      { timeoutMs: 20_000 },
    );
    await waitFor('b drained by replica 1', () => weightOf(v1, '127.0.0.8:8001') === 0, {
      timeoutMs: 20_000,
    });
    const v1OnReplica2 = probe(lb2.address, 'outage');
    await waitFor('and by replica 2', () => weightOf(v1OnReplica2, '127.0.0.8:8001') === 0, {
      timeoutMs: 20_000,
    });
    expect(weightOf(v1OnReplica2, '127.0.0.7:8001')).toBe(11);
  });
});
