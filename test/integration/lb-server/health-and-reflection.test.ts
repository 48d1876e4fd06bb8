import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { protoPath as healthProtoPath } from 'grpc-health-check';
import pino from 'pino';
import { startLbServer, type LbServer } from '../../../lb-server';
import { TestEtcd } from '../../support/etcd';
import { TestCerts } from '../../support/test-certs';
import { waitFor } from '../../support/wait-for';

const logger = pino({ level: process.env.LOG_LEVEL ?? 'silent' });
const LOAD_OPTIONS: protoLoader.Options = { keepCase: true, defaults: true, longs: Number, enums: String };

interface HealthClient extends grpc.Client {
  Check(
    req: { service: string },
    options: grpc.CallOptions,
    cb: (err: grpc.ServiceError | null, res?: { status: string }) => void,
  ): void;
}

type ReflectionStream = grpc.ClientDuplexStream<
  { list_services?: string; file_containing_symbol?: string },
  { list_services_response?: { service: Array<{ name: string }> }; file_descriptor_response?: unknown }
>;
interface ReflectionClient extends grpc.Client {
  ServerReflectionInfo(): ReflectionStream;
}

function client<T extends grpc.Client>(file: string, service: string[], address: string): T {
  const def = grpc.loadPackageDefinition(protoLoader.loadSync(file, LOAD_OPTIONS));
  let ctor: unknown = def;
  for (const part of service) ctor = (ctor as Record<string, unknown>)[part];
  const Ctor = ctor as new (address: string, creds: grpc.ChannelCredentials) => T;
  return new Ctor(address, grpc.credentials.createInsecure());
}

function check(c: HealthClient, service: string): Promise<string> {
  return new Promise((resolve, reject) =>
    c.Check({ service }, { deadline: Date.now() + 2000 }, (err, res) =>
      err ? reject(err) : resolve(res?.status ?? 'none'),
    ),
  );
}

describe('LB server health and reflection', () => {
  let etcd: TestEtcd;
  let lb: LbServer | undefined;
  const clients: grpc.Client[] = [];

  beforeAll(async () => {
    etcd = await TestEtcd.start();
  });

  afterEach(async () => {
    for (const c of clients.splice(0)) c.close();
    await lb?.close();
    lb = undefined;
  });

  afterAll(async () => {
    await etcd?.close();
  });

  it('reports NOT_SERVING while etcd is unreachable at start, SERVING once the initial sync is done', async () => {
    const member = etcd.cluster.members[0];
    await member.kill('SIGKILL');
    lb = await startLbServer({ etcd: etcd.endpoints, listen: '127.0.0.1:0', logger });
    const health = client<HealthClient>(healthProtoPath, ['grpc', 'health', 'v1', 'Health'], lb.address);
    clients.push(health);
    expect(await check(health, '')).toBe('NOT_SERVING');
    expect(await check(health, 'lookaside.v1.LoadBalancer')).toBe('NOT_SERVING');

    await member.restart();
    await lb.synced();
    expect(await check(health, '')).toBe('SERVING');
    expect(await check(health, 'lookaside.v1.LoadBalancer')).toBe('SERVING');
  });

  it('goes NOT_SERVING on close()', async () => {
    lb = await startLbServer({ etcd: etcd.endpoints, listen: '127.0.0.1:0', logger });
    await lb.synced();
    const health = client<HealthClient>(healthProtoPath, ['grpc', 'health', 'v1', 'Health'], lb.address);
    clients.push(health);
    const statuses: string[] = [];
    const watch = (
      health as unknown as { Watch(req: { service: string }): grpc.ClientReadableStream<{ status: string }> }
    ).Watch({ service: '' });
    watch.on('data', (r: { status: string }) => statuses.push(r.status));
    watch.on('error', () => undefined);
    await waitFor('SERVING on the watch', () => statuses.includes('SERVING'));
    void lb.close();
    await waitFor('NOT_SERVING on the watch', () => statuses[statuses.length - 1] === 'NOT_SERVING');
  });

  it('lists every service on the port (lookaside.v1, Admin, Health, ADS, grpclb) through server reflection', async () => {
    lb = await startLbServer({ etcd: etcd.endpoints, listen: '127.0.0.1:0', logger });
    const reflectionProto = path.join(
      path.dirname(require.resolve('@grpc/reflection/package.json')),
      'build/proto/grpc/reflection/v1/reflection.proto',
    );
    const reflection = client<ReflectionClient>(
      reflectionProto,
      ['grpc', 'reflection', 'v1', 'ServerReflection'],
      lb.address,
    );
    clients.push(reflection);
    const call = reflection.ServerReflectionInfo();
    const answers: Array<{ list_services_response?: { service: Array<{ name: string }> } }> = [];
    call.on('data', (r) => answers.push(r));
    call.on('error', () => undefined);
    call.write({ list_services: '' });
    const listed = await waitFor('the list of services', () => answers[0]?.list_services_response?.service);
    call.end();
    expect(listed.map((s) => s.name)).toEqual(
      expect.arrayContaining([
        'lookaside.v1.LoadBalancer',
        'lookaside.v1.Admin',
        'grpc.health.v1.Health',
        'envoy.service.discovery.v3.AggregatedDiscoveryService',
        'grpc.lb.v1.LoadBalancer',
      ]),
    );
  });

  it('with mTLS on its port, serves the same health statuses plaintext on --health-listen, and nothing else there', async () => {
    const certs = TestCerts.create();
    try {
      const lbCert = certs.server('lb');
      const member = etcd.cluster.members[0];
      await member.kill('SIGKILL');
      lb = await startLbServer({
        etcd: etcd.endpoints,
        listen: '127.0.0.1:0',
        tlsCertFile: lbCert.certFile,
        tlsKeyFile: lbCert.keyFile,
        tlsClientCaFile: certs.ca.certFile,
        healthListen: '127.0.0.1:0',
        logger,
      });
      const healthAddress = lb.healthAddress;
      expect(healthAddress).toMatch(/^127\.0\.0\.1:\d+$/);
      expect(healthAddress).not.toBe(lb.address);
      const probe = client<HealthClient>(healthProtoPath, ['grpc', 'health', 'v1', 'Health'], healthAddress!);
      const onMainPort = client<HealthClient>(
        healthProtoPath,
        ['grpc', 'health', 'v1', 'Health'],
        lb.address,
      );
      clients.push(probe, onMainPort);
      expect(await check(probe, '')).toBe('NOT_SERVING');

      await member.restart();
      await lb.synced();
      expect(await check(probe, '')).toBe('SERVING');
      expect(await check(probe, 'lookaside.v1.LoadBalancer')).toBe('SERVING');
      // The main port still refuses a plaintext client.
      await expect(check(onMainPort, '')).rejects.toMatchObject({ code: grpc.status.UNAVAILABLE });

      // Reflection (or anything else) is not on the health listener.
      const reflectionProto = path.join(
        path.dirname(require.resolve('@grpc/reflection/package.json')),
        'build/proto/grpc/reflection/v1/reflection.proto',
      );
      const reflection = client<ReflectionClient>(
        reflectionProto,
        ['grpc', 'reflection', 'v1', 'ServerReflection'],
        healthAddress!,
      );
      clients.push(reflection);
      const call = reflection.ServerReflectionInfo();
      const ended = new Promise<grpc.ServiceError>((resolve) => call.on('error', resolve));
      call.write({ list_services: '' });
      expect((await ended).code).toBe(grpc.status.UNIMPLEMENTED);

      await lb.close();
      await expect(check(probe, '')).rejects.toMatchObject({ code: grpc.status.UNAVAILABLE });
    } finally {
      certs.cleanup();
    }
  });
});
