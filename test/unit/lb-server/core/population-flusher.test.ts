import { ClientPopulationState, type PopulationOp } from '../../../../lb-server/core/client-population-state';
import { PopulationFlusher } from '../../../../lb-server/core/population-flusher';
import { FakeClock } from '../../../support/fake-clock';

const FOLDER = '/lookaside/clients/';

/** A flusher over a fresh state whose commits are recorded (and fail while `failing`). */
function setup(options: { maxOpsPerTxn?: number; maxTxnsPerFlush?: number } = {}) {
  const clock = new FakeClock();
  const state = new ClientPopulationState(FOLDER, 'lb-a');
  const commits: PopulationOp[][] = [];
  const failures: string[] = [];
  const control = { failing: false, ready: true };
  const flusher = new PopulationFlusher({
    state,
    clock,
    flushMs: 500,
    ready: () => control.ready,
    commit: (ops) => {
      if (control.failing) return Promise.reject(new Error('etcd down'));
      commits.push([...ops]);
      return Promise.resolve(1);
    },
    onFailed: (err) => failures.push(err.message),
    ...options,
  });
  const join = (id: string): (() => void) => {
    state.join({ service: 'greeter', clientId: id, zone: '', protocol: 'lookaside.v1' }, clock.now());
    return () => state.leave('greeter', id);
  };
  /** Advances the clock by one window and lets the flush's commits settle. */
  const tick = async (ms = 500): Promise<void> => {
    clock.advance(ms);
    for (let i = 0; i < 50; i++) await Promise.resolve();
  };
  return { clock, state, commits, failures, control, flusher, join, tick };
}

describe('PopulationFlusher', () => {
  it('writes nothing before the window ends, then one txn with every join of the window', async () => {
    const t = setup();
    t.flusher.start();
    t.join('a');
    t.join('b');
    await t.tick(499);
    expect(t.commits).toEqual([]);
    await t.tick(1);
    expect(t.commits.map((c) => c.map((o) => `${o.kind} ${o.key}`))).toEqual([
      [`put ${FOLDER}greeter/a`, `put ${FOLDER}greeter/b`],
    ]);
    expect(t.flusher.writes()).toEqual({ put: 2, delete: 0, txns: 1 });
    await t.flusher.close();
  });

  it('a client that joins and leaves within one window causes no write', async () => {
    const t = setup();
    t.flusher.start();
    const leave = t.join('brief');
    await t.tick(200);
    leave();
    await t.tick(300);
    await t.tick(500);
    expect(t.commits).toEqual([]);
    expect(t.flusher.writes()).toEqual({ put: 0, delete: 0, txns: 0 });
    await t.flusher.close();
  });

  it('bounds ops per txn and txns per flush; the rest goes out at the next flush', async () => {
    const t = setup({ maxOpsPerTxn: 64, maxTxnsPerFlush: 2 });
    t.flusher.start();
    for (let i = 0; i < 300; i++) t.join(`c${String(i).padStart(3, '0')}`);
    await t.tick();
    expect(t.commits.map((c) => c.length)).toEqual([64, 64]);
    expect(t.state.pendingCount).toBe(300 - 128);
    await t.tick();
    await t.tick();
    expect(t.commits.map((c) => c.length)).toEqual([64, 64, 64, 64, 44]);
    expect(t.commits.every((c) => c.length <= 64)).toBe(true);
    expect(new Set(t.commits.flat().map((o) => o.key)).size).toBe(300);
    await t.flusher.close();
  });

  it('churn of N clients that join, get a subset and leave in three windows costs three writes each, in one txn per window', async () => {
    const t = setup();
    t.flusher.start();
    const leaves = Array.from({ length: 40 }, (_, i) => t.join(`c${i}`));
    await t.tick();
    for (let i = 0; i < 40; i++) t.state.setSubset('greeter', `c${i}`, ['i1']);
    await t.tick();
    for (const leave of leaves) leave();
    await t.tick();
    expect(t.flusher.writes()).toEqual({ put: 80, delete: 40, txns: 3 });
    await t.flusher.close();
  });

  it('waits while not ready (no lease), and retries a failed commit at the next window', async () => {
    const t = setup();
    t.flusher.start();
    t.control.ready = false;
    t.join('a');
    await t.tick();
    expect(t.commits).toEqual([]);
    t.control.ready = true;
    t.control.failing = true;
    await t.tick();
    expect(t.failures).toEqual(['etcd down']);
    expect(t.state.pendingCount).toBe(1);
    t.control.failing = false;
    await t.tick();
    expect(t.commits.map((c) => c.map((o) => o.kind))).toEqual([['put']]);
    expect(t.state.pendingCount).toBe(0);
    await t.flusher.close();
  });

  it('close stops the loop: nothing is written after it, and no timer is left', async () => {
    const t = setup();
    t.flusher.start();
    await t.flusher.close();
    t.join('late');
    await t.tick();
    expect(t.commits).toEqual([]);
    expect(t.clock.pending).toBe(0);
  });
});

describe('PopulationFlusher in flight', () => {
  it('counts the ops of a commit in flight until etcd answers', async () => {
    const clock = new FakeClock();
    const state = new ClientPopulationState(FOLDER, 'lb-a');
    let answer: (() => void) | undefined;
    const flusher = new PopulationFlusher({
      state,
      clock,
      flushMs: 500,
      ready: () => true,
      commit: () => new Promise<number>((resolve) => (answer = () => resolve(1))),
      onFailed: () => undefined,
    });
    state.join({ service: 'greeter', clientId: 'a', zone: '', protocol: 'xds' }, clock.now());
    const done = flusher.flush();
    expect(state.pendingCount).toBe(0);
    expect(flusher.inFlight).toBe(1);
    answer?.();
    await done;
    expect(flusher.inFlight).toBe(0);
    await flusher.close();
  });
});
