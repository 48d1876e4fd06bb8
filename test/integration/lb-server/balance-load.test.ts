import * as grpc from '@grpc/grpc-js';
import type { Etcd3 } from 'etcd3';
import pino from 'pino';
import { AdminClient } from '../../../cli/admin-client';
import { startLbServer, type LbServer } from '../../../lb-server';
import { DEFAULT_PREFIX, encodeRecordValue, recordKey } from '../../../common/registry-record';
import { TestEtcd } from '../../support/etcd';
import { waitFor } from '../../support/wait-for';
import { BalanceLoadProbe } from './balance-load-probe';

const logger = pino({ level: process.env.LOG_LEVEL ?? 'silent' });

describe('LB server BalanceLoad against a real etcd', () => {
  let etcd: TestEtcd;
  let kv: Etcd3;
  let lb: LbServer;
  const probes: BalanceLoadProbe[] = [];

  function open(name: string, clientId = ''): BalanceLoadProbe {
    const p = BalanceLoadProbe.open(lb.address, name, clientId);
    probes.push(p);
    return p;
  }

  async function register(service: string, id: string, value: Parameters<typeof encodeRecordValue>[0]) {
    await kv.put(recordKey(DEFAULT_PREFIX, service, id)).value(encodeRecordValue(value));
  }

  beforeAll(async () => {
    etcd = await TestEtcd.start();
    kv = etcd.client();
    lb = await startLbServer({
      etcd: etcd.endpoints,
      listen: '127.0.0.1:0',
      logger,
      clientStatsIntervalMs: 250,
    });
    await lb.synced();
  });

  afterEach(() => {
    for (const p of probes.splice(0)) p.close();
  });

  afterAll(async () => {
    await lb?.close();
    await etcd?.close();
  });

  it('answers with the initial response, then the current list at once', async () => {
    await register('greet-a', 'i1', { address: '127.0.0.1:8181', weight: 100 });
    await register('greet-a', 'i2', { address: '127.0.0.1:8282', weight: 300, zone: 'z1' });
    const p = open('greet-a');
    await waitFor('a list with both instances', () => p.addresses().length === 2);
    expect(p.responses[0].initialResponse?.clientStatsReportIntervalMs).toBe(250);
    expect(p.responses[0].serverList).toBeFalsy();
    expect(p.last?.servers).toEqual([
      expect.objectContaining({
        address: '127.0.0.1:8181',
        weight: 100,
        loadBalanceToken: 'i1',
        draining: false,
      }),
      expect.objectContaining({ address: '127.0.0.1:8282', weight: 300, zone: 'z1', loadBalanceToken: 'i2' }),
    ]);
  });

  it('pushes a put, a delete and a lease expiry to a subscribed stream', async () => {
    const p = open('greet-b');
    await waitFor('the first (empty) list', () => p.lists.length === 1);
    await register('greet-b', 'i1', { address: '127.0.0.1:9001' });
    await waitFor('the put', () => p.addresses().join() === '127.0.0.1:9001');

    const lease = kv.lease(2, { autoKeepAlive: false });
    await lease
      .put(recordKey(DEFAULT_PREFIX, 'greet-b', 'leased'))
      .value(encodeRecordValue({ address: '127.0.0.1:9002' }));
    await waitFor('the leased instance', () => p.addresses().join() === '127.0.0.1:9001,127.0.0.1:9002');

    await kv.delete().key(recordKey(DEFAULT_PREFIX, 'greet-b', 'i1'));
    await waitFor('the delete', () => p.addresses().join() === '127.0.0.1:9002');

    await waitFor('the lease to expire', () => p.addresses().length === 0, { timeoutMs: 15_000 });
    const versions = p.lists.map((l) => l.version);
    expect(versions).toEqual([...versions].sort((a, b) => a - b));
    expect(new Set(versions).size).toBe(versions.length);
  });

  it('coalesces 50 puts within a few ms into few pushes with the final state and rising versions', async () => {
    const p = open('churn');
    await waitFor('the first (empty) list', () => p.lists.length === 1);
    await Promise.all(
      Array.from({ length: 50 }, (_, i) => register('churn', `i${i}`, { address: `127.0.0.1:${10000 + i}` })),
    );
    await waitFor('all 50 instances', () => p.addresses().length === 50);
    const pushes = p.lists.length - 1;
    expect(pushes).toBeLessThanOrEqual(10);
    const versions = p.lists.map((l) => l.version);
    for (let i = 1; i < versions.length; i++) expect(versions[i]).toBeGreaterThan(versions[i - 1]);
  });

  it('sends draining and weight-0 endpoints with that state', async () => {
    await register('drainy', 'a', { address: '127.0.0.1:7101', weight: 50 });
    await register('drainy', 'b', { address: '127.0.0.1:7102', weight: 0 });
    await register('drainy', 'c', { address: '127.0.0.1:7103', draining: true });
    const p = open('drainy');
    await waitFor('three endpoints', () => p.addresses().length === 3);
    const byAddress = new Map(p.last?.servers.map((s) => [s.address, s]));
    expect(byAddress.get('127.0.0.1:7101')).toMatchObject({ weight: 50, draining: false });
    expect(byAddress.get('127.0.0.1:7102')).toMatchObject({ weight: 0, draining: false });
    expect(byAddress.get('127.0.0.1:7103')).toMatchObject({ weight: 0, draining: true });
  });

  it("serves records in etcd's Go naming format like our own", async () => {
    await kv
      .put(`${DEFAULT_PREFIX}/go-svc/127.0.0.1:7401`)
      .value('{"Op":0,"Addr":"127.0.0.1:7401","Metadata":{"v":2}}');
    const p = open('go-svc');
    await waitFor('the Go-registered instance', () => p.addresses().join() === '127.0.0.1:7401');
    expect(p.last?.servers[0]).toMatchObject({ weight: 100, metadata: { v: '2' }, draining: false });
  });

  it('gives an unknown service an empty list, then lists as instances appear', async () => {
    const p = open('not-yet');
    await waitFor('an empty list', () => p.lists.length === 1);
    expect(p.last).toEqual({ servers: [], version: 0 });
    await register('not-yet', 'x', { address: '127.0.0.1:7201' });
    await waitFor('the new instance', () => p.addresses().join() === '127.0.0.1:7201');
    expect(p.last?.version).toBeGreaterThan(0);
  });

  it('skips bad records while good ones keep flowing', async () => {
    const p = open('mixed');
    await kv.put(recordKey(DEFAULT_PREFIX, 'mixed', 'bad')).value('{"address":"nope"}');
    await kv.put(`${DEFAULT_PREFIX}/mixed/garbage`).value('not json');
    await register('mixed', 'good', { address: '127.0.0.1:7301' });
    await waitFor('the good instance', () => p.addresses().join() === '127.0.0.1:7301');
    await register('mixed', 'good2', { address: '127.0.0.1:7302' });
    await waitFor('the second good instance', () => p.addresses().length === 2);
  });

  it.each([
    ['an empty name', { initialRequest: { name: '' } }],
    ['an invalid name', { initialRequest: { name: 'bad name/x' } }],
    ['client stats first', { clientStats: { backends: [] } }],
  ])('ends the stream with INVALID_ARGUMENT for %s', async (_what, request) => {
    const p = new BalanceLoadProbe(lb.address);
    probes.push(p);
    p.send(request);
    const status = await waitFor('the status', () => p.status);
    expect(status.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(p.lists).toHaveLength(0);
  });

  it('ends the stream with INVALID_ARGUMENT on a second initial request', async () => {
    const p = open('greet-a');
    await waitFor('a list', () => p.lists.length >= 1);
    p.send({ initialRequest: { name: 'greet-a' } });
    const status = await waitFor('the status', () => p.status);
    expect(status.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(status.details).toMatch(/twice/);
  });

  it('answers Admin calls without a token when none is configured', async () => {
    const admin = new AdminClient({ target: lb.address });
    try {
      await expect(admin.listServices()).resolves.toMatchObject({ synced: true });
    } finally {
      admin.close();
    }
  });
});
