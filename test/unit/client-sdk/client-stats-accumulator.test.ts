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
    a.callEnded(status.UNAVAILABLE, 5);
    b.onCallStarted();
    expect(stats.takeReport()).toEqual([
      { address: '10.0.0.1:80', callsStarted: 2, callsSucceeded: 1, callsFailed: 1, latencyMsSum: 8 },
      { address: '10.0.0.2:80', callsStarted: 1, callsSucceeded: 0, callsFailed: 0, latencyMsSum: 0 },
    ]);
    expect(stats.takeReport()).toEqual([]);
    b.callEnded(status.OK, 2);
    expect(stats.takeReport()).toEqual([
      { address: '10.0.0.2:80', callsStarted: 0, callsSucceeded: 1, callsFailed: 0, latencyMsSum: 2 },
    ]);
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
