import * as net from 'node:net';
import * as grpc from '@grpc/grpc-js';
import { installLookaside, LookasideChannelOptions } from '../../../client-sdk';
import { startGreeterServer, type GreeterServer } from '../../../demo-service/greeter-server';
import type { GreeterClient } from '../../../proto/gen/helloworld/Greeter';
import { callMany, greeterClient, sayHello } from '../../support/greeter-load';
import { startScriptedLbServer, type ScriptedLbServer } from '../../support/scripted-lb-server';
import { startTcpProxy, type TcpProxy } from '../../support/tcp-proxy';
import { freePort } from '../../../etcd/etcd-process';
import { waitFor } from '../../support/wait-for';

const SERVICE = 'greeter';

describe('lookaside resolver against a scripted LB server', () => {
  installLookaside();
  const cleanups: Array<() => unknown> = [];
  const greeters: GreeterServer[] = [];

  async function greeter(): Promise<GreeterServer> {
    const g = await startGreeterServer({ port: 0 });
    greeters.push(g);
    cleanups.push(() => g.forceClose());
    return g;
  }

  async function lb(options: Parameters<typeof startScriptedLbServer>[0] = {}): Promise<ScriptedLbServer> {
    const s = await startScriptedLbServer(options);
    cleanups.push(() => s.close());
    return s;
  }

  function client(target: string, options: grpc.ChannelOptions = {}): GreeterClient {
    const c = greeterClient(target, {
      [LookasideChannelOptions.RECONNECT_INITIAL_BACKOFF_MS]: 100,
      [LookasideChannelOptions.RECONNECT_MAX_BACKOFF_MS]: 500,
      ...options,
    });
    cleanups.push(() => c.close());
    return c;
  }

  afterEach(async () => {
    for (const fn of cleanups.splice(0).reverse()) await fn();
    greeters.splice(0);
  });

  test('installLookaside can be called again, and a bad target or option fails the client at construction', () => {
    installLookaside();
    expect(() => greeterClient('lookaside:///greeter')).toThrow(/invalid lookaside target.*no LB server/);
    // The target is quoted as written (grpc-js parses it with no authority) and the reason is the service.
    expect(() => greeterClient('lookaside://127.0.0.1:7100')).toThrow(
      'invalid lookaside target "lookaside://127.0.0.1:7100": no service name',
    );
    expect(() => greeterClient('lookaside://127.0.0.1:7000/bad/name')).toThrow(/service name/);
    expect(() =>
      greeterClient('lookaside://127.0.0.1:7000/greeter', {
        [LookasideChannelOptions.FALLBACK_ADDRESSES]: 'nope',
      }),
    ).toThrow(/lookaside.fallback_addresses/);
  });

  test('weights 1:2:3 split 600 calls within 5 points of 1/6, 2/6, 3/6', async () => {
    const [a, b, c] = [await greeter(), await greeter(), await greeter()];
    const server = await lb();
    server.setServers(SERVICE, [
      { address: a.address, weight: 1 },
      { address: b.address, weight: 2 },
      { address: c.address, weight: 3 },
    ]);
    const cl = client(`lookaside://${server.address}/${SERVICE}`);
    // Wait until all three backends are connected, so the split is the steady one.
    await waitFor('all three backends answering', async () => {
      const r = await callMany(cl, 30);
      return Object.keys(r.byBackend).length === 3;
    });
    const { byBackend, failures } = await callMany(cl, 600);
    expect(failures).toEqual([]);
    expect(Math.abs(byBackend[a.address] / 600 - 1 / 6)).toBeLessThanOrEqual(0.05);
    expect(Math.abs(byBackend[b.address] / 600 - 2 / 6)).toBeLessThanOrEqual(0.05);
    expect(Math.abs(byBackend[c.address] / 600 - 3 / 6)).toBeLessThanOrEqual(0.05);
  });

  test('an empty list fails calls at once with UNAVAILABLE naming the service', async () => {
    const server = await lb();
    const cl = client(`lookaside://${server.address}/nosuch`);
    const started = Date.now();
    const r = await sayHello(cl, { deadlineMs: 10_000 });
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.code).toBe(grpc.status.UNAVAILABLE);
    expect(r.details).toContain('"nosuch"');
    expect(Date.now() - started).toBeLessThan(5000);
  });

  async function proxy(g: GreeterServer): Promise<TcpProxy> {
    const p = await startTcpProxy({ host: '127.0.0.1', port: g.port });
    cleanups.push(() => p.close());
    return p;
  }

  test('the first message names the service, a client id and the zone channel option', async () => {
    const server = await lb();
    const cl = client(`lookaside://${server.address}/${SERVICE}`, {
      [LookasideChannelOptions.ZONE]: 'zone-a',
      [LookasideChannelOptions.CLIENT_ID]: 'client-1',
    });
    await sayHello(cl);
    expect(server.initialRequests[0]).toEqual({ name: SERVICE, clientId: 'client-1', zone: 'zone-a' });
  });

  test('an unchanged backend keeps its connection across list updates', async () => {
    const [a, b] = [await greeter(), await greeter()];
    const pa = await proxy(a);
    const server = await lb();
    server.setServers(SERVICE, [{ address: pa.address, weight: 1 }]);
    const cl = client(`lookaside://${server.address}/${SERVICE}`);
    expect((await sayHello(cl)).ok).toBe(true);
    server.setServers(SERVICE, [
      { address: pa.address, weight: 5 },
      { address: b.address, weight: 1 },
    ]);
    await waitFor('b to take calls', async () => (await callMany(cl, 10)).byBackend[b.address] > 0);
    server.setServers(SERVICE, [{ address: pa.address, weight: 2, zone: 'z' }]);
    expect((await callMany(cl, 20)).failures).toEqual([]);
    expect(pa.accepted()).toBe(1);
  });

  test('a draining backend keeps its connection but gets no new calls', async () => {
    const [a, b] = [await greeter(), await greeter()];
    const pb = await proxy(b);
    const server = await lb();
    server.setServers(SERVICE, [
      { address: a.address, weight: 1 },
      { address: pb.address, weight: 1 },
    ]);
    const cl = client(`lookaside://${server.address}/${SERVICE}`);
    await waitFor(
      'both backends answering',
      async () => Object.keys((await callMany(cl, 10)).byBackend).length === 2,
    );
    server.setServers(SERVICE, [
      { address: a.address, weight: 1 },
      { address: pb.address, weight: 1, draining: true },
    ]);
    await waitFor(
      'b to stop taking calls',
      async () => (await callMany(cl, 10)).byBackend[pb.address] === undefined,
    );
    const { byBackend, failures } = await callMany(cl, 100);
    expect(failures).toEqual([]);
    expect(byBackend).toEqual({ [a.address]: 100 });
    expect(pb.open()).toBe(1);
    expect(pb.accepted()).toBe(1);
  });

  test('an address an older LB server lists more than once is one backend at its highest weight, not the first or the sum', async () => {
    const [a, b] = [await greeter(), await greeter()];
    const server = await lb();
    // First entry: a draining duplicate (the first would stop a); the sum would give a 2/3.
    server.setServers(SERVICE, [
      { address: a.address, weight: 0, draining: true },
      { address: b.address, weight: 1 },
      { address: a.address, weight: 1 },
      { address: a.address, weight: 1 },
    ]);
    const cl = client(`lookaside://${server.address}/${SERVICE}`);
    await waitFor('both backends answering', async () => {
      const r = await callMany(cl, 20);
      return Object.keys(r.byBackend).length === 2;
    });
    const { byBackend, failures } = await callMany(cl, 300);
    expect(failures).toEqual([]);
    expect(Math.abs(byBackend[a.address] / 300 - 1 / 2)).toBeLessThanOrEqual(0.08);
  });

  test('a backend with weight 0 gets no calls', async () => {
    const [a, b] = [await greeter(), await greeter()];
    const server = await lb();
    server.setServers(SERVICE, [
      { address: a.address, weight: 1 },
      { address: b.address, weight: 0 },
    ]);
    const cl = client(`lookaside://${server.address}/${SERVICE}`);
    const { byBackend, failures } = await callMany(cl, 50);
    expect(failures).toEqual([]);
    expect(byBackend).toEqual({ [a.address]: 50 });
  });

  test('when every backend drains, calls fail fast with UNAVAILABLE naming the service', async () => {
    const a = await greeter();
    const server = await lb();
    server.setServers(SERVICE, [{ address: a.address, weight: 1, draining: true }]);
    const cl = client(`lookaside://${server.address}/${SERVICE}`);
    const r = await sayHello(cl);
    expect(r).toMatchObject({ ok: false, code: grpc.status.UNAVAILABLE });
    expect(r.ok ? '' : r.details).toContain(`"${SERVICE}"`);
  });

  test('when the LB stream breaks the last list keeps serving and the client reconnects', async () => {
    const a = await greeter();
    const b = await greeter();
    const server = await lb();
    server.setServers(SERVICE, [{ address: a.address, weight: 1 }]);
    const cl = client(`lookaside://${server.address}/${SERVICE}`);
    expect((await sayHello(cl)).ok).toBe(true);
    server.breakStreams();
    expect(await callMany(cl, 20)).toEqual({ byBackend: { [a.address]: 20 }, failures: [] });
    await waitFor(
      'the client to open a new stream',
      () => server.openStreams() === 1 && server.totalStreams() === 2,
    );
    server.setServers(SERVICE, [{ address: b.address, weight: 1 }]);
    await waitFor(
      'the new list to apply',
      async () => (await sayHello(cl)).ok && (await callMany(cl, 5)).byBackend[b.address] === 5,
    );
  });

  test('reconnection attempts to a failing LB server back off exponentially: the gaps between them grow', async () => {
    // A "server" that accepts TCP connections and drops them at once: every attempt fails.
    const attemptsAt: number[] = [];
    const dropper = net.createServer((socket) => {
      attemptsAt.push(performance.now());
      socket.destroy();
    });
    await new Promise<void>((resolve) => dropper.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise<void>((resolve) => dropper.close(() => resolve())));
    const port = (dropper.address() as net.AddressInfo).port;
    const cl = client(`lookaside://127.0.0.1:${port}/${SERVICE}`, {
      [LookasideChannelOptions.RECONNECT_INITIAL_BACKOFF_MS]: 100,
      [LookasideChannelOptions.RECONNECT_MAX_BACKOFF_MS]: 10_000,
    });
    void sayHello(cl, { deadlineMs: 100 });
    await waitFor('five attempts', () => attemptsAt.length >= 5);
    const gaps = attemptsAt.slice(1, 5).map((t, i) => t - attemptsAt[i]);
    // The delays are 100, 160, 256, 410 ms, each ±20 %: every gap outgrows the one two before it
    // by at least 1.6² × 0.8 / 1.2 ≈ 1.7, and the last is at least 2.7 × the first. A constant
    // delay fails both; the factors asserted leave room for a loaded machine.
    expect(gaps[2]).toBeGreaterThan(1.2 * gaps[0]);
    expect(gaps[3]).toBeGreaterThan(1.2 * gaps[1]);
    expect(gaps[3]).toBeGreaterThan(2 * gaps[0]);
  });

  test('with the first LB replica down, the client fails over to the next', async () => {
    const a = await greeter();
    const server = await lb();
    server.setServers(SERVICE, [{ address: a.address, weight: 1 }]);
    const dead = await freePort();
    const cl = client(`lookaside://127.0.0.1:${dead},${server.address}/${SERVICE}`);
    expect(await sayHello(cl, { deadlineMs: 10_000 })).toEqual({ ok: true, backend: a.address });
  });

  test('a silent LB replica is given up after the answer timeout and the next one serves', async () => {
    const a = await greeter();
    const silent = await lb({ silent: true });
    const server = await lb();
    server.setServers(SERVICE, [{ address: a.address, weight: 1 }]);
    const cl = client(`lookaside://${silent.address},${server.address}/${SERVICE}`, {
      [LookasideChannelOptions.LB_ANSWER_TIMEOUT_MS]: 300,
    });
    expect(await sayHello(cl, { deadlineMs: 10_000 })).toEqual({ ok: true, backend: a.address });
  });

  test('an LB replica that answers but never sends a list (cannot read etcd) is given up and retried', async () => {
    const listless = await lb({ listless: true });
    const cl = client(`lookaside://${listless.address}/${SERVICE}`, {
      [LookasideChannelOptions.LB_ANSWER_TIMEOUT_MS]: 300,
    });
    cl.waitForReady(Date.now() + 100, () => undefined); // leave IDLE: start resolving
    await waitFor('a second stream after the first sent no list', () => listless.totalStreams() >= 2, {
      timeoutMs: 10_000,
    });
  });

  test('reports ClientStats per backend on the interval the LB server asked for', async () => {
    const a = await greeter();
    const server = await lb({ clientStatsReportIntervalMs: 100 });
    server.setServers(SERVICE, [{ address: a.address, weight: 1 }]);
    const cl = client(`lookaside://${server.address}/${SERVICE}`);
    expect((await callMany(cl, 30)).failures).toEqual([]);
    const sum = (field: 'callsStarted' | 'callsSucceeded' | 'callsFailed') =>
      server.statsReports
        .flatMap((r) => r.backends)
        .filter((b) => b.address === a.address)
        .reduce((n, b) => n + Number(b[field]), 0);
    await waitFor('30 calls reported', () => sum('callsSucceeded') === 30);
    expect(sum('callsStarted')).toBe(30);
    expect(sum('callsFailed')).toBe(0);
  });

  test('without an LB server or fallback, calls fail after the start-up timeout naming the service and LB servers', async () => {
    const dead = await freePort();
    const cl = client(`lookaside://127.0.0.1:${dead}/${SERVICE}`, {
      [LookasideChannelOptions.STARTUP_TIMEOUT_MS]: 300,
    });
    const r = await sayHello(cl, { deadlineMs: 10_000 });
    expect(r).toMatchObject({ ok: false, code: grpc.status.UNAVAILABLE });
    expect(r.ok ? '' : r.details).toContain(`service "${SERVICE}"`);
    expect(r.ok ? '' : r.details).toContain(`127.0.0.1:${dead}`);
  });

  test('fallback addresses serve when no LB server answers, and are left when a list arrives', async () => {
    const [a, b] = [await greeter(), await greeter()];
    const port = await freePort();
    const cl = client(`lookaside://127.0.0.1:${port}/${SERVICE}`, {
      [LookasideChannelOptions.STARTUP_TIMEOUT_MS]: 300,
      [LookasideChannelOptions.FALLBACK_ADDRESSES]: a.address,
    });
    expect(await sayHello(cl, { deadlineMs: 10_000 })).toEqual({ ok: true, backend: a.address });
    const server = await lb({ port });
    server.setServers(SERVICE, [{ address: b.address, weight: 1 }]);
    await waitFor(
      "calls to move to the LB server's list",
      async () => (await callMany(cl, 5)).byBackend[b.address] === 5,
    );
  });

  test('a wait-for-ready call made before the first list waits for it', async () => {
    const a = await greeter();
    const port = await freePort();
    const cl = client(`lookaside://127.0.0.1:${port}/${SERVICE}`, {
      [LookasideChannelOptions.STARTUP_TIMEOUT_MS]: 200,
    });
    const pending = sayHello(cl, { deadlineMs: 15_000, waitForReady: true });
    await waitFor('the start-up timeout to make plain calls fail', async () => !(await sayHello(cl)).ok);
    const server = await lb({ port });
    server.setServers(SERVICE, [{ address: a.address, weight: 1 }]);
    expect(await pending).toEqual({ ok: true, backend: a.address });
  });

  test('after idling on the fallback, the call that wakes the channel uses it at once', async () => {
    const a = await greeter();
    const port = await freePort();
    const cl = client(`lookaside://127.0.0.1:${port}/${SERVICE}`, {
      [LookasideChannelOptions.STARTUP_TIMEOUT_MS]: 2000,
      [LookasideChannelOptions.FALLBACK_ADDRESSES]: a.address,
      'grpc.client_idle_timeout_ms': 1000,
    });
    expect(await sayHello(cl, { deadlineMs: 10_000 })).toEqual({ ok: true, backend: a.address });
    await waitFor(
      'the channel to go idle',
      () => cl.getChannel().getConnectivityState(false) === grpc.connectivityState.IDLE,
      { timeoutMs: 10_000 },
    );
    // A deadline shorter than the start-up timeout: only an immediate fallback meets it.
    expect(await sayHello(cl, { deadlineMs: 1000 })).toEqual({ ok: true, backend: a.address });
  });

  test('after idling with an empty last list, the call that wakes the channel waits for the new list', async () => {
    const a = await greeter();
    const server = await lb();
    const cl = client(`lookaside://${server.address}/${SERVICE}`, { 'grpc.client_idle_timeout_ms': 1000 });
    expect((await sayHello(cl)).ok).toBe(false); // the list is empty: UNAVAILABLE at once
    await waitFor(
      'the channel to go idle',
      () => cl.getChannel().getConnectivityState(false) === grpc.connectivityState.IDLE,
      { timeoutMs: 10_000 },
    );
    await waitFor('the LB stream to close', () => server.openStreams() === 0);
    server.setServers(SERVICE, [{ address: a.address, weight: 1 }]);
    expect(await sayHello(cl, { deadlineMs: 5000 })).toEqual({ ok: true, backend: a.address });
  });

  test('after the channel idles, the next call resolves again and succeeds', async () => {
    const a = await greeter();
    const server = await lb();
    server.setServers(SERVICE, [{ address: a.address, weight: 1 }]);
    const cl = client(`lookaside://${server.address}/${SERVICE}`, { 'grpc.client_idle_timeout_ms': 1000 });
    expect((await sayHello(cl)).ok).toBe(true);
    await waitFor(
      'the channel to go idle',
      () => cl.getChannel().getConnectivityState(false) === grpc.connectivityState.IDLE,
      { timeoutMs: 10_000 },
    );
    await waitFor('the LB stream to close', () => server.openStreams() === 0);
    expect(await sayHello(cl)).toEqual({ ok: true, backend: a.address });
    expect(server.openStreams()).toBe(1);
  });
});
