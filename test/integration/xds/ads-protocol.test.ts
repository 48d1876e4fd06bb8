import type { Etcd3 } from 'etcd3';
import pino from 'pino';
import { AdminClient } from '../../../cli/admin-client';
import { startLbServer, type LbServer } from '../../../lb-server';
import {
  CLUSTER_LOAD_ASSIGNMENT_TYPE_URL,
  CLUSTER_TYPE_URL,
  LISTENER_TYPE_URL,
} from '../../../lb-server/frontends/xds/xds-resources';
import { DEFAULT_PREFIX, encodeRecordValue, recordKey } from '../../../common/registry-record';
import { TestEtcd } from '../../support/etcd';
import { waitFor } from '../../support/wait-for';
import { AdsProbe, type DiscoveryResponseIn } from '../../support/ads-probe';

const logger = pino({ level: process.env.LOG_LEVEL ?? 'silent' });

describe('xDS frontend protocol: versions, nonces, ACK and NACK', () => {
  let etcd: TestEtcd;
  let kv: Etcd3;
  let lb: LbServer;
  const probes: AdsProbe[] = [];

  function probe(): AdsProbe {
    const p = new AdsProbe(lb.address);
    probes.push(p);
    return p;
  }

  beforeAll(async () => {
    etcd = await TestEtcd.start();
    kv = etcd.client();
    lb = await startLbServer({ etcd: etcd.endpoints, listen: '127.0.0.1:0', logger });
    await lb.synced();
  });

  afterEach(() => {
    for (const p of probes.splice(0)) p.close();
  });

  afterAll(async () => {
    await lb?.close();
    await etcd?.close();
  });

  test('each registry change is one new EDS version with a new nonce; an ACK gets no answer', async () => {
    await kv
      .put(recordKey(DEFAULT_PREFIX, 'ads-a', 'i1'))
      .value(encodeRecordValue({ address: '127.0.0.1:9001' }));
    const p = probe();
    p.send({
      node: { id: 'raw', locality: {} },
      typeUrl: CLUSTER_LOAD_ASSIGNMENT_TYPE_URL,
      resourceNames: ['ads-a'],
    });
    const first = await waitFor('the first EDS answer', () => p.of(CLUSTER_LOAD_ASSIGNMENT_TYPE_URL)[0]);
    expect(first.resources).toHaveLength(1);
    expect(first.resources[0].type_url).toBe(CLUSTER_LOAD_ASSIGNMENT_TYPE_URL);
    expect(Number(first.versionInfo)).toBeGreaterThan(0);

    // ACK: same names, the version and nonce just received. Then a change must be the next answer.
    p.send({
      typeUrl: CLUSTER_LOAD_ASSIGNMENT_TYPE_URL,
      resourceNames: ['ads-a'],
      versionInfo: first.versionInfo,
      responseNonce: first.nonce,
    });
    await kv
      .put(recordKey(DEFAULT_PREFIX, 'ads-a', 'i2'))
      .value(encodeRecordValue({ address: '127.0.0.1:9002' }));
    const second = await waitFor('the change', () => p.of(CLUSTER_LOAD_ASSIGNMENT_TYPE_URL)[1]);
    expect(p.of(CLUSTER_LOAD_ASSIGNMENT_TYPE_URL)).toHaveLength(2);
    expect(Number(second.versionInfo)).toBeGreaterThan(Number(first.versionInfo));
    expect(second.nonce).not.toBe(first.nonce);
    expect(second.resources[0].value.length).toBeGreaterThan(first.resources[0].value.length);
  });

  test('50 puts within a few ms are few EDS versions, rising, the last with all 50 endpoints', async () => {
    const p = probe();
    p.send({
      node: { id: 'churn', locality: {} },
      typeUrl: CLUSTER_LOAD_ASSIGNMENT_TYPE_URL,
      resourceNames: ['ads-churn'],
    });
    await waitFor('the first (empty) answer', () => p.of(CLUSTER_LOAD_ASSIGNMENT_TYPE_URL)[0]);
    await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        kv
          .put(recordKey(DEFAULT_PREFIX, 'ads-churn', `i${i}`))
          .value(encodeRecordValue({ address: `127.0.0.1:${10000 + i}` })),
      ),
    );
    const endpointsIn = (r: DiscoveryResponseIn): number =>
      r.resources[0]?.value.toString('latin1').split('127.0.0.1').length - 1;
    await waitFor('all 50 endpoints', () => {
      const all = p.of(CLUSTER_LOAD_ASSIGNMENT_TYPE_URL);
      return endpointsIn(all[all.length - 1]) === 50;
    });
    const answers = p.of(CLUSTER_LOAD_ASSIGNMENT_TYPE_URL);
    expect(answers.length - 1).toBeLessThanOrEqual(10);
    const versions = answers.map((a) => Number(a.versionInfo));
    for (let i = 1; i < versions.length; i++) expect(versions[i]).toBeGreaterThan(versions[i - 1]);
    expect(new Set(answers.map((a) => a.nonce)).size).toBe(answers.length);
  });

  test('a NACK is counted and answered with nothing; a stale nonce is ignored; other types go on', async () => {
    await kv
      .put(recordKey(DEFAULT_PREFIX, 'ads-b', 'i1'))
      .value(encodeRecordValue({ address: '127.0.0.1:9001' }));
    const p = probe();
    p.send({ node: { id: 'nacker', locality: {} }, typeUrl: CLUSTER_TYPE_URL, resourceNames: ['ads-b'] });
    const cds = await waitFor('the CDS answer', () => p.of(CLUSTER_TYPE_URL)[0]);
    p.send({
      typeUrl: CLUSTER_TYPE_URL,
      resourceNames: ['ads-b'],
      versionInfo: '',
      responseNonce: cds.nonce,
      errorDetail: { code: 3, message: 'test rejects this cluster' },
    });
    const admin = new AdminClient({ target: lb.address });
    try {
      await waitFor('the NACK in the admin view', async () => {
        const r = await admin.listClients('ads-b');
        return r.clients.some(
          (c) => c.clientId === 'nacker' && c.protocol === 'xds' && Number(c.nacks) === 1,
        );
      });
    } finally {
      admin.close();
    }
    expect(p.of(CLUSTER_TYPE_URL)).toHaveLength(1);
    // A request with a stale nonce is ignored, even with other names.
    p.send({ typeUrl: CLUSTER_TYPE_URL, resourceNames: ['ads-b', 'other'], responseNonce: 'stale' });
    // A listener subscription on the same stream is answered; the new CDS answer follows a change.
    p.send({ typeUrl: LISTENER_TYPE_URL, resourceNames: ['ads-b:443', 'not/a/service'] });
    const lds = await waitFor('the LDS answer', () => p.of(LISTENER_TYPE_URL)[0]);
    expect(lds.resources).toHaveLength(1);
    expect(p.of(CLUSTER_TYPE_URL)).toHaveLength(1);
  });
});
