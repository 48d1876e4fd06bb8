import { AssignmentPipeline } from '../../../../lb-server/assignment/assignment-pipeline';
import type { AssignmentPolicy } from '../../../../lb-server/assignment/assignment-stage';
import { RegistryState } from '../../../../lb-server/core/registry-state';
import { FakeClock } from '../../../support/fake-clock';
import { OverrideState } from '../../../../lb-server/core/override-state';

const P = '/lookaside/services';

/** Clients of zone "z1" get only z1's endpoints; everyone else the whole service. */
const zoneOnly: AssignmentPolicy = {
  groupOf: (c) => (c.zone === 'z1' ? 'z1' : ''),
  select: (entries, group) => entries.filter((e) => e.endpoint.zone === group),
};

function setup(policy?: AssignmentPolicy, graceMs = 0) {
  const clock = new FakeClock();
  const state = new RegistryState(P);
  const pipeline = new AssignmentPipeline(state, clock, {
    coalesceMs: 0,
    selfPreservation: { graceMs, threshold: 0.5 },
    policy,
  });
  let rev = 1;
  const put = (service: string, id: string, value: object): void => {
    rev += 1;
    pipeline.changed(
      state.put({ key: `${P}/${service}/${id}`, value: JSON.stringify(value), modRevision: rev, lease: '0' }),
    );
  };
  const del = (service: string, id: string): void => {
    rev += 1;
    pipeline.changed(state.delete(`${P}/${service}/${id}`, rev));
  };
  return { clock, state, pipeline, put, del };
}

const client = (zone: string, clientId = `c-${zone}`) => ({ service: 'svc', clientId, zone });

describe('AssignmentPipeline', () => {
  test('applies operator overrides by registry key, a dangling one once its instance registers, until it expires', () => {
    const { clock, pipeline, put } = setup();
    const overrides = new OverrideState({
      registryPrefix: P,
      clock,
      onExpired: (expired) => pipeline.republish([...new Set(expired.map((o) => o.service))]),
    });
    pipeline.useOverrides(overrides);
    pipeline.ready();
    put('svc', 'a', { address: '10.0.0.1:1', weight: 40 });
    const weights = () =>
      pipeline
        .serviceAssignment('svc')
        .endpoints.map((e) => [e.endpoint.instanceId, e.weight, e.reasons.join()]);
    const now = clock.now();
    pipeline.republish(
      overrides.put({
        key: '/lookaside/overrides/svc/a',
        value: JSON.stringify({ weight: 5, who: 'w', why: '', atMs: now, expiresAtMs: now + 100 }),
        modRevision: 50,
        lease: '0',
      }),
    );
    pipeline.republish(
      overrides.put({
        key: '/lookaside/overrides/svc/late',
        value: JSON.stringify({ draining: true, who: 'w', why: '', atMs: now }),
        modRevision: 51,
        lease: '0',
      }),
    );
    expect(weights()).toEqual([['a', 5, 'overridden']]);
    put('svc', 'late', { address: '10.0.0.2:1' });
    expect(weights()).toEqual([
      ['a', 5, 'overridden'],
      ['late', 0, 'overridden'],
    ]);
    clock.advance(100);
    expect(weights()).toEqual([
      ['a', 40, ''],
      ['late', 0, 'overridden'],
    ]);
    overrides.close();
  });

  test('answers nothing before ready, then the published assignment, and wakes on each change', () => {
    const { pipeline, put } = setup();
    let wakes = 0;
    const sub = pipeline.subscribe(client(''), () => (wakes += 1));
    put('svc', 'a', { address: '10.0.0.1:1' });
    expect(sub.newerThan(0)).toBeUndefined();
    pipeline.ready();
    const first = sub.newerThan(0);
    expect(first?.endpoints.map((e) => e.endpoint.instanceId)).toEqual(['a']);
    expect(wakes).toBe(1);
    put('svc', 'b', { address: '10.0.0.2:1' });
    expect(wakes).toBe(2);
    const second = sub.newerThan(first?.version ?? 0);
    expect(second?.version).toBeGreaterThan(first?.version ?? 0);
    expect(sub.newerThan(second?.version ?? 0)).toBeUndefined();
    sub.unsubscribe();
  });

  test('two clients of one service get different assignments when the policy puts them in different groups', () => {
    const { pipeline, put } = setup(zoneOnly);
    pipeline.ready();
    put('svc', 'a', { address: '10.0.0.1:1', zone: 'z1' });
    put('svc', 'b', { address: '10.0.0.2:1', zone: 'z2' });
    const inZ1 = pipeline.subscribe(client('z1'), () => undefined);
    const other = pipeline.subscribe(client('z2'), () => undefined);
    expect(inZ1.group).toBe('z1');
    expect(inZ1.latest().endpoints.map((e) => e.endpoint.instanceId)).toEqual(['a']);
    expect(other.latest().endpoints.map((e) => e.endpoint.instanceId)).toEqual(['a', 'b']);
    // Clients of one group share one object (one serialized message per group).
    const again = pipeline.subscribe(client('z1', 'another'), () => undefined);
    expect(again.latest()).toBe(inZ1.latest());
    put('svc', 'c', { address: '10.0.0.3:1', zone: 'z1' });
    expect(inZ1.latest().endpoints.map((e) => e.endpoint.instanceId)).toEqual(['a', 'c']);
    expect(pipeline.subscriberCount('svc')).toBe(3);
    for (const s of [inZ1, other, again]) s.unsubscribe();
    expect(pipeline.subscriberCount('svc')).toBe(0);
  });

  test('a service with no record, hold or subscriber is forgotten, also when only a group subscribed', () => {
    const { pipeline, state, put, del } = setup(zoneOnly);
    pipeline.ready();
    put('svc', 'a', { address: '10.0.0.1:1', zone: 'z1' });
    const sub = pipeline.subscribe(client('z1'), () => undefined);
    del('svc', 'a');
    expect(state.serviceNames()).toEqual(['svc']); // still subscribed
    sub.unsubscribe();
    expect(state.serviceNames()).toEqual([]);
    expect(pipeline.serviceAssignment('svc').version).toBe(0);
    // A group of a service nobody registered leaves nothing behind either.
    expect(pipeline.serviceCount).toBe(0);
    pipeline.subscribe({ service: 'nosuch', clientId: 'x', zone: 'z1' }, () => undefined).unsubscribe();
    expect(pipeline.serviceCount).toBe(0);
    expect(pipeline.subscriberCount('nosuch')).toBe(0);
    expect(pipeline.serviceAssignment('nosuch').version).toBe(0);
  });

  test('tells its observers of each service it forgets, once, after its last (empty) publish', () => {
    const { pipeline, put, del } = setup();
    const seen: string[] = [];
    pipeline.observe({
      published: (service) =>
        seen.push(`published ${service} ${pipeline.serviceAssignment(service).endpoints.length}`),
      forgotten: (service) => seen.push(`forgotten ${service}`),
    });
    pipeline.ready();
    put('svc', 'a', { address: '10.0.0.1:1' });
    put('other', 'a', { address: '10.0.0.2:1' });
    const sub = pipeline.subscribe(client(''), () => undefined);
    del('svc', 'a');
    del('other', 'a');
    expect(seen).toEqual([
      'published svc 1',
      'published other 1',
      'published svc 0',
      'published other 0',
      'forgotten other',
    ]);
    sub.unsubscribe(); // the last subscriber of svc leaves: now it is gone too
    sub.unsubscribe();
    expect(seen.slice(5)).toEqual(['forgotten svc']);
  });

  test('a service whose records all went while held is forgotten when the hold ends', () => {
    const { pipeline, clock, state, put, del } = setup(undefined, 10_000);
    const forgotten: string[] = [];
    pipeline.observe({ forgotten: (s) => forgotten.push(s) });
    pipeline.ready();
    put('svc', 'a', { address: '10.0.0.1:1' });
    del('svc', 'a'); // the only endpoint, not draining: held
    expect(pipeline.serviceAssignment('svc').endpoints).toHaveLength(1);
    expect(forgotten).toEqual([]);
    clock.advance(10_001);
    expect(forgotten).toEqual(['svc']);
    expect(state.serviceNames()).toEqual([]);
    expect(pipeline.serviceCount).toBe(0);
    pipeline.close();
  });

  test('a mass removal is held: the assignment keeps the endpoints, marked held, until the grace ends', () => {
    const { pipeline, clock, state, put } = setup(undefined, 10_000);
    const expired: string[][] = [];
    pipeline.observe({ expired: (s) => expired.push([...s]) });
    pipeline.ready();
    const sub = pipeline.subscribe(client(''), () => undefined);
    put('svc', 'a', { address: '10.0.0.1:1' });
    put('svc', 'b', { address: '10.0.0.2:1' });
    // Both leases expire in one etcd batch (as after an etcd outage): one publish sees both gone.
    state.delete(`${P}/svc/a`, 100);
    state.delete(`${P}/svc/b`, 101);
    pipeline.changed(['svc']);
    const held = pipeline.serviceAssignment('svc');
    expect(held.endpoints.map((e) => [e.endpoint.instanceId, e.eligible, e.reasons])).toEqual([
      ['a', true, ['held']],
      ['b', true, ['held']],
    ]);
    clock.advance(10_001);
    expect(expired).toEqual([['svc']]);
    expect(sub.latest().endpoints).toEqual([]);
    expect(sub.latest().version).toBeGreaterThan(held.version);
    sub.unsubscribe();
    pipeline.close();
  });

  test('a policy with prepare() re-groups subscribed clients at each publish, and the moved ones are sent their new group', () => {
    // The group of each client comes from a table the test changes (as a population would).
    const table = new Map<string, string>([
      ['c1', 'x'],
      ['c2', 'x'],
    ]);
    let prepared = 0;
    const dynamic: AssignmentPolicy = {
      prepare: () => {
        prepared += 1;
      },
      groupOf: (c) => table.get(c.clientId) ?? '',
      select: (entries, group) => entries.filter((e) => e.endpoint.zone === group),
    };
    const { pipeline, put } = setup(dynamic);
    pipeline.ready();
    put('svc', 'a', { address: '10.0.0.1:1', zone: 'x' });
    put('svc', 'b', { address: '10.0.0.2:1', zone: 'y' });
    let wakes2 = 0;
    const s1 = pipeline.subscribe(client('', 'c1'), () => undefined);
    const s2 = pipeline.subscribe(client('', 'c2'), () => (wakes2 += 1));
    expect(s1.latest()).toBe(s2.latest());
    const before = s2.latest();
    expect(before.endpoints.map((e) => e.endpoint.instanceId)).toEqual(['a']);
    table.set('c2', 'y');
    const preparedBefore = prepared;
    pipeline.republish(['svc']);
    expect(prepared).toBe(preparedBefore + 1);
    expect(s2.group).toBe('y');
    expect(wakes2).toBe(1);
    const moved = s2.newerThan(before.version);
    expect(moved?.endpoints.map((e) => e.endpoint.instanceId)).toEqual(['b']);
    expect(s1.latest().endpoints.map((e) => e.endpoint.instanceId)).toEqual(['a']);
    expect(pipeline.subscriberCount('svc')).toBe(2);
    // The group nobody is in any more is dropped: c1 moves too, and x is no longer published.
    table.set('c1', 'y');
    pipeline.republish(['svc']);
    expect(s1.latest()).toBe(s2.latest());
    expect(pipeline.subscriberCount('svc')).toBe(2);
    s1.unsubscribe();
    s2.unsubscribe();
    s2.unsubscribe();
    expect(pipeline.subscriberCount('svc')).toBe(0);
    pipeline.close();
  });

  test('a republish that changes nothing a client sees wakes nobody; a changed group alone is sent a new version', () => {
    const table = new Map<string, string>([
      ['c1', 'x'],
      ['c2', 'y'],
    ]);
    const dynamic: AssignmentPolicy = {
      prepare: () => undefined,
      groupOf: (c) => table.get(c.clientId) ?? '',
      select: (entries, group) => entries.filter((e) => e.endpoint.zone === group || group === 'xy'),
    };
    const { pipeline, put } = setup(dynamic);
    let published = 0;
    pipeline.observe({ published: () => (published += 1) });
    pipeline.ready();
    put('svc', 'a', { address: '10.0.0.1:1', zone: 'x' });
    put('svc', 'b', { address: '10.0.0.2:1', zone: 'y' });
    const wakes = { c1: 0, c2: 0 };
    const s1 = pipeline.subscribe(client('', 'c1'), () => (wakes.c1 += 1));
    const s2 = pipeline.subscribe(client('', 'c2'), () => (wakes.c2 += 1));
    const [v1, v2] = [s1.latest().version, s2.latest().version];
    const before = published;
    // As when a client joins and nobody's list changes: nothing is sent.
    pipeline.republish(['svc']);
    pipeline.republish(['svc']);
    expect(wakes).toEqual({ c1: 0, c2: 0 });
    expect(published).toBe(before);
    expect([s1.latest().version, s2.latest().version]).toEqual([v1, v2]);
    // c2 moves to a group with other content: only c2 is woken, at a version above all before.
    table.set('c2', 'xy');
    pipeline.republish(['svc']);
    expect(wakes).toEqual({ c1: 0, c2: 1 });
    expect(s2.newerThan(v2)?.endpoints.map((e) => e.endpoint.instanceId)).toEqual(['a', 'b']);
    expect(s2.latest().version).toBeGreaterThan(Math.max(v1, v2));
    expect(s1.latest().version).toBe(v1);
    // A record change reaches both.
    put('svc', 'c', { address: '10.0.0.3:1', zone: 'x' });
    expect(wakes).toEqual({ c1: 1, c2: 2 });
    s1.unsubscribe();
    s2.unsubscribe();
    pipeline.close();
  });
});
