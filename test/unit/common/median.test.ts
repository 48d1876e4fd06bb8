import { median } from '../../../common/median';

describe('median', () => {
  test('the middle value, the mean of the two middle ones, NaN for none; the input is not reordered', () => {
    const xs = [5, 1, 3];
    expect(median(xs)).toBe(3);
    expect(xs).toEqual([5, 1, 3]);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([])).toBeNaN();
  });
});
