import { Backoff } from '../../../lb-server/backoff';

describe('Backoff', () => {
  it('grows exponentially up to the maximum and starts over after reset()', () => {
    const b = new Backoff({ initialMs: 100, maxMs: 1000, jitter: 0 });
    expect([b.next(), b.next(), b.next(), b.next(), b.next(), b.next()]).toEqual([
      100, 200, 400, 800, 1000, 1000,
    ]);
    b.reset();
    expect(b.next()).toBe(100);
  });

  it('spreads each delay by the jitter fraction and never exceeds the maximum', () => {
    const low = new Backoff({ initialMs: 100, maxMs: 1000, jitter: 0.5, random: () => 0 });
    const high = new Backoff({ initialMs: 100, maxMs: 1000, jitter: 0.5, random: () => 0.999999 });
    expect(low.next()).toBe(50);
    expect(high.next()).toBe(150);
    for (let i = 0; i < 10; i++) expect(high.next()).toBeLessThanOrEqual(1000);
  });

  it('rejects an invalid schedule', () => {
    expect(() => new Backoff({ initialMs: 0 })).toThrow(RangeError);
    expect(() => new Backoff({ initialMs: 100, maxMs: 10 })).toThrow(RangeError);
  });
});
