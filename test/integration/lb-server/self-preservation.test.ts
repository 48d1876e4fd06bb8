import * as net from 'node:net';
import pino from 'pino';
import { AdminClient } from '../../../cli/admin-client';
import { freePort } from '../../../etcd/etcd-process';
import { startLbServer, type LbServer } from '../../../lb-server';
import { DEFAULT_PREFIX, encodeRecordValue, recordKey } from '../../../common/registry-record';
import { TestEtcd } from '../../support/etcd';
import { waitFor } from '../../support/wait-for';
import { BalanceLoadProbe } from './balance-load-probe';

const logger = pino({ level: process.env.LOG_LEVEL ?? 'silent' });

/** A TCP listener that accepts connections: a backend that is alive as far as a probe can tell. */
async function listener(): Promise<{ address: string; close: () => Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  return {
    address: `127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

describe('LB server self-preservation', () => {
  let etcd: TestEtcd;
  let lb: LbServer | undefined;
  const closers: Array<() => Promise<void> | void> = [];

  beforeEach(async () => {
    etcd = await TestEtcd.start();
  });

  afterEach(async () => {
    for (const c of closers.splice(0).reverse()) await c();
    await lb?.close();
    lb = undefined;
    await etcd.close();
  });

  async function setup(graceMs: number, addresses: string[]) {
    const kv = etcd.client();
    for (const [i, address] of addresses.entries()) {
      await kv.put(recordKey(DEFAULT_PREFIX, 'svc', `i${i}`)).value(encodeRecordValue({ address }));
    }
    lb = await startLbServer({
      etcd: etcd.endpoints,
      listen: '127.0.0.1:0',
      logger,
      selfPreservationGraceMs: graceMs,
      metricsListen: '127.0.0.1:0',
    });
    await lb.synced();
    const probe = BalanceLoadProbe.open(lb.address, 'svc');
    closers.push(() => probe.close());
    const admin = new AdminClient({ target: lb.address });
    closers.push(() => admin.close());
    await waitFor('every endpoint', () => probe.addresses().length === addresses.length);
    const removeAll = (): Promise<unknown> => kv.delete().prefix(`${DEFAULT_PREFIX}/svc/`).exec();
    const server = lb;
    /** The kinds of the console's events about svc, oldest first. */
    const consoleEvents = async (): Promise<string[]> => {
      const res = await fetch(`${server.consoleUrl}api/events`);
      const page = (await res.json()) as { events: { kind: string; service: string }[] };
      return page.events.filter((e) => e.service === 'svc').map((e) => e.kind);
    };
    return { kv, probe, admin, removeAll, consoleEvents };
  }

  it('holds the removal of every endpoint of live backends, shows it in the admin view, applies it after the grace', async () => {
    const backends = [await listener(), await listener()];
    for (const b of backends) closers.push(b.close);
    const { probe, admin, removeAll, consoleEvents } = await setup(
      1500,
      backends.map((b) => b.address),
    );
    const versionBefore = Number(probe.last?.version);
    await removeAll();
    const held = await waitFor('the hold in the admin view', async () => {
      const svc = await admin.getService('svc');
      return svc.heldEndpoints === 2 ? svc : undefined;
    });
    expect(held.endpoints.map((e) => e.held)).toEqual([true, true]);
    expect(Number(held.heldUntilMs)).toBeGreaterThan(Date.now());
    const services = await admin.listServices();
    expect(services).toMatchObject({ selfPreservationActive: true, selfPreservationGraceMs: 1500 });
    expect(services.services.find((s) => s.name === 'svc')?.heldEndpoints).toBe(2);
    expect(probe.addresses()).toEqual(backends.map((b) => b.address).sort());
    await waitFor('the removal after the grace', () => probe.addresses().length === 0, { timeoutMs: 10_000 });
    expect(Number(probe.last?.version)).toBeGreaterThan(versionBefore);
    expect((await admin.getService('svc')).heldEndpoints).toBe(0);
    // The console's events page tells the story too.
    const kinds = await consoleEvents();
    expect(kinds).toEqual(expect.arrayContaining(['self_preservation_hold', 'self_preservation_expired']));
    expect(kinds.indexOf('self_preservation_hold')).toBeLessThan(kinds.indexOf('self_preservation_expired'));
    // Every record gone and the hold over: once its last client leaves, so does the service.
    probe.close();
    await waitFor('the service to leave ListServices', async () =>
      (await admin.listServices()).services.every((s) => s.name !== 'svc'),
    );
  });

  it('drops a held endpoint whose connection is refused before the grace ends', async () => {
    const dead = [`127.0.0.1:${await freePort()}`, `127.0.0.1:${await freePort()}`];
    const { probe, removeAll, consoleEvents } = await setup(60_000, dead);
    await removeAll();
    await waitFor('refused endpoints dropped', () => probe.addresses().length === 0, { timeoutMs: 10_000 });
    const kinds = await consoleEvents();
    expect(kinds.filter((k) => k === 'self_preservation_released')).toHaveLength(2);
    expect(kinds).toContain('self_preservation_hold');
  });

  it('applies every removal at once when the grace is 0', async () => {
    const backends = [await listener(), await listener()];
    for (const b of backends) closers.push(b.close);
    const { probe, admin, removeAll } = await setup(
      0,
      backends.map((b) => b.address),
    );
    await removeAll();
    await waitFor('an empty list', () => probe.addresses().length === 0);
    expect((await admin.listServices()).selfPreservationActive).toBe(false);
  });
});
