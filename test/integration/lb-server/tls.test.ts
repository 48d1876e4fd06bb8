import * as http from 'node:http';
import * as tls from 'node:tls';
import { X509Certificate } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import pino from 'pino';
import { installLookaside, LookasideChannelOptions, registerLookasideCredentials } from '../../../client-sdk';
import { startDemoService, type DemoService } from '../../../demo-service';
import { METRIC_NAMES, startLbServer, type LbServer } from '../../../lb-server';
import type { GreeterClient } from '../../../proto/gen/helloworld/Greeter';
import { loadProtos } from '../../../proto/protos';
import { TestEtcd } from '../../support/etcd';
import { sayHello } from '../../support/greeter-load';
import { TestCerts } from '../../support/test-certs';
import { watchTlsServerNames } from '../../support/tls-server-names';
import { waitFor } from '../../support/wait-for';
import { BalanceLoadProbe } from './balance-load-probe';

const logger = pino({ level: process.env.LOG_LEVEL ?? 'silent' });
const SERVICE = 'greeter-tls';

function getText(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { timeout: 5000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

/** The value of one sample line of a Prometheus text exposition, or undefined. */
function sample(text: string, name: string, labels?: string): number | undefined {
  const head = labels === undefined ? `${name} ` : `${name}{${labels}} `;
  const line = text.split('\n').find((l) => l.startsWith(head));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
}

function normalSerial(hex: string): string {
  return hex.toUpperCase().replace(/^0+/, '');
}

/** The serial number of the certificate the TLS server at `port` presents now. */
function servedSerial(
  port: number,
  ca: Buffer,
  client: { cert: Buffer; key: Buffer },
  alpn: string[] = ['h2'],
): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect(
      {
        host: '127.0.0.1',
        servername: 'localhost',
        port,
        ca,
        cert: client.cert,
        key: client.key,
        ALPNProtocols: alpn,
      },
      () => {
        const serial = normalSerial(socket.getPeerCertificate().serialNumber);
        socket.destroy();
        resolve(serial);
      },
    );
    socket.setTimeout(5000, () => socket.destroy(new Error('timeout')));
    socket.on('error', reject);
  });
}

/**
 * The LB server with TLS and mTLS: real certificates from openssl, a real etcd, the real SDK and
 * TLS backends.
 */
describe('LB server over TLS and mTLS', () => {
  let certs: TestCerts;
  let etcd: TestEtcd;
  let lb: LbServer;
  let backend: DemoService;
  let mtls: grpc.ChannelCredentials;
  const cleanups: Array<() => unknown> = [];
  const serverNames = watchTlsServerNames();
  /** The LB server by the name its certificate carries (dialing its IP would send the IP as SNI). */
  const lbByName = (): string => `localhost:${lb.port}`;

  beforeAll(async () => {
    certs = TestCerts.create();
    certs.server('lb');
    certs.server('backend', [SERVICE]);
    const app = certs.client('app');
    mtls = grpc.credentials.createSsl(certs.ca.cert, app.key, app.cert);
    etcd = await TestEtcd.start();
    backend = await startDemoService({
      etcd: etcd.endpoints,
      port: 0,
      service: SERVICE,
      ttlSeconds: 5,
      drainTimeoutMs: 0,
      tlsCertFile: `${certs.dir}/backend.pem`,
      tlsKeyFile: `${certs.dir}/backend-key.pem`,
    });
    lb = await startLbServer({
      etcd: etcd.endpoints,
      listen: '127.0.0.1:0',
      tlsCertFile: `${certs.dir}/lb.pem`,
      tlsKeyFile: `${certs.dir}/lb-key.pem`,
      tlsClientCaFile: certs.ca.certFile,
      tlsReloadIntervalMs: 100,
      metricsListen: '127.0.0.1:0',
      clientStatsIntervalMs: 200,
      logger,
    });
    await lb.synced();
  });

  afterEach(async () => {
    for (const fn of cleanups.splice(0).reverse()) await fn();
  });

  afterAll(async () => {
    await lb?.close();
    await backend?.close();
    await etcd?.close();
    certs?.cleanup();
    serverNames.restore();
  });

  afterEach(() => {
    // Every TLS dial of the test named its server: Node's DEP0123 warning has no cause here.
    expect(serverNames.takeIpServerNames()).toEqual([]);
  });

  function probe(credentials: grpc.ChannelCredentials): BalanceLoadProbe {
    const p = BalanceLoadProbe.open(lbByName(), SERVICE, '', '', credentials);
    cleanups.push(() => p.close());
    return p;
  }

  it('serves server lists to a client with the right CA and client certificate', async () => {
    expect(lb.tls).toBe(true);
    const p = probe(mtls);
    await waitFor('a server list over mTLS', () => p.last?.servers.length === 1);
    expect(p.addresses()).toEqual([backend.address]);
  });

  it('refuses a client without a client certificate, and a plaintext client, with UNAVAILABLE', async () => {
    const noCert = probe(grpc.credentials.createSsl(certs.ca.cert));
    const plain = probe(grpc.credentials.createInsecure());
    await waitFor('both refused', () => noCert.status !== undefined && plain.status !== undefined);
    expect(noCert.status?.code).toBe(grpc.status.UNAVAILABLE);
    expect(plain.status?.code).toBe(grpc.status.UNAVAILABLE);
    expect(noCert.lists).toEqual([]);
    expect(plain.lists).toEqual([]);
  });

  it('lets the SDK call TLS backends through an mTLS LB server (per-channel LB credentials)', async () => {
    installLookaside();
    registerLookasideCredentials('tls-test-mtls', mtls);
    const Greeter = loadProtos().helloworld.Greeter;
    // The backends see the channel's own credentials: TLS with the CA; their certificate names the service.
    const client: GreeterClient = new Greeter(
      `lookaside://${lbByName()}/${SERVICE}`,
      grpc.credentials.createSsl(certs.ca.cert),
      { [LookasideChannelOptions.LB_CREDENTIALS]: 'tls-test-mtls', 'grpc.enable_http_proxy': 0 },
    );
    cleanups.push(() => client.close());
    const first = await waitFor('a call through the mTLS LB', async () => {
      const r = await sayHello(client, { deadlineMs: 2000 });
      return r.ok ? r : undefined;
    });
    expect(first.backend).toBe(backend.address);
    for (let i = 0; i < 5; i++)
      expect(await sayHello(client)).toEqual({ ok: true, backend: backend.address });
  });

  it('fails the construction of a channel that names unknown LB credentials', () => {
    installLookaside();
    const Greeter = loadProtos().helloworld.Greeter;
    expect(
      () =>
        new Greeter(`lookaside://${lb.address}/${SERVICE}`, grpc.credentials.createInsecure(), {
          [LookasideChannelOptions.LB_CREDENTIALS]: 'never-registered',
        }),
    ).toThrow(/lookaside\.lb_credentials.*never-registered/);
  });

  it('exposes the streams and pushes the test caused on /metrics', async () => {
    expect(lb.metricsAddress).toMatch(/^127\.0\.0\.1:\d+$/);
    const url = `http://${lb.metricsAddress}/metrics`;
    const before = await getText(url);
    expect(before.status).toBe(200);
    const pushesBefore = sample(before.body, METRIC_NAMES.pushes, `service="${SERVICE}"`) ?? 0;
    const streamsBefore = sample(before.body, METRIC_NAMES.streams, `service="${SERVICE}"`) ?? 0;

    const p1 = probe(mtls);
    const p2 = probe(mtls);
    await waitFor('two streams with a list', () => p1.lists.length > 0 && p2.lists.length > 0);
    await backend.registration.setWeight(42);
    await waitFor('the new weight on both', () => [p1, p2].every((p) => p.last?.servers[0]?.weight === 42));

    const after = await getText(url);
    expect(sample(after.body, METRIC_NAMES.streams, `service="${SERVICE}"`)).toBe(streamsBefore + 2);
    expect(sample(after.body, METRIC_NAMES.pushes, `service="${SERVICE}"`)).toBeGreaterThanOrEqual(
      pushesBefore + 4,
    );
    expect(sample(after.body, METRIC_NAMES.endpoints, `service="${SERVICE}",state="serving"`)).toBe(1);
    expect(sample(after.body, METRIC_NAMES.endpoints, `service="${SERVICE}",state="draining"`)).toBe(0);
    expect(sample(after.body, METRIC_NAMES.etcdConnected)).toBe(1);
    expect(sample(after.body, METRIC_NAMES.rejectedRecords)).toBe(0);
    expect(after.body).toMatch(new RegExp(`^${METRIC_NAMES.pushLatency}_count [1-9]`, 'm'));
    expect(after.body).toMatch(/^process_cpu_user_seconds_total /m);
    expect((await getText(`http://${lb.metricsAddress}/other`)).status).toBe(404);
  });

  it('counts the calls clients report in lookaside_client_calls_total', async () => {
    installLookaside();
    registerLookasideCredentials('tls-test-mtls', mtls);
    const Greeter = loadProtos().helloworld.Greeter;
    const client: GreeterClient = new Greeter(
      `lookaside://${lbByName()}/${SERVICE}`,
      grpc.credentials.createSsl(certs.ca.cert),
      { [LookasideChannelOptions.LB_CREDENTIALS]: 'tls-test-mtls', 'grpc.enable_http_proxy': 0 },
    );
    cleanups.push(() => client.close());
    await waitFor('a first call', async () => (await sayHello(client, { deadlineMs: 2000 })).ok);
    for (let i = 0; i < 4; i++) await sayHello(client);
    const labels = `service="${SERVICE}",backend="${backend.address}",result="succeeded"`;
    await waitFor('the reported calls on /metrics', async () => {
      const { body } = await getText(`http://${lb.metricsAddress}/metrics`);
      return (sample(body, METRIC_NAMES.clientCalls, labels) ?? 0) >= 5;
    });
  });

  it('serves a rotated certificate without a restart, on the gRPC port and the HTTPS console', async () => {
    const app = certs.client('rotation-probe');
    const old = await servedSerial(lb.port, certs.ca.cert, app);
    const consolePort = Number((lb.metricsAddress ?? '').split(':').pop());
    expect(await servedSerial(consolePort, certs.ca.cert, app, ['http/1.1'])).toBe(old);
    const rotated = certs.server('lb'); // rewrites lb.pem and lb-key.pem in place
    const want = normalSerial(new X509Certificate(rotated.cert).serialNumber);
    expect(want).not.toBe(old);
    await waitFor(
      'the new certificate served',
      async () => (await servedSerial(lb.port, certs.ca.cert, app)) === want,
    );
    await waitFor(
      'the new certificate served by the console',
      async () => (await servedSerial(consolePort, certs.ca.cert, app, ['http/1.1'])) === want,
    );
    const p = probe(mtls);
    await waitFor('a list after rotation', () => p.last?.servers.length === 1);
  });
});
