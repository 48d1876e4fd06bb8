import { CallCredentials, connectivityState as State, experimental, Metadata, status } from '@grpc/grpc-js';
import { ClientStatsAccumulator } from '../../../client-sdk/client-stats-accumulator';
import { LOOKASIDE_CONTEXT_KEY, LookasideContext } from '../../../client-sdk/lookaside-context';
import type { LookasideEndpoint } from '../../../client-sdk/lookaside-endpoint';
import { LookasideWrrBalancer, LookasideWrrConfig } from '../../../client-sdk/lookaside-wrr-balancer';

type Sub = experimental.SubchannelInterface;
type StateListener = Parameters<Sub['addConnectivityStateListener']>[0];

let nextId = 1;

/** A subchannel whose connectivity the test drives. */
class FakeSubchannel implements Sub {
  state: State = State.IDLE;
  refs = 0;
  private readonly listeners = new Set<StateListener>();
  private readonly id = nextId++;

  constructor(readonly address: string) {}

  set(state: State, error?: string): void {
    const previous = this.state;
    this.state = state;
    for (const l of [...this.listeners]) l(this, previous, state, 0, error);
  }

  getConnectivityState = () => this.state;
  addConnectivityStateListener = (l: StateListener) => void this.listeners.add(l);
  removeConnectivityStateListener = (l: StateListener) => void this.listeners.delete(l);
  startConnecting = () => undefined;
  getAddress = () => this.address;
  throttleKeepalive = () => undefined;
  ref = () => void this.refs++;
  unref = () => void this.refs--;
  getChannelzRef = () =>
    ({ kind: 'subchannel', id: this.id, name: this.address }) as ReturnType<Sub['getChannelzRef']>;
  isHealthy = () => true;
  addHealthStateWatcher = () => undefined;
  removeHealthStateWatcher = () => undefined;
  addDataWatcher = () => undefined;
  getRealSubchannel = (): ReturnType<Sub['getRealSubchannel']> => {
    throw new Error('fake subchannel');
  };
  realSubchannelEquals = (other: Sub): boolean => other === this;
  getCallCredentials = () => CallCredentials.createEmpty();
  getChannel = (): ReturnType<Sub['getChannel']> => {
    throw new Error('fake subchannel');
  };
}

/** A channel stand-in: a pool of fake subchannels by address, and the states reported to it. */
function harness(service = 'greeter') {
  const pool = new Map<string, FakeSubchannel>();
  const created: string[] = [];
  const states: Array<{ state: State; picker: experimental.Picker; error: string | null }> = [];
  let reresolutions = 0;
  const helper: experimental.ChannelControlHelper = {
    createSubchannel: (address) => {
      const key = experimental.subchannelAddressToString(address);
      created.push(key);
      let s = pool.get(key);
      if (!s) pool.set(key, (s = new FakeSubchannel(key)));
      return s;
    },
    updateState: (state, picker, error) => void states.push({ state, picker, error }),
    requestReresolution: () => void reresolutions++,
    addChannelzChild: () => undefined,
    removeChannelzChild: () => undefined,
  };
  const stats = new ClientStatsAccumulator();
  const context = new LookasideContext(service, ['lb:1'], stats);
  const balancer = new LookasideWrrBalancer(helper);
  const config = new LookasideWrrConfig();
  const update = (endpoints: Array<Partial<LookasideEndpoint> & { address: string }>) => {
    const list: LookasideEndpoint[] = endpoints.map((e) => {
      const [host, port] = e.address.split(':');
      return { addresses: [{ host, port: Number(port) }], weight: 1, draining: false, zone: '', ...e };
    });
    return balancer.updateAddressList(
      experimental.statusOrFromValue(list),
      config,
      { [LOOKASIDE_CONTEXT_KEY]: context },
      'test note',
    );
  };
  const last = () => states[states.length - 1];
  const pick = () => last().picker.pick({ metadata: new Metadata(), extraPickInfo: {} });
  const pickAddresses = (n: number): Record<string, number> => {
    const out: Record<string, number> = {};
    for (let i = 0; i < n; i++) {
      const r = pick();
      const a = r.subchannel
        ? r.subchannel.getAddress()
        : `(${experimental.PickResultType[r.pickResultType]})`;
      out[a] = (out[a] ?? 0) + 1;
    }
    return out;
  };
  return {
    pool,
    created,
    states,
    balancer,
    config,
    stats,
    update,
    last,
    pick,
    pickAddresses,
    reresolutions: () => reresolutions,
    sub: (a: string) => pool.get(a)!,
  };
}

describe('LookasideWrrBalancer', () => {
  test('connects one subchannel per backend and queues calls until one is READY', () => {
    const h = harness();
    h.update([{ address: '10.0.0.1:80' }, { address: '10.0.0.2:80' }]);
    expect([...h.pool.keys()]).toEqual(['10.0.0.1:80', '10.0.0.2:80']);
    expect(h.last().state).toBe(State.CONNECTING);
    expect(h.pick().pickResultType).toBe(experimental.PickResultType.QUEUE);
    h.sub('10.0.0.2:80').set(State.READY);
    expect(h.last().state).toBe(State.READY);
    expect(h.pickAddresses(10)).toEqual({ '10.0.0.2:80': 10 });
  });

  test('exitIdle, which grpc-js calls on every call, does not scan the backends when none is idle', () => {
    const h = harness();
    const addresses = Array.from({ length: 200 }, (_, i) => `10.0.${i >> 8}.${i & 255}:80`);
    h.update(addresses.map((address) => ({ address })));
    for (const a of addresses) h.sub(a).set(State.READY);
    const reads = jest.spyOn(experimental.LeafLoadBalancer.prototype, 'getConnectivityState');
    try {
      for (let i = 0; i < 1000; i++) h.balancer.exitIdle();
      expect(reads).not.toHaveBeenCalled();
      // A backend that went idle (its connection dropped) is still reconnected.
      h.sub(addresses[0]).set(State.IDLE);
      expect(h.last().state).toBe(State.READY);
    } finally {
      reads.mockRestore();
    }
  });

  test('picks follow the weights from the server list', () => {
    const h = harness();
    h.update([
      { address: '10.0.0.1:80', weight: 1 },
      { address: '10.0.0.2:80', weight: 3 },
    ]);
    h.sub('10.0.0.1:80').set(State.READY);
    h.sub('10.0.0.2:80').set(State.READY);
    expect(h.pickAddresses(4000)).toEqual({ '10.0.0.1:80': 1000, '10.0.0.2:80': 3000 });
  });

  test('an unchanged backend keeps its subchannel across list updates', () => {
    const h = harness();
    h.update([{ address: '10.0.0.1:80', weight: 1 }]);
    h.sub('10.0.0.1:80').set(State.READY);
    h.update([
      { address: '10.0.0.1:80', weight: 7 },
      { address: '10.0.0.2:80', weight: 1 },
    ]);
    h.update([{ address: '10.0.0.1:80', weight: 2, zone: 'z' }]);
    expect(h.created.filter((a) => a === '10.0.0.1:80')).toHaveLength(1);
    expect(h.sub('10.0.0.1:80').refs).toBeGreaterThan(0);
    expect(h.last().state).toBe(State.READY);
  });

  test('a removed backend releases its subchannel', () => {
    const h = harness();
    h.update([{ address: '10.0.0.1:80' }, { address: '10.0.0.2:80' }]);
    h.update([{ address: '10.0.0.1:80' }]);
    expect(h.sub('10.0.0.2:80').refs).toBe(0);
    expect(h.sub('10.0.0.1:80').refs).toBeGreaterThan(0);
  });

  test('a draining backend keeps its subchannel but gets no picks', () => {
    const h = harness();
    h.update([{ address: '10.0.0.1:80' }, { address: '10.0.0.2:80' }]);
    h.sub('10.0.0.1:80').set(State.READY);
    h.sub('10.0.0.2:80').set(State.READY);
    h.update([{ address: '10.0.0.1:80' }, { address: '10.0.0.2:80', draining: true }]);
    expect(h.pickAddresses(50)).toEqual({ '10.0.0.1:80': 50 });
    expect(h.sub('10.0.0.2:80').refs).toBeGreaterThan(0);
  });

  test('when every backend is draining or weighs 0, calls fail with UNAVAILABLE naming the service', () => {
    const h = harness('orders');
    h.update([
      { address: '10.0.0.1:80', draining: true },
      { address: '10.0.0.2:80', weight: 0 },
    ]);
    h.sub('10.0.0.1:80').set(State.READY);
    expect(h.last().state).toBe(State.TRANSIENT_FAILURE);
    const r = h.pick();
    expect(r.pickResultType).toBe(experimental.PickResultType.TRANSIENT_FAILURE);
    expect(r.status?.code).toBe(status.UNAVAILABLE);
    expect(r.status?.details).toContain('"orders"');
  });

  test('an empty list fails calls at once with UNAVAILABLE naming the service', () => {
    const h = harness('orders');
    h.update([]);
    expect(h.last().state).toBe(State.TRANSIENT_FAILURE);
    expect(h.pick().status).toMatchObject({
      code: status.UNAVAILABLE,
      details: expect.stringContaining('"orders"'),
    });
  });

  test('when every backend fails to connect, reports TRANSIENT_FAILURE with the last error', () => {
    const h = harness();
    h.update([{ address: '10.0.0.1:80' }, { address: '10.0.0.2:80' }]);
    h.sub('10.0.0.1:80').set(State.TRANSIENT_FAILURE, 'connection refused');
    h.sub('10.0.0.2:80').set(State.TRANSIENT_FAILURE, 'connection refused');
    expect(h.last().state).toBe(State.TRANSIENT_FAILURE);
    expect(h.pick().status?.details).toContain('connection refused');
  });

  test('losing a READY connection asks for re-resolution, as round_robin does', () => {
    const h = harness();
    h.update([{ address: '10.0.0.1:80' }]);
    h.sub('10.0.0.1:80').set(State.READY);
    h.sub('10.0.0.1:80').set(State.IDLE);
    expect(h.reresolutions()).toBeGreaterThanOrEqual(1);
  });

  test('a resolver error fails calls only while there are no backends', () => {
    const h = harness();
    const error = experimental.statusOrFromError<experimental.Endpoint[]>({
      code: status.UNAVAILABLE,
      details: 'no LB server answered',
    });
    h.balancer.updateAddressList(error, h.config, {}, '');
    expect(h.pick().status?.details).toBe('no LB server answered');
    h.update([{ address: '10.0.0.1:80' }]);
    h.sub('10.0.0.1:80').set(State.READY);
    h.balancer.updateAddressList(error, h.config, {}, '');
    expect(h.pickAddresses(5)).toEqual({ '10.0.0.1:80': 5 });
  });

  test('destroy() releases every subchannel', () => {
    const h = harness();
    h.update([{ address: '10.0.0.1:80' }, { address: '10.0.0.2:80' }]);
    h.balancer.destroy();
    expect([...h.pool.values()].map((s) => s.refs)).toEqual([0, 0]);
  });

  test('state changes that leave the pickable set alone keep the rotation going, as round_robin does', () => {
    const h = harness();
    const ready = ['10.0.0.1:80', '10.0.0.2:80', '10.0.0.3:80', '10.0.0.4:80'];
    const connecting = { address: '10.0.0.5:80' };
    h.update([...ready.map((address) => ({ address })), connecting]);
    for (const a of ready) h.sub(a).set(State.READY);
    const picked: string[] = [];
    for (let i = 0; i < 12; i++) {
      // Each update (the fifth, unpickable backend drains or comes back) makes a new picker over
      // the same four.
      const before = h.states.length;
      h.update([...ready.map((address) => ({ address })), { ...connecting, draining: i % 2 === 0 }]);
      expect(h.states.length).toBeGreaterThan(before);
      picked.push(h.pick().subchannel!.getAddress());
    }
    // Whatever the random start: each pick is the successor of the previous one.
    const start = ready.indexOf(picked[0]);
    expect(picked).toEqual(picked.map((_, i) => ready[(start + i) % ready.length]));
  });
});
