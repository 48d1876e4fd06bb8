import { ClientRegistry } from '../../../../lb-server/core/client-registry';
import { LbServerMetrics, METRIC_NAMES } from '../../../../lb-server/frontends/metrics/lb-server-metrics';
import { RegistryState } from '../../../../lb-server/core/registry-state';
import { AssignmentPipeline } from '../../../../lb-server/assignment/assignment-pipeline';
import { FakeClock } from '../../../support/fake-clock';

const PREFIX = '/lookaside/services';

interface Setup {
  state: RegistryState;
  pipeline: AssignmentPipeline;
  clients: ClientRegistry;
  metrics: LbServerMetrics;
  connected: { v: boolean };
}

/** Puts a greeter record and publishes the service's assignment, as the LB server would. */
function put({ state, pipeline }: Setup, id: string, address: string, rev: number, extra: object = {}): void {
  state.put({
    key: `${PREFIX}/greeter/${id}`,
    value: JSON.stringify({ address, ...extra }),
    modRevision: rev,
    lease: '0',
  });
  pipeline.republish(['greeter']);
}

function setup(): Setup {
  const clock = new FakeClock();
  const state = new RegistryState(PREFIX);
  const pipeline = new AssignmentPipeline(state, clock, {
    coalesceMs: 0,
    selfPreservation: { graceMs: 0, threshold: 0.5 },
  });
  const connected = { v: true };
  const clients = new ClientRegistry(clock);
  const metrics = new LbServerMetrics({
    state,
    assignments: pipeline,
    clients,
    etcdConnected: () => connected.v,
    processMetrics: false,
  });
  clients.observe(metrics);
  return { state, pipeline, clients, metrics, connected };
}

async function value(
  metrics: LbServerMetrics,
  name: string,
  labels: Record<string, string> = {},
): Promise<number | undefined> {
  const metric = metrics.registry.getSingleMetric(name);
  if (!metric) throw new Error(`no metric ${name}`);
  const { values } = await metric.get();
  const want = Object.entries(labels);
  const found = values.find(
    (v) => want.every(([k, val]) => v.labels[k] === val) && Object.keys(v.labels).length === want.length,
  );
  return found?.value;
}

const identity = {
  clientId: 'c',
  service: 'greeter',
  peer: 'p',
  zone: '',
  protocol: 'lookaside.v1' as const,
};

describe('LbServerMetrics', () => {
  it('computes streams, endpoints by state, rejected records and etcd status at scrape time', async () => {
    const t = setup();
    const { clients, metrics, connected } = t;
    put(t, 'a', '127.0.0.1:1', 2);
    put(t, 'b', '127.0.0.1:2', 3, { draining: true });
    put(t, 'bad', 'not-an-address', 4);
    const c1 = clients.connect(identity);
    clients.connect({ ...identity, clientId: 'd' });
    expect(await value(metrics, METRIC_NAMES.streams, { service: 'greeter' })).toBe(2);
    expect(await value(metrics, METRIC_NAMES.endpoints, { service: 'greeter', state: 'serving' })).toBe(1);
    expect(await value(metrics, METRIC_NAMES.endpoints, { service: 'greeter', state: 'draining' })).toBe(1);
    expect(await value(metrics, METRIC_NAMES.rejectedRecords)).toBe(1);
    expect(await value(metrics, METRIC_NAMES.etcdConnected)).toBe(1);
    c1.disconnect();
    connected.v = false;
    expect(await value(metrics, METRIC_NAMES.streams, { service: 'greeter' })).toBe(1);
    expect(await value(metrics, METRIC_NAMES.etcdConnected)).toBe(0);
  });

  it('counts a weight-0 endpoint as out ("weight-0"), not serving, as the admin view does', async () => {
    const t = setup();
    put(t, 'a', '127.0.0.1:1', 2);
    put(t, 'z', '127.0.0.1:3', 3, { weight: 0 });
    const serving = (state: string) =>
      value(t.metrics, METRIC_NAMES.endpoints, { service: 'greeter', state });
    expect(await serving('serving')).toBe(1);
    expect(await serving('weight-0')).toBe(1);
    expect(await serving('draining')).toBe(0);
  });

  it('counts duplicates of an address, and gives the address the weight of the record clients use', async () => {
    const t = setup();
    put(t, 'a', '127.0.0.1:1', 2, { weight: 300 });
    const dup = () => value(t.metrics, METRIC_NAMES.duplicateEndpoints, { service: 'greeter' });
    expect(await dup()).toBe(0);
    // b is newer: clients use it, a is its duplicate.
    put(t, 'b', '127.0.0.1:1', 3, { weight: 100 });
    expect(await dup()).toBe(1);
    const state = (s: string) => value(t.metrics, METRIC_NAMES.endpoints, { service: 'greeter', state: s });
    expect(await state('serving')).toBe(1);
    expect(await state('duplicate')).toBe(1);
    const weight = () =>
      value(t.metrics, METRIC_NAMES.effectiveWeight, { service: 'greeter', address: '127.0.0.1:1' });
    expect(await weight()).toBe(100);
    t.state.delete(`${PREFIX}/greeter/b`, 4);
    t.pipeline.republish(['greeter']);
    expect(await dup()).toBe(0);
    expect(await weight()).toBe(300);
  });

  it('counts each list sent, and reported calls by backend, bounding unknown backends to "other"', async () => {
    const t = setup();
    const { pipeline, clients, metrics } = t;
    put(t, 'a', '127.0.0.1:1', 2);
    const c = clients.connect(identity);
    c.assigned(pipeline.serviceAssignment('greeter'));
    c.assigned(pipeline.serviceAssignment('greeter'));
    expect(await value(metrics, METRIC_NAMES.pushes, { service: 'greeter' })).toBe(2);
    const d = (address: string, ok: number, failed: number) => ({
      address,
      callsStarted: ok + failed,
      callsSucceeded: ok,
      callsFailed: failed,
      latencyMsSum: 0,
    });
    c.addStats([d('127.0.0.1:1', 5, 1), d('10.9.9.9:1', 3, 0), d('10.9.9.8:1', 4, Number.NaN)]);
    const labels = (backend: string, result: string) => ({ service: 'greeter', backend, result });
    expect(await value(metrics, METRIC_NAMES.clientCalls, labels('127.0.0.1:1', 'succeeded'))).toBe(5);
    expect(await value(metrics, METRIC_NAMES.clientCalls, labels('127.0.0.1:1', 'failed'))).toBe(1);
    expect(await value(metrics, METRIC_NAMES.clientCalls, labels('other', 'succeeded'))).toBe(7);
    expect(await value(metrics, METRIC_NAMES.clientCalls, labels('other', 'failed'))).toBeUndefined();
  });

  it('observes push latency only for changes that reached streams', async () => {
    const { metrics } = setup();
    metrics.changed(['greeter', 'idle']);
    metrics.published('greeter', 3);
    metrics.published('idle', 0);
    metrics.published('greeter', 3); // no change pending: nothing observed
    const text = await metrics.registry.metrics();
    expect(text).toMatch(new RegExp(`^${METRIC_NAMES.pushLatency}_count 1$`, 'm'));
  });

  it('keeps each instance in its own registry', async () => {
    const a = setup();
    const b = setup();
    put(a, 'a', '127.0.0.1:1', 2);
    a.clients.connect(identity).assigned(a.pipeline.serviceAssignment('greeter'));
    expect(await value(a.metrics, METRIC_NAMES.pushes, { service: 'greeter' })).toBe(1);
    expect(await value(b.metrics, METRIC_NAMES.pushes, { service: 'greeter' })).toBeUndefined();
  });

  it('counts lists sent for services nobody registered under "other" (clients choose those names)', async () => {
    const t = setup();
    const { pipeline, clients, metrics } = t;
    put(t, 'a', '127.0.0.1:1', 2);
    for (let i = 0; i < 50; i++) {
      const name = `random-${i}`;
      clients.connect({ ...identity, service: name }).assigned(pipeline.serviceAssignment(name));
    }
    clients.connect(identity).assigned(pipeline.serviceAssignment('greeter'));
    expect(await value(metrics, METRIC_NAMES.pushes, { service: 'other' })).toBe(50);
    expect(await value(metrics, METRIC_NAMES.pushes, { service: 'greeter' })).toBe(1);
    expect(await value(metrics, METRIC_NAMES.pushes, { service: 'random-1' })).toBeUndefined();
  });
});
