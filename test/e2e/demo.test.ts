import { newMarker, processesWithMarker, runCli } from '../support/cli';
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
    expect({ code: r.code, stderr: r.stderr.slice(-2000) }).toEqual({ code: 0, stderr: expect.any(String) });
    expect(out).toMatch(/ok: calls spread over both backends/);
    expect(out).toMatch(/a third instance joins: 127\.0\.0\.1:\d+ with weight 300/);
    expect(out).toMatch(/its first call arrived \d+ ms after it registered/);
    expect(out).toMatch(/ok: the new instance took its share/);
    expect(out).toMatch(/lease expired after [\d.]+ s: the LB server removed 127\.0\.0\.1:\d+/);
    expect(out).toMatch(/ok: the killed instance is gone and calls keep succeeding/);
    expect(out).toMatch(/\$ lookaside admin service greeter/);
    expect(out).toMatch(/summary: \d+ calls in [\d.]+ s, \d+ succeeded/);
    expect(out).toMatch(/etcd stopped and its temporary data dir removed/);
  }, 120_000);
});
