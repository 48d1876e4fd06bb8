import type { Etcd3 } from 'etcd3';
import { AdminClient } from '../../../cli/admin-client';
import { startLbServer, type LbServer } from '../../../lb-server';
import { registerService } from '../../../registrar';
import { DEFAULT_PREFIX, encodeRecordValue, recordKey } from '../../../common/registry-record';
import { capturingLogger, type CapturedLog, type LogEvent } from '../../support/capturing-logger';
import { TestEtcd } from '../../support/etcd';
import { waitFor } from '../../support/wait-for';
import { BalanceLoadProbe } from './balance-load-probe';

const SERVICE = 'members';

/**
 * The LB server's info log follows membership: each endpoint joining, draining and leaving, each
 * client connecting and leaving, once per transition, with the fields an operator greps for.
 */
describe('LB server membership log', () => {
  let etcd: TestEtcd;
  let kv: Etcd3;
  let lb: LbServer;
  let log: CapturedLog;
  let admin: AdminClient;

  /** The events named `name` about instance `id` (or client `id`). */
  const about = (name: string, id: string): LogEvent[] =>
    log.events(name).filter((e) => e.instanceId === id || e.clientId === id);

  beforeAll(async () => {
    etcd = await TestEtcd.start();
    kv = etcd.client();
    // Registered before the LB server starts: part of its initial read, not a transition.
    await kv
      .put(recordKey(DEFAULT_PREFIX, SERVICE, 'pre'))
      .value(encodeRecordValue({ address: '127.0.0.1:9500' }));
    log = capturingLogger();
    lb = await startLbServer({
      etcd: etcd.endpoints,
      listen: '127.0.0.1:0',
      healthChecks: false,
      selfPreservationGraceMs: 0,
      logger: log.logger,
    });
    await lb.synced();
    admin = new AdminClient({ target: lb.address });
  });

  afterAll(async () => {
    admin?.close();
    await lb?.close();
    await etcd?.close();
  });

  it('logs an instance joining, draining and leaving once each, not the endpoints of the initial read', async () => {
    const reg = await registerService({
      etcd: etcd.endpoints,
      service: SERVICE,
      address: '127.0.0.1:9501',
      instanceId: 'r1',
    });
    const [joined] = await waitFor('r1 joined', () =>
      about('endpoint_joined', 'r1').length > 0 ? about('endpoint_joined', 'r1') : undefined,
    );
    expect(joined).toMatchObject({
      level: 30,
      service: SERVICE,
      instanceId: 'r1',
      address: '127.0.0.1:9501',
      key: reg.key,
      weight: 100,
      draining: false,
    });
    const { kvs } = await kv.get(reg.key).exec();
    expect(joined.lease).toBe(kvs[0].lease);

    // A change that is not membership publishes again, and logs no second join.
    await reg.setWeight(7);
    await waitFor('the LB server to apply the weight', async () =>
      (await admin.getService(SERVICE)).endpoints.some((e) => e.instanceId === 'r1' && e.weight === 7),
    );
    expect(about('endpoint_joined', 'r1')).toHaveLength(1);
    await reg.drain();
    await waitFor('r1 draining', () => about('endpoint_draining', 'r1').length === 1);
    await reg.close();
    const [left] = await waitFor('r1 left', () =>
      about('endpoint_left', 'r1').length > 0 ? about('endpoint_left', 'r1') : undefined,
    );
    expect(left).toMatchObject({
      level: 30,
      service: SERVICE,
      address: '127.0.0.1:9501',
      key: reg.key,
      wasDraining: true,
    });

    // A record deleted without draining (a crash, a lost lease) says so.
    await kv.delete().key(recordKey(DEFAULT_PREFIX, SERVICE, 'pre'));
    const [gone] = await waitFor('pre left', () =>
      about('endpoint_left', 'pre').length > 0 ? about('endpoint_left', 'pre') : undefined,
    );
    expect(gone).toMatchObject({ address: '127.0.0.1:9500', wasDraining: false });

    expect(about('endpoint_joined', 'pre')).toEqual([]); // part of the initial read
    for (const event of ['endpoint_joined', 'endpoint_draining', 'endpoint_left']) {
      expect({ event, n: about(event, 'r1').length }).toEqual({ event, n: 1 });
    }
  });

  it('logs a client connecting and leaving once each, with its id, peer, zone and reported calls', async () => {
    const probe = BalanceLoadProbe.open(lb.address, SERVICE, 'client-9', 'zone-x');
    try {
      const [connected] = await waitFor('the client connected', () =>
        about('client_connected', 'client-9').length > 0 ? about('client_connected', 'client-9') : undefined,
      );
      expect(connected).toMatchObject({
        level: 30,
        service: SERVICE,
        clientId: 'client-9',
        zone: 'zone-x',
        protocol: 'lookaside.v1',
        peer: expect.stringMatching(/127\.0\.0\.1/),
      });
      await waitFor('the initial response', () => probe.responses.length > 0);
      probe.send({
        clientStats: {
          backends: [
            {
              address: '127.0.0.1:9501',
              callsStarted: 4,
              callsSucceeded: 3,
              callsFailed: 1,
              latencyMsSum: 2,
            },
          ],
        },
      });
      await waitFor('the report recorded', async () =>
        (await admin.listClients(SERVICE)).clients.some(
          (c) => c.clientId === 'client-9' && c.stats.length > 0,
        ),
      );
    } finally {
      probe.close();
    }
    const [left] = await waitFor('the client left', () =>
      about('client_disconnected', 'client-9').length > 0
        ? about('client_disconnected', 'client-9')
        : undefined,
    );
    expect(left).toMatchObject({
      service: SERVICE,
      clientId: 'client-9',
      protocol: 'lookaside.v1',
      callsStarted: 4,
      callsSucceeded: 3,
      callsFailed: 1,
    });
    expect(Number(left.connectedMs)).toBeGreaterThanOrEqual(0);
    expect(about('client_connected', 'client-9')).toHaveLength(1);
    expect(about('client_disconnected', 'client-9')).toHaveLength(1);
  });
});
