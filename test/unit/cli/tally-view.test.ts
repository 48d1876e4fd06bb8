import { backendOf, emptyTally, mergeTallies, type CallTally } from '../../../cli/greeter-calls';
import { tallyView } from '../../../cli/tally-view';

const tally = (over: Partial<CallTally>): CallTally => ({ ...emptyTally(), ...over });

describe('greeter call tallies', () => {
  it('reads the backend address from the end of a greeter reply, IPv6 included', () => {
    expect(backendOf('Hello lookaside from 127.0.0.1:8181')).toBe('127.0.0.1:8181');
    expect(backendOf('Hello a from b from [::1]:8282')).toBe('[::1]:8282');
    expect(backendOf('no address here')).toBe('(unknown)');
  });

  it('merges counts per backend and per status code', () => {
    const a = tally({ calls: 3, succeeded: 2, failed: 1, byBackend: { x: 2 }, failures: { UNAVAILABLE: 1 } });
    const b = tally({ calls: 4, succeeded: 4, byBackend: { x: 1, y: 3 } });
    const m = mergeTallies(a, b);
    expect(m).toMatchObject({ calls: 7, succeeded: 6, failed: 1, byBackend: { x: 3, y: 3 } });
    expect(m.failures).toEqual({ UNAVAILABLE: 1 });
    expect(a.byBackend).toEqual({ x: 2 });
  });

  it('shows each backend with its share, then failures by status with an example', () => {
    const view = tallyView(
      tally({
        calls: 5,
        succeeded: 4,
        failed: 1,
        byBackend: { '127.0.0.1:8282': 3, '127.0.0.1:8181': 1 },
        failures: { UNAVAILABLE: 1 },
        failureExamples: { UNAVAILABLE: 'no backend' },
      }),
    );
    const lines = view.split('\n');
    expect(lines[1]).toMatch(/^127\.0\.0\.1:8181\s+1\s+25\.0%$/);
    expect(lines[2]).toMatch(/^127\.0\.0\.1:8282\s+3\s+75\.0%$/);
    expect(view).toContain('5 calls: 4 succeeded, 1 failed');
    expect(view).toContain('UNAVAILABLE: 1 (e.g. "no backend")');
  });

  it('says so when no call succeeded', () => {
    expect(tallyView(tally({ calls: 2, failed: 2, failures: { DEADLINE_EXCEEDED: 2 } }))).toMatch(
      /^\(no call succeeded\)/,
    );
  });
});
