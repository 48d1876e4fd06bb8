import { Etcd3 } from 'etcd3';
import { healthClient, type HealthClient } from '../../support/health-client';
import { registerService, RegistrarError, type Registration } from '../../../registrar';
import { startLbServer, type LbServer, type LbServerConfig } from '../../../lb-server';
import { capturingLogger } from '../../support/capturing-logger';
import { TestEtcd } from '../../support/etcd';
import { TestCerts } from '../../support/test-certs';
import { watchTlsServerNames } from '../../support/tls-server-names';
import { waitFor } from '../../support/wait-for';
import { BalanceLoadProbe } from './balance-load-probe';

const SERVICE = 'secured';
const ROOT_PASSWORD = 'root-pw-7f3a';
const LB_PASSWORD = 'lb-pw-91c2';

function check(c: HealthClient): Promise<string> {
  return new Promise((resolve, reject) =>
    c.Check({ service: '' }, { deadline: Date.now() + 2000 }, (err, res) =>
      err ? reject(err) : resolve(res?.status ?? 'none'),
    ),
  );
}

/**
 * A secured etcd as operators run it: TLS with client-certificate auth, and user/password auth
 * enabled with a least-privilege user for lookaside.
 */
describe('LB server and registrar against an etcd with TLS and auth', () => {
  let certs: TestCerts;
  let etcd: TestEtcd;
  let tlsFiles: Pick<LbServerConfig, 'etcdCaFile' | 'etcdCertFile' | 'etcdKeyFile'>;
  const cleanups: Array<() => unknown> = [];
  const serverNames = watchTlsServerNames();

  beforeAll(async () => {
    certs = TestCerts.create();
    const server = certs.server('etcd');
    const client = certs.client('lookaside-client');
    etcd = await TestEtcd.start({
      clientTls: {
        certFile: server.certFile,
        keyFile: server.keyFile,
        trustedCaFile: certs.ca.certFile,
        clientCertAuth: true,
      },
    });
    tlsFiles = { etcdCaFile: certs.ca.certFile, etcdCertFile: client.certFile, etcdKeyFile: client.keyFile };
    // Set up auth as an operator would with etcdctl: root, a role for the registry prefix, a user.
    const admin = new Etcd3({
      hosts: etcd.endpoints,
      credentials: { rootCertificate: certs.ca.cert, privateKey: client.key, certChain: client.cert },
    });
    try {
      await admin.role('root').create();
      await admin.user('root').create(ROOT_PASSWORD);
      await admin.user('root').addRole('root');
      const role = await admin.role('lookaside').create();
      await role.grant({ permission: 'Readwrite', range: admin.range({ prefix: '/lookaside/' }) });
      await admin.user('lookaside').create(LB_PASSWORD);
      await admin.user('lookaside').addRole('lookaside');
      await admin.auth.authEnable();
    } finally {
      admin.close();
    }
  });

  afterEach(async () => {
    for (const fn of cleanups.splice(0).reverse()) await fn();
    // The etcd client dialed etcd by name (https://localhost:…), never sending an IP as SNI.
    expect(serverNames.takeIpServerNames()).toEqual([]);
  });

  afterAll(async () => {
    await etcd?.close();
    certs?.cleanup();
    serverNames.restore();
  });

  async function lbServer(password: string): Promise<{ lb: LbServer; lines: string[] }> {
    const { logger, lines } = capturingLogger();
    const lb = await startLbServer({
      etcd: etcd.endpoints,
      listen: '127.0.0.1:0',
      etcdUser: 'lookaside',
      etcdPassword: password,
      ...tlsFiles,
      logger,
    });
    cleanups.push(() => lb.close());
    return { lb, lines };
  }

  async function register(password: string): Promise<Registration> {
    const reg = await registerService({
      etcd: etcd.endpoints,
      service: SERVICE,
      address: '127.0.0.1:9443',
      ttlSeconds: 5,
      etcdUser: 'lookaside',
      etcdPassword: password,
      ...tlsFiles,
    });
    cleanups.push(() => reg.close());
    return reg;
  }

  it('syncs through TLS and password auth and serves what the registrar wrote', async () => {
    await register(LB_PASSWORD);
    const { lb, lines } = await lbServer(LB_PASSWORD);
    await lb.synced();
    const health = healthClient(lb.address);
    cleanups.push(() => health.close());
    expect(await check(health)).toBe('SERVING');
    const p = BalanceLoadProbe.open(lb.address, SERVICE);
    cleanups.push(() => p.close());
    await waitFor('the registered endpoint', () => p.last?.servers.length === 1);
    expect(p.addresses()).toEqual(['127.0.0.1:9443']);
    // The password is never logged; the user is.
    expect(lines.join('\n')).not.toContain(LB_PASSWORD);
    expect(lines.join('\n')).toContain('"etcdUser":"lookaside"');
  });

  it('with a wrong password: a clear error naming the endpoint, health NOT_SERVING', async () => {
    const { lb, lines } = await lbServer('wrong-password');
    const failure = await waitFor('an etcd_auth_failed log line', () =>
      lines.find((l) => l.includes('"event":"etcd_auth_failed"')),
    );
    expect(failure).toContain(etcd.endpoints[0]);
    expect(failure).toMatch(/authentication failed/i);
    expect(failure).not.toContain('wrong-password');
    const health = healthClient(lb.address);
    cleanups.push(() => health.close());
    expect(await check(health)).toBe('NOT_SERVING');
  });

  it('the registrar rejects a wrong password with a RegistrarError naming the endpoint', async () => {
    let error: unknown;
    try {
      await register('wrong-password');
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(RegistrarError);
    expect((error as Error).message).toContain(etcd.endpoints[0]);
    expect((error as Error).message).not.toContain('wrong-password');
  });

  it('rejects etcd TLS files with http:// endpoints, naming the option', async () => {
    await expect(
      startLbServer({ etcd: ['http://127.0.0.1:1'], listen: '127.0.0.1:0', etcdCaFile: certs.ca.certFile }),
    ).rejects.toThrow(/etcdCaFile.*https/);
    await expect(
      registerService({
        etcd: ['http://127.0.0.1:1'],
        service: SERVICE,
        address: '127.0.0.1:1',
        etcdUser: 'u',
      }),
    ).rejects.toThrow(/etcdPassword/);
  });
});
