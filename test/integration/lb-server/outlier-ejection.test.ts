import pino from 'pino';
import { AdminClient } from '../../../cli/admin-client';
import { installLookaside } from '../../../client-sdk';
import { startGreeterServer, type GreeterServer } from '../../../demo-service';
import { startLbServer, type LbServer } from '../../../lb-server';
import { CLUSTER_LOAD_ASSIGNMENT_TYPE_URL } from '../../../lb-server/frontends/xds/xds-resources';
import { registerService } from '../../../registrar';
import { AdsProbe } from '../../support/ads-probe';
import { TestEtcd } from '../../support/etcd';
import { greeterClient, GreeterLoad, sayHello } from '../../support/greeter-load';
import { scrapeMetric } from '../../support/scrape-metric';
import { waitFor } from '../../support/wait-for';

const logger = pino({ level: process.env.LOG_LEVEL ?? 'silent' });

/** Fast outlier settings so the test runs in seconds; the rules and their thresholds are A50's. */
const OUTLIER = { outlierIntervalMs: 500, outlierBaseEjectionMs: 5000, clientStatsIntervalMs: 200 };

describe('outlier ejection from clients reports', () => {
  let etcd: TestEtcd;
  let lb: LbServer;
  const closers: Array<() => unknown> = [];

  beforeAll(async () => {
    installLookaside();
    etcd = await TestEtcd.start();
    lb = await startLbServer({
      etcd: etcd.endpoints,
      listen: '127.0.0.1:0',
      metricsListen: '127.0.0.1:0',
      coalesceMs: 5,
      logger,
      ...OUTLIER,
    });
    await lb.synced();
  });

  afterAll(async () => {
    for (const c of closers.splice(0).reverse()) await c();
    await lb?.close();
    await etcd?.close();
  });

  async function fleet(service: string, n: number): Promise<GreeterServer[]> {
    const greeters: GreeterServer[] = [];
    for (let i = 0; i < n; i++) {
      const g = await startGreeterServer({ port: 0 });
      closers.push(() => g.forceClose());
      const r = await registerService({
        etcd: etcd.endpoints,
        service,
        instanceId: `g${i}`,
        address: g.address,
        ttlSeconds: 5,
        logger,
      });
      closers.push(() => r.close());
      greeters.push(g);
    }
    return greeters;
  }

  /** Waits until `load` has made `calls` more calls and `greeter` answered none of them. */
  async function receivesNothing(load: GreeterLoad, greeter: GreeterServer, calls: number): Promise<void> {
    for (let attempt = 0; attempt < 20; attempt++) {
      const served = greeter.served();
      const from = load.calls;
      await waitFor(`${calls} more calls`, () => load.calls >= from + calls);
      if (greeter.served() === served) return;
    }
    throw new Error(`${greeter.address} kept getting calls`);
  }

  test('an endpoint failing every call with INTERNAL is ejected from every frontend, then returns once it recovers', async () => {
    const greeters = await fleet('outliers', 5);
    const bad = greeters[2];
    const client = greeterClient(`lookaside://${lb.address}/outliers`);
    closers.push(() => client.close());
    await waitFor('a first call', async () => (await sayHello(client)).ok);
    const ads = new AdsProbe(lb.address);
    closers.push(() => ads.close());
    ads.send({
      node: { id: 'x', locality: {} },
      typeUrl: CLUSTER_LOAD_ASSIGNMENT_TYPE_URL,
      resourceNames: ['outliers'],
    });
    await waitFor('5 hosts in EDS', () => ads.hostCount(CLUSTER_LOAD_ASSIGNMENT_TYPE_URL, '127.0.0.1') === 5);
    const load = new GreeterLoad(client, { concurrency: 4 });
    closers.push(() => load.stop());

    bad.setFailureRate(1);
    const admin = new AdminClient({ target: lb.address });
    closers.push(() => admin.close());
    const badEntry = async () =>
      (await admin.getService('outliers')).endpoints.find((e) => e.address === bad.address);
    await waitFor('the failing endpoint ejected', async () => (await badEntry())?.ejectionRule !== '', {
      timeoutMs: 20_000,
    });
    const entry = await badEntry();
    expect(entry).toMatchObject({
      eligible: false,
      reasons: ['ejected'],
      health: 'serving',
      consecutiveEjections: 1,
    });
    expect(['success-rate', 'failure-percentage']).toContain(entry?.ejectionRule);
    expect(Number(entry?.ejectedUntilMs) - Number(entry?.ejectedSinceMs)).toBe(OUTLIER.outlierBaseEjectionMs);
    // The rates it was ejected on: nearly every call failed (the last interval may mix in a few).
    expect(entry?.failureRate).toBeGreaterThan(0.5);

    // Clients stop sending it calls; the stock xDS client's EDS leaves it out.
    await receivesNothing(load, bad, 300);
    await waitFor('4 hosts in EDS', () => ads.hostCount(CLUSTER_LOAD_ASSIGNMENT_TYPE_URL, '127.0.0.1') === 4);
    const metric = (series: string) => scrapeMetric(lb.metricsAddress ?? '', series);
    expect(await metric(`lookaside_ejections_total{service="outliers",rule="${entry?.ejectionRule}"}`)).toBe(
      1,
    );
    expect(await metric('lookaside_ejected_endpoints{service="outliers"}')).toBe(1);
    expect(await metric('lookaside_endpoints{service="outliers",state="ejected"}')).toBe(1);

    // Recovered: it returns at the end of its ejection and takes calls again, successfully.
    bad.setFailureRate(0);
    const failuresBefore = load.failures.length;
    await waitFor('the endpoint returned', async () => (await badEntry())?.eligible === true, {
      timeoutMs: 10_000,
    });
    const served = bad.served();
    await waitFor('it takes calls again', () => bad.served() > served + 20);
    await load.stop();
    expect(load.failures.length).toBe(failuresBefore);
    expect((await badEntry())?.ejectionRule).toBe('');
  });
});
