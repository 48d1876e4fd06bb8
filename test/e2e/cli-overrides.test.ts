import type { Etcd3 } from 'etcd3';
import { freePort } from '../../etcd/etcd-process';
import { TestEtcd } from '../support/etcd';
import { newMarker, processesWithMarker, runCli, spawnCli, type CliProcess } from '../support/cli';
import { waitFor } from '../support/wait-for';

const TOKEN = 'cli-ov3rride';

/** `lookaside admin drain | weight | undrain | overrides` against a real `lookaside lb-server` process. */
describe('lookaside admin overrides (CLI processes)', () => {
  const marker = newMarker();
  let etcd: TestEtcd;
  let kv: Etcd3;
  let lb: CliProcess;
  let target: string;

  const admin = (args: readonly string[], token: string | null = TOKEN) =>
    runCli(['admin', ...args, '--lb', target, ...(token !== null ? ['--token', token] : [])], marker, {
      timeoutMs: 20_000,
      env: { LOOKASIDE_ADMIN_TOKEN: undefined, LOOKASIDE_ADMIN_WHO: undefined },
    });

  beforeAll(async () => {
    etcd = await TestEtcd.start();
    kv = etcd.client();
    target = `127.0.0.1:${await freePort()}`;
    lb = spawnCli(
      ['lb-server', '--etcd', etcd.endpoints.join(','), '--listen', target, '--admin-token', TOKEN],
      marker,
    );
    await lb.waitForOutput(/"event":"lb_server_listening"/);
    await kv
      .put('/lookaside/services/shop/a')
      .value(JSON.stringify({ address: '127.0.0.1:9701', weight: 40 }));
    await waitFor('shop known to the LB server', async () => (await admin(['service', 'shop'])).code === 0);
  });

  afterAll(async () => {
    await lb?.stop('SIGKILL');
    kv?.close();
    await etcd?.close();
    await waitFor('no CLI process left running', () => processesWithMarker(marker).length === 0, {
      timeoutMs: 10_000,
    });
  });

  it('drain, weight and undrain steer an instance, are stored in etcd, logged with who and why, and shown by admin service and admin overrides', async () => {
    const drained = await admin([
      'drain',
      'shop',
      'a',
      '--reason',
      'disk swap',
      '--for',
      '2h',
      '--who',
      'alice',
    ]);
    expect({ code: drained.code, stderr: drained.stderr }).toEqual({ code: 0, stderr: '' });
    expect(drained.stdout).toMatch(/^override of shop\/a set: drain until \d\d:\d\d:\d\dZ by alice\n$/);
    const stored = JSON.parse((await kv.get('/lookaside/overrides/shop/a').string()) ?? '{}') as {
      atMs: number;
      expiresAtMs: number;
    };
    expect(stored).toMatchObject({ draining: true, who: 'alice', why: 'disk swap' });
    expect(stored.expiresAtMs - stored.atMs).toBe(2 * 3600 * 1000);
    await lb.waitForOutput(/"event":"override_set".*"who":"alice","why":"disk swap"/);

    const view = await waitFor('the drain applied in admin service', async () => {
      const r = await admin(['service', 'shop']);
      return /overridden/.test(r.stdout) ? r.stdout : undefined;
    });
    expect(view).toMatch(/OVERRIDE/);
    expect(view).toMatch(
      /127\.0\.0\.1:9701\s+40\s+0\s+-\s+overridden\s.*drain until \S+ by alice \(disk swap\)/,
    );

    const list = await admin(['overrides']);
    expect(list.code).toBe(0);
    expect(list.stdout).toMatch(/SERVICE\s+INSTANCE\s+OVERRIDE\s+WHO\s+REASON\s+SET\s+EXPIRES\s+DANGLING/);
    expect(list.stdout).toMatch(/shop\s+a\s+drain\s+alice\s+disk swap\s+\S+ ago\s+\d\d:\d\d:\d\dZ\s+no/);

    const weighted = await admin(['weight', 'shop', 'a', '15', '--reason', 'canary']);
    expect(weighted.code).toBe(0);
    // Without --who the command says who runs it (user@host).
    expect(weighted.stdout).toMatch(/^override of shop\/a set: weight 15 by \S+@\S+\n$/);
    await waitFor('the weight applied', async () =>
      /127\.0\.0\.1:9701\s+40\s+15\s+100\.0%\s+overridden/.test((await admin(['service', 'shop'])).stdout),
    );

    const json = await admin(['overrides', 'shop', '--json']);
    expect(JSON.parse(json.stdout)).toMatchObject({
      overrides: [{ service: 'shop', instanceId: 'a', weight: 15, draining: false, reason: 'canary' }],
    });

    const undrained = await admin(['undrain', 'shop', 'a', '--who', 'carol']);
    expect({ code: undrained.code, stdout: undrained.stdout }).toEqual({
      code: 0,
      stdout: 'override of shop/a cleared\n',
    });
    await lb.waitForOutput(/"event":"override_cleared".*"who":"carol","setBy":"[^"]+@[^"]+","why":"canary"/);
    expect(await kv.get('/lookaside/overrides/shop/a').string()).toBeNull();
    expect((await admin(['undrain', 'shop', 'a'])).stdout).toBe(
      'shop/a had no override (nothing to clear)\n',
    );
    expect((await admin(['overrides', 'shop'])).stdout).toBe('(no overrides)\n');
    await waitFor('back to the registered weight', async () =>
      /127\.0\.0\.1:9701\s+40\s+40\s+100\.0%\s+serving/.test((await admin(['service', 'shop'])).stdout),
    );
  });

  it('a drain of an instance with no record says it is dangling', async () => {
    const r = await admin(['drain', 'shop', 'later']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(
      /note: shop has no instance "later" yet: the override applies when it registers/,
    );
    expect((await admin(['undrain', 'shop', 'later'])).code).toBe(0);
  });

  it.each([
    [['drain', 'shop', 'a', '--for', '10'], '--for'],
    [['drain', 'shop', 'a', '--for', 'soon'], '--for'],
    [['weight', 'shop', 'a', '10001'], 'weight'],
    [['weight', 'shop', 'a', 'heavy'], 'weight'],
    [['drain', 'bad name', 'a'], 'service'],
    [['drain', 'shop', 'a/b'], 'instance'],
    [['drain', 'shop', 'a', '--reason', 'r'.repeat(513)], '--reason'],
  ])('%j exits 2 naming %s, writing nothing', async (args, flag) => {
    const r = await admin(args);
    expect({ code: r.code, stdout: r.stdout }).toEqual({ code: 2, stdout: '' });
    expect(r.stderr).toContain(flag);
    expect(await kv.getAll().prefix('/lookaside/overrides/').keys()).toEqual([]);
  });

  it('without the admin token it fails with UNAUTHENTICATED and writes nothing', async () => {
    const r = await admin(['drain', 'shop', 'a'], null);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/SetOverride on .* failed: UNAUTHENTICATED/);
    expect(await kv.getAll().prefix('/lookaside/overrides/').keys()).toEqual([]);
  });
});
