import * as grpc from '@grpc/grpc-js';
import { service as healthService } from 'grpc-health-check';
import { startGreeterServer, type GreeterServer } from '../../../demo-service/greeter-server';
import type { GreeterClient } from '../../../proto/gen/helloworld/Greeter';
import { loadProtos } from '../../../proto/protos';
import { waitFor } from '../../support/wait-for';

type HealthClient = grpc.Client & {
  Check(
    req: { service: string },
    cb: (err: grpc.ServiceError | null, res?: { status: string | number }) => void,
  ): void;
};

describe('the demo greeter', () => {
  let greeter: GreeterServer;
  let client: GreeterClient;
  let health: HealthClient;

  beforeAll(async () => {
    greeter = await startGreeterServer({ port: 0, failureRate: 1 });
    client = new (loadProtos().helloworld.Greeter)(greeter.address, grpc.credentials.createInsecure());
    const Health = grpc.makeGenericClientConstructor(
      healthService as unknown as grpc.ServiceDefinition,
      'Health',
    );
    health = new Health(greeter.address, grpc.credentials.createInsecure()) as unknown as HealthClient;
  });

  afterAll(() => {
    client.close();
    health.close();
    greeter.forceClose();
  });

  const hello = () =>
    new Promise<grpc.status>((resolve) =>
      client.SayHello({ name: 't' }, (err) => resolve(err ? err.code : grpc.status.OK)),
    );
  const check = (service: string) =>
    new Promise<string | number | undefined>((resolve, reject) =>
      health.Check({ service }, (err, res) => (err ? reject(err) : resolve(res?.status))),
    );

  test('answers the share of calls it is told to fail with INTERNAL, and none after the rate is 0', async () => {
    expect(await hello()).toBe(grpc.status.INTERNAL);
    greeter.setFailureRate(0);
    expect(await hello()).toBe(grpc.status.OK);
    expect(() => greeter.setFailureRate(1.5)).toThrow(RangeError);
  });

  test('reports grpc.health.v1 SERVING until told otherwise, for the server and the Greeter', async () => {
    expect(await check('')).toBe('SERVING');
    greeter.setServing(false);
    expect(await check('')).toBe('NOT_SERVING');
    expect(await check('helloworld.Greeter')).toBe('NOT_SERVING');
    greeter.setServing(true);
    expect(await check('helloworld.Greeter')).toBe('SERVING');
  });
});

describe('the greeter capacity model', () => {
  const closers: (() => void)[] = [];
  afterEach(() => {
    for (const c of closers.splice(0).reverse()) c();
  });

  async function start(options: { maxConcurrent: number; serviceTimeMs: number }) {
    const greeter = await startGreeterServer({ port: 0, loadReportIntervalMs: 60_000, ...options });
    const client: GreeterClient = new (loadProtos().helloworld.Greeter)(
      greeter.address,
      grpc.credentials.createInsecure(),
    );
    closers.push(
      () => greeter.forceClose(),
      () => client.close(),
    );
    const hello = (name: string, done: string[]) =>
      new Promise<void>((resolve, reject) =>
        client.SayHello({ name }, (err) => {
          if (err) reject(err);
          done.push(name);
          resolve();
        }),
      );
    return { greeter, hello };
  }

  test('with one slot, a second call waits in the queue until the first is served, FIFO', async () => {
    const { greeter, hello } = await start({ maxConcurrent: 1, serviceTimeMs: 300 });
    const done: string[] = [];
    const calls = [hello('first', done), hello('second', done)];
    await waitFor('one call served and one queued', () => greeter.busy() === 1 && greeter.queued() === 1);
    expect(done).toEqual([]);
    await Promise.all(calls);
    expect(done).toEqual(['first', 'second']);
    expect(greeter.busy()).toBe(0);
    expect(greeter.queued()).toBe(0);
    expect(greeter.served()).toBe(2);
  });

  test('its load report counts calls and the busy share of its slots, not the event loop', async () => {
    const { greeter, hello } = await start({ maxConcurrent: 2, serviceTimeMs: 50 });
    const done: string[] = [];
    await hello('warm-up', done); // the connection is up before the measured interval starts
    greeter.load?.tick();
    await Promise.all([hello('a', done), hello('b', done)]);
    await Promise.all([hello('c', done), hello('d', done)]);
    const sample = greeter.load?.tick();
    expect(sample?.rpsFractional).toBeGreaterThan(0);
    expect(sample?.eps).toBe(0);
    // Both slots were busy most of the time: far above what timers cost the event loop.
    expect(sample?.applicationUtilization).toBeGreaterThan(0.3);
    expect(sample?.applicationUtilization).toBeLessThanOrEqual(1);
  });

  test('setServiceTimeMs changes the time of calls served afterwards; bad values are refused', async () => {
    const { greeter } = await start({ maxConcurrent: 1, serviceTimeMs: 10 });
    greeter.setServiceTimeMs(40);
    expect(greeter.serviceTimeMs()).toBe(40);
    expect(() => greeter.setServiceTimeMs(-1)).toThrow(RangeError);
  });
});
