import * as grpc from '@grpc/grpc-js';
import pino from 'pino';
import { AdminClient } from '../../../cli/admin-client';
import { installLookaside } from '../../../client-sdk';
import { formatAddress } from '../../../common/host-port';
import { startGreeterServer } from '../../../demo-service';
import { startLbServer, type LbServer } from '../../../lb-server';
import type { HelloReply } from '../../../proto/gen/helloworld/HelloReply';
import type { HelloRequest__Output } from '../../../proto/gen/helloworld/HelloRequest';
import { loadProtos } from '../../../proto/protos';
import { TestEtcd } from '../../support/etcd';
import {
  capacityGreeters,
  registerAll,
  steadyLoad,
  untilSlowWeightedDown,
  type LoadFleet,
} from '../../support/load-aware-fleet';
import { waitFor } from '../../support/wait-for';

const logger = pino({ level: process.env.LOG_LEVEL ?? 'silent' });

/** A greeter that answers every call after `delayMs` (a slow backend), on 127.0.0.1. */
async function slowGreeter(delayMs: number): Promise<{ address: string; close(): void }> {
  const server = new grpc.Server();
  let address = '';
  server.addService(loadProtos().helloworld.Greeter.service, {
    SayHello(
      call: grpc.ServerUnaryCall<HelloRequest__Output, HelloReply>,
      callback: grpc.sendUnaryData<HelloReply>,
    ): void {
      setTimeout(() => callback(null, { message: `Hello ${call.request.name} from ${address}` }), delayMs);
    },
  });
  const port = await new Promise<number>((ok, fail) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? fail(e) : ok(p))),
  );
  address = formatAddress('127.0.0.1', port);
  return { address, close: () => server.forceShutdown() };
}

describe('load-aware weights', () => {
  let etcd: TestEtcd;
  let lb: LbServer;
  const closers: Array<() => unknown> = [];

  beforeAll(async () => {
    installLookaside();
    etcd = await TestEtcd.start();
    lb = await startLbServer({
      etcd: etcd.endpoints,
      listen: '127.0.0.1:0',
      coalesceMs: 5,
      clientStatsIntervalMs: 200,
      loadAware: true,
      loadUpdateMs: 200,
      loadBlackoutMs: 0,
      orcaIntervalMs: 200,
      logger,
    });
    await lb.synced();
  });

  afterAll(async () => {
    for (const c of closers.splice(0).reverse()) await c();
    await lb?.close();
    await etcd?.close();
  });

  const fleet = (): LoadFleet => ({
    etcd: etcd.endpoints,
    lbAddress: lb.address,
    logger,
    defer: (fn) => closers.push(fn),
  });
  const adminClient = (): AdminClient => {
    const admin = new AdminClient({ target: lb.address });
    closers.push(() => admin.close());
    return admin;
  };

  test('a backend 20 ms slower loses weight with no configuration change, and admin says why', async () => {
    const fast = await startGreeterServer({ port: 0 });
    closers.push(() => fast.forceClose());
    const slow = await slowGreeter(20);
    closers.push(() => slow.close());
    await registerAll(fleet(), 'loaded', { fast: fast.address, slow: slow.address });
    const load = await steadyLoad(fleet(), 'loaded', 4);
    // Capacity ~1000/(latency + 5 ms): the slow one (~25 ms) about a fifth of the fast one.
    const e = await untilSlowWeightedDown(adminClient(), 'loaded', 'clients');
    expect(e.slow).toMatchObject({ weight: 100, reasons: ['load'], eligible: true });
    expect(e.slow.latencyMs).toBeGreaterThanOrEqual(20);
    expect(e.slow.loadFactor).toBeLessThan(0.7);
    expect(e.fast.loadFactor).toBeGreaterThan(1.3);
    // Clients follow: the slow backend now gets the smaller share of new calls.
    const before = { fast: load.servedBy(fast.address), slow: load.servedBy(slow.address) };
    await waitFor(
      '200 more calls',
      () => load.calls >= before.fast + before.slow + 200 + load.failures.length,
    );
    const fastShare = load.servedBy(fast.address) - before.fast;
    const slowShare = load.servedBy(slow.address) - before.slow;
    expect(slowShare).toBeLessThan(fastShare);
    await load.stop();
    expect(load.failures).toEqual([]);
  });

  test('with ORCA: a backend with a quarter of the capacity gets less than half the weight of the fast one', async () => {
    // Two slots each; 10 ms a call, the slow one 40 ms: capacities 200 and 50 calls/s.
    await capacityGreeters(fleet(), 'orca-loaded', 2, { fast: 10, slow: 40 });
    const load = await steadyLoad(fleet(), 'orca-loaded', 4);
    const e = await untilSlowWeightedDown(adminClient(), 'orca-loaded', 'orca');
    expect(e.slow.utilization).toBeGreaterThan(0);
    expect(e.fast.qps).toBeGreaterThan(0);
    expect(e.slow.reasons).toEqual(['load']);
    await load.stop();
    expect(load.failures).toEqual([]);
  });
});
