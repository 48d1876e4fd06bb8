import { repeatEvery } from '../../../common/clock';
import { FakeClock } from '../../support/fake-clock';

describe('repeatEvery', () => {
  test('runs every interval, goes on after a throwing run, and stops when cancelled', () => {
    const clock = new FakeClock();
    let runs = 0;
    const handle = repeatEvery(clock, 100, () => {
      runs += 1;
      if (runs === 2) throw new Error('boom');
    });
    clock.advance(100);
    expect(() => clock.advance(100)).toThrow('boom');
    clock.advance(100);
    expect(runs).toBe(3);
    handle.cancel();
    clock.advance(1000);
    expect(runs).toBe(3);
    expect(clock.pending).toBe(0);
  });
});
