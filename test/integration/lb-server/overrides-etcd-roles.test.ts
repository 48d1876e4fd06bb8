import * as grpc from '@grpc/grpc-js';
import { Etcd3 } from 'etcd3';
import { AdminCallError, AdminClient } from '../../../cli/admin-client';
import { startLbServer, type LbServer } from '../../../lb-server';
import { capturingLogger } from '../../support/capturing-logger';
import { TestEtcd } from '../../support/etcd';
import { healthClient } from '../../support/health-client';
import { waitFor } from '../../support/wait-for';

const ROOT_PASSWORD = 'r00t-pw';
const PASSWORD = 'lb-pw';

/**
 * The etcd permissions the README's Production section gives the LB server: read on the registry,
 * readwrite on /lookaside/overrides/. Less than read there keeps the server NOT_SERVING; read
 * without write serves, and refuses overrides with UNAVAILABLE naming the key.
 */
describe('operator overrides under etcd roles', () => {
  let etcd: TestEtcd;
  const cleanups: Array<() => unknown> = [];

  beforeAll(async () => {
    etcd = await TestEtcd.start();
    const admin = new Etcd3({ hosts: etcd.endpoints });
    try {
      await admin.role('root').create();
      await admin.user('root').create(ROOT_PASSWORD);
      await admin.user('root').addRole('root');
      const roles: Array<[string, Array<['Read' | 'Readwrite', string]>]> = [
        [
          'lb',
          [
            ['Read', '/lookaside/services/'],
            ['Readwrite', '/lookaside/overrides/'],
            ['Readwrite', '/lookaside/clients/'],
            ['Read', '/lookaside/config/'],
          ],
        ],
        [
          'lb-registry-only',
          [
            ['Read', '/lookaside/services/'],
            ['Readwrite', '/lookaside/clients/'],
            ['Read', '/lookaside/config/'],
          ],
        ],
        [
          'lb-read-only',
          [
            ['Read', '/lookaside/services/'],
            ['Read', '/lookaside/overrides/'],
            ['Readwrite', '/lookaside/clients/'],
            ['Read', '/lookaside/config/'],
          ],
        ],
      ];
      for (const [name, grants] of roles) {
        const role = await admin.role(name).create();
        for (const [permission, prefix] of grants)
          await role.grant({ permission, range: admin.range({ prefix }) });
        await admin.user(name).create(PASSWORD);
        await admin.user(name).addRole(name);
      }
      await admin.auth.authEnable();
    } finally {
      admin.close();
    }
  });

  afterEach(async () => {
    for (const fn of cleanups.splice(0).reverse()) await fn();
  });

  afterAll(async () => {
    await etcd?.close();
  });

  async function checkHealth(address: string): Promise<string> {
    const client = healthClient(address);
    try {
      return await new Promise<string>((resolve, reject) =>
        client.Check({ service: '' }, { deadline: Date.now() + 5000 }, (err, res) =>
          err ? reject(err) : resolve(res?.status ?? ''),
        ),
      );
    } finally {
      client.close();
    }
  }

  async function lbServer(user: string) {
    const { logger, lines, events } = capturingLogger();
    const lb: LbServer = await startLbServer({
      etcd: etcd.endpoints,
      listen: '127.0.0.1:0',
      etcdUser: user,
      etcdPassword: PASSWORD,
      healthChecks: false,
      logger,
    });
    cleanups.push(() => lb.close());
    const admin = new AdminClient({ target: lb.address });
    cleanups.push(() => admin.close());
    return { lb, lines, events, admin };
  }

  it('with readwrite on /lookaside/overrides/ the LB server serves and stores overrides', async () => {
    const { lb, admin } = await lbServer('lb');
    await lb.synced();
    expect(await checkHealth(lb.address)).toBe('SERVING');
    const set = await admin.setOverride({ service: 'svc', instanceId: 'a', draining: true, reason: 'roles' });
    expect(set.override?.key).toBe('/lookaside/overrides/svc/a');
    await waitFor(
      'the override read back by the watch',
      async () => (await admin.listOverrides()).overrides.length === 1,
    );
    await expect(admin.clearOverride('svc', 'a')).resolves.toEqual({ cleared: true });
  });

  it('without read on /lookaside/overrides/ it says so and stays NOT_SERVING', async () => {
    const { lb, events } = await lbServer('lb-registry-only');
    await waitFor(
      'the overrides watch logs etcd_watch_auth_failed',
      () => events('etcd_watch_auth_failed').some((e) => e.prefix === '/lookaside/overrides/'),
      { timeoutMs: 10_000 },
    );
    expect(await checkHealth(lb.address)).toBe('NOT_SERVING');
  });

  it('with read but no write there it serves, and SetOverride fails with UNAVAILABLE naming the key', async () => {
    const { lb, admin } = await lbServer('lb-read-only');
    await lb.synced();
    expect(await checkHealth(lb.address)).toBe('SERVING');
    let err: unknown;
    try {
      await admin.setOverride({ service: 'svc', instanceId: 'a', weight: 1, reason: '' });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(AdminCallError);
    expect((err as AdminCallError).code).toBe(grpc.status.UNAVAILABLE);
    expect((err as AdminCallError).message).toMatch(
      /cannot write override \/lookaside\/overrides\/svc\/a to etcd/,
    );
  });
});
