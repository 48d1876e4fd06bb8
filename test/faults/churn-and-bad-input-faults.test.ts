import type { Etcd3 } from 'etcd3';
import { AdminClient } from '../../cli/admin-client';
import { installLookaside } from '../../client-sdk';
import { DEFAULT_PREFIX, encodeRecordValue, recordKey } from '../../common/registry-record';
import { BalanceLoadProbe } from '../integration/lb-server/balance-load-probe';
import { newMarker, type CliProcess } from '../support/cli';
import { TestEtcd } from '../support/etcd';
import { waitFor } from '../support/wait-for';
import {
  describeSlow,
  rssKb,
  startBackendProcess,
  startLbProcess,
  startLoad,
  stopAll,
  writeScenarioReport,
  type CountedLoad,
} from './fault-harness';

jest.setTimeout(180_000);
installLookaside();

/** A small deterministic generator, so a churn run can be replayed. */
function seeded(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

/** Sorted addresses of the non-draining records of `service` in etcd. */
async function etcdAddresses(kv: Etcd3, service: string): Promise<string[]> {
  const res = await kv.getAll().prefix(`${DEFAULT_PREFIX}/${service}/`).exec();
  return res.kvs
    .map((x) => JSON.parse(x.value.toString()) as { address: string })
    .map((v) => v.address)
    .sort();
}

/** Fault scenario 8: churn while many clients subscribe. */
describeSlow('faults: churn', () => {
  const marker = newMarker();
  let etcd: TestEtcd;
  let procs: CliProcess[];
  const probes: BalanceLoadProbe[] = [];

  beforeEach(async () => {
    etcd = await TestEtcd.start();
    procs = [];
  });

  afterEach(async () => {
    for (const p of probes.splice(0)) p.close();
    await stopAll(procs, marker);
    await etcd.close();
  });

  it('8. 200 register/deregister events in 10 s while 50 clients subscribe: every final list equals etcd', async () => {
    const lb = await startLbProcess(etcd.endpoints, marker);
    procs.push(lb.proc);
    const kv = etcd.client();
    for (let i = 0; i < 50; i++) probes.push(BalanceLoadProbe.open(lb.address, 'churn', `client-${i}`));
    await waitFor('every client subscribed', () => probes.every((p) => p.lists.length > 0));
    const random = seeded(8);
    const live = new Map<string, string>(); // instance id -> lease id (int64 as a string)
    let events = 0;
    let graceful = 0;
    const t0 = Date.now();
    while (events < 200) {
      // One event every 50 ms: 200 in 10 s.
      await waitFor('the next event slot', () => Date.now() - t0 >= events * 50, { intervalMs: 5 });
      const id = `i${Math.floor(random() * 24)}`;
      const key = recordKey(DEFAULT_PREFIX, 'churn', id);
      const lease = live.get(id);
      if (lease === undefined) {
        const l = kv.lease(30, { autoKeepAlive: false });
        await l.put(key).value(encodeRecordValue({ address: `127.0.0.1:${20_000 + Number(id.slice(1))}` }));
        live.set(id, await l.grant());
      } else {
        if (random() < 0.75) {
          // As the registrar deregisters: mark draining, then revoke.
          await kv
            .put(key)
            .value(
              encodeRecordValue({ address: `127.0.0.1:${20_000 + Number(id.slice(1))}`, draining: true }),
            )
            .lease(lease)
            .exec();
          graceful++;
        }
        await kv.leaseClient.leaseRevoke({ ID: lease });
        live.delete(id);
      }
      events++;
    }
    const churnMs = Date.now() - t0;
    const expected = await etcdAddresses(kv, 'churn');
    const admin = new AdminClient({ target: lb.address, timeoutMs: 2000 });
    let convergedMs: number;
    try {
      await waitFor(
        'every client list to equal etcd',
        () => probes.every((p) => JSON.stringify(p.addresses()) === JSON.stringify(expected)),
        { timeoutMs: 30_000 },
      );
      convergedMs = Date.now() - t0 - churnMs;
      const svc = await admin.getService('churn');
      expect(svc.heldEndpoints).toBe(0);
    } finally {
      admin.close();
    }
    // Versions only grow on every stream: nothing out of order.
    for (const p of probes) {
      const versions = p.lists.map((x) => Number(x.version));
      expect(versions).toEqual([...versions].sort((a, b) => a - b));
    }
    const lists = probes.map((p) => p.lists.length);
    writeScenarioReport({
      id: '8-churn',
      title: '200 events in 10 s, 50 subscribed clients',
      promise: "every client's final list equals etcd's final state; versions only grow",
      load: undefined,
      figures: {
        events,
        gracefulDeregistrations: graceful,
        churnMs,
        clients: probes.length,
        finalEndpoints: expected.length,
        msAfterLastEventToAllConverged: convergedMs,
        minListsPerClient: Math.min(...lists),
        maxListsPerClient: Math.max(...lists),
      },
    });
  });
});

/** Fault scenario 9: bad records and bad clients. */
describe('faults: bad input', () => {
  const marker = newMarker();
  let etcd: TestEtcd;
  let procs: CliProcess[];
  let load: CountedLoad | undefined;
  const probes: BalanceLoadProbe[] = [];

  beforeEach(async () => {
    etcd = await TestEtcd.start();
    procs = [];
  });

  afterEach(async () => {
    await load?.stop();
    load = undefined;
    for (const p of probes.splice(0)) p.close();
    await stopAll(procs, marker);
    await etcd.close();
  });

  it('9. garbage records and a flood of invalid BalanceLoad streams: good clients keep being served, bad input is reported, memory stays bounded', async () => {
    const lb = await startLbProcess(etcd.endpoints, marker);
    procs.push(lb.proc);
    const b1 = await startBackendProcess(etcd.endpoints, marker);
    procs.push(b1.proc);
    const l = (load = await startLoad([lb.address], 4));
    const rssBefore = rssKb(lb.pid);
    const kv = etcd.client();
    // Bad records: garbage, oversized, wrong schema, keys of the wrong shape.
    const bad: Array<[string, string]> = [
      [`${DEFAULT_PREFIX}/greeter/garbage`, '\u0000\u0001not json{{{'],
      [
        `${DEFAULT_PREFIX}/greeter/huge`,
        JSON.stringify({ address: '127.0.0.1:1', metadata: { x: 'y'.repeat(512 * 1024) } }),
      ],
      [`${DEFAULT_PREFIX}/greeter/schema`, JSON.stringify({ address: 42, weight: -5 })],
      [`${DEFAULT_PREFIX}/greeter/noport`, JSON.stringify({ address: 'localhost' })],
      [`${DEFAULT_PREFIX}/greeter/a/b/c`, JSON.stringify({ address: '127.0.0.1:2' })],
      [`${DEFAULT_PREFIX}/bad name!/x`, JSON.stringify({ address: '127.0.0.1:3' })],
      [`${DEFAULT_PREFIX}/`, 'x'],
    ];
    for (const [k, v] of bad) await kv.put(k).value(v);
    // A flood of invalid BalanceLoad streams from one peer.
    const flood: BalanceLoadProbe[] = [];
    for (let i = 0; i < 100; i++) {
      const noInitial = new BalanceLoadProbe(lb.address);
      noInitial.send({ clientStats: { backends: [] } });
      flood.push(noInitial);
      flood.push(BalanceLoadProbe.open(lb.address, `bad name ${i}!`));
      flood.push(BalanceLoadProbe.open(lb.address, 'x'.repeat(64 * 1024)));
      flood.push(BalanceLoadProbe.open(lb.address, `unknown-${i}`));
      const twice = BalanceLoadProbe.open(lb.address, 'greeter');
      twice.send({ initialRequest: { name: 'greeter', clientId: '', zone: '' } });
      flood.push(twice);
    }
    // 500 valid streams from the same peer, as a misbehaving client pool would open.
    for (let i = 0; i < 500; i++) flood.push(BalanceLoadProbe.open(lb.address, 'greeter', `pool-${i}`));
    probes.push(...flood);
    await waitFor(
      'every invalid stream ended with INVALID_ARGUMENT',
      () => flood.filter((p) => p.status?.code === 3).length >= 400,
      { timeoutMs: 30_000 },
    );
    const rssPeak = rssKb(lb.pid);
    // A good client still gets news: a backend added during the flood gets calls.
    const b2 = await startBackendProcess(etcd.endpoints, marker);
    procs.push(b2.proc);
    await waitFor('calls on the backend added during the flood', () => l.servedBy(b2.address) > 0);
    const admin = new AdminClient({ target: lb.address, timeoutMs: 2000 });
    let rejected: number;
    try {
      const svc = await admin.getService('greeter');
      rejected = svc.rejected.length;
      expect(svc.endpoints.map((e) => e.address).sort()).toEqual([b1.address, b2.address].sort());
      expect(rejected).toBeGreaterThanOrEqual(4);
    } finally {
      admin.close();
    }
    for (const p of flood) p.close();
    probes.length = 0;
    await l.moreSucceeded(200);
    const figures = await l.stop();
    load = undefined;
    const rssAfter = rssKb(lb.pid);
    const rejectedStreamsLogged = (lb.proc.stderr.match(/"event":"balance_load_rejected"/g) ?? []).length;
    const rejectedRecordsLogged = (lb.proc.stderr.match(/"event":"record_rejected"/g) ?? []).length;
    expect(figures.callsFailed).toBe(0);
    expect(rejectedStreamsLogged).toBeGreaterThanOrEqual(400);
    expect(rejectedRecordsLogged).toBeGreaterThanOrEqual(bad.length - 1);
    // Bounded: the flood may not grow the LB server by more than 150 MB.
    expect(rssAfter - rssBefore).toBeLessThan(150 * 1024);
    writeScenarioReport({
      id: '9-bad-input',
      title: 'garbage records, invalid-stream flood',
      promise: 'good clients keep being served (zero failed calls), bad input reported, memory bounded',
      load: figures,
      figures: {
        badRecords: bad.length,
        rejectedRecordsInAdmin: rejected,
        rejectedRecordsLogged,
        invalidStreams: 400,
        rejectedStreamsLogged,
        validStreamsFromOnePeer: 600,
        lbRssBeforeKb: rssBefore,
        lbRssPeakKb: rssPeak,
        lbRssAfterKb: rssAfter,
        failedCalls: figures.callsFailed,
      },
    });
  });
});
