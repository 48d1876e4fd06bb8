import { VersionedHub } from '../../../../lb-server/core/versioned-hub';

interface Snap {
  version: number;
  tag: string;
}

describe('VersionedHub', () => {
  const hub = (): VersionedHub<Snap> => {
    const h = new VersionedHub<Snap>(() => ({ version: 0, tag: 'empty' }));
    h.markReady();
    return h;
  };

  it('answers an unknown key with the empty snapshot', () => {
    const h = hub();
    expect(h.latest('x')).toEqual({ version: 0, tag: 'empty' });
    expect(h.newerThan('x', -1)).toEqual({ version: 0, tag: 'empty' });
    expect(h.newerThan('x', 0)).toBeUndefined();
  });

  it('keeps only the latest snapshot: a slow subscriber skips intermediate versions', () => {
    const h = hub();
    h.publish('x', { version: 1, tag: 'a' });
    h.publish('x', { version: 2, tag: 'b' });
    h.publish('x', { version: 3, tag: 'c' });
    expect(h.newerThan('x', 1)).toEqual({ version: 3, tag: 'c' });
    expect(h.newerThan('x', 3)).toBeUndefined();
  });

  it('ignores a publish that is not newer', () => {
    const h = hub();
    h.publish('x', { version: 5, tag: 'a' });
    expect(h.publish('x', { version: 5, tag: 'b' })).toBe(false);
    expect(h.publish('x', { version: 4, tag: 'c' })).toBe(false);
    expect(h.latest('x').tag).toBe('a');
  });

  it('wakes the subscribers of that key only, until they unsubscribe', () => {
    const h = hub();
    const woken: string[] = [];
    const offX = h.subscribe('x', () => woken.push('x'));
    h.subscribe('y', () => woken.push('y'));
    h.publish('x', { version: 1, tag: 'a' });
    expect(woken).toEqual(['x']);
    offX();
    offX();
    h.publish('x', { version: 2, tag: 'b' });
    expect(woken).toEqual(['x']);
    expect(h.subscriberCount('x')).toBe(0);
    expect(h.subscriberCount('y')).toBe(1);
  });

  it('lets a subscriber unsubscribe from inside its wake callback', () => {
    const h = hub();
    const calls: number[] = [];
    const off = h.subscribe('x', () => {
      calls.push(1);
      off();
    });
    h.subscribe('x', () => calls.push(2));
    h.publish('x', { version: 1, tag: 'a' });
    h.publish('x', { version: 2, tag: 'b' });
    expect(calls).toEqual([1, 2, 2]);
  });

  it('answers nothing before markReady(), then wakes every subscriber with the loaded state', () => {
    const h = new VersionedHub<Snap>(() => ({ version: 0, tag: 'empty' }));
    const woken: string[] = [];
    h.subscribe('x', () => woken.push('x'));
    h.subscribe('y', () => woken.push('y'));
    expect(h.newerThan('y', -1)).toBeUndefined();
    h.publish('x', { version: 4, tag: 'loaded' });
    expect(woken).toEqual([]);
    expect(h.newerThan('x', -1)).toBeUndefined();
    h.markReady();
    h.markReady();
    expect(woken.sort()).toEqual(['x', 'y']);
    expect(h.newerThan('x', -1)).toEqual({ version: 4, tag: 'loaded' });
    expect(h.newerThan('y', -1)).toEqual({ version: 0, tag: 'empty' });
  });

  it('tells its owner when the last subscriber of a key leaves, and forgets only unsubscribed keys', () => {
    const idle: string[] = [];
    const h = new VersionedHub<Snap>(
      () => ({ version: 0, tag: 'empty' }),
      (key) => idle.push(key),
    );
    h.markReady();
    h.publish('x', { version: 3, tag: 'x3' });
    const a = h.subscribe('x', () => undefined);
    const b = h.subscribe('x', () => undefined);
    expect(h.forget('x')).toBe(false);
    a();
    a(); // idempotent: not counted twice
    expect(idle).toEqual([]);
    b();
    expect(idle).toEqual(['x']);
    expect(h.forget('x')).toBe(true);
    expect(h.latest('x')).toEqual({ version: 0, tag: 'empty' });
  });
});
