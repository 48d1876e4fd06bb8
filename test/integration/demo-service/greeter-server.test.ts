import * as grpc from '@grpc/grpc-js';
import { service as healthService } from 'grpc-health-check';
import { startGreeterServer, type GreeterServer } from '../../../demo-service/greeter-server';
import type { GreeterClient } from '../../../proto/gen/helloworld/Greeter';
import { loadProtos } from '../../../proto/protos';

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
