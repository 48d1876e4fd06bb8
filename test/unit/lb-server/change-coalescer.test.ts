import { ChangeCoalescer } from '../../../lb-server/change-coalescer';
import { FakeClock } from './fake-clock';

describe('ChangeCoalescer', () => {
  function setup(delayMs = 5) {
    const clock = new FakeClock();
    const flushes: string[][] = [];
    const c = new ChangeCoalescer(clock, delayMs, (keys) => flushes.push(keys));
    return { clock, flushes, c };
  }

  it('turns a burst of changes within the delay into one flush of distinct keys', () => {
    const { clock, flushes, c } = setup();
    for (let i = 0; i < 50; i++) c.add([i % 2 ? 'b' : 'a']);
    clock.advance(4);
    expect(flushes).toEqual([]);
    clock.advance(1);
    expect(flushes).toEqual([['a', 'b']]);
  });

  it('flushes at most one delay after the first change even under continuous churn', () => {
    const { clock, flushes, c } = setup(5);
    for (let t = 0; t < 20; t++) {
      c.add(['k']);
      clock.advance(1);
    }
    expect(flushes.length).toBe(4);
  });

  it('does nothing without changes, and drops pending ones on close', () => {
    const { clock, flushes, c } = setup();
    c.add([]);
    expect(clock.pending).toBe(0);
    c.add(['a']);
    c.close();
    clock.advance(100);
    c.add(['b']);
    clock.advance(100);
    expect(flushes).toEqual([]);
    expect(clock.pending).toBe(0);
  });

  it('flushNow() delivers at once and cancels the timer', () => {
    const { clock, flushes, c } = setup();
    c.add(['a']);
    c.flushNow();
    expect(flushes).toEqual([['a']]);
    expect(clock.pending).toBe(0);
  });

  it('rejects a negative delay', () => {
    expect(() => new ChangeCoalescer(new FakeClock(), -1, () => undefined)).toThrow(RangeError);
  });
});
