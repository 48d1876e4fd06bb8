import type { Etcd3 } from 'etcd3';
import pino from 'pino';
import { AdminClient } from '../../../cli/admin-client';
import { installLookaside, LookasideChannelOptions } from '../../../client-sdk';
import { DEFAULT_PREFIX, encodeRecordValue, recordKey } from '../../../common/registry-record';
import { startGreeterServer, type GreeterServer } from '../../../demo-service';
import { startLbServer, type LbServer } from '../../../lb-server';
import type { GreeterClient } from '../../../proto/gen/helloworld/Greeter';
import { TestEtcd } from '../../support/etcd';
import { greeterClient, sayHello } from '../../support/greeter-load';
import { scrapeMetric } from '../../support/scrape-metric';
import { waitFor } from '../../support/wait-for';

const logger = pino({ level: process.env.LOG_LEVEL ?? 'silent' });

/** 2 zones, clients 70/30 (14 + 6), endpoints 50/50 (5 + 5). */
const CLIENT_ZONES = [...Array<string>(14).fill('a'), ...Array<string>(6).fill('b')];
const ENDPOINTS_PER_ZONE = 5;

interface Fleet {
  lb: LbServer;
  greeters: { g: GreeterServer; zone: string; id: string }[];
  clients: { zone: string; client: GreeterClient }[];
}

/** Each client makes `calls` calls; returns, per client zone, the calls that reached each zone. */
async function traffic(
  fleet: Fleet,
  calls: number,
): Promise<{ byZone: Map<string, Map<string, number>>; failed: number }> {
  const zoneOf = new Map(fleet.greeters.map((x) => [x.g.address, x.zone]));
  const byZone = new Map<string, Map<string, number>>();
  let failed = 0;
  await Promise.all(
    fleet.clients.map(async (c) => {
      for (let i = 0; i < calls; i++) {
        const r = await sayHello(c.client, { waitForReady: true });
        if (!r.ok) {
          failed += 1;
          continue;
        }
        const to = zoneOf.get(r.backend) ?? '?';
        const m = byZone.get(c.zone) ?? new Map<string, number>();
        m.set(to, (m.get(to) ?? 0) + 1);
        byZone.set(c.zone, m);
      }
    }),
  );
  return { byZone, failed };
}

function localShare(byZone: Map<string, Map<string, number>>, zone: string): number {
  const m = byZone.get(zone) ?? new Map<string, number>();
  const total = [...m.values()].reduce((s, n) => s + n, 0);
  return total === 0 ? 0 : (m.get(zone) ?? 0) / total;
}

describe('zone-aware routing with spill-over', () => {
  let etcd: TestEtcd;
  let kv: Etcd3;
  const fleets: Fleet[] = [];

  beforeAll(async () => {
    installLookaside();
    etcd = await TestEtcd.start();
    kv = etcd.client();
  });

  afterAll(async () => {
    for (const f of fleets) {
      for (const c of f.clients) c.client.close();
      await f.lb.close();
      for (const x of f.greeters) x.g.forceClose();
    }
    kv?.close();
    await etcd?.close();
  });

  async function fleet(service: string, zoneAware: boolean): Promise<Fleet> {
    const lb = await startLbServer({
      etcd: etcd.endpoints,
      listen: '127.0.0.1:0',
      metricsListen: '127.0.0.1:0',
      coalesceMs: 5,
      logger,
      zoneAware,
      clientFlushMs: 50,
    });
    await lb.synced();
    const greeters: Fleet['greeters'] = [];
    for (const zone of ['a', 'b']) {
      for (let i = 0; i < ENDPOINTS_PER_ZONE; i++) {
        const g = await startGreeterServer({ port: 0 });
        const id = `${zone}${i}`;
        greeters.push({ g, zone, id });
        await kv
          .put(recordKey(DEFAULT_PREFIX, service, id))
          .value(encodeRecordValue({ address: g.address, zone }));
      }
    }
    const clients = CLIENT_ZONES.map((zone, i) => ({
      zone,
      client: greeterClient(`lookaside://${lb.address}/${service}`, {
        'grpc.use_local_subchannel_pool': 1,
        [LookasideChannelOptions.CLIENT_ID]: `${service}-c${i}`,
        [LookasideChannelOptions.ZONE]: zone,
      }),
    }));
    const f = { lb, greeters, clients };
    fleets.push(f);
    return f;
  }

  async function clientsPlanned(f: Fleet, service: string): Promise<number> {
    const admin = new AdminClient({ target: f.lb.address });
    try {
      const r = await admin.getAssignment(service);
      return r.clients.filter((c) => c.plan !== null).length;
    } finally {
      admin.close();
    }
  }

  test('keeps each zone local as far as its capacity carries it, spills the rest, and spreads when a zone loses most endpoints', async () => {
    const unaware = await fleet('zoned-off', false);
    const aware = await fleet('zoned-on', true);
    await traffic(unaware, 4);
    // A channel opens its LB stream on its first call: one each, then the plan settles.
    await traffic(aware, 1);
    await waitFor('every client planned', async () => (await clientsPlanned(aware, 'zoned-on')) === 20, {
      timeoutMs: 20_000,
    });
    // Let the plan settle (every client known), then measure.
    await traffic(aware, 4);

    const off = await traffic(unaware, 60);
    const on = await traffic(aware, 60);
    expect(off.failed + on.failed).toBe(0);
    // Zone-unaware: each zone's clients spread evenly over both zones.
    expect(localShare(off.byZone, 'a')).toBeGreaterThan(0.35);
    expect(localShare(off.byZone, 'a')).toBeLessThan(0.65);
    // Zone-aware: zone b (30 % of clients, 50 % of capacity) stays local; zone a keeps 5/7 local.
    expect(localShare(on.byZone, 'b')).toBe(1);
    expect(localShare(on.byZone, 'a')).toBeGreaterThan(5 / 7 - 0.08);
    expect(localShare(on.byZone, 'a')).toBeLessThan(5 / 7 + 0.08);
    // And the endpoints' load stays even: each zone receives about half of all calls.
    const received = (r: typeof on, zone: string) =>
      [...r.byZone.values()].reduce((s, m) => s + (m.get(zone) ?? 0), 0);
    const total = received(on, 'a') + received(on, 'b');
    process.stdout.write(
      `zone-aware 70/30 over 50/50: local share a ${localShare(on.byZone, 'a').toFixed(3)} b ${localShare(on.byZone, 'b').toFixed(3)}` +
        ` (zone-unaware a ${localShare(off.byZone, 'a').toFixed(3)} b ${localShare(off.byZone, 'b').toFixed(3)}); zone a receives ${(received(on, 'a') / total).toFixed(3)} of all calls\n`,
    );
    expect(received(on, 'a') / total).toBeGreaterThan(0.42);
    expect(received(on, 'a') / total).toBeLessThan(0.58);
    const share = await scrapeMetric(
      aware.lb.metricsAddress ?? '',
      'lookaside_zone_local_share{service="zoned-on",zone="a"}',
    );
    expect(share).toBeCloseTo(5 / 7, 2);

    // Zone b loses 4 of its 5 endpoints while calls go on: its clients spread over both zones.
    const load = traffic(aware, 200);
    for (const x of aware.greeters.filter((g) => g.zone === 'b').slice(0, 4)) {
      await kv.delete().key(recordKey(DEFAULT_PREFIX, 'zoned-on', x.id));
    }
    await waitFor(
      'zone b spreads over all zones',
      async () =>
        (await scrapeMetric(
          aware.lb.metricsAddress ?? '',
          'lookaside_zone_local_share{service="zoned-on",zone="b"}',
        )) < 0.5,
      { timeoutMs: 10_000 },
    );
    for (const x of aware.greeters.filter((g) => g.zone === 'b').slice(0, 4)) await x.g.close();
    const during = await load;
    expect(during.failed).toBe(0);
    const after = await traffic(aware, 40);
    expect(after.failed).toBe(0);
    expect(localShare(after.byZone, 'b')).toBeLessThan(0.5);
  }, 120_000);
});
