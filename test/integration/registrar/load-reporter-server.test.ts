import * as grpc from '@grpc/grpc-js';
import { HealthImplementation } from 'grpc-health-check';
import { DEFAULT_PREFIX } from '../../../common/registry-record';
import { startLbServer } from '../../../lb-server';
import type { GreeterClient } from '../../../proto/gen/helloworld/Greeter';
import { loadProtos } from '../../../proto/protos';
import { LoadReporter, registerService, reportLoad, type LoadReporterOptions } from '../../../registrar';
import { capturingLogger } from '../../support/capturing-logger';
import { TestEtcd } from '../../support/etcd';
import { waitFor } from '../../support/wait-for';

/** A greeter built the way an application builds its server: no LoadReporter interceptor. */
async function plainGreeter(
  serverOptions: grpc.ServerOptions = {},
): Promise<{ server: grpc.Server; address: string; client: GreeterClient }> {
  const { Greeter } = loadProtos().helloworld;
  const server = new grpc.Server(serverOptions);
  server.addService(Greeter.service, {
    SayHello: (
      call: grpc.ServerUnaryCall<{ name: string }, { message: string }>,
      done: grpc.sendUnaryData<{ message: string }>,
    ) =>
      call.request.name === 'fail'
        ? done({ code: grpc.status.INTERNAL, details: 'asked to fail' })
        : done(null, { message: call.request.name }),
  });
  new HealthImplementation({ '': 'SERVING' }).addToServer(server);
  const port = await new Promise<number>((ok, fail) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? fail(e) : ok(p))),
  );
  const address = `127.0.0.1:${port}`;
  return { server, address, client: new Greeter(address, grpc.credentials.createInsecure()) };
}

function sayHello(client: GreeterClient, name: string): Promise<grpc.status> {
  return new Promise((resolve) =>
    client.SayHello({ name }, (err) => resolve(err ? err.code : grpc.status.OK)),
  );
}

async function callsThenFailures(client: GreeterClient, ok: number, failing: number): Promise<void> {
  for (let i = 0; i < ok; i++) expect(await sayHello(client, 'ok')).toBe(grpc.status.OK);
  for (let i = 0; i < failing; i++) expect(await sayHello(client, 'fail')).toBe(grpc.status.INTERNAL);
}

/** Options that leave the reporter's clock and timer to the test: one tick covers exactly 1 s. */
function handDriven(): LoadReporterOptions & { advance(ms: number): void } {
  let at = 0;
  return {
    intervalMs: 60_000,
    now: () => at,
    every: () => ({ cancel: () => undefined }),
    utilization: () => 0.25,
    advance: (ms) => (at += ms),
  };
}

describe('reportLoad counts the calls of a server built without its interceptor', () => {
  const closers: (() => void)[] = [];
  afterEach(() => {
    for (const close of closers.splice(0).reverse()) close();
  });

  /** A plain greeter with reportLoad(server) on a hand-driven clock, all closed after the test. */
  async function reportingGreeter(serverOptions: grpc.ServerOptions = {}) {
    const g = await plainGreeter(serverOptions);
    closers.push(
      () => g.server.forceShutdown(),
      () => g.client.close(),
    );
    const clock = handDriven();
    const load = reportLoad(g.server, clock);
    closers.push(() => load.close());
    return { g, clock, load };
  }

  test("reportLoad(server) alone: calls and errors per second come from the server's own counters", async () => {
    const { g, clock, load } = await reportingGreeter();
    await callsThenFailures(g.client, 7, 3);
    clock.advance(1000);
    expect(load.tick()).toEqual({ applicationUtilization: 0.25, rpsFractional: 10, eps: 3 });
    // The next interval counts only its own calls.
    await callsThenFailures(g.client, 2, 0);
    clock.advance(2000);
    expect(load.tick()).toEqual({ applicationUtilization: 0.25, rpsFractional: 1, eps: 0 });
  });

  test("with the interceptor installed too, each call counts once (the interceptor's count)", async () => {
    const clock = handDriven();
    const load = new LoadReporter(clock);
    const g = await plainGreeter({ interceptors: [load.interceptor] });
    closers.push(
      () => g.server.forceShutdown(),
      () => g.client.close(),
      () => load.close(),
    );
    load.addToServer(g.server);
    await callsThenFailures(g.client, 4, 1);
    clock.advance(1000);
    expect(load.tick()).toMatchObject({ rpsFractional: 5, eps: 1 });
  });

  test('one reporter per server at a time: a second is refused by name, and after close() the server can report again', async () => {
    const g = await plainGreeter();
    closers.push(
      () => g.server.forceShutdown(),
      () => g.client.close(),
    );
    const first = reportLoad(g.server, handDriven());
    expect(() => reportLoad(g.server, handDriven())).toThrow(/already reports its load/);
    first.close();
    const clock = handDriven();
    const again = reportLoad(g.server, clock);
    closers.push(() => again.close());
    await callsThenFailures(g.client, 2, 1);
    clock.advance(1000);
    expect(again.tick()).toMatchObject({ rpsFractional: 3, eps: 1 });
  });

  test('with channelz turned off and no interceptor nothing can be counted: rates stay 0', async () => {
    const { g, clock, load } = await reportingGreeter({ 'grpc.enable_channelz': 0 });
    await callsThenFailures(g.client, 3, 0);
    clock.advance(1000);
    expect(load.tick()).toMatchObject({ rpsFractional: 0, eps: 0 });
  });
});

describe("registerService's reportLoad option", () => {
  let etcd: TestEtcd;
  beforeAll(async () => {
    etcd = await TestEtcd.start();
  });
  afterAll(async () => {
    await etcd?.close();
  });

  test('a bad option is a RangeError naming it, and nothing is registered', async () => {
    const g = await plainGreeter();
    try {
      await expect(
        registerService({
          etcd: etcd.endpoints,
          service: 'loaded',
          address: g.address,
          reportLoad: { server: g.server, intervalMs: 1 },
        }),
      ).rejects.toThrow(/invalid registerService option "reportLoad": .*intervalMs 1/);
      await expect(
        registerService({
          etcd: etcd.endpoints,
          service: 'loaded',
          address: g.address,
          reportLoad: {} as grpc.Server,
        }),
      ).rejects.toThrow(/invalid registerService option "reportLoad": must be a grpc.Server/);
      expect((await etcd.client().getAll().prefix(`${DEFAULT_PREFIX}/loaded/`).keys()).length).toBe(0);
    } finally {
      g.server.forceShutdown();
      g.client.close();
    }
  });

  test('a first registration that fails can be retried with the same reportLoad server', async () => {
    const g = await plainGreeter();
    try {
      // Nothing listens on port 1: the first registration fails (and is not retried, by design).
      await expect(
        registerService({
          etcd: ['http://127.0.0.1:1'],
          service: 'loaded',
          address: g.address,
          reportLoad: g.server,
        }),
      ).rejects.toThrow(/could not register/);
      const r = await registerService({
        etcd: etcd.endpoints,
        service: 'loaded',
        address: g.address,
        reportLoad: g.server,
      });
      expect(r.load).toBeInstanceOf(LoadReporter);
      await r.close();
    } finally {
      g.server.forceShutdown();
      g.client.close();
    }
  }, 30_000);

  test("one option on registerService: the LB server reads the instance's call and error rates over ORCA", async () => {
    const g = await plainGreeter();
    const lb = await startLbServer({
      etcd: etcd.endpoints,
      listen: '127.0.0.1:0',
      orcaIntervalMs: 500,
      logger: capturingLogger().logger,
    });
    // Half-second windows: enough calls in each that one call more or less at an edge does not
    // move the error ratio past the bounds below (100 ms windows held a handful on a busy machine).
    const registration = await registerService({
      etcd: etcd.endpoints,
      service: 'loaded',
      address: g.address,
      reportLoad: { server: g.server, intervalMs: 500 },
    });
    let running = true;
    const caller = async (): Promise<void> => {
      for (let i = 0; running && i < 100_000; i++) await sayHello(g.client, i % 4 === 0 ? 'fail' : 'ok');
    };
    const calling = caller();
    try {
      expect(registration.load).toBeInstanceOf(LoadReporter);
      const load = await waitFor(
        'call and error rates in orcaOf()',
        () => {
          const l = lb.orcaOf(registration.key);
          return l && l.rpsFractional > 20 && l.eps > 1 ? l : undefined;
        },
        { timeoutMs: 15_000 },
      );
      // One call in four fails; the interval edges blur the ratio a little.
      expect(load.eps / load.rpsFractional).toBeGreaterThan(0.1);
      expect(load.eps / load.rpsFractional).toBeLessThan(0.5);
    } finally {
      running = false;
      await calling;
      await registration.close();
      await lb.close();
      g.server.forceShutdown();
      g.client.close();
    }
  });
});
