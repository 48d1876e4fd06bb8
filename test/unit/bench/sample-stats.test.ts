import { medianCi95 } from '../../../bench/sample-stats';

describe('medianCi95', () => {
  test('27 values: the 8th smallest and the 8th largest (the binomial ranks for 95 %)', () => {
    const values = Array.from({ length: 27 }, (_, i) => 27 - i); // 27 … 1, any order
    expect(medianCi95(values)).toEqual([8, 20]);
  });

  test('6 values: the extremes; fewer have no 95 % interval', () => {
    expect(medianCi95([3, 1, 2, 6, 5, 4])).toEqual([1, 6]);
    expect(medianCi95([1, 2, 3, 4, 5])).toEqual([NaN, NaN]);
  });

  test('1,000 values: ranks 469 and 532, no underflow', () => {
    const values = Array.from({ length: 1000 }, (_, i) => i + 1);
    expect(medianCi95(values)).toEqual([469, 532]);
  });
});
