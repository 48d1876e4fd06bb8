import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { newMarker, processesWithMarker, runCli, spawnCli } from '../support/cli';
import { waitFor } from '../support/wait-for';

/** The numbered items of the README's "What the demo shows", each joined into one line. */
function readmeDemoSteps(): string[] {
  const readme = readFileSync(path.resolve(__dirname, '../../README.md'), 'utf8');
  const start = readme.indexOf('### What the demo shows');
  const section = readme.slice(start, readme.indexOf('\n#', start + 1));
  const items: string[] = [];
  for (const line of section.split('\n')) {
    const item = /^(\d+)\. (.*)$/.exec(line);
    if (item) items.push(item[2]);
    else if (/^ {3}\S/.test(line) && items.length > 0) items[items.length - 1] += ` ${line.trim()}`;
  }
  return items;
}

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

    // The README's "What the demo shows" lists exactly the steps the demo printed, in order.
    const printed = [...out.matchAll(/^\[demo\] (\d+)\/(\d+) (.*)$/gm)].map((m) => ({
      n: Number(m[1]),
      of: Number(m[2]),
      text: m[3],
    }));
    expect(printed.map((p) => p.n)).toEqual(printed.map((_, i) => i + 1));
    expect(printed.every((p) => p.of === printed.length)).toBe(true);
    const listed = readmeDemoSteps();
    expect(listed).toHaveLength(printed.length);
    // One word or phrase each step's printed line and its README item share.
    const topics = [
      /etcd/,
      /LB server/,
      /two demo/,
      /joins/,
      /NOT_SERVING/,
      /slows down/,
      /SIGKILL/,
      /admin/,
    ];
    expect(topics).toHaveLength(printed.length);
    topics.forEach((topic, i) => {
      expect({ step: i + 1, printed: topic.test(printed[i].text) }).toEqual({ step: i + 1, printed: true });
      expect({ step: i + 1, readme: topic.test(listed[i]) }).toEqual({ step: i + 1, readme: true });
    });
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
