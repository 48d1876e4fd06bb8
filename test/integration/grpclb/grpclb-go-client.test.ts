import * as grpc from '@grpc/grpc-js';
import type { Etcd3 } from 'etcd3';
import pino from 'pino';
import { AdminClient } from '../../../cli/admin-client';
import { startGreeterServer, type GreeterServer } from '../../../demo-service/greeter-server';
import { startLbServer, type LbServer } from '../../../lb-server';
import { DEFAULT_PREFIX, encodeRecordValue, recordKey } from '../../../common/registry-record';
import { installLookaside } from '../../../client-sdk';
import { TestEtcd } from '../../support/etcd';
import { buildGrpclbGoClient, GrpclbGoClient } from '../../support/grpclb-go-client';
import { capacityGreeters, steadyLoad, untilSlowWeightedDown } from '../../support/load-aware-fleet';
import { waitFor } from '../../support/wait-for';

jest.setTimeout(120_000);

const logger = pino({ level: process.env.LOG_LEVEL ?? 'silent' });
const build = buildGrpclbGoClient();
if (!build.ok && build.missingToolchain) {
  process.stderr.write(`SKIPPED grpclb Go client tests: ${build.reason}\n`);
}
const describeIfGo = build.ok || !build.missingToolchain ? describe : describe.skip;

/**
 * A greeter that also records the lb-token metadata of every Greeter call it receives (not the
 * LB server's own grpc.health.v1 checks).
 */
async function tokenRecordingGreeter(): Promise<{ server: GreeterServer; tokens: string[] }> {
  const tokens: string[] = [];
  const interceptor: grpc.ServerInterceptor = (method, call) =>
    new grpc.ServerInterceptingCall(call, {
      start: (next) =>
        next({
          onReceiveMetadata: (metadata, nextMetadata) => {
            if (method.path.startsWith('/helloworld.Greeter/')) {
              tokens.push(String(metadata.get('lb-token')[0] ?? '(none)'));
            }
            nextMetadata(metadata);
          },
        }),
    });
  const server = await startGreeterServer({ port: 0, serverOptions: { interceptors: [interceptor] } });
  return { server, tokens };
}

describeIfGo('grpclb frontend with a stock grpc-go 1.33 grpclb client', () => {
  let etcd: TestEtcd;
  let kv: Etcd3;
  let lb: LbServer;
  const greeters: GreeterServer[] = [];
  const goClients: GrpclbGoClient[] = [];

  beforeAll(async () => {
    if (!build.ok) throw new Error(build.reason);
    process.stdout.write(`grpclb Go client: ${build.note}\n`);
    etcd = await TestEtcd.start();
    kv = etcd.client();
    lb = await startLbServer({
      etcd: etcd.endpoints,
      listen: '127.0.0.1:0',
      logger,
      clientStatsIntervalMs: 200,
    });
    await lb.synced();
  });

  afterAll(async () => {
    await Promise.all(goClients.splice(0).map((c) => c.close()));
    await Promise.all(greeters.splice(0).map((g) => g.close()));
    await lb?.close();
    await etcd?.close();
  });

  test('weights 1:3 by repetition over 800 calls, lb-token reaches the backends, ClientStats arrive', async () => {
    const a = await tokenRecordingGreeter();
    const b = await tokenRecordingGreeter();
    greeters.push(a.server, b.server);
    await kv
      .put(recordKey(DEFAULT_PREFIX, 'grpclb-weights', 'inst-a'))
      .value(encodeRecordValue({ address: a.server.address, weight: 100 }));
    await kv
      .put(recordKey(DEFAULT_PREFIX, 'grpclb-weights', 'inst-b'))
      .value(encodeRecordValue({ address: b.server.address, weight: 300 }));

    const go = GrpclbGoClient.start(build.ok ? build.binary : '', lb.address, 'grpclb-weights:443', 800);
    goClients.push(go);
    const r = await go.result();
    expect(r.failures).toBe(0);
    const shareA = (100 * (r.byBackend[a.server.address] ?? 0)) / 800;
    const shareB = (100 * (r.byBackend[b.server.address] ?? 0)) / 800;
    process.stdout.write(`grpclb 1:3 split over 800 calls: ${shareA.toFixed(1)}% / ${shareB.toFixed(1)}%\n`);
    expect(Math.abs(shareA - 25)).toBeLessThanOrEqual(5);
    expect(Math.abs(shareB - 75)).toBeLessThanOrEqual(5);

    expect(new Set(a.tokens)).toEqual(new Set(['inst-a']));
    expect(new Set(b.tokens)).toEqual(new Set(['inst-b']));

    const admin = new AdminClient({ target: lb.address });
    try {
      const client = await waitFor('the grpclb client with its reported calls', async () => {
        const list = await admin.listClients('grpclb-weights');
        const c = list.clients.find((x) => x.protocol === 'grpclb');
        const all = c?.stats.find((s) => s.address === '*');
        return all && Number(all.callsStarted) >= 800 ? c : undefined;
      });
      expect(Number(client.assignedVersion)).toBeGreaterThan(0);
      const all = client.stats.find((s) => s.address === '*');
      expect(Number(all?.callsSucceeded)).toBeGreaterThanOrEqual(800);
      expect(Number(all?.callsFailed)).toBe(0);
    } finally {
      admin.close();
    }
  });

  test('updates reach a running client: a new instance takes calls, a drained one gets none', async () => {
    const a = await tokenRecordingGreeter();
    const b = await tokenRecordingGreeter();
    greeters.push(a.server, b.server);
    await kv
      .put(recordKey(DEFAULT_PREFIX, 'grpclb-churn', 'a'))
      .value(encodeRecordValue({ address: a.server.address }));
    const go = GrpclbGoClient.start(build.ok ? build.binary : '', lb.address, 'grpclb-churn', 20);
    goClients.push(go);
    expect(await go.result()).toEqual({ byBackend: { [a.server.address]: 20 }, failures: 0 });

    await kv
      .put(recordKey(DEFAULT_PREFIX, 'grpclb-churn', 'b'))
      .value(encodeRecordValue({ address: b.server.address }));
    await waitFor(
      'the new instance takes calls',
      async () => ((await go.calls(20)).byBackend[b.server.address] ?? 0) > 0,
    );

    await kv
      .put(recordKey(DEFAULT_PREFIX, 'grpclb-churn', 'a'))
      .value(encodeRecordValue({ address: a.server.address, draining: true }));
    await waitFor('calls stop reaching the drained instance', async () => {
      const r = await go.calls(20);
      return r.failures === 0 && (r.byBackend[a.server.address] ?? 0) === 0;
    });
    const servedByA = a.server.served();
    expect(await go.calls(100)).toEqual({ byBackend: { [b.server.address]: 100 }, failures: 0 });
    expect(a.server.served()).toBe(servedByA);
  });

  test('an instance registered as draining is left out of the list: every call goes to the others', async () => {
    const a = await tokenRecordingGreeter();
    const b = await tokenRecordingGreeter();
    greeters.push(a.server, b.server);
    await kv
      .put(recordKey(DEFAULT_PREFIX, 'grpclb-drain', 'a'))
      .value(encodeRecordValue({ address: a.server.address, draining: true }));
    await kv
      .put(recordKey(DEFAULT_PREFIX, 'grpclb-drain', 'b'))
      .value(encodeRecordValue({ address: b.server.address }));
    const go = GrpclbGoClient.start(build.ok ? build.binary : '', lb.address, 'grpclb-drain', 100);
    goClients.push(go);
    const r = await go.result();
    expect(r).toEqual({ byBackend: { [b.server.address]: 100 }, failures: 0 });
    expect(a.server.served()).toBe(0);
  });

  test('load-aware weights reach the grpclb client by repetition: a backend with a quarter of the capacity gets well under half', async () => {
    installLookaside();
    const loadLb = await startLbServer({
      etcd: etcd.endpoints,
      listen: '127.0.0.1:0',
      orcaIntervalMs: 200,
      loadUpdateMs: 200,
      loadBlackoutMs: 0,
      logger,
    });
    const closers: Array<() => unknown> = [() => loadLb.close()];
    try {
      const fleet = {
        etcd: etcd.endpoints,
        lbAddress: loadLb.address,
        logger,
        defer: (fn: () => unknown) => closers.push(fn),
      };
      const g = await capacityGreeters(fleet, 'grpclb-loaded', 1, { fast: 5, slow: 20 });
      // SDK clients keep both busy, so their ORCA reports say what each can carry.
      const load = await steadyLoad(fleet, 'grpclb-loaded', 2);
      const admin = new AdminClient({ target: loadLb.address });
      closers.push(() => admin.close());
      const weighted = await untilSlowWeightedDown(admin, 'grpclb-loaded', 'orca');
      const go = GrpclbGoClient.start(build.ok ? build.binary : '', loadLb.address, 'grpclb-loaded', 400);
      closers.push(() => go.close());
      const r = await go.result();
      await load.stop();
      expect(r.failures).toBe(0);
      const slowShare = (r.byBackend[g.slow.address] ?? 0) / 400;
      process.stdout.write(
        `grpclb load-aware: slow backend took ${(100 * slowShare).toFixed(1)}% of 400 calls (effective weights ${weighted.slow.effectiveWeight} / ${weighted.fast.effectiveWeight})\n`,
      );
      // Equal registered weights would give 50 %.
      expect(slowShare).toBeLessThan(0.35);
      expect(slowShare).toBeGreaterThan(0);
    } finally {
      for (const c of closers.splice(0).reverse()) await c();
    }
  });
});
