import pino from 'pino';
import { AdminClient } from '../../../cli/admin-client';
import { installLookaside } from '../../../client-sdk';
import { startLbServer, type LbServer } from '../../../lb-server';
import { TestEtcd } from '../../support/etcd';
import { capacityGreeters, steadyLoad, untilSlowWeightedDown } from '../../support/load-aware-fleet';
import { waitFor } from '../../support/wait-for';
import { XdsClientProcess } from '../../support/xds-client-process';

const logger = pino({ level: process.env.LOG_LEVEL ?? 'silent' });

/** Stock clients follow load-aware weights: the xDS client's locality weights are the effective ones. */
describe('load-aware weights reach a stock xDS client', () => {
  let etcd: TestEtcd;
  let lb: LbServer;
  let xds: XdsClientProcess;
  const closers: Array<() => unknown> = [];

  beforeAll(async () => {
    installLookaside();
    etcd = await TestEtcd.start();
    lb = await startLbServer({
      etcd: etcd.endpoints,
      listen: '127.0.0.1:0',
      loadAware: true,
      orcaIntervalMs: 200,
      loadUpdateMs: 200,
      loadBlackoutMs: 0,
      logger,
    });
    await lb.synced();
    xds = XdsClientProcess.start(lb.address, 'xds-load-node');
  });

  afterAll(async () => {
    for (const c of closers.splice(0).reverse()) await c();
    await xds?.close();
    await lb?.close();
    await etcd?.close();
  });

  test('a backend with a quarter of the capacity gets well under half of the xDS client calls', async () => {
    const fleet = {
      etcd: etcd.endpoints,
      lbAddress: lb.address,
      logger,
      defer: (fn: () => unknown) => closers.push(fn),
    };
    const greeters = await capacityGreeters(fleet, 'xds-loaded', 1, { fast: 5, slow: 20 });
    // SDK clients keep both busy, so their ORCA reports say what each can carry.
    const load = await steadyLoad(fleet, 'xds-loaded', 2);
    const admin = new AdminClient({ target: lb.address });
    closers.push(() => admin.close());
    await untilSlowWeightedDown(admin, 'xds-loaded', 'orca');
    const target = 'xds:///xds-loaded';
    await waitFor('both answer the xDS client', async () => {
      const t = await xds.calls(target, 20);
      return Object.keys(t.byBackend).length === 2;
    });
    const t = await xds.calls(target, 400);
    await load.stop();
    expect(t.failures).toEqual([]);
    const slowShare = (t.byBackend[greeters.slow.address] ?? 0) / 400;
    process.stdout.write(`xDS load-aware: slow backend took ${(100 * slowShare).toFixed(1)}% of 400 calls\n`);
    // Equal registered weights would give 50 %.
    expect(slowShare).toBeLessThan(0.35);
    expect(slowShare).toBeGreaterThan(0);
  });
});
