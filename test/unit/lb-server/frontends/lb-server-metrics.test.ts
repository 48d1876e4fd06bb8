import { ClientRegistry } from '../../../../lb-server/core/client-registry';
import { LbServerMetrics, METRIC_NAMES } from '../../../../lb-server/frontends/metrics/lb-server-metrics';
import { RegistryState } from '../../../../lb-server/core/registry-state';
import { FakeClock } from '../../../support/fake-clock';

const PREFIX = '/lookaside/services';

function put(state: RegistryState, id: string, address: string, rev: number, extra: object = {}): void {
  state.put({
    key: `${PREFIX}/greeter/${id}`,
    value: JSON.stringify({ address, ...extra }),
    modRevision: rev,
    lease: 0,
  });
}

function setup(): {
  state: RegistryState;
  clients: ClientRegistry;
  metrics: LbServerMetrics;
  connected: { v: boolean };
} {
  const state = new RegistryState(PREFIX);
  const connected = { v: true };
  const metrics: LbServerMetrics = new LbServerMetrics({
    state,
    clients: (): ClientRegistry => clients,
    etcdConnected: () => connected.v,
  });
  const clients: ClientRegistry = new ClientRegistry(new FakeClock(), metrics);
  return { state, clients, metrics, connected };
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
    const { state, clients, metrics, connected } = setup();
    put(state, 'a', '127.0.0.1:1', 2);
    put(state, 'b', '127.0.0.1:2', 3, { draining: true });
    put(state, 'bad', 'not-an-address', 4);
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

  it('counts each list sent, and reported calls by backend, bounding unknown backends to "other"', async () => {
    const { state, clients, metrics } = setup();
    put(state, 'a', '127.0.0.1:1', 2);
    const c = clients.connect(identity);
    c.assigned(state.service('greeter'));
    c.assigned(state.service('greeter'));
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
    put(a.state, 'a', '127.0.0.1:1', 2);
    a.clients.connect(identity).assigned(a.state.service('greeter'));
    expect(await value(a.metrics, METRIC_NAMES.pushes, { service: 'greeter' })).toBe(1);
    expect(await value(b.metrics, METRIC_NAMES.pushes, { service: 'greeter' })).toBeUndefined();
  });

  it('counts lists sent for services nobody registered under "other" (clients choose those names)', async () => {
    const { state, clients, metrics } = setup();
    put(state, 'a', '127.0.0.1:1', 2);
    for (let i = 0; i < 50; i++) {
      const name = `random-${i}`;
      clients.connect({ ...identity, service: name }).assigned(state.service(name));
    }
    clients.connect(identity).assigned(state.service('greeter'));
    expect(await value(metrics, METRIC_NAMES.pushes, { service: 'other' })).toBe(50);
    expect(await value(metrics, METRIC_NAMES.pushes, { service: 'greeter' })).toBe(1);
    expect(await value(metrics, METRIC_NAMES.pushes, { service: 'random-1' })).toBeUndefined();
  });
});
