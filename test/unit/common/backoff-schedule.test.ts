import { BackoffSchedule } from '../../../common/backoff-schedule';

describe('BackoffSchedule', () => {
  test('grows exponentially from initialMs up to maxMs without jitter', () => {
    const b = new BackoffSchedule({ initialMs: 100, maxMs: 1000, multiplier: 2, jitter: 0 });
    expect(Array.from({ length: 6 }, () => b.next())).toEqual([100, 200, 400, 800, 1000, 1000]);
  });

  test('reset() starts again from initialMs', () => {
    const b = new BackoffSchedule({ initialMs: 100, maxMs: 1000, multiplier: 2, jitter: 0 });
    b.next();
    b.next();
    b.reset();
    expect(b.next()).toBe(100);
  });

  test('jitter spreads each delay by at most ± the fraction, and never past maxMs', () => {
    const low = new BackoffSchedule({ initialMs: 1000, maxMs: 1100, jitter: 0.2, random: () => 0 });
    const high = new BackoffSchedule({ initialMs: 1000, maxMs: 1100, jitter: 0.2, random: () => 0.9999 });
    expect(low.next()).toBe(800);
    expect(high.next()).toBe(1100);
    expect(high.next()).toBe(1100);
  });

  test('defaults are gRPC connection backoff: 1 s, ×1.6, ±20 %, capped at 30 s', () => {
    const b = new BackoffSchedule({ random: () => 0.5 });
    expect(b.next()).toBe(1000);
    expect(b.next()).toBe(1600);
    for (let i = 0; i < 20; i++) b.next();
    expect(b.next()).toBe(30_000);
  });

  test('rejects inconsistent options', () => {
    expect(() => new BackoffSchedule({ initialMs: 0 })).toThrow(RangeError);
    expect(() => new BackoffSchedule({ initialMs: 10, maxMs: 5 })).toThrow(RangeError);
    expect(() => new BackoffSchedule({ multiplier: 0.5 })).toThrow(RangeError);
    expect(() => new BackoffSchedule({ jitter: 1 })).toThrow(RangeError);
  });
});
