import type { Etcd3 } from 'etcd3';
import pino from 'pino';
import { AdminClient } from '../../../cli/admin-client';
import { DEFAULT_PREFIX, encodeRecordValue, recordKey } from '../../../common/registry-record';
import { startLbServer, type AssignmentPolicy, type LbServer } from '../../../lb-server';
import { CLUSTER_LOAD_ASSIGNMENT_TYPE_URL } from '../../../lb-server/frontends/xds/xds-resources';
import { AdsProbe } from '../../support/ads-probe';
import { TestEtcd } from '../../support/etcd';
import { waitFor } from '../../support/wait-for';
import { BalanceLoadProbe } from './balance-load-probe';

const logger = pino({ level: process.env.LOG_LEVEL ?? 'silent' });

/** A test-only policy: clients of zone "east" get only east's endpoints, everyone else all of them. */
const eastOnly: AssignmentPolicy = {
  groupOf: (client) => (client.zone === 'east' ? 'east' : ''),
  select: (entries, group) => entries.filter((e) => e.endpoint.zone === group),
};

describe('assignments per group of clients, through every frontend', () => {
  let etcd: TestEtcd;
  let kv: Etcd3;
  let lb: LbServer;
  const closers: { close(): void }[] = [];

  beforeAll(async () => {
    etcd = await TestEtcd.start();
    kv = etcd.client();
    lb = await startLbServer({
      etcd: etcd.endpoints,
      listen: '127.0.0.1:0',
      logger,
      assignmentPolicy: eastOnly,
    });
    await lb.synced();
    await kv
      .put(recordKey(DEFAULT_PREFIX, 'zoned', 'e1'))
      .value(encodeRecordValue({ address: '127.0.0.2:8181', zone: 'east' }));
    await kv
      .put(recordKey(DEFAULT_PREFIX, 'zoned', 'w1'))
      .value(encodeRecordValue({ address: '127.0.0.3:8181', zone: 'west' }));
  });

  afterAll(async () => {
    for (const c of closers.splice(0)) c.close();
    await lb?.close();
    await etcd?.close();
  });

  test('two clients of one service receive different lists when the stage says so, and admin shows each', async () => {
    const east = BalanceLoadProbe.open(lb.address, 'zoned', 'client-east', 'east');
    const west = BalanceLoadProbe.open(lb.address, 'zoned', 'client-west', 'west');
    closers.push(east, west);
    await waitFor('the east client gets only east', () => east.addresses().join() === '127.0.0.2:8181');
    await waitFor('the west client gets both', () => west.addresses().length === 2);

    // A change reaches each group as its own list: a second east endpoint.
    await kv
      .put(recordKey(DEFAULT_PREFIX, 'zoned', 'e2'))
      .value(encodeRecordValue({ address: '127.0.0.4:8181', zone: 'east' }));
    await waitFor('east gets e2', () => east.addresses().join() === '127.0.0.2:8181,127.0.0.4:8181');
    await waitFor('west gets e2', () => west.addresses().length === 3);
    expect(east.last?.version).toBe(west.last?.version);

    const admin = new AdminClient({ target: lb.address });
    closers.push(admin);
    const assignment = await admin.getAssignment('zoned');
    const byClient = new Map(assignment.clients.map((c) => [c.client?.clientId, c]));
    expect(byClient.get('client-east')?.group).toBe('east');
    expect(
      byClient
        .get('client-east')
        ?.serverList?.servers.map((s) => s.address)
        .sort(),
    ).toEqual(['127.0.0.2:8181', '127.0.0.4:8181']);
    expect(byClient.get('client-west')?.group).toBe('');
    expect(byClient.get('client-west')?.serverList?.servers).toHaveLength(3);
    expect(assignment.current?.servers).toHaveLength(3);
  });

  test('an xDS client is sent its group too', async () => {
    const ads = new AdsProbe(lb.address);
    closers.push(ads);
    ads.send({
      node: { id: 'xds-east', locality: { zone: 'east' } },
      typeUrl: CLUSTER_LOAD_ASSIGNMENT_TYPE_URL,
      resourceNames: ['zoned'],
    });
    await waitFor(
      'an EDS answer with the east endpoints',
      () =>
        ads.hostCount(CLUSTER_LOAD_ASSIGNMENT_TYPE_URL, '127.0.0.2') === 1 &&
        ads.hostCount(CLUSTER_LOAD_ASSIGNMENT_TYPE_URL, '127.0.0.4') === 1,
    );
    expect(ads.hostCount(CLUSTER_LOAD_ASSIGNMENT_TYPE_URL, '127.0.0.3')).toBe(0);
  });
});
