import * as net from 'node:net';
import { freePort } from '../../etcd/etcd-process';
import { TestEtcd } from '../support/etcd';
import { newMarker, processesWithMarker, runCli, spawnCli, type CliProcess } from '../support/cli';
import { scrapeMetric } from '../support/scrape-metric';
import { waitFor } from '../support/wait-for';
import { BalanceLoadProbe } from '../integration/lb-server/balance-load-probe';

interface ClientJson {
  calls: number;
  succeeded: number;
  failed: number;
  byBackend: Record<string, number>;
}

/** The CLI's processes started separately, as an operator would: lb-server, demo-service, demo-client. */
describe('lookaside CLI processes', () => {
  const marker = newMarker();
  let etcd: TestEtcd;
  const started: CliProcess[] = [];

  beforeAll(async () => {
    etcd = await TestEtcd.start();
  });

  /** Starts an lb-server and two demo-services (with `serviceArgs`) as processes, all registered. */
  async function fleet(serviceArgs: readonly string[]) {
    const etcdUrls = etcd.endpoints.join(',');
    const lbPort = await freePort();
    const lb = spawnCli(['lb-server', '--etcd', etcdUrls, '--listen', `127.0.0.1:${lbPort}`], marker);
    started.push(lb);
    const ports = [await freePort(), await freePort()];
    const services = ports.map((p) =>
      spawnCli(['demo-service', '--etcd', etcdUrls, '--port', String(p), ...serviceArgs], marker),
    );
    started.push(...services);
    for (const s of services) await s.waitForOutput(/"event":"registered"/);
    return { lb, lbPort, ports, services };
  }

  afterAll(async () => {
    await Promise.all(started.map((p) => p.stop('SIGKILL')));
    await etcd.close();
    await waitFor('no CLI process left running', () => processesWithMarker(marker).length === 0, {
      timeoutMs: 10_000,
    });
  });

  it('lb-server, two demo-services and demo-client --json: both backends serve calls; SIGTERM stops each cleanly', async () => {
    const { lb, lbPort, ports, services } = await fleet(['--ttl', '5']);

    const r = await runCli(
      ['demo-client', '--lb', `127.0.0.1:${lbPort}`, '--calls', '200', '--json'],
      marker,
      { timeoutMs: 30_000 },
    );
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
    const out = JSON.parse(r.stdout) as ClientJson;
    expect(out.succeeded).toBe(200);
    expect(out.failed).toBe(0);
    for (const p of ports) expect(out.byBackend[`127.0.0.1:${p}`]).toBeGreaterThan(50);

    for (const s of services) {
      const exit = await s.stop('SIGTERM');
      expect(exit.code).toBe(0);
      expect(exit.stderr).toMatch(/"event":"stopped"/);
    }
    // Their records are gone at once (lease revoked), not after the TTL.
    const kv = etcd.client();
    expect(await kv.getAll().prefix('/lookaside/services/greeter/').keys()).toEqual([]);
    const lbExit = await lb.stop('SIGTERM');
    expect(lbExit.code).toBe(0);
  }, 90_000);

  it('demo-client, a process shorter than the report interval: its calls reach the LB server before it exits', async () => {
    const etcdUrls = etcd.endpoints.join(',');
    const [lbPort, metricsPort, port] = [await freePort(), await freePort(), await freePort()];
    const lb = spawnCli(
      [
        ...['lb-server', '--etcd', etcdUrls, '--listen', `127.0.0.1:${lbPort}`],
        ...['--client-stats-interval-ms', '600000', '--metrics-listen', `127.0.0.1:${metricsPort}`],
      ],
      marker,
    );
    const service = spawnCli(
      ['demo-service', '--etcd', etcdUrls, '--port', String(port), '--service', 'brief'],
      marker,
    );
    started.push(lb, service);
    await service.waitForOutput(/"event":"registered"/);
    const r = await runCli(
      ['demo-client', '--lb', `127.0.0.1:${lbPort}`, '--service', 'brief', '--calls', '7'],
      marker,
      {
        timeoutMs: 30_000,
      },
    );
    expect(r.code).toBe(0);
    const series = `lookaside_client_calls_total{service="brief",backend="127.0.0.1:${port}",result="succeeded"}`;
    expect(await scrapeMetric(`127.0.0.1:${metricsPort}`, series)).toBe(7);
    await service.stop('SIGTERM');
    await lb.stop('SIGTERM');
  });

  it('kill -USR2 flips a demo-service to NOT_SERVING: the LB server sends it no calls, and back', async () => {
    const { lbPort, ports, services } = await fleet(['--service', 'flip']);
    const calls = async (): Promise<ClientJson> => {
      const r = await runCli(
        ['demo-client', '--lb', `127.0.0.1:${lbPort}`, '--service', 'flip', '--calls', '100', '--json'],
        marker,
        { timeoutMs: 30_000 },
      );
      expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
      return JSON.parse(r.stdout) as ClientJson;
    };
    const [sick, well] = ports.map((p) => `127.0.0.1:${p}`);
    services[0].child.kill('SIGUSR2');
    await services[0].waitForOutput(/"status":"NOT_SERVING"/);
    const admin = async (): Promise<string> =>
      (
        await runCli(['admin', 'service', 'flip', '--lb', `127.0.0.1:${lbPort}`], marker, {
          timeoutMs: 20_000,
        })
      ).stdout;
    await waitFor('the admin view shows it unhealthy', async () =>
      new RegExp(`${sick.replace(/\./g, '\\.')}\\s.*unhealthy\\s+not-serving`).test(await admin()),
    );
    const out = await calls();
    expect(out.succeeded).toBe(100);
    expect(out.byBackend[sick]).toBeUndefined();
    expect(out.byBackend[well]).toBe(100);

    services[0].child.kill('SIGUSR2');
    await services[0].waitForOutput(/"status":"SERVING"/);
    await waitFor('the admin view shows it serving again', async () =>
      new RegExp(`${sick.replace(/\./g, '\\.')}\\s.*serving\\s+serving`).test(await admin()),
    );
    expect((await calls()).byBackend[sick]).toBeGreaterThan(20);
  }, 90_000);

  it('admin service NAME for a name the LB server does not know exits 1 saying so, with or without --json', async () => {
    const lbPort = await freePort();
    const lb = spawnCli(
      ['lb-server', '--etcd', etcd.endpoints.join(','), '--listen', `127.0.0.1:${lbPort}`],
      marker,
    );
    started.push(lb);
    await lb.waitForOutput(/"event":"etcd_synced"/);
    for (const extra of [[], ['--json']]) {
      const r = await runCli(
        ['admin', 'service', 'nosuch', '--lb', `127.0.0.1:${lbPort}`, ...extra],
        marker,
        {
          timeoutMs: 20_000,
        },
      );
      expect({ extra, code: r.code, stdout: r.stdout }).toEqual({ extra, code: 1, stdout: '' });
      expect(r.stderr).toBe(
        `lookaside: LB server 127.0.0.1:${lbPort} knows no service "nosuch": nothing is registered under ` +
          'that name and no client asked for it (lookaside admin services lists the ones it knows)\n',
      );
    }
    await lb.stop('SIGTERM');
  });

  it('admin clients on either of two lb-servers lists the clients of both with the replica that serves each; admin service shows the config from etcd', async () => {
    const ports = [await freePort(), await freePort()];
    const lbs = ['lb-a', 'lb-b'].map((id, i) =>
      spawnCli(
        [
          'lb-server',
          '--etcd',
          etcd.endpoints.join(','),
          '--listen',
          `127.0.0.1:${ports[i]}`,
          '--replica-id',
          id,
          '--client-flush-ms',
          '50',
        ],
        marker,
      ),
    );
    started.push(...lbs);
    for (const lb of lbs) await lb.waitForOutput(/"event":"etcd_synced"/);
    const probes = [
      BalanceLoadProbe.open(`127.0.0.1:${ports[0]}`, 'pop', 'client-on-a'),
      BalanceLoadProbe.open(`127.0.0.1:${ports[1]}`, 'pop', 'client-on-b'),
    ];
    const kv = etcd.client();
    try {
      await kv.put('/lookaside/config/pop').value('{"subsetSize":2,"zoneAware":"yes"}');
      const view = async (args: string[]): Promise<string> =>
        (await runCli(['admin', ...args, '--lb', `127.0.0.1:${ports[0]}`], marker, { timeoutMs: 20_000 }))
          .stdout;
      const clients = await waitFor('both clients in the view of lb-a', async () => {
        const out = await view(['clients', 'pop']);
        return /client-on-b/.test(out) ? out : undefined;
      });
      expect(clients).toMatch(/^CLIENT\s+SERVICE\s+REPLICA\s+PROTOCOL\s+PEER\s+CONNECTED\s+ASSIGNED/);
      expect(clients).toMatch(
        /client-on-a\s+pop\s+lb-a \(this\)\s+lookaside\.v1\s+127\.0\.0\.1:\d+\s+\S+ ago\s+v\d+/,
      );
      expect(clients).toMatch(/client-on-b\s+pop\s+lb-b\s+lookaside\.v1\s+—\s+\S+ ago\s+—\s+—/);
      const service = await waitFor('the rejected config in the view', async () => {
        const out = await view(['service', 'pop']);
        return /REJECTED CONFIG/.test(out) ? out : undefined;
      });
      expect(service).toContain('config: subset-size off, zone-aware off, zone-min-endpoints 6 (defaults)');
      expect(service).toContain('REJECTED CONFIG /lookaside/config/pop: zoneAware: expected true or false');
    } finally {
      for (const p of probes) p.close();
      await kv.delete().key('/lookaside/config/pop');
      for (const lb of lbs) await lb.stop('SIGTERM');
    }
  });

  it('admin service NAME shows a second record of one address as a duplicate with share 0, and the LB server logs it', async () => {
    const lbPort = await freePort();
    const lb = spawnCli(
      ['lb-server', '--etcd', etcd.endpoints.join(','), '--listen', `127.0.0.1:${lbPort}`],
      marker,
    );
    started.push(lb);
    await lb.waitForOutput(/"event":"etcd_synced"/);
    const kv = etcd.client();
    const address = '127.0.0.1:9611';
    await kv.put('/lookaside/services/dupes/ours').value(JSON.stringify({ address, weight: 300 }));
    await kv.put(`/lookaside/services/dupes/${address}`).value(JSON.stringify({ Op: 0, Addr: address }));
    await lb.waitForOutput(/"event":"endpoint_duplicate_address"/);
    const admin = async (): Promise<string> =>
      (
        await runCli(['admin', 'service', 'dupes', '--lb', `127.0.0.1:${lbPort}`], marker, {
          timeoutMs: 20_000,
        })
      ).stdout;
    const text = await waitFor('both records in the admin view', async () => {
      const out = await admin();
      return out.includes('duplicate of ours') ? out : undefined;
    });
    const a = address.replace(/\./g, '\\.');
    expect(text).toMatch(new RegExp(`ours\\s+${a}\\s+300\\s+300\\s+100\\.0%\\s+serving`));
    expect(text).toMatch(
      new RegExp(`${a}\\s+${a}\\s+100\\s+0\\s+0\\.0%\\s+duplicate of ours\\s.*etcd-naming`),
    );
    await lb.stop('SIGTERM');
  });

  it('a taken port: lb-server and demo-service exit 1 with one line naming the address, no grpc-js line before it', async () => {
    const taken = net.createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const port = (taken.address() as net.AddressInfo).port;
    try {
      for (const args of [
        ['lb-server', '--etcd', 'http://127.0.0.1:1', '--listen', `127.0.0.1:${port}`],
        ['demo-service', '--etcd', 'http://127.0.0.1:1', '--port', String(port)],
      ]) {
        const r = await runCli(args, marker, { timeoutMs: 20_000, env: { ETCD_ENDPOINTS: undefined } });
        expect({ command: args[0], code: r.code }).toEqual({ command: args[0], code: 1 });
        expect(r.stderr).toMatch(
          new RegExp(
            `^lookaside: \\w[\\w ]* cannot listen on 127\\.0\\.0\\.1:${port}: listen EADDRINUSE[^\\n]*\\n$`,
          ),
        );
      }
    } finally {
      await new Promise<void>((resolve) => taken.close(() => resolve()));
    }
  });

  it('demo-service that cannot register exits 1 with the registrar error, without a "deregistered" line', async () => {
    const unreachable = `http://127.0.0.1:${await freePort()}`;
    const r = await runCli(['demo-service', '--etcd', unreachable, '--port', '0'], marker, {
      timeoutMs: 20_000,
      env: { ETCD_ENDPOINTS: undefined },
    });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      new RegExp(
        `lookaside: could not register: .*\\(key /lookaside/services/greeter/127\\.0\\.0\\.1:\\d+-\\w+, etcd ${unreachable.replace(/\./g, '\\.')}\\)\\n$`,
      ),
    );
    expect(r.stderr).not.toMatch(/deregistered/);
  });

  it.each([
    [['demo-service', '--etcd', 'http://127.0.0.1:2379', '--port', '70000'], '--port'],
    [
      ['demo-service', '--etcd', 'http://127.0.0.1:2379', '--port', '8181', '--fail-rate', '2'],
      '--fail-rate',
    ],
    [['demo-service', '--etcd', 'ftp://127.0.0.1:2379', '--port', '8181'], '--etcd'],
    [['demo-service', '--etcd', 'http://127.0.0.1:2379', '--port', '8181', '--weight', '-1'], '--weight'],
    [['demo-service', '--etcd', 'http://127.0.0.1:2379', '--port', '8181', '--service', 'a/b'], '--service'],
    [['demo-client', '--lb', 'nohost', '--calls', '5'], '--lb'],
    [['demo-client', '--lb', '127.0.0.1:7000', '--calls', '0'], '--calls'],
    [['lb-server', '--etcd', 'http://127.0.0.1:2379', '--listen', 'bogus'], '--listen'],
    [
      ['lb-server', '--etcd', 'http://127.0.0.1:2379', '--load-client-latency', 'median'],
      '--load-client-latency',
    ],
    [['lb-server', '--etcd', 'http://127.0.0.1:2379', '--replica-id', 'a/b'], '--replica-id'],
    [['lb-server', '--etcd', 'http://127.0.0.1:2379', '--replica-lease-ttl', '1'], '--replica-lease-ttl'],
    [['lb-server', '--etcd', 'http://127.0.0.1:2379', '--client-flush-ms', 'soon'], '--client-flush-ms'],
    [['lb-server', '--etcd', 'http://127.0.0.1:2379', '--subset-size', '-1'], '--subset-size'],
    [['lb-server', '--etcd', 'http://127.0.0.1:2379', '--zone-aware', 'maybe'], '--zone-aware'],
    [['lb-server', '--etcd', 'http://127.0.0.1:2379', '--zone-min-endpoints', '0'], '--zone-min-endpoints'],
    [['lb-server', '--etcd', 'http://127.0.0.1:2379', '--prefix', '/'], '--prefix'],
    [['admin', 'services', '--lb', '127.0.0.1:99999'], '--lb'],
    [['demo', '--ttl', '0'], '--ttl'],
  ])('%j exits non-zero naming %s', async (args, flag) => {
    const r = await runCli(args, marker, {
      timeoutMs: 20_000,
      env: { ETCD_ENDPOINTS: undefined, LOOKASIDE_LB: undefined },
    });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(flag);
  });

  it('every command has --help with examples', async () => {
    for (const cmd of ['lb-server', 'demo-service', 'demo-client', 'admin', 'demo']) {
      const r = await runCli([cmd, '--help'], marker, { timeoutMs: 20_000 });
      expect({ cmd, code: r.code }).toEqual({ cmd, code: 0 });
      expect(r.stdout).toMatch(/Examples:/);
    }
  });
});
