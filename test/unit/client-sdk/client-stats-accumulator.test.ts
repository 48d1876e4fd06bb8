import { status } from '@grpc/grpc-js';
import { ClientStatsAccumulator } from '../../../client-sdk/client-stats-accumulator';

describe('ClientStatsAccumulator', () => {
  test('reports per-backend deltas since the last report, then zeroes them', () => {
    const stats = new ClientStatsAccumulator(() => 0);
    const a = stats.counters('10.0.0.1:80');
    const b = stats.counters('10.0.0.2:80');
    a.onCallStarted();
    a.onCallStarted();
    a.callEnded(status.OK, 3);
    a.callEnded(status.UNAVAILABLE, 1); // faster, but failed: not the fastest call
    b.onCallStarted();
    const row = (
      address: string,
      started: number,
      ok: number,
      failed: number,
      latency: number,
      min: number,
    ) => ({
      address,
      callsStarted: started,
      callsSucceeded: ok,
      callsFailed: failed,
      latencyMsSum: latency,
      latencyMsMin: min,
    });
    expect(stats.takeReport()).toEqual([
      { ...row('10.0.0.1:80', 2, 1, 1, 4, 3), failedByStatus: [{ code: status.UNAVAILABLE, count: 1 }] },
      { ...row('10.0.0.2:80', 1, 0, 0, 0, 0), failedByStatus: [] },
    ]);
    expect(stats.takeReport()).toEqual([]);
    b.callEnded(status.OK, 2);
    b.onCallStarted();
    b.callEnded(status.NOT_FOUND, 1);
    // The per-status counts were zeroed with the rest by the first report.
    expect(stats.takeReport()).toEqual([
      { ...row('10.0.0.2:80', 1, 1, 1, 3, 2), failedByStatus: [{ code: status.NOT_FOUND, count: 1 }] },
    ]);
    // So was the fastest call: a slower one is the next report's fastest.
    b.onCallStarted();
    b.callEnded(status.OK, 7);
    expect(stats.takeReport()).toEqual([{ ...row('10.0.0.2:80', 1, 1, 0, 7, 7), failedByStatus: [] }]);
  });

  test('counters() returns the same object for an address', () => {
    const stats = new ClientStatsAccumulator();
    expect(stats.counters('a:1')).toBe(stats.counters('a:1'));
  });

  test('a retired backend is forgotten only once its in-flight calls have ended and been reported', () => {
    const stats = new ClientStatsAccumulator();
    const a = stats.counters('a:1');
    a.onCallStarted();
    stats.retire('a:1');
    stats.takeReport();
    stats.takeReport();
    expect(stats.size).toBe(1); // one call still in flight
    a.callEnded(status.OK, 1);
    expect(stats.takeReport()).toHaveLength(1);
    stats.takeReport();
    expect(stats.size).toBe(0);
  });

  test('with reports off, retired idle backends are forgotten at once (churn cannot grow the map)', () => {
    const stats = new ClientStatsAccumulator();
    stats.enabled = false;
    for (let i = 0; i < 100; i++) {
      const c = stats.counters(`10.0.0.${i}:80`);
      c.onCallStarted();
      c.callEnded(status.OK, 1);
      stats.retire(`10.0.0.${i}:80`);
    }
    expect(stats.size).toBe(0);
  });

  test('a retired backend that comes back is not forgotten', () => {
    const stats = new ClientStatsAccumulator();
    stats.counters('a:1');
    stats.retire('a:1');
    stats.counters('a:1');
    stats.takeReport();
    expect(stats.size).toBe(1);
  });
});
