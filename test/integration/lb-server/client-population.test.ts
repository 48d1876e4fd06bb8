import type { Etcd3, IKeyValue } from 'etcd3';
import { AdminClient } from '../../../cli/admin-client';
import { startLbServer, type LbServer } from '../../../lb-server';
import { DEFAULT_PREFIX, encodeRecordValue, recordKey } from '../../../common/registry-record';
import { clientsPrefix, configPrefix } from '../../../common/key-layout';
import type { ClientInfo__Output } from '../../../proto/gen/lookaside/v1/ClientInfo';
import { capturingLogger, type CapturedLog } from '../../support/capturing-logger';
import { TestEtcd } from '../../support/etcd';
import { scrapeMetric } from '../../support/scrape-metric';
import { waitFor } from '../../support/wait-for';
import { BalanceLoadProbe } from './balance-load-probe';

const SERVICE = 'greeter';
const CLIENTS = clientsPrefix(DEFAULT_PREFIX);
const CONFIG_KEY = `${configPrefix(DEFAULT_PREFIX)}${SERVICE}`;
/** The shortest lease etcd grants reliably: a dead replica's clients vanish within it. */
const LEASE_TTL_SECONDS = 2;

interface Replica {
  readonly id: string;
  readonly lb: LbServer;
  readonly log: CapturedLog;
  readonly admin: AdminClient;
}

/** id → replica of the clients `admin clients` shows for the service, sorted by client id. */
function served(clients: readonly ClientInfo__Output[]): Record<string, string> {
  return Object.fromEntries(
    [...clients].sort((a, b) => (a.clientId < b.clientId ? -1 : 1)).map((c) => [c.clientId, c.replica]),
  );
}

describe('client population across LB replicas (real etcd, real LB servers)', () => {
  let etcd: TestEtcd;
  let kv: Etcd3;
  const replicas: Replica[] = [];
  const probes: BalanceLoadProbe[] = [];

  async function startReplica(id: string, clientFlushMs = 100): Promise<Replica> {
    const log = capturingLogger();
    const lb = await startLbServer({
      etcd: etcd.endpoints,
      listen: '127.0.0.1:0',
      metricsListen: '127.0.0.1:0',
      replicaId: id,
      replicaLeaseTtlSeconds: LEASE_TTL_SECONDS,
      clientFlushMs,
      healthChecks: false,
      logger: log.logger,
    });
    await lb.synced();
    await lb.population.synced();
    const r = { id, lb, log, admin: new AdminClient({ target: lb.address }) };
    replicas.push(r);
    return r;
  }

  async function stopReplica(r: Replica): Promise<void> {
    replicas.splice(replicas.indexOf(r), 1);
    r.admin.close();
    await r.lb.close();
  }

  function open(r: Replica, clientId: string, zone = ''): BalanceLoadProbe {
    const p = BalanceLoadProbe.open(r.lb.address, SERVICE, clientId, zone);
    probes.push(p);
    return p;
  }

  async function clientsOf(r: Replica): Promise<ClientInfo__Output[]> {
    return (await r.admin.listClients(SERVICE)).clients;
  }

  const metric = (r: Replica, series: string): Promise<number> => scrapeMetric(r.lb.metricsAddress!, series);

  beforeAll(async () => {
    etcd = await TestEtcd.start();
    kv = etcd.client();
    await kv
      .put(recordKey(DEFAULT_PREFIX, SERVICE, 'b1'))
      .value(encodeRecordValue({ address: '127.0.0.1:8101', zone: 'z1' }));
  });

  afterEach(async () => {
    for (const p of probes.splice(0)) p.close();
    for (const r of [...replicas]) await stopReplica(r);
    await kv.delete().prefix(CLIENTS);
    await kv.delete().key(CONFIG_KEY);
  });

  afterAll(async () => {
    await etcd?.close();
  });

  it("both replicas' admin clients show every client with the replica that serves it", async () => {
    const a = await startReplica('lb-a');
    const b = await startReplica('lb-b');
    const seenByB: string[] = [];
    b.lb.population.onChange((services) => seenByB.push(...services));
    open(a, 'a1', 'z1');
    open(a, 'a2', 'z2');
    // lb-b serves nobody yet: only its watch of lb-a's records can announce the service.
    await waitFor("lb-b's listener to hear of lb-a's clients", () => seenByB.includes(SERVICE));
    open(b, 'b1', 'z1');
    const expected = { a1: 'lb-a', a2: 'lb-a', b1: 'lb-b' };
    for (const r of [a, b]) {
      const clients = await waitFor(`${r.id} to see all three clients`, async () => {
        const c = await clientsOf(r);
        return JSON.stringify(served(c)) === JSON.stringify(expected) ? c : undefined;
      });
      for (const c of clients) {
        // Only the serving replica knows the peer; the other shows the record's fields.
        expect({ id: c.clientId, local: c.local, hasPeer: c.peer !== '' }).toEqual({
          id: c.clientId,
          local: c.replica === r.id,
          hasPeer: c.replica === r.id,
        });
      }
      expect(clients.find((c) => c.clientId === 'a2')).toMatchObject({
        zone: 'z2',
        protocol: 'lookaside.v1',
      });
    }
    // Only the serving replica knows what a client was sent; the other one says where to ask.
    await expect(a.admin.getAssignment(SERVICE, 'b1')).rejects.toThrow(
      /served by replica "lb-b", not this one/,
    );
    // The population API gives the integrator's policy the same view, sorted by client id.
    expect(a.lb.population.clients(SERVICE).map((c) => [c.clientId, c.replica, c.local])).toEqual([
      ['a1', 'lb-a', true],
      ['a2', 'lb-a', true],
      ['b1', 'lb-b', false],
    ]);
    expect(await metric(a, 'lookaside_client_population_clients{service="greeter",served="local"}')).toBe(2);
    expect(await metric(a, 'lookaside_client_population_clients{service="greeter",served="remote"}')).toBe(1);
    expect(await metric(b, 'lookaside_client_population_clients{service="greeter",served="remote"}')).toBe(2);
    // The records in etcd: one per client, under the clients folder, on each replica's lease.
    const records = await kv.getAll().prefix(`${CLIENTS}${SERVICE}/`).keys();
    expect(records.sort()).toEqual([`${CLIENTS}greeter/a1`, `${CLIENTS}greeter/a2`, `${CLIENTS}greeter/b1`]);
  });

  it("a replica that dies without deleting its records: its clients vanish from the other's view after its lease", async () => {
    const a = await startReplica('lb-a');
    const b = await startReplica('lb-b');
    open(a, 'a1');
    open(b, 'b1');
    open(b, 'b2');
    await waitFor(
      'lb-a to see the clients of lb-b, and all three records written',
      async () =>
        Object.keys(served(await clientsOf(a))).length === 3 &&
        (await kv.getAll().prefix(CLIENTS).keys()).length === 3,
    );
    // As a crash would: the lease is released (no more keepalives), not revoked.
    await b.lb.population.close({ revoke: false });
    // Right after, the records are still there (their lease has more than a second to run) ...
    expect(served(await clientsOf(a))).toEqual({ a1: 'lb-a', b1: 'lb-b', b2: 'lb-b' });
    expect(await kv.getAll().prefix(CLIENTS).keys()).toHaveLength(3);
    await stopReplica(b);
    // ... and they are gone once it ran out.
    await waitFor(
      "lb-b's clients to vanish with its lease",
      async () => JSON.stringify(served(await clientsOf(a))) === JSON.stringify({ a1: 'lb-a' }),
      { timeoutMs: 15_000 },
    );
  });

  it('a replica that closes gracefully revokes its lease: its records are deleted at once', async () => {
    const a = await startReplica('lb-a');
    const b = await startReplica('lb-b');
    open(b, 'b1');
    await waitFor('lb-a to see b1', async () => served(await clientsOf(a)).b1 === 'lb-b');
    await stopReplica(b);
    // No waiting for a TTL: the revoke deleted the record before close() resolved.
    expect(await kv.getAll().prefix(CLIENTS).keys()).toEqual([]);
    await waitFor('lb-a to forget b1', async () => (await clientsOf(a)).length === 0);
  });

  it('a client that moved to another replica keeps the record that replica wrote when it leaves the first', async () => {
    const a = await startReplica('lb-a');
    const b = await startReplica('lb-b');
    const key = `${CLIENTS}${SERVICE}/mover`;
    const replicaInEtcd = async (): Promise<string | undefined> => {
      const value = await kv.get(key).string();
      return value === null ? undefined : (JSON.parse(value) as { replica: string }).replica;
    };
    const onB = open(b, 'mover');
    await waitFor('the record of lb-b', async () => (await replicaInEtcd()) === 'lb-b');
    // It reconnects to lb-a before its old stream on lb-b has ended.
    open(a, 'mover');
    await waitFor('the record of lb-a', async () => (await replicaInEtcd()) === 'lb-a');
    onB.close();
    await waitFor('lb-b to let it go', () => b.lb.population.clients(SERVICE).every((c) => !c.local));
    await waitFor('nothing pending on lb-b', () => b.lb.population.pending() === 0);
    // lb-b's delete was guarded by its lease: the record lb-a wrote stays.
    expect(await replicaInEtcd()).toBe('lb-a');
    expect(served(await clientsOf(b))).toEqual({ mover: 'lb-a' });
    // One put; one delete whose txn's guard failed, so it went again alone (guarded): 3 txns.
    expect(b.lb.population.writeCounts()).toEqual({ put: 1, delete: 1, txns: 3 });
  });

  it('a lost lease is granted again and every local client rewritten', async () => {
    const a = await startReplica('lb-a');
    open(a, 'a1');
    open(a, 'a2');
    const key = `${CLIENTS}${SERVICE}/a1`;
    const first = await waitFor('the records of a1 and a2', async () => {
      const kvs: IKeyValue[] = (await kv.getAll().prefix(CLIENTS).exec()).kvs;
      return kvs.length === 2 ? kvs.find((x) => x.key.toString() === key) : undefined;
    });
    // An operator (or etcd) revokes the replica's lease: both records go with it.
    await kv.leaseClient.leaseRevoke({ ID: first.lease });
    const again = await waitFor(
      'both records rewritten on a new lease',
      async () => {
        const kvs: IKeyValue[] = (await kv.getAll().prefix(CLIENTS).exec()).kvs;
        return kvs.length === 2 && kvs.every((x) => String(x.lease) !== String(first.lease))
          ? kvs
          : undefined;
      },
      { timeoutMs: 15_000 },
    );
    expect(new Set(again.map((x) => String(x.lease))).size).toBe(1);
    expect(a.log.events('client_population_lease_lost')).toHaveLength(1);
  });

  it('churn of N clients costs one put per join and one delete per leave, coalesced into few txns', async () => {
    const a = await startReplica('lb-a');
    const b = await startReplica('lb-b');
    // Count every write etcd sees under the clients folder, independently of the metric.
    let puts = 0;
    let deletes = 0;
    const watcher = await kv.watch().prefix(CLIENTS).create();
    watcher.on('put', () => (puts += 1));
    watcher.on('delete', () => (deletes += 1));
    try {
      const N = 40;
      const opened = Array.from({ length: N }, (_, i) => open(a, `churn-${i}`));
      await waitFor('lb-b to see the N clients', async () => (await clientsOf(b)).length === N);
      await waitFor('nothing pending on lb-a', () => a.lb.population.pending() === 0);
      for (const p of opened) p.close();
      await waitFor('lb-b to see them all leave', async () => (await clientsOf(b)).length === 0);
      await waitFor('nothing pending on lb-a', () => a.lb.population.pending() === 0);
      await waitFor('the watch to see every write', () => puts + deletes === 2 * N);
      const writes = a.lb.population.writeCounts();
      expect({ put: writes.put, delete: writes.delete }).toEqual({ put: N, delete: N });
      expect({ puts, deletes }).toEqual({ puts: N, deletes: N });
      // Coalesced: N joins are far fewer txns than N (each txn holds at most 64 ops).
      expect(writes.txns).toBeGreaterThanOrEqual(2);
      expect(writes.txns).toBeLessThanOrEqual(N);
      expect(await metric(a, 'lookaside_client_population_writes_total{op="put"}')).toBe(N);
      expect(await metric(a, 'lookaside_client_population_writes_total{op="delete"}')).toBe(N);
      // lb-b wrote nothing: it serves no client.
      expect(b.lb.population.writeCounts()).toEqual({ put: 0, delete: 0, txns: 0 });
    } finally {
      await watcher.cancel();
    }
  });

  it('a client that joins and leaves within one flush window causes no etcd write', async () => {
    // A window far longer than the test: only the explicit flush below writes.
    const a = await startReplica('lb-a', 60_000);
    // A join is announced at once, long before any write: a new client needs no etcd round trip.
    const announced: { services: readonly string[]; pending: number }[] = [];
    a.lb.population.onChange((services) => announced.push({ services, pending: a.lb.population.pending() }));
    const p = open(a, 'brief');
    await waitFor('the client to join', () => a.lb.population.pending() === 1);
    await waitFor('the join announced', () => announced.length === 1);
    expect(announced).toEqual([{ services: [SERVICE], pending: 1 }]);
    expect(a.lb.population.clients(SERVICE).map((c) => c.clientId)).toEqual(['brief']);
    p.close();
    await waitFor('the client to leave', () => a.lb.population.clients(SERVICE).length === 0);
    await waitFor('the leave announced', () => announced.length === 2);
    expect(a.lb.population.pending()).toBe(0);
    await a.lb.population.flush();
    expect(a.lb.population.writeCounts()).toEqual({ put: 0, delete: 0, txns: 0 });
    expect(await kv.getAll().prefix(CLIENTS).keys()).toEqual([]);
  });

  it('an invalid client record written by hand is skipped and reported, and the rest stays', async () => {
    const a = await startReplica('lb-a');
    const b = await startReplica('lb-b');
    open(b, 'b1');
    const badKey = `${CLIENTS}${SERVICE}/forged`;
    await kv.put(badKey).value('{"clientId":"forged","service":"greeter"}');
    const [event] = await waitFor('the rejection to be logged', () => {
      const e = a.log.events('client_record_rejected');
      return e.length > 0 ? e : undefined;
    });
    expect(event).toMatchObject({ key: badKey });
    expect(String(event.reason)).toMatch(/zone/);
    expect(await metric(a, 'lookaside_client_population_rejected_records')).toBe(1);
    expect(a.lb.population.rejectedRecords().map((r) => r.key)).toEqual([badKey]);
    await waitFor('b1 on lb-a, without the forged record', async () => {
      const s = served(await clientsOf(a));
      return JSON.stringify(s) === JSON.stringify({ b1: 'lb-b' });
    });
  });

  it('an invalid per-service config is rejected with key and reason; the previous valid one stays; deletion returns the defaults', async () => {
    const a = await startReplica('lb-a');
    const configOf = async () => a.admin.getService(SERVICE);
    expect((await configOf()).config).toEqual({
      subsetSize: 0,
      zoneAware: false,
      zoneMinEndpoints: 6,
      source: 'default',
    });
    const changes: string[][] = [];
    a.lb.serviceConfig.onChange((s) => changes.push([...s]));
    await kv.put(CONFIG_KEY).value(JSON.stringify({ subsetSize: 3, zoneAware: true }));
    await waitFor('the valid config', async () => (await configOf()).config?.subsetSize === 3);
    expect(changes).toEqual([[SERVICE]]);
    await kv.put(CONFIG_KEY).value(JSON.stringify({ subsetSize: -1, zoneAware: true }));
    const rejected = await waitFor('the rejection', async () => {
      const r = await configOf();
      return r.rejectedConfig ? r : undefined;
    });
    expect(rejected.config).toEqual({ subsetSize: 3, zoneAware: true, zoneMinEndpoints: 6, source: 'etcd' });
    expect(rejected.rejectedConfig?.key).toBe(CONFIG_KEY);
    expect(rejected.rejectedConfig?.reason).toMatch(/^subsetSize: expected an integer >= 0/);
    const [event] = a.log.events('service_config_rejected');
    expect(event).toMatchObject({ key: CONFIG_KEY });
    expect(String(event.reason)).toMatch(/subsetSize/);
    expect(await metric(a, 'lookaside_service_config_rejected')).toBe(1);
    // The rejection changed nothing in force: no change was announced for it.
    expect(changes).toEqual([[SERVICE]]);
    expect(a.lb.serviceConfig.configOf(SERVICE)).toMatchObject({ subsetSize: 3, source: 'etcd' });
    await kv.put(CONFIG_KEY).value(JSON.stringify({ subsetSize: 3, zoneAware: true, typo: 1 }));
    await waitFor('the unknown key named', async () =>
      /unknown key "typo"/.test((await configOf()).rejectedConfig?.reason ?? ''),
    );
    await kv.delete().key(CONFIG_KEY);
    await waitFor('the defaults again', async () => {
      const r = await configOf();
      return r.config?.source === 'default' && r.rejectedConfig === null;
    });
    expect(await metric(a, 'lookaside_service_config_rejected')).toBe(0);
  });

  it('an etcd outage loses nothing: joins and leaves during it reach etcd once it is back', async () => {
    const a = await startReplica('lb-a');
    const b = await startReplica('lb-b');
    const gone = open(a, 'before');
    await waitFor('lb-b to see the first client', async () => served(await clientsOf(b)).before === 'lb-a');
    const member = etcd.cluster.members[0];
    await member.kill('SIGKILL');
    try {
      // The LB server keeps accepting streams without etcd; the population owes their records.
      gone.close();
      open(a, 'during');
      await waitFor(
        'lb-a to hold the change',
        () =>
          a.lb.population
            .clients(SERVICE)
            .map((c) => c.clientId)
            .join() === 'during',
      );
      expect(a.lb.population.pending()).toBeGreaterThan(0);
    } finally {
      member.spawn('existing');
      await member.waitHealthy();
    }
    await waitFor(
      'lb-b to see the change made during the outage',
      async () => JSON.stringify(served(await clientsOf(b))) === JSON.stringify({ during: 'lb-a' }),
      { timeoutMs: 30_000, intervalMs: 250 },
    );
    await waitFor('nothing pending on lb-a', () => a.lb.population.pending() === 0, { timeoutMs: 30_000 });
    expect(await kv.getAll().prefix(CLIENTS).keys()).toEqual([`${CLIENTS}greeter/during`]);
  });
});
