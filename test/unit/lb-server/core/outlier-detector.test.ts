import type { Assignment } from '../../../../lb-server/assignment/assignment';
import type { BackendCallCounts, ClientIdentity } from '../../../../lb-server/core/client-registry';
import {
  DEFAULT_OUTLIER_DETECTION,
  MAX_CALLS_PER_CLIENT_PER_INTERVAL,
  OutlierDetector,
  type EjectionChange,
  type OutlierDetectionOptions,
} from '../../../../lb-server/core/outlier-detector';
import { assignmentOf, greeterView } from '../../../support/assignment-of';
import { FakeClock } from '../../../support/fake-clock';

const INTERVAL = DEFAULT_OUTLIER_DETECTION.intervalMs;

function client(id: string): ClientIdentity {
  return { clientId: id, service: 'greeter', peer: 'ipv4:127.0.0.1:1', zone: '', protocol: 'lookaside.v1' };
}

/** `calls` finished calls of which `internal` failed with INTERNAL and `notFound` with NOT_FOUND. */
function report(address: string, calls: number, internal = 0, notFound = 0): BackendCallCounts {
  const failed = internal + notFound;
  return {
    address,
    callsStarted: calls,
    callsSucceeded: calls - failed,
    callsFailed: failed,
    latencyMsSum: calls,
    failedByStatus: [
      ...(internal > 0 ? [{ code: 13, count: internal }] : []),
      ...(notFound > 0 ? [{ code: 5, count: notFound }] : []),
    ],
  };
}

function setup(n: number, options: Partial<OutlierDetectionOptions> = {}) {
  const clock = new FakeClock();
  const addresses = Array.from({ length: n }, (_, i) => `127.0.0.1:${5000 + i}`);
  let assignment: Assignment = assignmentOf(
    greeterView(addresses.map((address, i) => ({ id: `i${i}`, value: { address } }))),
  );
  const changes: EjectionChange[] = [];
  const detector = new OutlierDetector({
    clock,
    options: { ...DEFAULT_OUTLIER_DETECTION, ...options },
    assignmentOf: (service) => (service === 'greeter' ? assignment : assignmentOf(greeterView([]))),
    onChange: (_service, c) => changes.push(...c),
  });
  return {
    clock,
    addresses,
    changes,
    detector,
    setAssignment: (a: Assignment) => (assignment = a),
    /** One interval: every address gets `calls` calls from client c1 (`failing` ones all INTERNAL). */
    interval(failing: readonly string[], calls = 200, from = client('c1')) {
      detector.reported(
        from,
        addresses.map((a) => report(a, calls, failing.includes(a) ? calls : 0)),
      );
      clock.advance(INTERVAL);
    },
  };
}

describe('OutlierDetector', () => {
  test('ejects an endpoint that fails every call (success-rate rule), for the base ejection time', () => {
    const t = setup(5);
    const bad = t.addresses[2];
    t.interval([bad]);
    expect(t.changes.map((c) => [c.address, c.ejected, c.ejection.rule])).toEqual([
      [bad, true, 'success-rate'],
    ]);
    const x = t.detector.ejection('greeter', bad);
    expect(x).toMatchObject({ consecutive: 1, requests: 200, failures: 200 });
    expect(x!.untilMs - x!.sinceMs).toBe(DEFAULT_OUTLIER_DETECTION.baseEjectionMs);
    expect(t.detector.ejectedCount('greeter')).toBe(1);
    // Ejected: no calls reach it; it returns at the first interval at or after the ejection time.
    t.interval([], 200);
    t.interval([], 200);
    expect(t.detector.ejection('greeter', bad)).toBeDefined();
    t.interval([], 200);
    expect(t.detector.ejection('greeter', bad)).toBeUndefined();
    expect(t.changes.at(-1)).toMatchObject({ address: bad, ejected: false });
  });

  test('a second ejection in a row lasts twice as long, capped by the max ejection time', () => {
    const t = setup(5, { baseEjectionMs: 10_000, maxEjectionMs: 15_000 });
    const bad = t.addresses[0];
    t.interval([bad]); // ejected for 10 s
    t.interval([]); // returns
    expect(t.detector.ejection('greeter', bad)).toBeUndefined();
    t.interval([bad]); // ejected again: multiplier 2 → min(20 s, max(10, 15) s)
    const x = t.detector.ejection('greeter', bad)!;
    expect(x.consecutive).toBe(2);
    expect(x.untilMs - x.sinceMs).toBe(15_000);
  });

  test('application errors such as NOT_FOUND are answers of a working backend: never ejected', () => {
    const t = setup(5);
    const picky = t.addresses[1];
    t.detector.reported(
      client('c1'),
      t.addresses.map((a) => (a === picky ? report(a, 200, 0, 200) : report(a, 200))),
    );
    t.clock.advance(INTERVAL);
    expect(t.changes).toEqual([]);
    expect(t.detector.rates('greeter', picky)).toMatchObject({ failureRate: 0 });
  });

  test('failure-percentage rule: above 85 % backend failures with at least 5 hosts', () => {
    // Success-rate rule off, so only the failure-percentage rule can eject.
    const t = setup(5, { successRate: undefined });
    t.detector.reported(
      client('c1'),
      t.addresses.map((a, i) => report(a, 100, i === 0 ? 86 : i === 1 ? 84 : 0)),
    );
    t.clock.advance(INTERVAL);
    expect(t.changes.map((c) => [c.address, c.ejection.rule])).toEqual([
      [t.addresses[0], 'failure-percentage'],
    ]);
  });

  test('needs minimumHosts endpoints with the request volume: 4 hosts or too few calls eject nothing', () => {
    const small = setup(4);
    small.interval([small.addresses[0]]);
    expect(small.changes).toEqual([]);
    const quiet = setup(5);
    quiet.interval([quiet.addresses[0]], 40); // below both request volumes (100, 50)
    expect(quiet.changes).toEqual([]);
    const few = setup(3, {
      successRate: undefined,
      failurePercentage: { threshold: 85, minimumHosts: 3, requestVolume: 50 },
    });
    few.interval([few.addresses[0]]);
    expect(few.changes.map((c) => c.address)).toEqual([few.addresses[0]]);
  });

  test('at most maxEjectionPercent of the endpoints, rounded down, and at least one', () => {
    const five = setup(5, { successRate: undefined }); // 50 % of 5 → 2
    five.interval(five.addresses.slice(0, 4));
    expect(five.detector.ejectedCount('greeter')).toBe(2);
    const fp = setup(6, { successRate: undefined, maxEjectionPercent: 50 });
    fp.interval(fp.addresses.slice(0, 5));
    expect(fp.detector.ejectedCount('greeter')).toBe(3);
    const one = setup(5, { successRate: undefined, maxEjectionPercent: 1 }); // 1 % of 5 → 0 → at least 1
    one.interval(one.addresses.slice(0, 3));
    expect(one.detector.ejectedCount('greeter')).toBe(1);
    const none = setup(5, { maxEjectionPercent: 0 });
    none.interval([none.addresses[0]]);
    expect(none.detector.ejectedCount('greeter')).toBe(0);
  });

  test('disabled: reports still give rates, nothing is ejected', () => {
    const t = setup(5, { enabled: false });
    t.interval([t.addresses[0]]);
    expect(t.changes).toEqual([]);
    expect(t.detector.rates('greeter', t.addresses[0])).toEqual({
      callsPerSecond: 200 / (INTERVAL / 1000),
      failuresPerSecond: 200 / (INTERVAL / 1000),
      failureRate: 1,
    });
  });

  test('one client contributes at most MAX_CALLS_PER_CLIENT_PER_INTERVAL calls per endpoint per interval', () => {
    const t = setup(5);
    const liar = client('liar');
    // The liar claims a huge number of failures on one endpoint; four honest clients see it work.
    t.detector.reported(liar, [report(t.addresses[0], 1e15, 1e15)]);
    t.detector.reported(liar, [report(t.addresses[0], 1e15, 1e15)]);
    for (let i = 0; i < 4; i++) {
      t.detector.reported(
        client(`honest${i}`),
        t.addresses.map((a) => report(a, MAX_CALLS_PER_CLIENT_PER_INTERVAL)),
      );
    }
    t.clock.advance(INTERVAL);
    const rates = t.detector.rates('greeter', t.addresses[0]);
    expect(rates.failureRate).toBeCloseTo(1 / 5, 5);
    expect(rates.callsPerSecond).toBeCloseTo((5 * MAX_CALLS_PER_CLIENT_PER_INTERVAL) / (INTERVAL / 1000), 0);
  });

  test('ignores addresses not in the service, absurd counters and inconsistent status counts', () => {
    const t = setup(5);
    t.detector.reported(client('c1'), [
      report('10.9.9.9:1', 1000, 1000),
      {
        address: t.addresses[0],
        callsStarted: -5,
        callsSucceeded: NaN,
        callsFailed: Infinity,
        latencyMsSum: 0,
      },
      // More INTERNAL failures claimed than failed calls: capped at the failed calls.
      { ...report(t.addresses[1], 100, 10), failedByStatus: [{ code: 13, count: 500 }] },
    ]);
    t.clock.advance(INTERVAL);
    expect(t.detector.rates('greeter', '10.9.9.9:1').callsPerSecond).toBe(0);
    expect(t.detector.rates('greeter', t.addresses[0]).callsPerSecond).toBe(0);
    expect(t.detector.rates('greeter', t.addresses[1]).failureRate).toBeCloseTo(0.1, 5);
  });

  test('an endpoint that leaves the service loses its ejection; close() stops the interval', () => {
    const t = setup(5);
    const bad = t.addresses[4];
    t.interval([bad]);
    expect(t.detector.ejection('greeter', bad)).toBeDefined();
    t.setAssignment(
      assignmentOf(
        greeterView(t.addresses.slice(0, 4).map((address, i) => ({ id: `i${i}`, value: { address } }))),
      ),
    );
    t.clock.advance(INTERVAL);
    expect(t.detector.ejection('greeter', bad)).toBeUndefined();
    t.detector.close();
    expect(t.clock.pending).toBe(0);
  });
});
