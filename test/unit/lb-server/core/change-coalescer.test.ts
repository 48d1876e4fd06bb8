import { ChangeCoalescer } from '../../../../lb-server/core/change-coalescer';
import { FakeClock } from '../../../support/fake-clock';

describe('ChangeCoalescer', () => {
  function setup(delayMs = 5) {
    const clock = new FakeClock();
    const flushes: string[][] = [];
    const c = new ChangeCoalescer(clock, delayMs, (keys) => flushes.push(keys));
    return { clock, flushes, c };
  }

  it('flushes a lone change at once', () => {
    const { flushes, c } = setup();
    c.add(['a']);
    expect(flushes).toEqual([['a']]);
  });

  it('holds nothing longer than one window when the wall clock steps back after a flush', () => {
    const { clock, flushes, c } = setup();
    c.add(['a']);
    clock.stepBack(60_000);
    c.add(['b']);
    clock.advance(5);
    expect(flushes).toEqual([['a'], ['b']]);
  });

  it('gathers the rest of a burst into one flush of distinct keys at the end of the window', () => {
    const { clock, flushes, c } = setup();
    for (let i = 0; i < 50; i++) c.add([i % 2 ? 'b' : 'a']);
    expect(flushes).toEqual([['a']]);
    clock.advance(4);
    expect(flushes).toHaveLength(1);
    clock.advance(1);
    expect(flushes).toEqual([['a'], ['a', 'b']]);
  });

  it('flushes at most once per window, and holds nothing longer than one window, under continuous churn', () => {
    const clock = new FakeClock();
    const at: number[] = [];
    const start = clock.now();
    const c = new ChangeCoalescer(clock, 5, () => at.push(clock.now() - start));
    for (let t = 0; t < 20; t++) {
      c.add(['k']);
      clock.advance(1);
    }
    expect(at).toEqual([0, 5, 10, 15, 20]);
  });

  it('flushes at once again after a quiet period', () => {
    const { clock, flushes, c } = setup();
    c.add(['a']);
    clock.advance(50);
    c.add(['b']);
    expect(flushes).toEqual([['a'], ['b']]);
  });

  it('does nothing without changes, and drops pending ones on close', () => {
    const { clock, flushes, c } = setup();
    c.add([]);
    expect(clock.pending).toBe(0);
    c.add(['a']);
    c.add(['b']);
    c.close();
    clock.advance(100);
    c.add(['c']);
    clock.advance(100);
    expect(flushes).toEqual([['a']]);
    expect(clock.pending).toBe(0);
  });

  it('flushNow() delivers at once and cancels the timer', () => {
    const { clock, flushes, c } = setup();
    c.add(['a']);
    c.add(['b']);
    c.flushNow();
    expect(flushes).toEqual([['a'], ['b']]);
    expect(clock.pending).toBe(0);
  });

  it('rejects a negative delay', () => {
    expect(() => new ChangeCoalescer(new FakeClock(), -1, () => undefined)).toThrow(RangeError);
  });
});
