import type { Assignment } from '../../../../lb-server/assignment/assignment';
import type { ClientIdentity } from '../../../../lb-server/core/client-registry';
import {
  DEFAULT_LOAD_WEIGHTS,
  LoadWeights,
  orcaCapacity,
  type LoadWeightsOptions,
  type OrcaLoadInput,
} from '../../../../lb-server/core/load-weights';
import { assignmentOf, greeterView } from '../../../support/assignment-of';
import { FakeClock } from '../../../support/fake-clock';

const UPDATE = DEFAULT_LOAD_WEIGHTS.updateMs;

function client(id: string): ClientIdentity {
  return { clientId: id, service: 'greeter', peer: 'ipv4:127.0.0.1:1', zone: '', protocol: 'lookaside.v1' };
}

function setup(n: number, options: Partial<LoadWeightsOptions> = {}, records?: { draining?: boolean }[]) {
  const clock = new FakeClock();
  const addresses = Array.from({ length: n }, (_, i) => `127.0.0.1:${6000 + i}`);
  const assignment: Assignment = assignmentOf(
    greeterView(
      addresses.map((address, i) => ({ id: `i${i}`, value: { address, ...(records?.[i] ?? {}) } })),
    ),
  );
  const keys = assignment.endpoints.map((e) => e.endpoint.key);
  const orca = new Map<string, OrcaLoadInput>();
  const changed: string[] = [];
  const weights = new LoadWeights({
    clock,
    options: { ...DEFAULT_LOAD_WEIGHTS, enabled: true, ...options },
    assignmentOf: (service) => (service === 'greeter' ? assignment : assignmentOf(greeterView([]))),
    orcaOf: (key) => orca.get(key),
    onChange: (service) => changed.push(service),
  });
  weights.touch('greeter');
  const report = (i: number, utilization: number, qps: number, eps = 0) =>
    orca.set(keys[i], {
      applicationUtilization: utilization,
      cpuUtilization: 0,
      rpsFractional: qps,
      eps,
      receivedAtMs: clock.now(),
    });
  const factor = (i: number) => weights.loadOf('greeter', keys[i]).factor;
  return { clock, addresses, keys, orca, changed, weights, report, factor };
}

describe('LoadWeights', () => {
  test("A58's capacity: qps / (utilization + penalty × eps / qps); nonsense gives none", () => {
    const r = {
      applicationUtilization: 0.5,
      cpuUtilization: 0.9,
      rpsFractional: 100,
      eps: 10,
      receivedAtMs: 0,
    };
    expect(orcaCapacity(r, 1)).toBeCloseTo(100 / (0.5 + 0.1), 9);
    // cpu_utilization when there is no application_utilization (grpc-js's own WRR ignores it).
    expect(orcaCapacity({ ...r, applicationUtilization: 0, eps: 0 }, 1)).toBeCloseTo(100 / 0.9, 9);
    for (const bad of [
      { rpsFractional: NaN },
      { eps: -1 },
      { applicationUtilization: 1e9 },
      { rpsFractional: 0 },
    ]) {
      expect(orcaCapacity({ ...r, ...bad }, 1)).toBeUndefined();
    }
  });

  test('a backend with a quarter of the capacity gets a quarter of the mean factor after the blackout, smoothed', () => {
    const t = setup(4);
    // Same qps, the slow one is 4× as busy: a quarter of the capacity.
    const tick = () => {
      for (let i = 0; i < 4; i++) t.report(i, i === 0 ? 0.8 : 0.2, 100);
      t.clock.advance(UPDATE);
    };
    tick();
    tick(); // blackout: first reports 1 s old
    expect(t.changed).toEqual([]);
    expect(t.factor(0)).toBe(1);
    tick(); // 2 s: used
    expect(t.changed).toEqual(['greeter']);
    // Capacities 125, 500, 500, 500: mean 406.25.
    expect(t.factor(0)).toBeCloseTo(125 / 406.25, 5);
    expect(t.factor(1)).toBeCloseTo(500 / 406.25, 5);
    expect(t.weights.load('greeter', t.keys[0])).toEqual({ factor: t.factor(0) });
    expect(t.weights.loadOf('greeter', t.keys[0])).toMatchObject({
      source: 'orca',
      utilization: 0.8,
      qps: 100,
    });
  });

  test('ORCA decides only once some endpoint is busy (utilization >= 0.2)', () => {
    const t = setup(2, { blackoutMs: 0, smoothing: 1 });
    t.report(0, 0.02, 10); // idle: an event loop's baseline would dominate qps / utilization
    t.report(1, 0.1, 10);
    t.clock.advance(UPDATE);
    expect([t.factor(0), t.factor(1), t.weights.loadOf('greeter', t.keys[0]).source]).toEqual([
      1,
      1,
      undefined,
    ]);
    t.report(0, 0.1, 100);
    t.report(1, 0.4, 100);
    t.clock.advance(UPDATE);
    expect(t.weights.loadOf('greeter', t.keys[0]).source).toBe('orca');
    expect(t.factor(0)).toBeCloseTo(1.6, 5);
  });

  test('pushes only when a factor moves by more than the threshold', () => {
    const t = setup(2, { blackoutMs: 0 });
    t.report(0, 0.5, 100);
    t.report(1, 0.5, 100);
    t.clock.advance(UPDATE);
    expect(t.changed).toEqual([]); // equal capacities: factors 1, nothing to push
    t.report(0, 0.52, 100); // 4 % less capacity: below the 10 % threshold
    t.report(1, 0.5, 100);
    t.clock.advance(UPDATE);
    expect(t.changed).toEqual([]);
    t.report(0, 2, 100);
    t.report(1, 0.5, 100);
    t.clock.advance(UPDATE);
    expect(t.changed).toEqual(['greeter']);
    expect(t.factor(0)).toBeLessThan(0.9);
  });

  test('no factor falls below the floor (a tenth of the mean); reports that stop expire back to the registered weight', () => {
    const t = setup(2, { blackoutMs: 0, smoothing: 1, expiryMs: 5000 });
    t.report(0, 1, 1); // capacity 1
    t.report(1, 0.01, 1000); // capacity 100,000
    t.clock.advance(UPDATE);
    expect(t.factor(0)).toBe(DEFAULT_LOAD_WEIGHTS.floor);
    expect(t.factor(1)).toBeCloseTo(100_000 / 50_000.5, 9);
    t.clock.advance(6000);
    expect(t.factor(0)).toBe(1);
    expect(t.weights.load('greeter', t.keys[0])).toBeUndefined();
  });

  test('without ORCA, client-reported latency decides; one client cannot move a weight against three', () => {
    const t = setup(2, { blackoutMs: 0, smoothing: 1 });
    t.orca.clear();
    const latency = (ms: number, calls = 100) => ({
      callsStarted: calls,
      callsSucceeded: calls,
      callsFailed: 0,
      latencyMsSum: ms * calls,
    });
    for (const id of ['a', 'b', 'c']) {
      t.weights.reported(client(id), [
        { address: t.addresses[0], ...latency(40) },
        { address: t.addresses[1], ...latency(10) },
      ]);
    }
    // A liar says the fast one takes 10 s a call.
    t.weights.reported(client('liar'), [{ address: t.addresses[1], ...latency(10_000, 1000) }]);
    t.clock.advance(UPDATE);
    expect(t.weights.loadOf('greeter', t.keys[0])).toMatchObject({ source: 'clients', latencyMs: 40 });
    // Median of the per-client means (10, 10, 10, 10,000) is 10: the liar moved nothing.
    expect(t.weights.loadOf('greeter', t.keys[1]).latencyMs).toBe(10);
    // Capacities 1000/45 and 1000/15 (the 5 ms prior added): factors 0.5 and 1.5.
    expect(t.factor(0)).toBeCloseTo(0.5, 5);
    expect(t.factor(1)).toBeCloseTo(1.5, 5);
  });

  test('a backend that answers fast with errors is not fast: the clients estimate counts successful calls', () => {
    const t = setup(2, { blackoutMs: 0, smoothing: 1 });
    const calls = (succeeded: number, failed: number, ms: number) => ({
      callsStarted: succeeded + failed,
      callsSucceeded: succeeded,
      callsFailed: failed,
      latencyMsSum: ms * (succeeded + failed),
    });
    t.weights.reported(client('a'), [
      { address: t.addresses[0], ...calls(10, 90, 1) }, // fast, but 90 % errors
      { address: t.addresses[1], ...calls(100, 0, 10) },
    ]);
    t.clock.advance(UPDATE);
    // Capacities 0.1 × 1000/6 and 1000/15: the erring one, ten times as fast, gets the smaller factor.
    expect(t.factor(0)).toBeCloseTo(0.4, 5);
    expect(t.factor(1)).toBeCloseTo(1.6, 5);
  });

  test('weight-0 and draining endpoints take no part; NaN reports never make a NaN factor', () => {
    const t = setup(3, { blackoutMs: 0 }, [{ draining: true }, {}, {}]);
    t.report(0, 0.1, 1000);
    t.report(1, 0.5, 100);
    t.orca.set(t.keys[2], {
      applicationUtilization: NaN,
      cpuUtilization: 0,
      rpsFractional: 100,
      eps: 0,
      receivedAtMs: t.clock.now(),
    });
    t.clock.advance(UPDATE);
    // Only one usable estimate left (the draining one is out, the NaN one has none): no factors.
    expect([t.factor(0), t.factor(1), t.factor(2)]).toEqual([1, 1, 1]);
    expect(t.weights.loadOf('greeter', t.keys[0]).source).toBeUndefined();
  });

  test('disabled: no timer, no factors', () => {
    const t = setup(2, { enabled: false });
    expect(t.clock.pending).toBe(0);
    t.report(0, 1, 1);
    t.report(1, 0.1, 100);
    t.clock.advance(10 * UPDATE);
    expect(t.factor(0)).toBe(1);
  });

  test('an ORCA estimate is smoothed once per report, however often it is read', () => {
    const t = setup(2, { blackoutMs: 0, smoothing: 0.5 });
    t.report(0, 0.5, 100); // capacity 200
    t.report(1, 0.5, 100);
    t.clock.advance(UPDATE);
    t.report(0, 0.5, 50); // one report: capacity 100, halfway is 150
    t.clock.advance(UPDATE);
    const once = t.weights.loadOf('greeter', t.keys[0]).capacity;
    expect(once).toBeCloseTo(150, 9);
    // No new report from endpoint 0: more updates read the same one and leave its estimate.
    t.report(1, 0.5, 100);
    t.clock.advance(5 * UPDATE);
    expect(t.weights.loadOf('greeter', t.keys[0]).capacity).toBe(once);
  });

  test('an ORCA report is acted on soon after it arrives, not at the next period; pushes stay at most one per period', () => {
    const t = setup(2, { blackoutMs: 0, smoothing: 1 });
    t.report(0, 0.5, 100);
    t.report(1, 0.5, 100);
    t.clock.advance(UPDATE); // equal: nothing to push
    expect(t.changed).toEqual([]);
    t.clock.advance(UPDATE / 10);
    t.report(0, 1, 50); // a quarter of the capacity
    t.weights.orcaReported('greeter');
    t.clock.advance(UPDATE / 4);
    expect(t.changed).toEqual(['greeter']);
    expect(t.factor(0)).toBeCloseTo(0.4, 5);
    // A second move right after: held back until a period after the first push.
    t.report(0, 0.5, 100);
    t.weights.orcaReported('greeter');
    t.clock.advance(UPDATE / 2);
    expect(t.changed).toEqual(['greeter']);
    t.clock.advance(UPDATE / 2);
    expect(t.changed).toEqual(['greeter', 'greeter']);
    expect(t.factor(0)).toBe(1);
  });

  test("a change's last step below the threshold is pushed once the factors settle; steady factors push nothing more", () => {
    const t = setup(2, { blackoutMs: 0, smoothing: 1 });
    const reportBoth = (util0: number) => {
      t.report(0, util0, 100);
      t.report(1, 0.25, 100);
    };
    reportBoth(0.25);
    t.clock.advance(UPDATE);
    // Endpoint 0 slows in two steps: capacity 400 → 111 (factor 0.435, pushed) → 100 (factor
    // 0.4: within 10 % of 0.435, which the threshold alone would leave published).
    reportBoth(0.9);
    t.clock.advance(UPDATE);
    expect(t.factor(0)).toBeCloseTo(111.1 / 255.6, 3);
    for (let i = 0; i < 3; i++) {
      reportBoth(1);
      t.clock.advance(UPDATE);
    }
    expect(t.factor(0)).toBeCloseTo(0.4, 9);
    const pushes = t.changed.length;
    for (let i = 0; i < 10; i++) {
      reportBoth(1);
      t.clock.advance(UPDATE);
    }
    expect(t.changed).toHaveLength(pushes);
  });

  test('two clients that disagree by more than 2× move no weight; two that agree do', () => {
    const t = setup(2, { blackoutMs: 0, smoothing: 1 });
    t.orca.clear();
    const latency = (ms: number, calls = 100) => ({
      callsStarted: calls,
      callsSucceeded: calls,
      callsFailed: 0,
      latencyMsSum: ms * calls,
    });
    t.weights.reported(client('honest'), [
      { address: t.addresses[0], ...latency(10) },
      { address: t.addresses[1], ...latency(10) },
    ]);
    t.weights.reported(client('liar'), [
      { address: t.addresses[0], ...latency(10) },
      { address: t.addresses[1], ...latency(1000, 10_000) },
    ]);
    t.clock.advance(UPDATE);
    expect([t.factor(0), t.factor(1)]).toEqual([1, 1]);
    // Two that agree (within 2×) are believed.
    for (const id of ['a', 'b']) {
      t.weights.reported(client(id), [
        { address: t.addresses[0], ...latency(10) },
        { address: t.addresses[1], ...latency(id === 'a' ? 40 : 60) },
      ]);
    }
    t.clock.advance(UPDATE);
    expect(t.factor(1)).toBeLessThan(0.9);
  });

  test("a backend's queue does not lower its clients estimate: the fastest successful call decides", () => {
    const t = setup(2, { blackoutMs: 0, smoothing: 1 });
    t.orca.clear();
    const calls = (meanMs: number, minMs: number | undefined) => ({
      callsStarted: 100,
      callsSucceeded: 100,
      callsFailed: 0,
      latencyMsSum: meanMs * 100,
      ...(minMs === undefined ? {} : { latencyMsMin: minMs }),
    });
    // Both serve a call in 10 ms; endpoint 0 was sent more than it can carry and queued (mean 100 ms).
    t.weights.reported(client('a'), [
      { address: t.addresses[0], ...calls(100, 10) },
      { address: t.addresses[1], ...calls(10, 10) },
    ]);
    t.clock.advance(UPDATE);
    expect([t.factor(0), t.factor(1)]).toEqual([1, 1]);
    expect(t.weights.loadOf('greeter', t.keys[0]).latencyMs).toBe(10);
    // Truly slower (its fastest call takes 40 ms): a quarter-ish of the capacity.
    t.weights.reported(client('a'), [
      { address: t.addresses[0], ...calls(100, 40) },
      { address: t.addresses[1], ...calls(10, 10) },
    ]);
    t.clock.advance(UPDATE);
    // Capacities 1000/45 and 1000/15.
    expect(t.factor(0)).toBeCloseTo(0.5, 5);
    // A client that does not report its fastest call contributes its mean; nonsense is counted, ignored.
    const rejectedBefore = t.weights.rejectedReports;
    t.weights.reported(client('old'), [
      { address: t.addresses[0], ...calls(40, undefined) },
      { address: t.addresses[1], ...calls(10, NaN) },
    ]);
    t.clock.advance(UPDATE);
    expect(t.weights.rejectedReports).toBe(rejectedBefore + 1);
    expect(t.weights.loadOf('greeter', t.keys[1]).latencyMs).toBe(10);
    expect(t.factor(0)).toBeCloseTo(0.5, 5);
  });

  describe('clients estimates beside ORCA ones', () => {
    const latency = (ms: number, calls = 100) => ({
      callsStarted: calls,
      callsSucceeded: calls,
      callsFailed: 0,
      latencyMsSum: ms * calls,
      latencyMsMin: ms,
    });
    const clientsSay = (t: ReturnType<typeof setup>, ids: string[], slowMs: number) => {
      for (const id of ids) {
        t.weights.reported(client(id), [
          { address: t.addresses[0], ...latency(10) },
          { address: t.addresses[1], ...latency(slowMs) },
        ]);
      }
    };

    test('ORCA that stops (its last report expires) hands over to what clients report', () => {
      const t = setup(2, { blackoutMs: 0, smoothing: 1, expiryMs: 5000 });
      t.report(0, 0.5, 100);
      t.report(1, 0.5, 100);
      t.clock.advance(UPDATE);
      expect(t.weights.loadOf('greeter', t.keys[0]).source).toBe('orca');
      // The ORCA streams end; the last reports stay in orcaOf() but age. Clients see b 8× slower.
      for (let i = 0; i < 10; i++) {
        clientsSay(t, ['a', 'b', 'c'], 80);
        t.clock.advance(UPDATE);
      }
      expect(t.weights.loadOf('greeter', t.keys[1]).source).toBe('clients');
      expect(t.factor(1)).toBeLessThan(0.5);
    });

    test('idle ORCA (no endpoint busy) leaves the decision to clients', () => {
      const t = setup(2, { blackoutMs: 0, smoothing: 1 });
      for (let i = 0; i < 3; i++) {
        t.report(0, 0.05, 10);
        t.report(1, 0.05, 10);
        clientsSay(t, ['a', 'b', 'c'], 80);
        t.clock.advance(UPDATE);
      }
      expect(t.weights.loadOf('greeter', t.keys[1]).source).toBe('clients');
      expect(t.factor(1)).toBeLessThan(0.5);
    });

    test('clients that report in different updates still make one median: a rogue among them moves nothing', () => {
      const t = setup(2, { blackoutMs: 0, smoothing: 1 });
      t.orca.clear();
      // Each client reports every third update, at its own phase; the rogue says b is 20× slower.
      for (let i = 0; i < 12; i++) {
        const id = ['honest-1', 'honest-2', 'rogue'][i % 3];
        clientsSay(t, [id], id === 'rogue' ? 200 : 10);
        t.clock.advance(UPDATE);
      }
      expect(t.changed).toEqual([]);
      expect([t.factor(0), t.factor(1)]).toEqual([1, 1]);
    });
  });

  test('after a change has settled, noise below the threshold pushes nothing; a lasting offset is pushed once', () => {
    const t = setup(2, { blackoutMs: 0, smoothing: 1 });
    const both = (util0: number) => {
      t.report(0, util0, 100);
      t.report(1, 0.25, 100);
      t.clock.advance(UPDATE);
    };
    both(0.25);
    both(1); // a threshold push: factors 0.4 / 1.6
    both(1); // settled where it was pushed
    const pushes = t.changed.length;
    // Noise of about ±6 % (between a quarter of the threshold and the threshold) around it.
    for (let i = 0; i < 8; i++) both(i % 2 === 0 ? 1.1 : 0.92);
    expect(t.changed).toHaveLength(pushes);
    // An offset of about 6 % that lasts: pushed once, after three periods.
    for (let i = 0; i < 2; i++) both(1.1);
    expect(t.changed).toHaveLength(pushes);
    for (let i = 0; i < 5; i++) both(1.1);
    expect(t.changed).toHaveLength(pushes + 1);
    expect(t.factor(0)).toBeCloseTo(100 / 1.1 / ((100 / 1.1 + 400) / 2), 5);
  });
});
