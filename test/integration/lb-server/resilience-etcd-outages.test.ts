import { AdminClient } from '../../../cli/admin-client';
import { installLookaside } from '../../../client-sdk';
import { startGreeterServer, type GreeterServer } from '../../../demo-service';
import { DEFAULT_PREFIX, encodeRecordValue, recordKey } from '../../../common/registry-record';
import type { GreeterClient } from '../../../proto/gen/helloworld/Greeter';
import { capturingLogger } from '../../support/capturing-logger';
import { callMany, greeterClient, sayHello } from '../../support/greeter-load';
import { waitFor } from '../../support/wait-for';
import { put, useResilienceHarness } from './resilience-harness';

// The frozen etcd alone takes the LB server's 15 s etcd keepalive and a reconnect.
jest.setTimeout(90_000);

/** The first half of the LB server's resilience tests (see resilience-startup-and-shutdown). */
describe('LB server through etcd trouble', () => {
  installLookaside();
  const h = useResilienceHarness();

  async function greeter(): Promise<GreeterServer> {
    const g = await startGreeterServer({ port: 0 });
    h.defer(() => g.forceClose());
    return g;
  }

  /** A greeter client on a lookaside:// target, once a first call through it has succeeded. */
  async function caller(target: string): Promise<GreeterClient> {
    const c = greeterClient(target);
    h.defer(() => c.close());
    await waitFor('a first call to succeed', async () => (await sayHello(c)).ok);
    return c;
  }

  it('keeps the last list while etcd is down and converges to etcd once it is back (writes and a compaction right after)', async () => {
    const writer = h.etcd.client();
    await put(writer, 'svc', 'old', '127.0.0.1:9101');
    await put(writer, 'svc', 'stays', '127.0.0.1:9102');
    const lb = await h.start();
    await lb.synced();
    const p = h.open(lb, 'svc');
    await waitFor('both instances', () => p.addresses().length === 2);
    const admin = new AdminClient({ target: lb.address });
    try {
      const member = h.etcd.cluster.members[0];
      await member.kill('SIGKILL');
      await waitFor('the LB to see etcd gone', async () => !(await admin.listServices()).etcdConnected);
      expect(p.addresses()).toEqual(['127.0.0.1:9101', '127.0.0.1:9102']);
      expect(p.status).toBeUndefined();

      await member.restart();
      // Writes from another client once etcd is back, then a compaction past them.
      const other = h.etcd.client();
      await other.delete().key(recordKey(DEFAULT_PREFIX, 'svc', 'old'));
      await put(other, 'svc', 'new', '127.0.0.1:9103');
      const { header } = await other.get('any').exec();
      await other.kv.compact({ revision: header.revision, physical: true }).catch(() => undefined);

      await waitFor('the list to converge', () => p.addresses().join() === '127.0.0.1:9102,127.0.0.1:9103', {
        timeoutMs: 30_000,
      });
      await waitFor('etcd connected again', async () => (await admin.listServices()).etcdConnected, {
        timeoutMs: 30_000,
      });
      await put(other, 'svc', 'later', '127.0.0.1:9104');
      await waitFor('a write after the recovery', () => p.addresses().length === 3);
      const versions = p.lists.map((l) => l.version);
      for (let i = 1; i < versions.length; i++) expect(versions[i]).toBeGreaterThan(versions[i - 1]);
    } finally {
      admin.close();
    }
  });

  it('rides out a frozen etcd (SIGSTOP): keeps the list and the stream, then follows writes after it thaws', async () => {
    const log = capturingLogger();
    const [a, b] = [await greeter(), await greeter()];
    const writer = h.etcd.client();
    await put(writer, 'frozen', 'a', a.address);
    const lb = await h.start(log.logger);
    await lb.synced();
    const p = h.open(lb, 'frozen');
    await waitFor('the instance', () => p.addresses().length === 1);
    const calls = await caller(`lookaside://${lb.address}/frozen`);
    const admin = new AdminClient({ target: lb.address });
    h.defer(() => admin.close());
    const member = h.etcd.cluster.members[0];
    member.pause();
    try {
      // The frozen etcd keeps its TCP connections open and answers nothing: only the etcd
      // client's keepalive (a ping every 10 s, 5 s to answer) can tell, within about 15 s.
      const frozenSeen = async (): Promise<boolean> => !(await admin.listServices()).etcdConnected;
      await waitFor('the LB server to see etcd gone', frozenSeen, { timeoutMs: 30_000, intervalMs: 250 });
      // ...and then tries to read everything again, which the frozen etcd cannot answer either.
      await waitFor(
        'a full read against the frozen etcd to fail',
        () => log.events('etcd_sync_failed').some((e) => String(e.err).startsWith('etcd read')),
        { timeoutMs: 15_000 },
      );
      expect((await admin.listServices()).synced).toBe(true);
      // There is a state to keep now, and the log says it is kept.
      for (const e of log.events('etcd_sync_failed')) {
        expect(e).toMatchObject({ synced: true });
        expect(String(e.msg)).toContain('keeping the last known state');
      }
      expect(p.addresses()).toEqual([a.address]);
      expect(p.status).toBeUndefined();
      expect(await callMany(calls, 50)).toEqual({ byBackend: { [a.address]: 50 }, failures: [] });
    } finally {
      member.resume();
    }
    await waitFor('etcd connected again', async () => (await admin.listServices()).etcdConnected, {
      timeoutMs: 30_000,
      intervalMs: 250,
    });
    // Connected again means read again: the LB server re-synced rather than trusting its old watch.
    expect(log.events('etcd_synced').filter((e) => e.first === false).length).toBeGreaterThan(0);
    await put(writer, 'frozen', 'b', b.address);
    await waitFor('the write after the thaw', () => p.addresses().length === 2);
    const after = await waitFor('calls to reach the instance written after the thaw', async () => {
      const r = await callMany(calls, 10);
      return r.byBackend[b.address] !== undefined ? r : undefined;
    });
    expect(after.failures).toEqual([]);
    expect(p.status).toBeUndefined();
  });

  it('with three etcd members, keeps watching through the loss of the leader', async () => {
    await h.replaceEtcd({ size: 3 });
    const writer = h.etcd.client();
    const lb = await h.start();
    await lb.synced();
    const p = h.open(lb, 'ha');
    await put(writer, 'ha', 'a', '127.0.0.1:9401');
    await waitFor('the first instance', () => p.addresses().length === 1);
    const leader = await h.etcd.cluster.leader();
    await leader.kill('SIGKILL');
    await waitFor(
      'a write through the surviving members',
      async () => {
        await writer
          .put(recordKey(DEFAULT_PREFIX, 'ha', 'b'))
          .value(encodeRecordValue({ address: '127.0.0.1:9402' }))
          .options({ deadline: new Date(Date.now() + 2000) });
        return true;
      },
      { timeoutMs: 20_000, intervalMs: 200 },
    );
    await waitFor('the second instance', () => p.addresses().length === 2, { timeoutMs: 30_000 });
  });
});
