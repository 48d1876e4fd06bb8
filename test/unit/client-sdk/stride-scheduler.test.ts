import { StrideScheduler } from '../../../client-sdk/stride-scheduler';

/** A deterministic "random" source for the starting offset. */
const fixed =
  (value: number): (() => number) =>
  () =>
    value;

function counts(s: StrideScheduler, picks: number): number[] {
  const out = new Array<number>(s.size).fill(0);
  for (let i = 0; i < picks; i++) out[s.next()]++;
  return out;
}

describe('StrideScheduler', () => {
  test('weights 1:2:3 give shares of 1/6, 2/6, 3/6 within a point over 6,000 picks', () => {
    for (const start of [0, 0.37, 0.999]) {
      const c = counts(StrideScheduler.build([1, 2, 3], fixed(start)), 6000);
      expect(Math.abs(c[0] / 6000 - 1 / 6)).toBeLessThan(0.01);
      expect(Math.abs(c[1] / 6000 - 2 / 6)).toBeLessThan(0.01);
      expect(Math.abs(c[2] / 6000 - 3 / 6)).toBeLessThan(0.01);
    }
  });

  test('weights 1:2:3 are within 5 points over only 600 picks, from any start', () => {
    for (let k = 0; k < 20; k++) {
      const c = counts(StrideScheduler.build([100, 200, 300], fixed(k / 20)), 600);
      c.forEach((n, i) => expect(Math.abs(n / 600 - (i + 1) / 6)).toBeLessThanOrEqual(0.05));
    }
  });

  test('equal weights are plain round robin', () => {
    const s = StrideScheduler.build([5, 5, 5, 5], fixed(0));
    expect(Array.from({ length: 8 }, () => s.next())).toEqual([0, 1, 2, 3, 0, 1, 2, 3]);
  });

  test('a single backend is always picked', () => {
    const s = StrideScheduler.build([42], fixed(0.5));
    expect(counts(s, 10)).toEqual([10]);
  });

  test('the same random start gives the same sequence', () => {
    const a = StrideScheduler.build([3, 1, 7], fixed(0.25));
    const b = StrideScheduler.build([3, 1, 7], fixed(0.25));
    for (let i = 0; i < 100; i++) expect(a.next()).toBe(b.next());
  });

  test('skewed weights are honoured exactly, with no clamping', () => {
    const two = counts(StrideScheduler.build([1, 100], fixed(0)), 101 * 1000);
    expect(Math.abs(two[0] - 1000)).toBeLessThanOrEqual(10); // scaling to 1/65535 steps
    // One heavy backend among 999 light ones: 10000 / (10000 + 999) of the picks.
    const weights = [10_000, ...new Array<number>(999).fill(1)];
    const c = counts(StrideScheduler.build(weights, fixed(0.3)), 1_100_000);
    expect(c[0] / 1_100_000).toBeCloseTo(10_000 / 10_999, 3);
    expect(Math.min(...c.slice(1))).toBeGreaterThan(0);
  });

  test.each([10, 100, 1000, 10_000])(
    '%i backends with mixed weights: every one picked in proportion',
    (n) => {
      const weights = Array.from({ length: n }, (_, i) => 1 + (i % 4)); // 1,2,3,4,1,2,…
      const s = StrideScheduler.build(weights, fixed(0.5));
      const picks = n * 250;
      const c = counts(s, picks);
      const total = weights.reduce((a, b) => a + b, 0);
      for (let i = 0; i < n; i++) {
        const expected = (picks * weights[i]) / total;
        expect(Math.abs(c[i] - expected)).toBeLessThanOrEqual(Math.max(2, expected * 0.05));
      }
    },
  );

  test('rejects an empty list and non-positive or non-finite weights', () => {
    expect(() => StrideScheduler.build([], fixed(0))).toThrow(RangeError);
    expect(() => StrideScheduler.build([1, 0], fixed(0))).toThrow(/weight 1 is 0/);
    expect(() => StrideScheduler.build([1, Number.NaN], fixed(0))).toThrow(RangeError);
    expect(() => StrideScheduler.build([Infinity], fixed(0))).toThrow(RangeError);
  });

  test('peek() names the next pick and moves nothing', () => {
    const s = StrideScheduler.build([3, 1, 7, 2], fixed(0.4));
    for (let i = 0; i < 200; i++) {
      const peeked = s.peek();
      expect(s.peek()).toBe(peeked);
      expect(s.next()).toBe(peeked);
    }
  });

  test('fork() goes on exactly where the original stands, and leaves it alone', () => {
    for (const weights of [
      [1, 2, 3],
      [5, 5, 5],
    ]) {
      const reference = StrideScheduler.build(weights, fixed(0.3));
      const s = StrideScheduler.build(weights, fixed(0.3));
      for (let i = 0; i < 37; i++) expect(s.next()).toBe(reference.next());
      const forked = s.fork();
      const expected = Array.from({ length: 200 }, () => reference.next());
      expect(Array.from({ length: 200 }, () => forked.next())).toEqual(expected);
      expect(Array.from({ length: 200 }, () => s.next())).toEqual(expected);
    }
  });

  test('seek() makes the named backend the next pick, in any generation', () => {
    const weighted = StrideScheduler.build([1, 100, 7, 30, 2], fixed(0));
    for (let backend = 0; backend < 5; backend++) {
      for (const generation of [0, 1, 500, 65_534]) {
        weighted.seek(backend, generation);
        expect(weighted.next()).toBe(backend);
      }
    }
    const uniform = StrideScheduler.build([2, 2, 2, 2], fixed(0));
    uniform.seek(2, 0);
    expect(Array.from({ length: 6 }, () => uniform.next())).toEqual([2, 3, 0, 1, 2, 3]);
    expect(() => uniform.seek(4, 0)).toThrow(RangeError);
  });

  test('after seek() the shares are still those of the weights', () => {
    const s = StrideScheduler.build([1, 2, 3], fixed(0));
    s.seek(0, 12_345);
    const c = counts(s, 6000);
    c.forEach((n, i) => expect(Math.abs(n / 6000 - (i + 1) / 6)).toBeLessThan(0.01));
  });
});
