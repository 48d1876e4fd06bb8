import { MAX_TIMER_MS, repeatEvery, systemClock } from '../../../common/clock';
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

describe('systemClock', () => {
  afterEach(() => jest.useRealTimers());

  test('waits out a delay longer than one Node timer in steps, and fires once at the end', () => {
    jest.useFakeTimers();
    let fired = 0;
    const days30 = 30 * 24 * 3600 * 1000;
    systemClock.setTimeout(() => (fired += 1), days30);
    // Node would fire an overflowing timer after 1 ms; this one waits.
    jest.advanceTimersByTime(1000);
    expect(fired).toBe(0);
    jest.advanceTimersByTime(MAX_TIMER_MS);
    expect(fired).toBe(0);
    expect(jest.getTimerCount()).toBe(1);
    jest.advanceTimersByTime(days30 - MAX_TIMER_MS - 1000);
    expect(fired).toBe(1);
    expect(jest.getTimerCount()).toBe(0);
  });

  test('a long timer cancelled between steps never fires', () => {
    jest.useFakeTimers();
    let fired = 0;
    const handle = systemClock.setTimeout(() => (fired += 1), MAX_TIMER_MS * 2);
    jest.advanceTimersByTime(MAX_TIMER_MS + 10);
    handle.cancel();
    jest.advanceTimersByTime(MAX_TIMER_MS * 2);
    expect(fired).toBe(0);
  });
});
