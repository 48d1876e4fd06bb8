import * as http from 'node:http';
import * as https from 'node:https';
import * as grpc from '@grpc/grpc-js';
import { freePort } from '../../etcd/etcd-process';
import { BalanceLoadProbe } from '../integration/lb-server/balance-load-probe';
import { newMarker, processesWithMarker, runCli, spawnCli, type CliProcess } from '../support/cli';
import { TestEtcd } from '../support/etcd';
import { TestCerts } from '../support/test-certs';
import { waitFor } from '../support/wait-for';

function getText(url: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { timeout: 5000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve(body));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

/** `lookaside lb-server` and `lookaside demo-service` configured for production, as an operator runs them. */
describe('lookaside CLI in production mode', () => {
  const marker = newMarker();
  let certs: TestCerts;
  let etcd: TestEtcd;
  const started: CliProcess[] = [];

  beforeAll(async () => {
    certs = TestCerts.create();
    certs.server('lb');
    certs.server('greeter', ['greeter']);
    certs.client('app');
    certs.server('other', []); // a key that does not fit lb.pem
    etcd = await TestEtcd.start();
  });

  afterAll(async () => {
    await Promise.all(started.map((p) => p.stop('SIGKILL')));
    await etcd?.close();
    certs?.cleanup();
    await waitFor('no CLI process left running', () => processesWithMarker(marker).length === 0);
  });

  it('lb-server with mTLS and metrics from the environment serves lists to an mTLS client; a TLS demo-service registers', async () => {
    const d = certs.dir;
    const lbPort = await freePort();
    const metricsPort = await freePort();
    const lb = spawnCli(
      ['lb-server', '--etcd', etcd.endpoints.join(','), '--listen', `127.0.0.1:${lbPort}`],
      marker,
      {
        LOOKASIDE_TLS_CERT: `${d}/lb.pem`,
        LOOKASIDE_TLS_KEY: `${d}/lb-key.pem`,
        LOOKASIDE_TLS_CLIENT_CA: certs.ca.certFile,
        LOOKASIDE_METRICS_LISTEN: `127.0.0.1:${metricsPort}`,
      },
    );
    started.push(lb);
    const listening = await lb.waitForOutput(/"event":"lb_server_listening".*/);
    expect(listening[0]).toMatch(/"tls":true,"mtls":true/);
    // The console is on by default, over HTTPS on the metrics port, with the LB certificate.
    expect(listening[0]).toContain(`"console":"https://127.0.0.1:${metricsPort}/ui/"`);
    const consolePage = await new Promise<number>((resolve, reject) => {
      https
        .get(`https://127.0.0.1:${metricsPort}/ui/`, { ca: certs.ca.cert, timeout: 5000 }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        })
        .on('error', reject);
    });
    expect(consolePage).toBe(200);
    const svc = spawnCli(
      ['demo-service', '--etcd', etcd.endpoints.join(','), '--port', '0', '--ttl', '5'],
      marker,
      { LOOKASIDE_TLS_CERT: `${d}/greeter.pem`, LOOKASIDE_TLS_KEY: `${d}/greeter-key.pem` },
    );
    started.push(svc);
    await svc.waitForOutput(/"event":"registered".*"address"/);

    const app = certs.client('app');
    // TLS clients dial the LB server by the name its certificate carries: dialing its IP makes
    // grpc-js send the IP as the TLS server name, and Node print a deprecation warning (DEP0123).
    const lbByName = `localhost:${lbPort}`;
    const probe = BalanceLoadProbe.open(
      lbByName,
      'greeter',
      '',
      '',
      grpc.credentials.createSsl(certs.ca.cert, app.key, app.cert),
    );
    try {
      await waitFor('a list over mTLS', () => probe.last?.servers.length === 1);
      const metrics = await getText(`http://127.0.0.1:${metricsPort}/metrics`);
      expect(metrics).toMatch(/^lookaside_streams\{service="greeter"\} 1$/m);
    } finally {
      probe.close();
    }
    const tlsFlags = ['--lb-ca', certs.ca.certFile, '--lb-cert', app.certFile, '--lb-key', app.keyFile];
    const calls = await runCli(
      [
        'demo-client',
        '--lb',
        lbByName,
        '--calls',
        '20',
        '--json',
        ...tlsFlags,
        '--backend-ca',
        certs.ca.certFile,
      ],
      marker,
      { timeoutMs: 30_000 },
    );
    expect({ code: calls.code, stderr: calls.stderr }).toEqual({ code: 0, stderr: '' });
    expect((JSON.parse(calls.stdout) as { succeeded: number }).succeeded).toBe(20);
    const admin = await runCli(['admin', 'services', '--lb', lbByName, '--json', ...tlsFlags], marker, {
      timeoutMs: 20_000,
    });
    expect({ code: admin.code, stderr: admin.stderr }).toEqual({ code: 0, stderr: '' });
    expect(admin.stdout).toContain('"greeter"');
    const refused = await runCli(
      ['admin', 'services', '--lb', lbByName, '--lb-ca', certs.ca.certFile],
      marker,
      {
        timeoutMs: 20_000,
      },
    );
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/UNAVAILABLE/);
    expect((await svc.stop('SIGTERM')).code).toBe(0);
    expect((await lb.stop('SIGTERM')).code).toBe(0);
  }, 60_000);

  it('never logs the etcd password', async () => {
    const lb = spawnCli(
      ['lb-server', '--etcd', etcd.endpoints.join(','), '--listen', '127.0.0.1:0'],
      marker,
      {
        ETCD_USER: 'lookaside',
        ETCD_PASSWORD: 'hunter2-secret',
      },
    );
    started.push(lb);
    // This etcd has auth off, so authentication fails: the failure is logged, the password is not.
    await lb.waitForOutput(/"event":"etcd_(auth|sync)_failed"/);
    const exit = await lb.stop('SIGTERM');
    expect(exit.stderr).toContain('"etcdUser":"lookaside"');
    expect(exit.stderr + exit.stdout).not.toContain('hunter2-secret');
  }, 30_000);

  it.each([
    [['--tls-cert', '/nonexistent/cert.pem', '--tls-key', '/nonexistent/key.pem'], '--tls-cert'],
    [['--tls-cert', 'DIR/lb.pem'], '--tls-key'],
    [['--tls-cert', 'DIR/lb.pem', '--tls-key', 'DIR/other-key.pem'], '--tls-key'],
    [['--tls-client-ca', 'DIR/lookaside-test-ca.pem'], '--tls-client-ca'],
    [['--metrics-listen', 'nohost'], '--metrics-listen'],
    [['--console-allow-insecure-actions', 'maybe'], '--console-allow-insecure-actions'],
    [['--console', 'sometimes'], '--console'],
    [['--etcd-ca', '/nonexistent/ca.pem'], '--etcd-ca'],
    [['--etcd-ca', 'DIR/lookaside-test-ca.pem'], '--etcd-ca'],
    [['--etcd-user', 'u'], '--etcd-password'],
    [['--health-check-ca', '/nonexistent/ca.pem'], '--health-check-ca'],
    [['--health-check-ca', 'DIR/app-key.pem'], '--health-check-ca'],
    [
      ['--health-check-ca', 'DIR/lookaside-test-ca.pem', '--health-check-cert', 'DIR/app.pem'],
      '--health-check-key',
    ],
    [['--health-check-cert', 'DIR/app.pem', '--health-check-key', 'DIR/app-key.pem'], '--health-check-cert'],
    [
      [
        '--health-check-ca',
        'DIR/lookaside-test-ca.pem',
        '--health-check-cert',
        'DIR/app.pem',
        '--health-check-key',
        'DIR/other-key.pem',
      ],
      '--health-check-key',
    ],
    [['--health-check-server-name', 'greeter'], '--health-check-server-name'],
  ])('lb-server %j exits non-zero naming %s', async (args, flag) => {
    const r = await runCli(
      [
        'lb-server',
        '--etcd',
        'http://127.0.0.1:1',
        '--listen',
        '127.0.0.1:0',
        ...args.map((a) => a.replace('DIR', certs.dir)),
      ],
      marker,
      { timeoutMs: 20_000 },
    );
    expect(r.code).not.toBe(0);
    expect(r.code).not.toBeNull();
    expect(r.stderr).toContain(flag);
  });
});
