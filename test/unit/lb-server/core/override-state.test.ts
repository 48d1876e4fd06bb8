import { OverrideState, type HeldOverride } from '../../../../lb-server/core/override-state';
import { recordKey } from '../../../../common/registry-record';
import { FakeClock } from '../../../support/fake-clock';

const P = '/lookaside/services';
const OP = '/lookaside/overrides';

function kv(key: string, value: object | string, modRevision: number) {
  return { key, value: typeof value === 'string' ? value : JSON.stringify(value), modRevision, lease: '0' };
}

describe('OverrideState', () => {
  let clock: FakeClock;
  let expired: HeldOverride[][];
  let state: OverrideState;

  beforeEach(() => {
    clock = new FakeClock();
    expired = [];
    state = new OverrideState({ registryPrefix: P, clock, onExpired: (e) => expired.push([...e]) });
  });

  afterEach(() => state.close());

  it('applies a valid override by the registry key of its instance, dangling or not', () => {
    const changed = state.put(kv(`${OP}/shop/a`, { draining: true, who: 'w', why: '', atMs: 1 }, 5));
    expect(changed).toEqual(['shop']);
    // No record of shop/a exists anywhere: the state does not care, the key is what matters.
    expect(state.override(recordKey(P, 'shop', 'a'))).toEqual({ draining: true });
    expect(state.override(recordKey(P, 'shop', 'b'))).toBeUndefined();
    expect(state.get('shop', 'a')).toMatchObject({ key: `${OP}/shop/a`, who: 'w', modRevision: 5 });
    expect(state.activeCounts()).toEqual(new Map([['shop', 1]]));
    expect(state.revision).toBe(5);

    state.put(kv(`${OP}/shop/a`, { weight: 7, who: 'w', why: '', atMs: 1 }, 6));
    expect(state.override(recordKey(P, 'shop', 'a'))).toEqual({ weight: 7 });
    expect(state.delete(`${OP}/shop/a`, 7)).toEqual(['shop']);
    expect(state.override(recordKey(P, 'shop', 'a'))).toBeUndefined();
    expect(state.list()).toEqual([]);
  });

  it('rejects a malformed value with its key and reason, once, and drops the valid override it replaced', () => {
    state.put(kv(`${OP}/shop/a`, { weight: 5, who: 'w', why: '', atMs: 1 }, 2));
    expect(state.put(kv(`${OP}/shop/a`, { weight: 'heavy', who: 'w', why: '', atMs: 1 }, 3))).toEqual([
      'shop',
    ]);
    state.put(kv(`${OP}/nokey`, '{}', 4));
    expect(state.override(recordKey(P, 'shop', 'a'))).toBeUndefined();
    const fresh = state.takeNewRejections();
    expect(fresh.rejected.map((r) => [r.key, r.service])).toEqual([
      [`${OP}/shop/a`, 'shop'],
      [`${OP}/nokey`, undefined],
    ]);
    expect(fresh.rejected[0].reason).toMatch(/^weight: /);
    expect(fresh.rejected[1].reason).toMatch(/no instance id/);
    expect(state.takeNewRejections().rejected).toEqual([]);
    expect(state.rejected('shop').map((r) => r.key)).toEqual([`${OP}/shop/a`]);
    expect(state.rejectionsTotal).toBe(2);
    // The same put seen again (a full read after a reconnect) is not a new rejection.
    state.replaceAll([kv(`${OP}/shop/a`, { weight: 'heavy', who: 'w', why: '', atMs: 1 }, 3)], 9);
    expect(state.rejectionsTotal).toBe(2);
    expect(state.rejected()).toHaveLength(1);
  });

  it('stops applying an override at its expiry and reports it once, on the clock', () => {
    const now = clock.now();
    state.put(kv(`${OP}/shop/a`, { weight: 1, who: 'al', why: 'x', atMs: now, expiresAtMs: now + 1000 }, 2));
    state.put(
      kv(`${OP}/shop/b`, { draining: true, who: 'bo', why: 'y', atMs: now, expiresAtMs: now + 3000 }, 3),
    );
    state.put(kv(`${OP}/shop/c`, { draining: true, who: 'cy', why: 'z', atMs: now }, 4));
    expect(clock.pending).toBe(1);
    clock.advance(999);
    expect(state.override(recordKey(P, 'shop', 'a'))).toEqual({ weight: 1 });
    expect(expired).toEqual([]);
    clock.advance(1);
    expect(state.override(recordKey(P, 'shop', 'a'))).toBeUndefined();
    expect(expired.map((e) => e.map((o) => o.instanceId))).toEqual([['a']]);
    expect(state.list('shop').map((o) => o.instanceId)).toEqual(['b', 'c']);
    clock.advance(2000);
    expect(expired.map((e) => e.map((o) => o.instanceId))).toEqual([['a'], ['b']]);
    expect(state.override(recordKey(P, 'shop', 'c'))).toEqual({ draining: true });
    expect(clock.pending).toBe(0);
    // A new value for an expired key (a fresh override) applies again and gets its own expiry.
    state.put(
      kv(
        `${OP}/shop/a`,
        { weight: 2, who: 'al', why: '', atMs: clock.now(), expiresAtMs: clock.now() + 10 },
        9,
      ),
    );
    expect(state.override(recordKey(P, 'shop', 'a'))).toEqual({ weight: 2 });
    clock.advance(10);
    expect(expired).toHaveLength(3);
  });

  it('reports an override that is already past its expiry when read (e.g. at start) at once', () => {
    const now = clock.now();
    state.replaceAll(
      [kv(`${OP}/shop/a`, { weight: 1, who: 'al', why: '', atMs: now - 2000, expiresAtMs: now - 1000 }, 2)],
      2,
    );
    expect(state.override(recordKey(P, 'shop', 'a'))).toBeUndefined();
    clock.advance(0);
    expect(expired.map((e) => e.map((o) => o.instanceId))).toEqual([['a']]);
  });

  it('a full read removes what etcd no longer holds and reports the services changed', () => {
    state.put(kv(`${OP}/shop/a`, { weight: 1, who: 'w', why: '', atMs: 1 }, 2));
    state.put(kv(`${OP}/cart/a`, { weight: 1, who: 'w', why: '', atMs: 1 }, 3));
    const changed = state.replaceAll([kv(`${OP}/cart/a`, { weight: 1, who: 'w', why: '', atMs: 1 }, 3)], 10);
    expect(changed).toEqual(['shop']);
    expect(state.list().map((o) => o.service)).toEqual(['cart']);
  });

  it('close() cancels the expiry timer', () => {
    state.put(kv(`${OP}/shop/a`, { weight: 1, who: 'w', why: '', atMs: 1, expiresAtMs: clock.now() + 5 }, 2));
    state.close();
    clock.advance(10);
    expect(expired).toEqual([]);
  });
});
