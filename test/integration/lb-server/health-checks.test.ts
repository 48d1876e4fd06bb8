import * as grpc from '@grpc/grpc-js';
import type { Etcd3 } from 'etcd3';
import { HealthImplementation, type ServingStatus } from 'grpc-health-check';
import pino from 'pino';
import { AdminClient } from '../../../cli/admin-client';
import { DEFAULT_PREFIX, encodeRecordValue, recordKey } from '../../../common/registry-record';
import { freePort } from '../../../etcd/etcd-process';
import { startLbServer, type LbServer } from '../../../lb-server';
import { CLUSTER_LOAD_ASSIGNMENT_TYPE_URL } from '../../../lb-server/frontends/xds/xds-resources';
import { AdsProbe } from '../../support/ads-probe';
import { TestEtcd } from '../../support/etcd';
import { scrapeMetric } from '../../support/scrape-metric';
import { waitFor } from '../../support/wait-for';
import { BalanceLoadProbe } from './balance-load-probe';

const logger = pino({ level: process.env.LOG_LEVEL ?? 'silent' });

/** A backend that serves only grpc.health.v1 (or nothing at all), on a loopback port. */
interface HealthBackend {
  readonly address: string;
  set(status: ServingStatus): void;
  close(): void;
}

async function healthBackend(host: string, initial: ServingStatus | 'none'): Promise<HealthBackend> {
  const server = new grpc.Server();
  const health = new HealthImplementation({ '': initial === 'none' ? 'SERVING' : initial });
  if (initial !== 'none') health.addToServer(server);
  const port = await new Promise<number>((ok, fail) =>
    server.bindAsync(`${host}:0`, grpc.ServerCredentials.createInsecure(), (e, p) => (e ? fail(e) : ok(p))),
  );
  return {
    address: `${host}:${port}`,
    set: (status) => health.setStatus('', status),
    close: () => server.forceShutdown(),
  };
}

describe('health checks from the LB server', () => {
  let etcd: TestEtcd;
  let kv: Etcd3;
  let lb: LbServer;
  const closers: { close(): void }[] = [];

  const register = (service: string, id: string, address: string) =>
    kv.put(recordKey(DEFAULT_PREFIX, service, id)).value(encodeRecordValue({ address }));
  const weights = (p: BalanceLoadProbe) =>
    Object.fromEntries((p.last?.servers ?? []).map((s) => [s.address, s.weight]));

  beforeAll(async () => {
    etcd = await TestEtcd.start();
    kv = etcd.client();
    lb = await startLbServer({
      etcd: etcd.endpoints,
      listen: '127.0.0.1:0',
      metricsListen: '127.0.0.1:0',
      logger,
    });
    await lb.synced();
  });

  afterAll(async () => {
    for (const c of closers.splice(0)) c.close();
    await lb?.close();
    await etcd?.close();
  });

  test('NOT_SERVING takes an endpoint out of lookaside.v1 and xDS answers, SERVING puts it back', async () => {
    const a = await healthBackend('127.0.0.2', 'SERVING');
    const b = await healthBackend('127.0.0.3', 'SERVING');
    const c = await healthBackend('127.0.0.4', 'SERVING');
    closers.push(a, b, c);
    await register('hc', 'a', a.address);
    await register('hc', 'b', b.address);
    await register('hc', 'c', c.address);
    const probe = BalanceLoadProbe.open(lb.address, 'hc');
    const ads = new AdsProbe(lb.address);
    closers.push(probe, ads);
    ads.send({
      node: { id: 'x', locality: {} },
      typeUrl: CLUSTER_LOAD_ASSIGNMENT_TYPE_URL,
      resourceNames: ['hc'],
    });
    await waitFor('three serving endpoints', () => Object.values(weights(probe)).join() === '100,100,100');

    a.set('NOT_SERVING');
    await waitFor('a sent with weight 0', () => weights(probe)[a.address] === 0);
    expect(weights(probe)[b.address]).toBe(100);
    await waitFor(
      'a left out of EDS',
      () => ads.hostCount(CLUSTER_LOAD_ASSIGNMENT_TYPE_URL, '127.0.0.2') === 0,
    );
    expect(ads.hostCount(CLUSTER_LOAD_ASSIGNMENT_TYPE_URL, '127.0.0.3')).toBe(1);

    const admin = new AdminClient({ target: lb.address });
    closers.push(admin);
    const svc = await admin.getService('hc');
    expect(svc.endpoints.find((e) => e.instanceId === 'a')).toMatchObject({
      eligible: false,
      reasons: ['unhealthy'],
      health: 'not-serving',
    });
    expect(svc.endpoints.find((e) => e.instanceId === 'b')).toMatchObject({
      eligible: true,
      health: 'serving',
    });
    const metric = (series: string) => scrapeMetric(lb.metricsAddress ?? '', series);
    expect(await metric('lookaside_endpoint_health{service="hc",health="not-serving"}')).toBe(1);
    expect(await metric('lookaside_endpoint_health{service="hc",health="serving"}')).toBe(2);
    expect(await metric('lookaside_endpoints{service="hc",state="unhealthy"}')).toBe(1);

    a.set('SERVING');
    await waitFor('a back with weight 100', () => weights(probe)[a.address] === 100);
  });

  test('panic threshold: when most endpoints say NOT_SERVING, health is ignored and all serve', async () => {
    const a = await healthBackend('127.0.0.5', 'SERVING');
    const b = await healthBackend('127.0.0.6', 'SERVING');
    closers.push(a, b);
    await register('hc-panic', 'a', a.address);
    await register('hc-panic', 'b', b.address);
    const probe = BalanceLoadProbe.open(lb.address, 'hc-panic');
    closers.push(probe);
    await waitFor('both serving', () => Object.values(weights(probe)).join() === '100,100');
    a.set('NOT_SERVING');
    await waitFor('a out (1 of 2 left is not below half)', () => weights(probe)[a.address] === 0);
    b.set('NOT_SERVING');
    // Both out would leave nothing: below half of two, so both serve again (panic mode).
    await waitFor('both serve in panic mode', () => Object.values(weights(probe)).join() === '100,100');
    const panic = () => scrapeMetric(lb.metricsAddress ?? '', 'lookaside_panic{service="hc-panic"}');
    expect(await panic()).toBe(1);
    a.set('SERVING');
    await waitFor('a alone serves once panic ends', () => weights(probe)[b.address] === 0);
    expect(await panic()).toBe(0);
  });

  test('a backend without grpc.health.v1 is healthy; one the LB cannot reach is not ejected', async () => {
    const bare = await healthBackend('127.0.0.7', 'none');
    closers.push(bare);
    const nothing = `127.0.0.8:${await freePort()}`;
    await register('hc-other', 'bare', bare.address);
    await register('hc-other', 'gone', nothing);
    const admin = new AdminClient({ target: lb.address });
    closers.push(admin);
    const health = async () => {
      const svc = await admin.getService('hc-other');
      return Object.fromEntries(svc.endpoints.map((e) => [e.instanceId, `${e.health}/${e.eligible}`]));
    };
    await waitFor('bare is no-health-service, gone is unreachable, both eligible', async () => {
      const h = await health();
      return h.bare === 'no-health-service/true' && h.gone === 'unreachable/true';
    });
  });
});
