import type { Etcd3 } from 'etcd3';
import { AdminClient } from '../../../cli/admin-client';
import { serviceView } from '../../../cli/admin-views';
import { installLookaside } from '../../../client-sdk';
import { startGreeterServer, type GreeterServer } from '../../../demo-service';
import { startLbServer, type LbServer } from '../../../lb-server';
import { DEFAULT_PREFIX, encodeRecordValue, recordKey } from '../../../common/registry-record';
import type { GreeterClient } from '../../../proto/gen/helloworld/Greeter';
import { capturingLogger, type CapturedLog } from '../../support/capturing-logger';
import { TestEtcd } from '../../support/etcd';
import { callMany, greeterClient, sayHello } from '../../support/greeter-load';
import { scrapeMetric } from '../../support/scrape-metric';
import { waitFor } from '../../support/wait-for';

/**
 * Two records of one address (a Go-format record next to ours, an instance restarted on the same
 * port before its old lease expired): the assignment stage picks the one clients use, the other
 * is a duplicate with share 0, and admin, the log, the metric and a real SDK channel agree.
 */
describe('two records with the same address', () => {
  let etcd: TestEtcd;
  let kv: Etcd3;
  let lb: LbServer;
  let log: CapturedLog;
  let admin: AdminClient;
  let x: GreeterServer;
  let y: GreeterServer;
  const clients: GreeterClient[] = [];

  beforeAll(async () => {
    installLookaside();
    etcd = await TestEtcd.start();
    kv = etcd.client();
    [x, y] = await Promise.all([startGreeterServer({ port: 0 }), startGreeterServer({ port: 0 })]);
    log = capturingLogger();
    lb = await startLbServer({
      etcd: etcd.endpoints,
      listen: '127.0.0.1:0',
      metricsListen: '127.0.0.1:0',
      coalesceMs: 5,
      healthChecks: false,
      selfPreservationGraceMs: 0,
      logger: log.logger,
    });
    await lb.synced();
    admin = new AdminClient({ target: lb.address });
  });

  afterAll(async () => {
    for (const c of clients) c.close();
    admin?.close();
    await lb?.close();
    x?.forceClose();
    y?.forceClose();
    await etcd?.close();
  });

  const client = (service: string): GreeterClient => {
    const c = greeterClient(`lookaside://${lb.address}/${service}`);
    clients.push(c);
    return c;
  };
  const put = (service: string, id: string, value: string) =>
    kv.put(recordKey(DEFAULT_PREFIX, service, id)).value(value);
  const duplicates = (service: string) =>
    scrapeMetric(lb.metricsAddress ?? '', `lookaside_duplicate_endpoints{service="${service}"}`);
  const row = async (service: string, id: string) =>
    (await admin.getService(service)).endpoints.find((e) => e.instanceId === id);

  it('a Go-format record next to ours: ours is used with the full share, the Go one is a duplicate, and SDK calls match admin', async () => {
    const service = 'dup-go';
    await put(service, 'x-ours', encodeRecordValue({ address: x.address, weight: 100 }));
    await put(service, 'y', encodeRecordValue({ address: y.address, weight: 100 }));
    // Written after ours: the format decides, not the revision. Key as etcd's Go manager writes it.
    await put(service, x.address, JSON.stringify({ Op: 0, Addr: x.address, Metadata: null }));

    const answer = await waitFor('the Go record to be assessed', async () => {
      const r = await admin.getService(service);
      return r.endpoints.length === 3 ? r : undefined;
    });
    const byId = new Map(answer.endpoints.map((e) => [e.instanceId, e]));
    expect(byId.get(x.address)).toMatchObject({
      format: 'etcd-naming',
      weight: 100,
      effectiveWeight: 0,
      eligible: false,
      reasons: ['duplicate'],
      duplicateOf: 'x-ours',
    });
    expect(byId.get('x-ours')).toMatchObject({
      effectiveWeight: 100,
      eligible: true,
      reasons: [],
      duplicateOf: '',
    });
    // `lookaside admin service` renders this answer: the duplicate's share is 0, x and y share half each.
    const text = serviceView(answer);
    expect(text).toMatch(new RegExp(`x-ours\\s+${x.address}\\s+100\\s+100\\s+50\\.0%\\s+serving`));
    expect(text).toMatch(
      new RegExp(`${x.address}\\s+${x.address}\\s+100\\s+0\\s+0\\.0%\\s+duplicate of x-ours`),
    );
    expect(text).toMatch(new RegExp(`y\\s+${y.address}\\s+100\\s+100\\s+50\\.0%\\s+serving`));

    const [warned] = await waitFor('the duplicate to be logged', () => {
      const events = log.events('endpoint_duplicate_address').filter((e) => e.service === service);
      return events.length > 0 ? events : undefined;
    });
    expect(warned).toMatchObject({
      level: 40,
      service,
      address: x.address,
      instanceId: x.address,
      usedInstanceId: 'x-ours',
      format: 'etcd-naming',
      usedFormat: 'lookaside',
    });
    expect(await duplicates(service)).toBe(1);

    // A real SDK channel: x gets half the calls as admin says (summing the two records would give it two thirds).
    const c = client(service);
    await waitFor('both backends to answer', async () => {
      const { byBackend } = await callMany(c, 10);
      return byBackend[x.address] > 0 && byBackend[y.address] > 0;
    });
    const { byBackend, failures } = await callMany(c, 200);
    expect(failures).toEqual([]);
    expect(byBackend[x.address]).toBeGreaterThanOrEqual(84);
    expect(byBackend[x.address]).toBeLessThanOrEqual(116);
    expect(byBackend[x.address] + byBackend[y.address]).toBe(200);

    // Our record goes: the Go record takes over the address with its own weight.
    await kv.delete().key(recordKey(DEFAULT_PREFIX, service, 'x-ours'));
    await waitFor('the Go record to be used', async () => {
      const e = await row(service, x.address);
      return (
        e?.eligible === true && e.effectiveWeight === 100 && e.reasons.length === 0 && e.duplicateOf === ''
      );
    });
    await waitFor('the duplicate to be resolved in the log', () =>
      log
        .events('endpoint_duplicate_address_resolved')
        .some((e) => e.service === service && e.instanceId === x.address && e.usedInstanceId === 'x-ours'),
    );
    expect(await duplicates(service)).toBe(0);
    expect(log.events('endpoint_duplicate_address').filter((e) => e.service === service)).toHaveLength(1);
    const after = await callMany(c, 40);
    expect(after.failures).toEqual([]);
    expect(after.byBackend[x.address]).toBeGreaterThan(0);
    expect(after.byBackend[y.address]).toBeGreaterThan(0);
  });

  it('an instance restarted on the same port: the newer record is used, every call goes to the one address, and the old record takes over when the new one goes', async () => {
    const service = 'dup-restart';
    await put(service, 'old', encodeRecordValue({ address: x.address, weight: 300 }));
    await put(service, 'new', encodeRecordValue({ address: x.address, weight: 100 }));
    await waitFor('old to be a duplicate of new', async () => {
      const old = await row(service, 'old');
      return old?.duplicateOf === 'new' && old.effectiveWeight === 0 && old.reasons.includes('duplicate');
    });
    expect(await row(service, 'new')).toMatchObject({ eligible: true, effectiveWeight: 100 });
    expect(await duplicates(service)).toBe(1);

    const c = client(service);
    expect(await sayHello(c, { waitForReady: true })).toEqual({ ok: true, backend: x.address });
    const { byBackend, failures } = await callMany(c, 50);
    expect(failures).toEqual([]);
    expect(byBackend).toEqual({ [x.address]: 50 });

    await kv.delete().key(recordKey(DEFAULT_PREFIX, service, 'new'));
    await waitFor('old to be used', async () => {
      const old = await row(service, 'old');
      return old?.eligible === true && old.effectiveWeight === 300 && old.duplicateOf === '';
    });
    expect(await duplicates(service)).toBe(0);
    const again = await callMany(c, 20);
    expect(again.failures).toEqual([]);
    expect(again.byBackend).toEqual({ [x.address]: 20 });
    const events = (name: string) => log.events(name).filter((e) => e.service === service);
    expect(events('endpoint_duplicate_address').map((e) => [e.instanceId, e.usedInstanceId])).toEqual([
      ['old', 'new'],
    ]);
    expect(
      events('endpoint_duplicate_address_resolved').map((e) => [e.instanceId, e.usedInstanceId]),
    ).toEqual([['old', 'new']]);
  });
});
