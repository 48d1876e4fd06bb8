import { existsSync } from 'node:fs';
import { TestEtcd } from '../../support/etcd';
import { waitFor } from '../../support/wait-for';

describe('ephemeral etcd', () => {
  let etcd: TestEtcd;
  beforeAll(async () => {
    etcd = await TestEtcd.start();
  });
  afterAll(async () => {
    await etcd?.close();
  });

  it('listens on a loopback client URL and stores keys', async () => {
    expect(etcd.cluster.clientUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const client = etcd.client();
    await client.put('/t/a').value('1');
    expect(await client.get('/t/a').string()).toBe('1');
  });

  it('delivers watched puts and deletes under a prefix', async () => {
    const client = etcd.client();
    const watcher = await client.watch().prefix('/w/').create();
    const seen: string[] = [];
    watcher.on('put', (kv) => seen.push(`put ${kv.key.toString()}=${kv.value.toString()}`));
    watcher.on('delete', (kv) => seen.push(`delete ${kv.key.toString()}`));
    try {
      await client.put('/w/x').value('1');
      await client.delete().key('/w/x');
      await waitFor('put then delete', () => seen.length >= 2);
      expect(seen).toEqual(['put /w/x=1', 'delete /w/x']);
    } finally {
      await watcher.cancel();
    }
  });

  it('expires a leased key once its keepalive stops, and a watcher sees the delete', async () => {
    const client = etcd.client();
    const watcher = await client.watch().key('/lease/k').create();
    const deleted = new Promise<void>((resolve) => watcher.once('delete', () => resolve()));
    let expired = false;
    void deleted.then(() => (expired = true));
    const lease = client.lease(1, { autoKeepAlive: false });
    try {
      await lease.put('/lease/k').value('v');
      expect(await client.get('/lease/k').string()).toBe('v');
      // etcd grants at least its minimum TTL; the key is gone within a few seconds.
      await waitFor('the leased key to expire', () => expired, { timeoutMs: 15_000 });
      expect(await client.get('/lease/k').string()).toBeNull();
    } finally {
      await watcher.cancel();
      lease.release();
    }
  });

  it('removes its data dir and stops the process on close', async () => {
    const other = await TestEtcd.start();
    const member = other.cluster.members[0];
    expect(member.isRunning()).toBe(true);
    expect(existsSync(member.dataDir)).toBe(true);
    await other.close();
    expect(member.isRunning()).toBe(false);
    expect(existsSync(member.dataDir)).toBe(false);
    await other.close(); // idempotent
  });
});

describe('ephemeral 3-member etcd cluster', () => {
  let etcd: TestEtcd;
  beforeAll(async () => {
    etcd = await TestEtcd.start({ size: 3 });
  });
  afterAll(async () => {
    await etcd?.close();
  });

  it('keeps accepting writes after its leader is killed', async () => {
    expect(etcd.endpoints).toHaveLength(3);
    const client = etcd.client();
    await client.put('/c/before').value('1');
    const leader = await etcd.cluster.leader();
    await leader.kill('SIGKILL');
    await waitFor(
      'a write after the leader died',
      async () => {
        await client.put('/c/after').value('2');
        return true;
      },
      { timeoutMs: 20_000, intervalMs: 200 },
    );
    expect(await client.get('/c/before').string()).toBe('1');
    const newLeader = await waitFor('a new leader', () => etcd.cluster.leader(), { timeoutMs: 20_000 });
    expect(newLeader).not.toBe(leader);
    await leader.restart();
    expect(leader.isRunning()).toBe(true);
  });
});
