import { ConsoleEvents } from '../../../../../lb-server/frontends/console/console-events';
import { FakeClock } from '../../../../support/fake-clock';

describe('ConsoleEvents', () => {
  it('answers the events after a seq, oldest first, with the latest seq to ask from next', () => {
    const events = new ConsoleEvents(new FakeClock(), { maxAgeMs: 60_000, maxEntries: 10 });
    events.record('endpoint_joined', 'greeter', 'a joined', { instanceId: 'a' });
    events.record('endpoint_left', 'greeter', 'a left');
    events.record('panic_started', 'other', 'panic');
    const all = events.since(0);
    expect(all.events.map((e) => [e.seq, e.kind, e.service])).toEqual([
      [1, 'endpoint_joined', 'greeter'],
      [2, 'endpoint_left', 'greeter'],
      [3, 'panic_started', 'other'],
    ]);
    expect(all.events[0].fields).toEqual({ instanceId: 'a' });
    expect(all.latestSeq).toBe(3);
    expect(all.truncated).toBe(false);
    expect(events.since(2).events.map((e) => e.seq)).toEqual([3]);
    expect(events.since(3)).toEqual({ events: [], latestSeq: 3, truncated: false });
  });

  it('keeps at most maxEntries, overwriting the oldest, and says when a reader missed some', () => {
    const events = new ConsoleEvents(new FakeClock(), { maxAgeMs: 60_000, maxEntries: 3 });
    for (let i = 1; i <= 7; i++) events.record('client_connected', 's', `c${i}`);
    const page = events.since(0);
    expect(page.events.map((e) => e.message)).toEqual(['c5', 'c6', 'c7']);
    expect(page.truncated).toBe(true);
    // A reader that saw up to 4 missed nothing.
    expect(events.since(4).truncated).toBe(false);
    expect(events.since(3).truncated).toBe(true);
  });

  it('drops events older than maxAgeMs', () => {
    const clock = new FakeClock();
    const events = new ConsoleEvents(clock, { maxAgeMs: 10_000, maxEntries: 100 });
    events.record('endpoint_joined', 's', 'old');
    clock.advance(6000);
    events.record('endpoint_joined', 's', 'newer');
    clock.advance(5000);
    const page = events.since(0);
    expect(page.events.map((e) => e.message)).toEqual(['newer']);
    expect(page.truncated).toBe(true);
    clock.advance(10_000);
    expect(events.since(0).events).toEqual([]);
    expect(events.since(0).latestSeq).toBe(2);
  });

  it('answers at most `limit` events, the newest ones', () => {
    const events = new ConsoleEvents(new FakeClock(), { maxAgeMs: 60_000, maxEntries: 100 });
    for (let i = 1; i <= 5; i++) events.record('client_connected', 's', `c${i}`);
    const page = events.since(0, 2);
    expect(page.events.map((e) => e.message)).toEqual(['c4', 'c5']);
    expect(page.truncated).toBe(true);
  });

  it('tells subscribers of every record until they unsubscribe', () => {
    const events = new ConsoleEvents(new FakeClock());
    let heard = 0;
    const off = events.subscribe(() => heard++);
    events.record('endpoint_joined', 's', 'a');
    off();
    events.record('endpoint_joined', 's', 'b');
    expect(heard).toBe(1);
  });

  it('refuses a capacity that is not a positive integer', () => {
    expect(() => new ConsoleEvents(new FakeClock(), { maxAgeMs: 1, maxEntries: 0 })).toThrow(/maxEntries/);
  });
});
