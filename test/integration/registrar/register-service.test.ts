import pino from 'pino';
import { freePort } from '../../../etcd/etcd-process';
import { RegistrarError, registerService, type Registration } from '../../../registrar';
import { capturingLogger } from '../../support/capturing-logger';
import { parseRecord, DEFAULT_PREFIX } from '../../../common/registry-record';
import { TestEtcd } from '../../support/etcd';
import { waitFor } from '../../support/wait-for';

describe('registerService', () => {
  let etcd: TestEtcd;
  const registrations: Registration[] = [];

  beforeAll(async () => {
    etcd = await TestEtcd.start();
  });
  afterEach(async () => {
    for (const r of registrations.splice(0)) await r.close();
  });
  afterAll(async () => {
    await etcd.close();
  });

  async function register(extra: Partial<Parameters<typeof registerService>[0]> = {}): Promise<Registration> {
    const r = await registerService({
      etcd: etcd.endpoints,
      service: 'greeter',
      address: '127.0.0.1:8181',
      ttlSeconds: 2,
      ...extra,
    });
    registrations.push(r);
    return r;
  }

  async function record(key: string) {
    const value = await etcd.client().get(key).string();
    if (value === null) return null;
    const parsed = parseRecord(DEFAULT_PREFIX, key, value);
    if (!parsed.ok) throw new Error(parsed.reason);
    return parsed.value;
  }

  test('puts a valid record with defaults under <prefix>/<service>/<instance-id> on a lease', async () => {
    const r = await register();
    expect(r.key).toBe(`${DEFAULT_PREFIX}/greeter/${r.instanceId}`);
    expect(r.instanceId.startsWith('127.0.0.1:8181-')).toBe(true);
    const rec = await record(r.key);
    expect(rec).toMatchObject({
      address: '127.0.0.1:8181',
      weight: 100,
      draining: false,
      format: 'lookaside',
    });
    const lease = (await etcd.client().get(r.key).exec()).kvs[0].lease;
    expect(lease).not.toBe('0');
  });

  test('setWeight and drain publish the new value; close deletes the record and is idempotent', async () => {
    const r = await register({ weight: 5, zone: 'z1', metadata: { v: '1' } });
    await r.setWeight(7);
    expect(await record(r.key)).toMatchObject({ weight: 7, zone: 'z1', metadata: { v: '1' } });
    let inFlight = 2;
    const drained = r.drain({ inFlight: () => inFlight, timeoutMs: 5000 });
    await waitFor('draining published', async () => (await record(r.key))?.draining === true);
    inFlight = 0;
    await drained;
    await r.close();
    await r.close();
    expect(await record(r.key)).toBeNull();
  });

  test('drain returns at its timeout when calls never end', async () => {
    const r = await register();
    const started = Date.now();
    await r.drain({ inFlight: () => 1, timeoutMs: 200 });
    expect(Date.now() - started).toBeGreaterThanOrEqual(150);
  });

  test('the record comes back after its lease is revoked by someone else', async () => {
    const r = await register({ ttlSeconds: 2 });
    const admin = etcd.client();
    const leaseId = (await admin.get(r.key).exec()).kvs[0].lease;
    // Revoke the lease from another client: the key disappears with it.
    await admin.leaseClient.leaseRevoke({ ID: leaseId });
    expect(await admin.get(r.key).string()).toBeNull();
    await waitFor('the registrar to put the record again', async () => (await record(r.key)) !== null, {
      timeoutMs: 15_000,
    });
    const newLease = (await admin.get(r.key).exec()).kvs[0].lease;
    expect(newLease).not.toBe(leaseId);
  });

  test('a first registration etcd cannot take is not retried: a RegistrarError, and no "deregistered"', async () => {
    const log = capturingLogger();
    const unreachable = `http://127.0.0.1:${await freePort()}`;
    const attempt = registerService({
      etcd: [unreachable],
      service: 'greeter',
      address: '127.0.0.1:8181',
      instanceId: 'never',
      logger: log.logger,
    });
    await expect(attempt).rejects.toBeInstanceOf(RegistrarError);
    await expect(attempt).rejects.toThrow(`(key ${DEFAULT_PREFIX}/greeter/never, etcd ${unreachable})`);
    // Nothing was registered, so nothing was deregistered (nor registered, nor retried).
    expect(log.lines).toEqual([]);
  });

  test('close() of a registration that was written logs "deregistered" once', async () => {
    const log = capturingLogger();
    const r = await register({ logger: log.logger });
    await r.close();
    await r.close();
    expect(log.events('registered')).toHaveLength(1);
    expect(log.events('deregistered')).toEqual([expect.objectContaining({ key: r.key })]);
  });

  test('rejects bad options with a RangeError naming the option', async () => {
    await expect(register({ address: 'nohost' })).rejects.toThrow(/"address"/);
    await expect(register({ weight: -1 })).rejects.toThrow(/"weight"/);
    await expect(register({ service: 'a/b' })).rejects.toThrow(/"service"/);
    await expect(register({ etcd: [] })).rejects.toThrow(/"etcd"/);
  });

  test('the record comes back after an etcd outage longer than the TTL', async () => {
    const own = await TestEtcd.start();
    const events: string[] = [];
    const logger = pino(
      { level: 'debug' },
      { write: (line: string) => void events.push(JSON.parse(line).event) },
    );
    const r = await registerService({
      etcd: own.endpoints,
      service: 'greeter',
      address: '127.0.0.1:8181',
      ttlSeconds: 1,
      logger,
    });
    try {
      const before = (await own.client().get(r.key).exec()).kvs[0].lease;
      await own.cluster.members[0].kill();
      await waitFor('the registrar to notice the lost lease', () => events.includes('lease_lost'), {
        timeoutMs: 15_000,
      });
      await own.cluster.members[0].restart();
      await waitFor('the registrar to register again', () => events.includes('re_registered'), {
        timeoutMs: 20_000,
      });
      const kv = (await own.client().get(r.key).exec()).kvs[0];
      expect(kv.lease).not.toBe(before);
      expect(JSON.parse(kv.value.toString()).address).toBe('127.0.0.1:8181');
    } finally {
      await r.close();
      await own.close();
    }
  });
});
