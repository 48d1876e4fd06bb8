import pino from 'pino';
import { AdminClient } from '../../../cli/admin-client';
import { startDemoService, type DemoService } from '../../../demo-service';
import { startLbServer, type LbServer } from '../../../lb-server';
import { TestEtcd } from '../../support/etcd';
import { waitFor } from '../../support/wait-for';
import { XdsClientProcess } from '../../support/xds-client-process';

jest.setTimeout(120_000);

const logger = pino({ level: process.env.LOG_LEVEL ?? 'silent' });

/** A stock @grpc/grpc-js-xds client (own process, bootstrap → our LB server) against real etcd. */
describe('xDS frontend with a stock @grpc/grpc-js-xds client', () => {
  let etcd: TestEtcd;
  let lb: LbServer;
  let client: XdsClientProcess;
  const services: DemoService[] = [];

  async function backend(service: string, weight: number): Promise<DemoService> {
    const s = await startDemoService({
      etcd: etcd.endpoints,
      port: 0,
      service,
      weight,
      logger,
      drainTimeoutMs: 2000,
    });
    services.push(s);
    return s;
  }

  beforeAll(async () => {
    etcd = await TestEtcd.start();
    lb = await startLbServer({ etcd: etcd.endpoints, listen: '127.0.0.1:0', logger });
    await lb.synced();
    client = XdsClientProcess.start(lb.address, 'xds-it-node');
  });

  afterAll(async () => {
    await client?.close();
    await Promise.all(services.splice(0).map((s) => s.close()));
    await lb?.close();
    await etcd?.close();
  });

  test('weights 1:3 split 800 calls 25/75 within 5 points', async () => {
    const a = await backend('xds-weights', 100);
    const b = await backend('xds-weights', 300);
    const target = 'xds:///xds-weights';
    await waitFor('both backends answer', async () => {
      const t = await client.calls(target, 40);
      return (t.byBackend[a.address] ?? 0) > 0 && (t.byBackend[b.address] ?? 0) > 0;
    });
    const t = await client.calls(target, 800);
    expect(t.failures).toEqual([]);
    const shareA = (100 * (t.byBackend[a.address] ?? 0)) / 800;
    const shareB = (100 * (t.byBackend[b.address] ?? 0)) / 800;
    process.stdout.write(`xDS 1:3 split over 800 calls: ${shareA.toFixed(1)}% / ${shareB.toFixed(1)}%\n`);
    expect(Math.abs(shareA - 25)).toBeLessThanOrEqual(5);
    expect(Math.abs(shareB - 75)).toBeLessThanOrEqual(5);
  });

  test('a target with a port and a new instance take calls without a client restart; a drained one gets none', async () => {
    const a = await backend('xds-churn', 100);
    const target = 'xds:///xds-churn:443';
    const first = await client.calls(target, 20);
    expect(first.byBackend).toEqual({ [a.address]: 20 });

    const b = await backend('xds-churn', 100);
    await waitFor(
      'the new instance takes calls',
      async () => ((await client.calls(target, 20)).byBackend[b.address] ?? 0) > 0,
    );

    await a.registration.drain({ inFlight: () => 0, timeoutMs: 0 });
    // Once the drain reached the client, every new call goes to b.
    await waitFor('calls stop reaching the drained instance', async () => {
      const t = await client.calls(target, 20);
      return (t.byBackend[a.address] ?? 0) === 0;
    });
    const servedByA = a.served();
    const after = await client.calls(target, 100);
    expect(after.failures).toEqual([]);
    expect(after.byBackend).toEqual({ [b.address]: 100 });
    expect(a.served()).toBe(servedByA);
  });

  test('an unknown service fails calls at once with UNAVAILABLE instead of hanging', async () => {
    const started = Date.now();
    const t = await client.calls('xds:///xds-nobody-registered', 1, 20_000);
    const tookMs = Date.now() - started;
    expect(t.failures).toHaveLength(1);
    expect(t.failures[0].code).toBe(14);
    expect(t.failures[0].details).toMatch(
      /xds-nobody-registered|does not exist|not found|no endpoints|empty/i,
    );
    expect(tookMs).toBeLessThan(15_000);

    const a = await backend('xds-nobody-registered', 100);
    await waitFor('calls succeed once the service registers', async () => {
      const r = await client.calls('xds:///xds-nobody-registered', 1);
      return r.byBackend[a.address] === 1;
    });
  });

  test('the admin view lists the xDS client with its protocol and assignment', async () => {
    const admin = new AdminClient({ target: lb.address });
    try {
      const listed = await waitFor('the xDS client in ListClients', async () => {
        const r = await admin.listClients('xds-weights');
        return r.clients.find((c) => c.protocol === 'xds');
      });
      expect(listed.clientId).toBe('xds-it-node');
      expect(Number(listed.assignedVersion)).toBeGreaterThan(0);
      expect(Number(listed.nacks)).toBe(0);
    } finally {
      admin.close();
    }
  });

  test('an LB server restart on the same port loses no calls', async () => {
    const a = await backend('xds-restart', 100);
    const target = 'xds:///xds-restart';
    await waitFor(
      'calls reach the backend',
      async () => (await client.calls(target, 5)).byBackend[a.address] === 5,
    );
    await client.startLoad(target, 4);
    const before = await waitFor('load running', async () => {
      const p = await client.peekLoad();
      return p.calls > 50 ? p : undefined;
    });
    await lb.close();
    lb = await startLbServer({ etcd: etcd.endpoints, listen: lb.address, logger });
    await lb.synced();
    const admin = new AdminClient({ target: lb.address });
    try {
      await waitFor(
        'the client re-subscribed to the new LB server',
        async () => {
          const r = await admin.listClients('xds-restart');
          return r.clients.some((c) => c.protocol === 'xds' && Number(c.assignedVersion) > 0);
        },
        { timeoutMs: 30_000 },
      );
    } finally {
      admin.close();
    }
    await waitFor(
      'more calls after the restart',
      async () => (await client.peekLoad()).calls > before.calls + 200,
    );
    const t = await client.stopLoad();
    expect(t.failures).toEqual([]);
    expect(t.byBackend[a.address]).toBe(t.calls);
  });
});
