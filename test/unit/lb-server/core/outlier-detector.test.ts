import type { Assignment } from '../../../../lb-server/assignment/assignment';
import type { BackendCallCounts, ClientIdentity } from '../../../../lb-server/core/client-registry';
import {
  DEFAULT_OUTLIER_DETECTION,
  MAX_CALLS_PER_CLIENT_PER_INTERVAL,
  OutlierDetector,
  type EjectionChange,
  type OutlierDetectionOptions,
} from '../../../../lb-server/core/outlier-detector';
import { NO_SIGNALS } from '../../../../lb-server/assignment/assignment-signals';
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

  test('one client weighs at most twice the median reporting client, and at most MAX_CALLS_PER_CLIENT_PER_INTERVAL', () => {
    const t = setup(5);
    const liar = client('liar');
    // The liar claims a huge number of failures on one endpoint; four honest clients see it work.
    t.detector.reported(liar, [report(t.addresses[0], 1e15, 1e15)]);
    t.detector.reported(liar, [report(t.addresses[0], 1e15, 1e15)]);
    for (let i = 0; i < 4; i++)
      t.detector.reported(
        client(`honest${i}`),
        t.addresses.map((a) => report(a, 200)),
      );
    t.clock.advance(INTERVAL);
    // Median of (200, 200, 200, 200, 1e6) is 200: the liar counts 400 calls, all failed.
    expect(t.detector.rates('greeter', t.addresses[0])).toMatchObject({ failureRate: 400 / 1200 });
    expect(t.detector.rates('greeter', t.addresses[0]).callsPerSecond).toBeCloseTo(
      1200 / (INTERVAL / 1000),
      5,
    );
    // Alone (fewer than three reporters), a client counts up to the absolute bound.
    t.detector.reported(liar, [report(t.addresses[1], 1e15, 0)]);
    t.clock.advance(INTERVAL);
    expect(t.detector.rates('greeter', t.addresses[1]).callsPerSecond).toBeCloseTo(
      MAX_CALLS_PER_CLIENT_PER_INTERVAL / (INTERVAL / 1000),
      5,
    );
    // Reports of one client id over several streams count as one client.
    const a = t.addresses[2];
    for (let i = 0; i < 3; i++)
      t.detector.reported({ ...client('same'), peer: `ipv4:127.0.0.1:${i}` }, [report(a, 100, 100)]);
    t.detector.reported(client('x'), [report(a, 100)]);
    t.detector.reported(client('y'), [report(a, 100)]);
    t.clock.advance(INTERVAL);
    // "same" has 300 calls, capped at 2 × median(300, 100, 100) = 200.
    expect(t.detector.rates('greeter', a).failureRate).toBeCloseTo(200 / 400, 5);
  });

  test('a report without status codes adds its successful calls only', () => {
    const t = setup(5);
    t.detector.reported(client('old'), [
      { address: t.addresses[0], callsStarted: 100, callsSucceeded: 60, callsFailed: 40, latencyMsSum: 0 },
    ]);
    t.clock.advance(INTERVAL);
    expect(t.detector.rates('greeter', t.addresses[0])).toMatchObject({ failureRate: 0, callsPerSecond: 6 });
  });

  test('a repeat ejection is longer unless the endpoint carried the volume in between', () => {
    const late = setup(5);
    const bad = late.addresses[0];
    late.interval([bad]); // ejected (x1), 30 s
    for (let i = 0; i < 3; i++) {
      late.detector.reported(
        client('c1'),
        late.addresses.slice(1).map((a) => report(a, 200)),
      );
      late.clock.advance(INTERVAL);
    }
    expect(late.detector.ejection('greeter', bad)).toBeUndefined();
    // The first interval after the return has no calls on it yet (clients report late).
    late.detector.reported(
      client('c1'),
      late.addresses.slice(1).map((a) => report(a, 200)),
    );
    late.clock.advance(INTERVAL);
    late.interval([bad]);
    expect(late.detector.ejection('greeter', bad)?.consecutive).toBe(2);

    const healed = setup(5);
    const b = healed.addresses[0];
    healed.interval([b]);
    for (let i = 0; i < 3; i++) healed.interval([]); // returns at 30 s
    healed.interval([]); // a full interval of calls on it without failures: the count falls
    healed.interval([b]);
    expect(healed.detector.ejection('greeter', b)?.consecutive).toBe(1);
  });

  test('only endpoints that would serve are candidates, and ejections never trip the panic threshold', () => {
    const t = setup(6, {
      successRate: undefined,
      failurePercentage: { threshold: 85, minimumHosts: 3, requestVolume: 50 },
      panicThreshold: 0.5,
    });
    // Two of six are NOT_SERVING (their verdict comes from the health checker).
    const view = greeterView(t.addresses.map((address, i) => ({ id: `i${i}`, value: { address } })));
    const health = new Map(view.endpoints.slice(0, 2).map((e) => [e.key, { serving: false }]));
    t.setAssignment(assignmentOf(view, { ...NO_SIGNALS, health }));
    t.interval(t.addresses); // every endpoint fails every call
    // The unhealthy two are no candidates; of the four serving, 50 % may go, but then 2 of the 6
    // that would serve without verdicts are left, below half: only one may be ejected.
    expect(t.changes.map((c) => c.address)).toEqual([t.addresses[2]]);
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
    expect(t.changes.at(-1)).toMatchObject({ address: bad, ejected: false });
    t.detector.close();
    expect(t.clock.pending).toBe(0);
  });
});
