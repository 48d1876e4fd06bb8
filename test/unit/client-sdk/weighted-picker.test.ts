import { connectivityState, experimental, Metadata, status } from '@grpc/grpc-js';
import { ClientStatsAccumulator } from '../../../client-sdk/client-stats-accumulator';
import { WeightedPicker, type PickerBackend } from '../../../client-sdk/weighted-picker';

/** A leaf picker that completes with a marker standing in for the backend's subchannel. */
function leafPicker(address: string): experimental.Picker {
  const subchannel = { address } as unknown as experimental.SubchannelInterface;
  return {
    pick: () => ({
      pickResultType: experimental.PickResultType.COMPLETE,
      subchannel,
      status: null,
      onCallStarted: null,
      onCallEnded: null,
    }),
  };
}

function backend(address: string, weight: number, extra: Partial<PickerBackend> = {}): PickerBackend {
  return {
    address,
    weight,
    draining: false,
    state: connectivityState.READY,
    picker: leafPicker(address),
    ...extra,
  };
}

const ARGS: experimental.PickArgs = { metadata: new Metadata(), extraPickInfo: {} };

function pickedAddress(result: experimental.PickResult): string {
  return (result.subchannel as unknown as { address: string }).address;
}

function tally(picker: WeightedPicker, picks: number): Record<string, number> {
  const out: Record<string, number> = {};
  for (let i = 0; i < picks; i++) {
    const a = pickedAddress(picker.pick(ARGS));
    out[a] = (out[a] ?? 0) + 1;
  }
  return out;
}

describe('WeightedPicker', () => {
  const stats = () => new ClientStatsAccumulator(() => 0);

  test('spreads picks 1:2:3 by weight', () => {
    const p = WeightedPicker.build(
      [backend('a:1', 1), backend('b:1', 2), backend('c:1', 3)],
      stats(),
      () => 0,
    );
    const t = tally(p!, 6000);
    expect(t['a:1'] / 6000).toBeCloseTo(1 / 6, 1);
    expect(t['b:1'] / 6000).toBeCloseTo(2 / 6, 1);
    expect(t['c:1'] / 6000).toBeCloseTo(3 / 6, 1);
  });

  test('a backend that is not READY, is draining or has weight 0 gets no picks', () => {
    const p = WeightedPicker.build(
      [
        backend('ready:1', 1),
        backend('connecting:1', 1, { state: connectivityState.CONNECTING }),
        backend('failing:1', 1, { state: connectivityState.TRANSIENT_FAILURE }),
        backend('idle:1', 1, { state: connectivityState.IDLE }),
        backend('draining:1', 1, { draining: true }),
        backend('zero:1', 0),
      ],
      stats(),
      Math.random,
    );
    expect(p!.addresses).toEqual(['ready:1']);
    expect(tally(p!, 100)).toEqual({ 'ready:1': 100 });
  });

  test('is null when no backend is pickable', () => {
    expect(WeightedPicker.build([], stats(), Math.random)).toBeNull();
    expect(
      WeightedPicker.build([backend('d:1', 5, { draining: true }), backend('z:1', 0)], stats(), Math.random),
    ).toBeNull();
  });

  test('with client stats enabled, counts started, succeeded, failed and latency per backend', () => {
    let now = 100;
    const acc = new ClientStatsAccumulator(() => now);
    acc.enabled = true;
    const p = WeightedPicker.build([backend('a:1', 1)], acc, () => 0)!;
    const first = p.pick(ARGS);
    const second = p.pick(ARGS);
    first.onCallStarted?.();
    second.onCallStarted?.();
    now = 110;
    first.onCallEnded?.(status.DEADLINE_EXCEEDED, '', new Metadata());
    now = 125;
    second.onCallEnded?.(status.OK, '', new Metadata());
    expect(acc.takeReport()).toEqual([
      {
        address: 'a:1',
        callsStarted: 2,
        callsSucceeded: 1,
        callsFailed: 1,
        latencyMsSum: 35,
        latencyMsMin: 25, // the fastest call that succeeded
        failedByStatus: [{ code: status.DEADLINE_EXCEEDED, count: 1 }],
      },
    ]);
  });

  test('with client stats disabled, adds no hooks to the pick', () => {
    const p = WeightedPicker.build([backend('a:1', 1)], stats(), () => 0)!;
    const r = p.pick(ARGS);
    expect(r.onCallStarted).toBeNull();
    expect(r.onCallEnded).toBeNull();
  });

  test('passes a non-complete child pick through untouched', () => {
    const queue: experimental.PickResult = {
      pickResultType: experimental.PickResultType.QUEUE,
      subchannel: null,
      status: null,
      onCallStarted: null,
      onCallEnded: null,
    };
    const acc = stats();
    acc.enabled = true;
    const p = WeightedPicker.build([backend('a:1', 1, { picker: { pick: () => queue } })], acc, () => 0)!;
    expect(p.pick(ARGS)).toBe(queue);
  });

  test('10,000 backends: builds and picks each about equally', () => {
    const backends = Array.from({ length: 10_000 }, (_, i) => backend(`10.0.${i >> 8}.${i & 255}:80`, 100));
    const p = WeightedPicker.build(backends, stats(), Math.random)!;
    expect(p.size).toBe(10_000);
    const t = tally(p, 30_000);
    expect(Object.keys(t)).toHaveLength(10_000);
    expect(Math.max(...Object.values(t))).toBe(3);
  });

  test("with client stats on, the child's pick result is copied, never modified, and its own hooks still run", () => {
    const calls: string[] = [];
    const subchannel = { address: 'a:1' } as unknown as experimental.SubchannelInterface;
    const childResult: experimental.PickResult = Object.freeze({
      pickResultType: experimental.PickResultType.COMPLETE,
      subchannel,
      status: null,
      onCallStarted: () => calls.push('child started'),
      onCallEnded: (code: status) => calls.push(`child ended ${code}`),
    });
    const acc = stats();
    acc.enabled = true;
    const p = WeightedPicker.build(
      [backend('a:1', 1, { picker: { pick: () => childResult } })],
      acc,
      () => 0,
    )!;
    const r = p.pick(ARGS); // a frozen result would throw on assignment (strict mode)
    expect(r).not.toBe(childResult);
    expect(r.subchannel).toBe(subchannel);
    expect(r.pickResultType).toBe(experimental.PickResultType.COMPLETE);
    r.onCallStarted?.();
    r.onCallEnded?.(status.OK, '', new Metadata());
    expect(calls).toEqual(['child started', `child ended ${status.OK}`]);
    expect(acc.takeReport()).toMatchObject([{ address: 'a:1', callsStarted: 1, callsSucceeded: 1 }]);
  });

  /** Picks `n` times, returning the addresses in order. */
  const sequence = (p: WeightedPicker, n: number): string[] =>
    Array.from({ length: n }, () => pickedAddress(p.pick(ARGS)));

  test('rebuilt over the same backends and weights, the picker goes on exactly where it stood', () => {
    for (const weights of [
      [1, 2, 3],
      [4, 4, 4, 4],
    ]) {
      const set = () => weights.map((w, i) => backend(`b${i}:1`, w));
      const reference = WeightedPicker.build(set(), stats(), () => 0)!;
      let p = WeightedPicker.build(set(), stats(), () => 0)!;
      const picks: string[] = [];
      // A rebuild after every few picks, with another random start on offer: a reset would show.
      for (let round = 0; round < 30; round++) {
        picks.push(...sequence(p, round % 4));
        p = WeightedPicker.build(set(), stats(), () => 0.5, p)!;
      }
      expect(picks).toEqual(sequence(reference, picks.length));
    }
  });

  test('a backend added between picks: the backend that was next is picked next, the rotation goes on', () => {
    const three = [backend('a:1', 1), backend('b:1', 1), backend('c:1', 1)];
    const p = WeightedPicker.build(three, stats(), () => 0)!;
    expect(sequence(p, 1)).toEqual(['a:1']);
    const q = WeightedPicker.build([...three, backend('d:1', 1)], stats(), () => 0.99, p)!;
    expect(sequence(q, 5)).toEqual(['b:1', 'c:1', 'd:1', 'a:1', 'b:1']);
  });

  test('the backend that was next removed: the one after it is picked next', () => {
    const p = WeightedPicker.build(
      [backend('a:1', 1), backend('b:1', 1), backend('c:1', 1), backend('d:1', 1)],
      stats(),
      () => 0,
    )!;
    expect(sequence(p, 2)).toEqual(['a:1', 'b:1']);
    const q = WeightedPicker.build(
      [
        backend('a:1', 1),
        backend('b:1', 1),
        backend('c:1', 1, { state: connectivityState.IDLE }),
        backend('d:1', 1),
      ],
      stats(),
      () => 0.6,
      p,
    )!;
    expect(sequence(q, 4)).toEqual(['d:1', 'a:1', 'b:1', 'd:1']);
  });

  test('with weights, a changed set or weight still starts at the backend that was next', () => {
    const weights = [5, 1, 3, 8, 2];
    const set = (w: number[]) => w.map((x, i) => backend(`b${i}:1`, x));
    for (let k = 0; k < 40; k++) {
      const p = WeightedPicker.build(set(weights), stats(), () => k / 40)!;
      sequence(p, k);
      const next = pickedAddress(WeightedPicker.build(set(weights), stats(), () => 0, p)!.pick(ARGS));
      const changed = weights.map((w, i) => (i === k % 5 ? w + 4 : w));
      const q = WeightedPicker.build([...set(changed), backend('new:1', 9)], stats(), () => 0.77, p)!;
      expect(pickedAddress(q.pick(ARGS))).toBe(next);
    }
  });
});
