import type { Etcd3 } from 'etcd3';
import pino from 'pino';
import { OverrideState } from '../../../../lb-server/core/override-state';
import {
  EtcdOverrideStore,
  OverrideInputError,
  type OverrideRequest,
} from '../../../../lb-server/io/override-store';
import { FakeClock } from '../../../support/fake-clock';

const P = '/lookaside/services';

/** An etcd client no valid request gets this far with: every call fails the test. */
const unreachable = new Proxy(
  {},
  {
    get: () => () => {
      throw new Error('etcd must not be called for an invalid request');
    },
  },
) as unknown as Etcd3;

describe('EtcdOverrideStore input validation (before anything is written)', () => {
  const clock = new FakeClock();
  const state = new OverrideState({ registryPrefix: P, clock, onExpired: () => undefined });
  const store = new EtcdOverrideStore({
    client: unreachable,
    registryPrefix: P,
    state,
    hasInstance: () => false,
    clock,
    logger: pino({ level: 'silent' }),
  });
  const ok: OverrideRequest = { service: 'shop', instanceId: 'a', draining: true, reason: '', who: 'w' };

  it.each<[string, Partial<OverrideRequest>, OverrideInputError['field'], RegExp]>([
    ['a bad service', { service: 'a b' }, 'service', /service name/],
    ['a bad instance id', { instanceId: 'a/b' }, 'instanceId', /printable ASCII/],
    ['an empty instance id', { instanceId: '' }, 'instanceId', /empty/],
    ['a negative weight', { weight: -1 }, 'weight', /0\.\.10000/],
    ['a weight too large', { weight: 10_001 }, 'weight', /0\.\.10000/],
    ['a fractional weight', { weight: 2.5 }, 'weight', /integer/],
    ['neither weight nor drain', { draining: false }, 'weight', /needs a weight or draining/],
    ['a long reason', { reason: 'r'.repeat(513) }, 'reason', /512/],
    ['a negative duration', { forMs: -5 }, 'forMs', /no expiry/],
    ['a fractional duration', { forMs: 1.5 }, 'forMs', /whole number/],
    ['a duration over a year', { forMs: 366 * 86_400_000 }, 'forMs', /up to/],
    ['an empty who', { who: '' }, 'who', /1\.\.128/],
    ['a long who', { who: 'w'.repeat(129) }, 'who', /1\.\.128/],
  ])('refuses %s with OverrideInputError naming the field', async (_name, patch, field, reason) => {
    const err = await store.set({ ...ok, ...patch }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OverrideInputError);
    expect((err as OverrideInputError).field).toBe(field);
    expect((err as OverrideInputError).reason).toMatch(reason);
    expect((err as OverrideInputError).message).toMatch(new RegExp(`^${field}: `));
  });

  it('refuses to clear with invalid names or who', async () => {
    await expect(store.clear('a b', 'a', 'w')).rejects.toMatchObject({ field: 'service' });
    await expect(store.clear('shop', '', 'w')).rejects.toMatchObject({ field: 'instanceId' });
    await expect(store.clear('shop', 'a', '')).rejects.toMatchObject({ field: 'who' });
  });

  it('lists what the state holds, dangling when the instance has no record', () => {
    state.put({
      key: '/lookaside/overrides/shop/a',
      value: JSON.stringify({ weight: 3, who: 'w', why: 'y', atMs: 1 }),
      modRevision: 4,
      lease: '0',
    });
    expect(store.list()).toEqual([
      {
        service: 'shop',
        instanceId: 'a',
        key: '/lookaside/overrides/shop/a',
        weight: 3,
        draining: false,
        who: 'w',
        why: 'y',
        atMs: 1,
        modRevision: 4,
        dangling: true,
      },
    ]);
    expect(store.list('other')).toEqual([]);
  });
});
