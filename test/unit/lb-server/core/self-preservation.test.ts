import { RegistryState } from '../../../../lb-server/core/registry-state';
import { SelfPreservation } from '../../../../lb-server/core/self-preservation';
import { FakeClock } from '../../../support/fake-clock';

const P = '/lookaside/services';

/** A registry plus the rule, fed the way the LB server feeds them. */
function setup(graceMs = 10_000, threshold = 0.5) {
  const clock = new FakeClock();
  const state = new RegistryState(P);
  const expired: string[][] = [];
  const rule = new SelfPreservation(clock, { graceMs, threshold }, (s) => expired.push(s));
  let rev = 1;
  const put = (id: string, draining = false): void => {
    rev += 1;
    state.put({
      key: `${P}/svc/${id}`,
      value: JSON.stringify({ address: `127.0.0.1:${9000 + id.length}`, draining }),
      modRevision: rev,
      lease: '1',
    });
  };
  const del = (id: string): void => {
    rev += 1;
    state.delete(`${P}/svc/${id}`, rev);
  };
  const publish = (): string[] => rule.viewToPublish(state.service('svc')).endpoints.map((e) => e.instanceId);
  /** Moves the clock past the grace without running the expiry timer (it is about to fire). */
  const stepPastGrace = (): void => {
    clock.stepBack(-(graceMs + 1));
  };
  return { clock, rule, expired, put, del, publish, state, stepPastGrace };
}

describe('SelfPreservation', () => {
  it('applies a lone unexpected removal at once (below the threshold)', () => {
    const t = setup();
    for (const id of ['a', 'b', 'c']) t.put(id);
    expect(t.publish()).toEqual(['a', 'b', 'c']);
    t.del('a');
    expect(t.publish()).toEqual(['b', 'c']);
    expect(t.rule.held('svc').count).toBe(0);
  });

  it('holds a mass removal for the grace, then applies what did not come back', () => {
    const t = setup(10_000, 0.5);
    for (const id of ['a', 'b', 'c', 'd']) t.put(id);
    t.publish();
    for (const id of ['a', 'b', 'c', 'd']) t.del(id);
    expect(t.publish()).toEqual(['a', 'b', 'c', 'd']);
    expect(t.rule.held('svc')).toEqual({
      count: 4,
      untilMs: t.clock.now() + 10_000,
      keys: ['a', 'b', 'c', 'd'].map((id) => `${P}/svc/${id}`),
    });
    t.clock.advance(2000);
    t.put('a');
    t.put('b');
    expect(t.publish()).toEqual(['a', 'b', 'c', 'd']);
    expect(t.rule.held('svc').count).toBe(2);
    t.clock.advance(8000);
    expect(t.expired).toEqual([['svc']]);
    expect(t.publish()).toEqual(['a', 'b']);
    expect(t.rule.held('svc').count).toBe(0);
  });

  it('adds up removals that trickle in within the window', () => {
    const t = setup(10_000, 0.5);
    for (const id of ['a', 'b', 'c']) t.put(id);
    t.publish();
    t.del('a');
    expect(t.publish()).toEqual(['b', 'c']);
    t.del('b');
    expect(t.publish()).toEqual(['b', 'c']); // 2 of 3 within the window: held
    t.del('c');
    expect(t.publish()).toEqual(['b', 'c']);
    expect(t.rule.held('svc').count).toBe(2);
  });

  it('holds the removal of the only endpoint', () => {
    const t = setup(10_000, 1);
    t.put('a');
    t.publish();
    t.del('a');
    expect(t.publish()).toEqual(['a']);
  });

  it('applies graceful removals (draining first) at once, however many', () => {
    const t = setup();
    for (const id of ['a', 'b']) t.put(id);
    t.publish();
    t.put('a', true);
    t.put('b', true);
    t.publish();
    t.del('a');
    t.del('b');
    expect(t.publish()).toEqual([]);
  });

  it('is off with a grace of 0', () => {
    const t = setup(0);
    for (const id of ['a', 'b']) t.put(id);
    t.publish();
    t.del('a');
    t.del('b');
    expect(t.publish()).toEqual([]);
    expect(t.rule.enabled).toBe(false);
  });

  it('releases a held endpoint on request (unreachable backend)', () => {
    const t = setup();
    for (const id of ['a', 'b']) t.put(id);
    t.publish();
    t.del('a');
    t.del('b');
    expect(t.publish()).toEqual(['a', 'b']);
    expect(t.rule.heldEndpoints().map((h) => h.endpoint.instanceId)).toEqual(['a', 'b']);
    expect(t.rule.release('svc', `${P}/svc/a`)).toBe(true);
    expect(t.publish()).toEqual(['b']);
  });

  it('publishes versions that always grow, also when only the held set changes', () => {
    const t = setup();
    for (const id of ['a', 'b']) t.put(id);
    const v1 = t.rule.viewToPublish(t.state.service('svc')).version;
    t.del('a');
    t.del('b');
    const v2 = t.rule.viewToPublish(t.state.service('svc')).version;
    t.clock.advance(10_000);
    const v3 = t.rule.viewToPublish(t.state.service('svc')).version;
    expect(v2).toBeGreaterThan(v1);
    expect(v3).toBeGreaterThan(v2);
  });

  it('rejects a bad threshold or grace, naming it', () => {
    const clock = new FakeClock();
    expect(() => new SelfPreservation(clock, { graceMs: 1, threshold: 0 }, () => {})).toThrow(/threshold/);
    expect(() => new SelfPreservation(clock, { graceMs: -1, threshold: 0.5 }, () => {})).toThrow(/grace/);
  });

  it('close() cancels its timer', () => {
    const t = setup();
    t.put('a');
    t.publish();
    t.del('a');
    t.publish();
    expect(t.clock.pending).toBe(1);
    t.rule.close();
    expect(t.clock.pending).toBe(0);
  });

  it('is idle (forgettable) only once a gone service publishes and holds nothing, expired holds included', () => {
    const t = setup(10_000, 0.5);
    for (const id of ['a', 'b']) t.put(id);
    t.publish();
    expect(t.rule.isIdle('svc')).toBe(false);
    for (const id of ['a', 'b']) t.del(id);
    expect(t.publish()).toEqual(['a', 'b']); // held
    t.stepPastGrace();
    expect(t.rule.held('svc').count).toBe(0); // expired, not yet applied
    expect(t.rule.isIdle('svc')).toBe(false);
    expect(t.rule.forget('svc')).toBe(false);
    expect(t.publish()).toEqual([]);
    expect(t.rule.isIdle('svc')).toBe(true);
    expect(t.rule.forget('svc')).toBe(true);
    expect(t.rule.isIdle('svc')).toBe(true);
  });
});
