import * as grpc from '@grpc/grpc-js';
import type { Etcd3 } from 'etcd3';
import { HealthImplementation, type ServingStatus } from 'grpc-health-check';
import { AdminClient } from '../../../cli/admin-client';
import { DEFAULT_PREFIX, encodeRecordValue, recordKey } from '../../../common/registry-record';
import { startLbServer, type LbServer, type LbServerConfig } from '../../../lb-server';
import { capturingLogger, type CapturedLog } from '../../support/capturing-logger';
import { TestEtcd } from '../../support/etcd';
import { TestCerts, type CertFiles } from '../../support/test-certs';
import { watchTlsServerNames } from '../../support/tls-server-names';
import { waitFor } from '../../support/wait-for';

/** A TLS backend serving only grpc.health.v1 on 127.0.0.1 (requiring a client certificate when `mtls`). */
interface TlsHealthBackend {
  readonly address: string;
  set(status: ServingStatus): void;
  close(): void;
}

async function tlsHealthBackend(ca: Buffer, pair: CertFiles, mtls: boolean): Promise<TlsHealthBackend> {
  const server = new grpc.Server();
  const health = new HealthImplementation({ '': 'SERVING' });
  health.addToServer(server);
  const credentials = grpc.ServerCredentials.createSsl(
    mtls ? ca : null,
    [{ cert_chain: pair.cert, private_key: pair.key }],
    mtls,
  );
  const port = await new Promise<number>((ok, fail) =>
    server.bindAsync('127.0.0.1:0', credentials, (e, p) => (e ? fail(e) : ok(p))),
  );
  return {
    address: `127.0.0.1:${port}`,
    set: (status) => health.setStatus('', status),
    close: () => server.forceShutdown(),
  };
}

/**
 * The health checker against TLS and mTLS backends: real certificates from openssl, real etcd,
 * three LB servers that differ only in their health-check TLS settings.
 */
describe('health checks of TLS backends', () => {
  let certs: TestCerts;
  let etcd: TestEtcd;
  let kv: Etcd3;
  let client: CertFiles;
  const closers: { close(): unknown }[] = [];

  const register = (service: string, id: string, address: string) =>
    kv.put(recordKey(DEFAULT_PREFIX, service, id)).value(encodeRecordValue({ address }));

  async function lbServer(config: Partial<LbServerConfig>): Promise<{ lb: LbServer; log: CapturedLog }> {
    const log = capturingLogger();
    const lb = await startLbServer({
      etcd: etcd.endpoints,
      listen: '127.0.0.1:0',
      logger: log.logger,
      ...config,
    });
    closers.push({ close: () => lb.close() });
    await lb.synced();
    return { lb, log };
  }

  /** "health/eligible/reasons" of every endpoint of `service` as `lb` shows it, by instance id. */
  async function view(lb: LbServer, service: string): Promise<Record<string, string>> {
    const admin = new AdminClient({ target: lb.address });
    try {
      const svc = await admin.getService(service);
      return Object.fromEntries(
        svc.endpoints.map((e) => [e.instanceId, `${e.health}/${e.eligible}/${e.reasons.join(',')}`]),
      );
    } finally {
      admin.close();
    }
  }

  const serverNames = watchTlsServerNames();

  beforeAll(async () => {
    certs = TestCerts.create();
    client = certs.client('checker');
    etcd = await TestEtcd.start();
    kv = etcd.client();
  });

  afterAll(async () => {
    for (const c of closers.splice(0).reverse()) await c.close();
    kv?.close();
    await etcd?.close();
    certs?.cleanup();
    serverNames.restore();
  });

  afterEach(() => {
    // The checker names each backend by its service (or the configured name), never by its IP.
    expect(serverNames.takeIpServerNames()).toEqual([]);
  });

  test('without --health-check-ca a TLS backend is unreachable; with it, NOT_SERVING ejects and SERVING restores', async () => {
    // Certificates that name the service, as the SDK verifies them.
    const pair = certs.server('hc-tls-backend', ['hc-tls']);
    const a = await tlsHealthBackend(certs.ca.cert, pair, false);
    const b = await tlsHealthBackend(certs.ca.cert, pair, false);
    closers.push(a, b);
    await register('hc-tls', 'a', a.address);
    await register('hc-tls', 'b', b.address);

    const plain = await lbServer({});
    const secure = await lbServer({ healthCheckCaFile: certs.ca.certFile });
    expect(plain.log.events('lb_server_listening')[0]).toMatchObject({ healthCheckTls: 'off' });
    expect(secure.log.events('lb_server_listening')[0]).toMatchObject({
      healthCheckTls: 'tls',
      healthCheckServerName: '<service name>',
    });

    await waitFor('plaintext checks: both unreachable, both eligible', async () => {
      const v = await view(plain.lb, 'hc-tls');
      return v.a === 'unreachable/true/' && v.b === 'unreachable/true/';
    });
    await waitFor('TLS checks: both serving', async () => {
      const v = await view(secure.lb, 'hc-tls');
      return v.a === 'serving/true/' && v.b === 'serving/true/';
    });

    a.set('NOT_SERVING');
    await waitFor(
      'a out as unhealthy',
      async () => (await view(secure.lb, 'hc-tls')).a === 'not-serving/false/unhealthy',
    );
    expect((await view(secure.lb, 'hc-tls')).b).toBe('serving/true/');
    // The plaintext replica never heard it: unreachable is no verdict, a stays in there.
    expect((await view(plain.lb, 'hc-tls')).a).toBe('unreachable/true/');
    a.set('SERVING');
    await waitFor('a back', async () => (await view(secure.lb, 'hc-tls')).a === 'serving/true/');
  }, 60_000);

  test('the checker verifies the service name, as the SDK does, unless --health-check-server-name says another', async () => {
    const pair = certs.server('hc-named-backend', ['backends.internal']);
    const a = await tlsHealthBackend(certs.ca.cert, pair, false);
    closers.push(a);
    await register('hc-named', 'a', a.address);
    const byService = await lbServer({ healthCheckCaFile: certs.ca.certFile });
    const byName = await lbServer({
      healthCheckCaFile: certs.ca.certFile,
      healthCheckServerName: 'backends.internal',
    });
    await waitFor(
      'serving when the name is overridden',
      async () => (await view(byName.lb, 'hc-named')).a === 'serving/true/',
    );
    await waitFor(
      'unreachable when the certificate lacks the service name',
      async () => (await view(byService.lb, 'hc-named')).a === 'unreachable/true/',
    );
    const failed = byService.log.events('health_changed').find((e) => e.to === 'unreachable');
    expect(String(failed?.details)).toMatch(/hc-named|altnames|certificate/i);
  }, 60_000);

  test('an mTLS backend is checked with --health-check-cert and --health-check-key, and refuses a checker without them', async () => {
    const pair = certs.server('hc-mtls-backend', ['hc-mtls']);
    const a = await tlsHealthBackend(certs.ca.cert, pair, true);
    const b = await tlsHealthBackend(certs.ca.cert, pair, true);
    closers.push(a, b);
    await register('hc-mtls', 'a', a.address);
    await register('hc-mtls', 'b', b.address);
    const noCert = await lbServer({ healthCheckCaFile: certs.ca.certFile });
    const withCert = await lbServer({
      healthCheckCaFile: certs.ca.certFile,
      healthCheckCertFile: client.certFile,
      healthCheckKeyFile: client.keyFile,
    });
    expect(withCert.log.events('lb_server_listening')[0]).toMatchObject({ healthCheckTls: 'mtls' });
    await waitFor('with a client certificate: both serving', async () => {
      const v = await view(withCert.lb, 'hc-mtls');
      return v.a === 'serving/true/' && v.b === 'serving/true/';
    });
    await waitFor(
      'without one: unreachable',
      async () => (await view(noCert.lb, 'hc-mtls')).a === 'unreachable/true/',
    );

    b.set('NOT_SERVING');
    await waitFor(
      'b out as unhealthy',
      async () => (await view(withCert.lb, 'hc-mtls')).b === 'not-serving/false/unhealthy',
    );
    b.set('SERVING');
    await waitFor('b back', async () => (await view(withCert.lb, 'hc-mtls')).b === 'serving/true/');
  }, 60_000);

  test.each([
    [{ healthCheckCaFile: '/nonexistent/ca.pem' }, 'healthCheckCaFile'],
    [{ healthCheckCaFile: 'CLIENT_KEY' }, 'healthCheckCaFile'],
    [
      { healthCheckCaFile: 'CA', healthCheckCertFile: 'CLIENT_CERT', healthCheckKeyFile: 'CA_KEY' },
      'healthCheckKeyFile',
    ],
    [
      { healthCheckCaFile: 'CA', healthCheckCertFile: '/nonexistent/c.pem', healthCheckKeyFile: 'CA_KEY' },
      'healthCheckCertFile',
    ],
  ])('an unusable health-check TLS file %j is a config error naming %s', async (config, field) => {
    const files: Record<string, string> = {
      CA: certs.ca.certFile,
      CA_KEY: certs.ca.keyFile,
      CLIENT_CERT: client.certFile,
      CLIENT_KEY: client.keyFile,
    };
    const resolved = Object.fromEntries(Object.entries(config).map(([k, v]) => [k, files[v] ?? v]));
    await expect(
      startLbServer({ etcd: etcd.endpoints, listen: '127.0.0.1:0', ...resolved }),
    ).rejects.toMatchObject({
      name: 'LbServerConfigError',
      field,
    });
  });
});
