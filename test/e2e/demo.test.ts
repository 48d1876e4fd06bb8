import { existsSync, readFileSync } from 'node:fs';
import { newMarker, processesWithMarker, runCli, spawnCli } from '../support/cli';
import { waitFor } from '../support/wait-for';

/** `lookaside demo`, run as a user runs it, in its short form. */
describe('lookaside demo', () => {
  const marker = newMarker();

  afterAll(async () => {
    await waitFor('no demo process left running', () => processesWithMarker(marker).length === 0, {
      timeoutMs: 10_000,
    });
  });

  it('shows calls spread over both backends, a weighted join and a kill with lease expiry, and exits 0', async () => {
    const r = await runCli(['demo', '--calls', '60', '--pace-ms', '0', '--ttl', '2'], marker, {
      timeoutMs: 100_000,
      env: { ETCD_ENDPOINTS: undefined },
    });
    const out = r.stdout;
    expect({ code: r.code, stderr: r.stderr.slice(-2000) }).toMatchObject({ code: 0 });
    expect(out).toMatch(/ok: calls spread over both backends/);
    expect(out).toMatch(/a third instance joins: 127\.0\.0\.1:\d+ with weight 300/);
    expect(out).toMatch(/its first call arrived \d+ ms after it registered/);
    expect(out).toMatch(/ok: the new instance took its share/);
    expect(out).toMatch(/reports NOT_SERVING on grpc\.health\.v1/);
    expect(out).toMatch(/ok: an unhealthy instance lost its traffic with no client change, and got it back/);
    expect(out).toMatch(/lease expired after [\d.]+ s: the LB server removed 127\.0\.0\.1:\d+/);
    expect(out).toMatch(/ok: the killed instance is gone and calls keep succeeding/);
    expect(out).toMatch(/\$ lookaside admin service greeter/);
    expect(out).toMatch(/summary: \d+ calls in [\d.]+ s, \d+ succeeded/);
    expect(out).toMatch(/etcd stopped and its temporary data dir removed/);
  }, 120_000);

  it('on Ctrl-C (SIGINT) stops everything it started, removes its etcd data dir and exits 130', async () => {
    const demo = spawnCli(['demo', '--calls', '100000', '--pace-ms', '5', '--ttl', '2'], marker, {
      ETCD_ENDPOINTS: undefined,
    });
    await demo.waitForOutput(/the client calls lookaside:\/\//, 60_000);
    const dataDirs = processesWithMarker(marker)
      .flatMap((pid) => readFileSync(`/proc/${pid}/cmdline`, 'latin1').split('\0'))
      .filter((arg) => arg.startsWith('--data-dir='))
      .map((arg) => arg.slice('--data-dir='.length));
    expect(dataDirs).toHaveLength(1);
    expect(existsSync(dataDirs[0])).toBe(true);
    const r = await demo.stop('SIGINT', 20_000);
    expect(r.code).toBe(130);
    expect(r.stdout).toMatch(/interrupted: stopping everything the demo started/);
    expect(existsSync(dataDirs[0])).toBe(false);
    await waitFor('no demo process left running', () => processesWithMarker(marker).length === 0, {
      timeoutMs: 10_000,
    });
  }, 90_000);
});
