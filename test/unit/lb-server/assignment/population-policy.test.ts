import { NO_SIGNALS, type HealthSignal } from '../../../../lb-server/assignment/assignment-signals';
import { AssignmentStage } from '../../../../lb-server/assignment/assignment-stage';
import {
  PopulationPolicy,
  type PlanChange,
  type PolicySettings,
  type PopulationMember,
  type PopulationSource,
} from '../../../../lb-server/assignment/population-policy';
import { RegistryState } from '../../../../lb-server/core/registry-state';

const P = '/lookaside/services';

function viewOf(records: Record<string, object>) {
  const state = new RegistryState(P);
  let rev = 1;
  for (const [id, value] of Object.entries(records)) {
    rev += 1;
    state.put({ key: `${P}/svc/${id}`, value: JSON.stringify(value), modRevision: rev, lease: '0' });
  }
  return state.service('svc');
}

/** A population kept in memory: what etcd would hold, with the subsets written back. */
class FakePopulation implements PopulationSource {
  readonly members = new Map<string, PopulationMember>();
  writes = 0;

  add(clientId: string, zone = '', local = true): void {
    this.members.set(clientId, { clientId, zone, subset: [], local, replica: local ? 'r1' : 'r2' });
  }

  clients(): readonly PopulationMember[] {
    return [...this.members.values()].sort((a, b) => (a.clientId < b.clientId ? -1 : 1));
  }

  setSubset(_service: string, clientId: string, subset: readonly string[]): void {
    const m = this.members.get(clientId);
    if (!m) return;
    this.writes += 1;
    this.members.set(clientId, { ...m, subset: [...subset] });
  }
}

const endpoints = (n: number, zoneOf: (i: number) => string = () => '') =>
  Object.fromEntries(
    Array.from({ length: n }, (_, i) => [`e${i}`, { address: `10.0.0.${i + 1}:1`, zone: zoneOf(i) }]),
  );

function setup(settings: Partial<PolicySettings>) {
  const population = new FakePopulation();
  const changes: PlanChange[] = [];
  const policy = new PopulationPolicy(
    population,
    { configOf: () => ({ subsetSize: 0, zoneAware: false, zoneMinEndpoints: 6, ...settings }) },
    (c) => changes.push(c),
  );
  const stage = new AssignmentStage(policy);
  let version = 0;
  const publish = (records: Record<string, object>, health = new Map<string, HealthSignal>()) => {
    version += 1;
    const base = stage.assess(viewOf(records), { ...NO_SIGNALS, health }, version);
    stage.prepare(base);
    return base;
  };
  const listOf = (base: ReturnType<typeof publish>, clientId: string, zone = '') =>
    stage.select(base, stage.groupOf({ service: 'svc', clientId, zone }));
  return { population, policy, stage, publish, listOf, changes };
}

const ids = (a: { endpoints: readonly { endpoint: { instanceId: string } }[] }) =>
  a.endpoints.map((e) => e.endpoint.instanceId);

describe('PopulationPolicy', () => {
  test('off by default: every client gets the whole service', () => {
    const { population, publish, listOf } = setup({});
    population.add('c1');
    const base = publish(endpoints(4));
    expect(listOf(base, 'c1')).toBe(base);
  });

  test('subset 3 of 9 endpoints for 30 clients: 3 each, 10 clients per endpoint, subsets written back', () => {
    const { population, policy, publish, listOf } = setup({ subsetSize: 3 });
    for (let i = 0; i < 30; i++) population.add(`c${String(i).padStart(2, '0')}`, '', i % 2 === 0);
    const base = publish(endpoints(9));
    const perEndpoint = new Map<string, number>();
    for (const m of population.clients()) {
      const list = listOf(base, m.clientId);
      expect(list.endpoints).toHaveLength(3);
      for (const id of ids(list)) perEndpoint.set(id, (perEndpoint.get(id) ?? 0) + 1);
    }
    expect([...perEndpoint.values()].sort()).toEqual(Array(9).fill(10));
    expect([...(policy.planOf('svc')?.assignedClients.values() ?? [])]).toEqual(Array(9).fill(10));
    // Only local clients are written back, each with what it is sent.
    const local = population.clients().filter((m) => m.local);
    expect(population.writes).toBe(local.length);
    for (const m of local) expect(m.subset).toEqual(ids(listOf(base, m.clientId)));
    // Fed its own result, the plan is a fixed point: nothing is written again.
    publish(endpoints(9));
    expect(population.writes).toBe(local.length);
  });

  test('an endpoint leaving changes only the clients that had it, each by one replacement', () => {
    const { population, publish, listOf, changes } = setup({ subsetSize: 3 });
    for (let i = 0; i < 30; i++) population.add(`c${i}`);
    const before = publish(endpoints(9));
    publish(endpoints(9));
    expect(changes).toEqual([]);
    const was = new Map(population.clients().map((m) => [m.clientId, ids(listOf(before, m.clientId))]));
    const fewer = endpoints(9);
    delete fewer.e4;
    const after = publish(fewer);
    for (const m of population.clients()) {
      const now = ids(listOf(after, m.clientId));
      const old = was.get(m.clientId) ?? [];
      expect(now).toHaveLength(3);
      if (old.includes('e4')) {
        expect(now.filter((id) => !old.includes(id))).toHaveLength(1);
      } else {
        expect(now).toEqual(old);
      }
    }
    // The logs are told how many clients changed, and by how many entries.
    expect(changes).toEqual([
      { service: 'svc', changedClients: 10, changedEntries: 10, clients: 30, zoneModes: new Map() },
    ]);
  });

  test('a client arriving between publishes gets the least-assigned endpoints at once', () => {
    const { population, policy, publish, listOf } = setup({ subsetSize: 2 });
    for (let i = 0; i < 3; i++) population.add(`c${i}`);
    const base = publish(endpoints(4));
    population.add('late');
    const list = listOf(base, 'late');
    expect(list.endpoints).toHaveLength(2);
    const counts = [...(policy.planOf('svc')?.assignedClients.values() ?? [])];
    expect(Math.max(...counts) - Math.min(...counts)).toBeLessThanOrEqual(1);
    expect(population.members.get('late')?.subset).toEqual(ids(list));
  });

  test('a subset whose endpoints are all unhealthy is refilled with eligible ones', () => {
    const { population, publish, listOf } = setup({ subsetSize: 2 });
    population.add('c1');
    const first = publish(endpoints(6));
    const mine = ids(listOf(first, 'c1'));
    const health = new Map(mine.map((id) => [`${P}/svc/${id}`, { serving: false }]));
    const sick = publish(endpoints(6), health);
    const list = listOf(sick, 'c1');
    expect(list.eligible.length).toBeGreaterThan(0);
    expect(
      list.eligible.every((e) => !mine.includes(e.endpoint.instanceId) && e.reasons.includes('refill')),
    ).toBe(true);
    // The subset itself is unchanged (health is this replica's own observation).
    expect(ids(list).filter((id) => mine.includes(id))).toEqual(mine);
  });

  test('zones: 70/30 clients over 50/50 endpoints keep the small zone local and spill the excess of the large one', () => {
    const { population, publish, listOf, policy } = setup({ zoneAware: true });
    for (let i = 0; i < 10; i++) population.add(`c${i}`, i < 7 ? 'a' : 'b');
    const base = publish(endpoints(8, (i) => (i < 4 ? 'a' : 'b')));
    const share = (clientId: string, zone: string, inZone: string) => {
      const list = listOf(base, clientId, zone);
      const total = list.eligible.reduce((s, e) => s + e.weight, 0);
      const local = list.eligible.filter((e) => e.endpoint.zone === inZone).reduce((s, e) => s + e.weight, 0);
      return local / total;
    };
    expect(share('c0', 'a', 'a')).toBeCloseTo(5 / 7, 2);
    expect(share('c8', 'b', 'b')).toBe(1);
    expect(policy.planOf('svc')?.clients.get('c0')?.zoneMode).toBe('spill');
    // Load per endpoint: zone a's 4 endpoints get 7 × 5/7 = 5 clients' worth, zone b's 3 + 2 = 5.
  });

  test('zones are off for a service with fewer endpoints than the minimum', () => {
    const { population, publish, listOf, policy } = setup({ zoneAware: true });
    population.add('c0', 'a');
    const base = publish(endpoints(4, (i) => (i < 2 ? 'a' : 'b')));
    expect(ids(listOf(base, 'c0', 'a'))).toHaveLength(4);
    expect(policy.planOf('svc')?.zoneOff).toBe('off-too-small');
  });

  test('a publish whose inputs are unchanged (same population list, endpoints, settings) keeps the plan', () => {
    const members: PopulationMember[] = Array.from({ length: 6 }, (_, i) => ({
      clientId: `c${i}`,
      zone: '',
      subset: [],
      local: false,
      replica: 'r2',
    }));
    const frozen = Object.freeze([...members]);
    const policy = new PopulationPolicy(
      { clients: () => frozen, setSubset: () => undefined },
      { configOf: () => ({ subsetSize: 2, zoneAware: false, zoneMinEndpoints: 6 }) },
    );
    const stage = new AssignmentStage(policy);
    const first = stage.assess(viewOf(endpoints(4)), NO_SIGNALS, 1);
    stage.prepare(first);
    const plan = policy.planOf('svc');
    // A load tick or a health change republishes with the same records: the plan is kept.
    stage.prepare(stage.assess(viewOf(endpoints(4)), NO_SIGNALS, 2));
    expect(policy.planOf('svc')).toBe(plan);
    // Another endpoint is a new input: a new plan.
    stage.prepare(stage.assess(viewOf(endpoints(5)), NO_SIGNALS, 3));
    expect(policy.planOf('svc')).not.toBe(plan);
  });

  test('two replicas with different health views plan the same subsets and zones (only weights differ)', () => {
    const members: PopulationMember[] = Array.from({ length: 10 }, (_, i) => ({
      clientId: `c${i}`,
      zone: i < 5 ? 'a' : 'b',
      subset: [],
      local: false,
      replica: 'r9',
    }));
    const frozen = Object.freeze([...members]);
    const replica = () => {
      const policy = new PopulationPolicy(
        { clients: () => frozen, setSubset: () => undefined },
        { configOf: () => ({ subsetSize: 2, zoneAware: true, zoneMinEndpoints: 6 }) },
      );
      return { policy, stage: new AssignmentStage(policy, 0) };
    };
    const records = endpoints(12, (i) => (i < 6 ? 'a' : 'b'));
    const r1 = replica();
    const r2 = replica();
    r1.stage.prepare(r1.stage.assess(viewOf(records), NO_SIGNALS, 1));
    // r2 alone sees four of zone a's six endpoints NOT_SERVING.
    const sick = new Map(['e0', 'e1', 'e2', 'e3'].map((id) => [`${P}/svc/${id}`, { serving: false }]));
    const base2 = r2.stage.assess(viewOf(records), { ...NO_SIGNALS, health: sick }, 1);
    r2.stage.prepare(base2);
    const planned = (p: PopulationPolicy) =>
      [...(p.planOf('svc')?.clients.values() ?? [])].map((c) => [c.clientId, c.zoneMode, c.parts]);
    expect(planned(r2.policy)).toEqual(planned(r1.policy));
    // What differs is what r2 sends: no weight on the endpoints it sees down.
    const list = r2.stage.select(base2, r2.stage.groupOf({ service: 'svc', clientId: 'c0', zone: 'a' }));
    for (const e of list.endpoints) {
      if (sick.has(e.endpoint.key)) expect(e.eligible).toBe(false);
    }
  });
});
