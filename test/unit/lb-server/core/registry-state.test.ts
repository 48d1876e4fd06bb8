import { RegistryState, type RegistryKeyValue } from '../../../../lb-server/core/registry-state';

const P = '/lookaside/services';
let rev = 0;
function kv(key: string, value: unknown, lease = '0'): RegistryKeyValue {
  rev += 1;
  return { key, value: typeof value === 'string' ? value : JSON.stringify(value), modRevision: rev, lease };
}

describe('RegistryState', () => {
  beforeEach(() => (rev = 100));

  it('groups a full read by service, endpoints sorted by key, with a version per service', () => {
    const s = new RegistryState(P);
    const changed = s.replaceAll(
      [
        kv(`${P}/greeter/b`, { address: '127.0.0.1:2', weight: 5 }),
        kv(`${P}/greeter/a`, { address: '127.0.0.1:1' }),
        kv(`${P}/other/x`, { Op: 0, Addr: '10.0.0.1:80' }),
      ],
      200,
    );
    expect(changed).toEqual(['greeter', 'other']);
    const g = s.service('greeter');
    expect(g.version).toBe(200);
    expect(g.endpoints.map((e) => [e.instanceId, e.weight])).toEqual([
      ['a', 1 * 100],
      ['b', 5],
    ]);
    expect(s.service('other').endpoints[0]).toMatchObject({ format: 'etcd-naming', address: '10.0.0.1:80' });
    expect(s.serviceNames()).toEqual(['greeter', 'other']);
  });

  it('gives an unknown service an empty version-0 view', () => {
    expect(new RegistryState(P).service('nobody')).toEqual({
      name: 'nobody',
      version: 0,
      endpoints: [],
      rejected: [],
    });
  });

  it('grows the version on every visible put and delete, and only for that service', () => {
    const s = new RegistryState(P);
    s.replaceAll([kv(`${P}/a/1`, { address: 'h:1' }), kv(`${P}/b/1`, { address: 'h:2' })], rev);
    const b0 = s.service('b').version;
    const put = kv(`${P}/a/2`, { address: 'h:3' });
    expect(s.put(put)).toEqual(['a']);
    expect(s.service('a').version).toBe(put.modRevision);
    expect(s.delete(`${P}/a/1`, 120)).toEqual(['a']);
    expect(s.service('a').version).toBe(120);
    expect(s.service('a').endpoints.map((e) => e.address)).toEqual(['h:3']);
    expect(s.service('b').version).toBe(b0);
  });

  it('never lowers or repeats a version, even for revisions out of order', () => {
    const s = new RegistryState(P);
    s.put({ key: `${P}/a/1`, value: '{"address":"h:1"}', modRevision: 50, lease: '0' });
    s.put({ key: `${P}/a/2`, value: '{"address":"h:2"}', modRevision: 40, lease: '0' });
    expect(s.service('a').version).toBe(51);
  });

  it('keeps the version when a change is invisible to clients (same value put again)', () => {
    const s = new RegistryState(P);
    s.put(kv(`${P}/a/1`, { address: 'h:1', metadata: { x: '1', y: '2' } }));
    const v = s.service('a').version;
    // A real lease id: above 2^53, so a number would round it.
    const lease = '7587869364123456789';
    expect(s.put(kv(`${P}/a/1`, { metadata: { y: '2', x: '1' }, address: 'h:1' }, lease))).toEqual([]);
    expect(s.service('a').version).toBe(v);
    expect(s.service('a').endpoints[0].lease).toBe(lease);
  });

  it('rejects bad records with key, reason and revision, without touching good ones', () => {
    const s = new RegistryState(P);
    s.put(kv(`${P}/a/good`, { address: 'h:1' }));
    const v = s.service('a').version;
    const bad = kv(`${P}/a/bad`, 'not json');
    expect(s.put(bad)).toEqual([]);
    expect(s.put(kv(`${P}/a/neg`, { address: 'h:2', weight: -1 }))).toEqual([]);
    const a = s.service('a');
    expect(a.version).toBe(v);
    expect(a.endpoints.map((e) => e.instanceId)).toEqual(['good']);
    expect(a.rejected.map((r) => r.key)).toEqual([`${P}/a/bad`, `${P}/a/neg`]);
    expect(a.rejected[0]).toMatchObject({
      modRevision: bad.modRevision,
      reason: expect.stringMatching(/not JSON/),
    });
    expect(a.rejected[1].reason).toMatch(/weight/);
    expect(s.rejectedCount()).toBe(2);
  });

  it('turns a good record that goes bad into a removal, and back', () => {
    const s = new RegistryState(P);
    s.put(kv(`${P}/a/1`, { address: 'h:1' }));
    expect(s.put(kv(`${P}/a/1`, '{}'))).toEqual(['a']);
    expect(s.service('a').endpoints).toEqual([]);
    expect(s.service('a').rejected).toHaveLength(1);
    expect(s.put(kv(`${P}/a/1`, { address: 'h:1' }))).toEqual(['a']);
    expect(s.service('a').rejected).toEqual([]);
  });

  it('keeps records it cannot attribute to a service apart', () => {
    const s = new RegistryState(P);
    s.put(kv(`${P}/lonely`, { address: 'h:1' }));
    s.put(kv(`${P}/bad name/x`, { address: 'h:1' }));
    expect(s.unattributedRejected().map((r) => r.key)).toEqual([`${P}/bad name/x`]);
    expect(s.service('lonely').rejected[0].reason).toMatch(/instance id/);
    s.delete(`${P}/bad name/x`, 999);
    expect(s.unattributedRejected()).toEqual([]);
  });

  it('applies a resync: keys gone from etcd are removed, unchanged services keep their version', () => {
    const s = new RegistryState(P);
    s.replaceAll(
      [
        kv(`${P}/a/1`, { address: 'h:1' }),
        kv(`${P}/a/2`, { address: 'h:2' }),
        kv(`${P}/b/1`, { address: 'h:3' }),
      ],
      105,
    );
    const b = s.service('b').version;
    const changed = s.replaceAll(
      [
        { key: `${P}/a/1`, value: '{"address":"h:1"}', modRevision: 101, lease: '0' },
        { key: `${P}/b/1`, value: '{"address":"h:3"}', modRevision: 103, lease: '0' },
      ],
      300,
    );
    expect(changed).toEqual(['a']);
    expect(s.service('a').version).toBe(300);
    expect(s.service('a').endpoints.map((e) => e.instanceId)).toEqual(['1']);
    expect(s.service('b').version).toBe(b);
    expect(s.revision).toBe(300);
  });

  it('keeps the draining flag, the registered weight and a per-instance token', () => {
    const s = new RegistryState(P);
    s.put(kv(`${P}/a/i-1`, { address: '[::1]:80', weight: 30, draining: true, zone: 'z' }));
    expect(s.service('a').endpoints[0]).toMatchObject({
      address: '[::1]:80',
      weight: 30,
      draining: true,
      loadBalanceToken: 'i-1',
      zone: 'z',
    });
  });

  it('hands out immutable snapshots that later changes do not alter', () => {
    const s = new RegistryState(P);
    s.put(kv(`${P}/a/1`, { address: 'h:1' }));
    const before = s.service('a');
    s.put(kv(`${P}/a/2`, { address: 'h:2' }));
    expect(before.endpoints).toHaveLength(1);
    expect(Object.isFrozen(before.endpoints)).toBe(true);
    expect(s.service('a')).not.toBe(before);
  });

  it('reports each new rejection once, also across a resync that reads it again', () => {
    const s = new RegistryState(P);
    const bad = kv(`${P}/a/bad`, 'nope');
    s.put(bad);
    expect(s.takeNewRejections()).toEqual({
      rejected: [expect.objectContaining({ key: `${P}/a/bad` })],
      dropped: 0,
    });
    expect(s.takeNewRejections().rejected).toEqual([]);
    s.replaceAll([bad], 500);
    expect(s.takeNewRejections().rejected).toEqual([]);
    s.put(kv(`${P}/a/bad`, 'still nope'));
    expect(s.takeNewRejections().rejected).toHaveLength(1);
  });

  it('forgets a service only once no record is left under it, and a new life gets a higher version', () => {
    const s = new RegistryState(P);
    s.put(kv(`${P}/gone/a`, { address: '127.0.0.1:1' }));
    s.put(kv(`${P}/gone/bad`, 'not json'));
    const before = s.service('gone').version;
    expect(s.forget('gone')).toBe(false);
    s.delete(`${P}/gone/a`, ++rev);
    expect(s.forget('gone')).toBe(false); // the rejected record is still there
    s.delete(`${P}/gone/bad`, ++rev);
    const lastVersion = s.service('gone').version;
    expect(s.forget('gone')).toBe(true);
    expect(s.serviceNames()).not.toContain('gone');
    expect(s.service('gone')).toMatchObject({ version: 0, endpoints: [] });
    expect(s.forget('gone')).toBe(false);
    s.put(kv(`${P}/gone/c`, { address: '127.0.0.1:3' }));
    expect(s.service('gone').version).toBeGreaterThan(Math.max(before, lastVersion));
  });
});
