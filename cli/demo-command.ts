import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Command, Option } from 'commander';
import pino from 'pino';
import { installLookaside } from '../client-sdk';
import { freePort, startEtcd } from '../etcd/etcd-process';
import { startLbServer } from '../lb-server';
import { DEFAULT_DEMO_SERVICE } from '../demo-service/demo-service';
import { AdminClient } from './admin-client';
import { clientsView, serviceView, servicesView } from './admin-views';
import { callGreeter, emptyTally, greeterClient, mergeTallies, type CallTally } from './greeter-calls';
import { integerIn } from './flag-parsers';
import { tallyView } from './tally-view';

interface DemoFlags {
  calls: number;
  paceMs: number;
  ttl: number;
}

/** Raised when a step of the demo does not happen within its bound. */
export class DemoStepError extends Error {
  constructor(
    readonly step: string,
    message: string,
  ) {
    super(`${step}: ${message}`);
    this.name = 'DemoStepError';
  }
}

const SERVICE = DEFAULT_DEMO_SERVICE;
/** Each demo instance serves one call at a time, taking this long (4× while slowed). */
const SERVICE_TIME_MS = 5;

/**
 * `lookaside demo`: one command that shows lookaside working end to end on this machine, in eight
 * numbered steps (the README's "What the demo shows" lists them; a test holds the two together):
 * its own etcd (unless ETCD_ENDPOINTS is set); an LB server; two demo services (on 8181 and 8282
 * when free) as child processes and a client whose calls spread over both; a third instance joins
 * with a higher weight; one reports NOT_SERVING and loses its calls until it is SERVING again; one
 * slows down and loses share to load-aware weights; one is killed and its lease expires while
 * calls go on; the admin view. Ends with a summary. Ctrl-C stops everything it started.
 */
export function registerDemoCommand(program: Command): void {
  program
    .command('demo')
    .description('start etcd, an LB server, two demo services and a client, and narrate what happens')
    .addOption(
      new Option('--calls <n>', 'calls the client makes in each step')
        .argParser(integerIn(10, 100_000))
        .default(300),
    )
    .addOption(
      new Option('--pace-ms <ms>', 'pause between two calls of the client')
        .argParser(integerIn(0, 10_000))
        .default(5),
    )
    .addOption(
      new Option('--ttl <seconds>', 'lease TTL of the demo services (the wait after the kill)')
        .argParser(integerIn(1, 60))
        .default(5),
    )
    .addHelpText(
      'after',
      `
Examples:
  lookaside demo                              # the full tour (about half a minute)
  lookaside demo --calls 60 --pace-ms 0 --ttl 2   # short, as the tests run it
  ETCD_ENDPOINTS=http://127.0.0.1:2379 lookaside demo   # use an etcd you already run`,
    )
    .action(async (flags: DemoFlags) => {
      const demo = new DemoRun(flags);
      const onSignal = (): void => {
        say('interrupted: stopping everything the demo started ...');
        void demo.cleanup().finally(() => process.exit(130));
      };
      process.once('SIGINT', onSignal);
      process.once('SIGTERM', onSignal);
      try {
        await demo.run();
      } finally {
        await demo.cleanup();
        process.removeListener('SIGINT', onSignal);
        process.removeListener('SIGTERM', onSignal);
      }
    });
}

function say(line: string): void {
  process.stdout.write(`[demo] ${line}\n`);
}

function indent(text: string): string {
  return text
    .split('\n')
    .map((l) => `       ${l}`)
    .join('\n');
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Returns `preferred` when it is free on 127.0.0.1, else a free port; says which. */
async function portFor(preferred: number): Promise<number> {
  const net = await import('node:net');
  const free = await new Promise<boolean>((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen(preferred, '127.0.0.1', () => s.close(() => resolve(true)));
  });
  if (free) return preferred;
  const other = await freePort();
  say(`port ${preferred} is taken on this machine; using ${other} instead`);
  return other;
}

interface Instance {
  readonly address: string;
  readonly weight: number;
  readonly child: ChildProcess;
  stderr: string;
  /** While this file exists the instance serves each call 4× slower (its --slow-file). */
  readonly slowFile: string;
}

/** One run of the demo: what it started (closed by cleanup(), in reverse order) and its tallies. */
class DemoRun {
  private readonly closers: Array<() => Promise<void> | void> = [];
  private cleaning: Promise<void> | undefined;
  private total: CallTally = emptyTally();
  private readonly instances: Instance[] = [];
  private etcdUrls: string[] = [];
  private admin: AdminClient | undefined;
  /** Holds the instances' --slow-file paths; removed by cleanup(). */
  private readonly tmpDir = fs.mkdtempSync(path.join(os.tmpdir(), 'lookaside-demo-'));

  constructor(private readonly flags: DemoFlags) {}

  async run(): Promise<void> {
    const started = Date.now();
    this.closers.push(() => fs.rmSync(this.tmpDir, { recursive: true, force: true }));
    // 1. etcd
    const external = process.env.ETCD_ENDPOINTS;
    if (external) {
      this.etcdUrls = external.split(',').map((s) => s.trim());
      say(`1/8 using the etcd at ${external} (ETCD_ENDPOINTS)`);
    } else {
      say('1/8 starting a private etcd on free loopback ports ...');
      const etcd = await startEtcd();
      this.closers.push(async () => {
        await etcd.close();
        say('etcd stopped and its temporary data dir removed');
      });
      this.etcdUrls = etcd.endpoints;
      say(`    etcd is healthy at ${etcd.clientUrl}`);
    }

    // 2. LB server
    const lbPort = await portFor(7000);
    const logger = pino({ name: 'lb-server', level: process.env.LOG_LEVEL ?? 'warn' }, pino.destination(2));
    const lb = await startLbServer({
      etcd: this.etcdUrls,
      listen: `127.0.0.1:${lbPort}`,
      clientStatsIntervalMs: 1000,
      // Load-aware weights (on by default) from the instances' ORCA reports, quicker for the demo.
      orcaIntervalMs: 500,
      loadUpdateMs: 500,
      loadBlackoutMs: 1000,
      logger,
    });
    this.closers.push(() => lb.close());
    await lb.synced();
    this.admin = new AdminClient({ target: lb.address });
    this.closers.push(() => this.admin?.close());
    say(`2/8 LB server listening on ${lb.address}, watching etcd under /lookaside/services`);

    // 3. two services and a client
    const a = await this.startInstance(await portFor(8181), 100);
    const b = await this.startInstance(await portFor(8282), 100);
    say(
      `3/8 two demo services registered with a ${this.flags.ttl} s lease: ${a.address} and ${b.address} (weight 100 each)`,
    );
    installLookaside();
    const target = `lookaside://${lb.address}/${SERVICE}`;
    const client = greeterClient(target);
    this.closers.push(() => client.close());
    say(`    the client calls ${target}: it asks the LB server, then calls the backends directly`);
    const first = await this.batch(client, this.flags.calls);
    say(`    ${this.flags.calls} calls, expected about 50% / 50%:`);
    console.log(indent(tallyView(first)));
    for (const inst of [a, b]) {
      if (!first.byBackend[inst.address]) {
        throw new DemoStepError('spread', `${inst.address} served no call`);
      }
    }
    say(`ok: calls spread over both backends`);
    await sleep(this.flags.paceMs > 0 ? 1000 : 0);

    // 4. a third instance joins with a higher weight
    const c = await this.startInstance(await portFor(8383), 300);
    say(`4/8 a third instance joins: ${c.address} with weight 300 (expected share 60%)`);
    const joinedAt = Date.now();
    const seen = await this.callUntil(client, 'join', 10_000, (t) => (t.byBackend[c.address] ?? 0) > 0);
    say(`    its first call arrived ${Date.now() - joinedAt} ms after it registered (${seen.calls} calls)`);
    const second = await this.batch(client, this.flags.calls);
    say(`    ${this.flags.calls} calls, expected about 20% / 20% / 60%:`);
    console.log(indent(tallyView(second)));
    say(`ok: the new instance took its share without restarting the client`);
    await sleep(this.flags.paceMs > 0 ? 1000 : 0);

    // 5. one instance reports NOT_SERVING: the LB server's health check takes it out
    say(
      `5/8 ${b.address} reports NOT_SERVING on grpc.health.v1 (kill -USR2): the LB server's health check takes it out of the list`,
    );
    b.child.kill('SIGUSR2');
    const flippedAt = Date.now();
    await this.until(10_000, async () => {
      const svc = await this.admin?.getService(SERVICE);
      return (
        svc?.endpoints.some((e) => e.address === b.address && e.health === 'not-serving' && !e.eligible) ??
        false
      );
    });
    say(
      `    the LB server saw it ${Date.now() - flippedAt} ms later; no client was told anything but its new list`,
    );
    const sick = await this.batch(client, this.flags.calls);
    say(`    ${this.flags.calls} calls while it is NOT_SERVING, expected about 25% / 0% / 75%:`);
    console.log(indent(tallyView(sick)));
    if (sick.byBackend[b.address]) throw new DemoStepError('health', `${b.address} still got calls`);
    b.child.kill('SIGUSR2');
    const healed = await this.callUntil(client, 'health', 10_000, (t) => (t.byBackend[b.address] ?? 0) > 0);
    say(`    SERVING again: it takes calls again (${healed.calls} calls until its first)`);
    say(`ok: an unhealthy instance lost its traffic with no client change, and got it back`);
    await sleep(this.flags.paceMs > 0 ? 1000 : 0);

    // 6. one instance slows down 4×: load-aware weights move calls away, with no configuration change
    say(
      `6/8 ${c.address} slows down 4× (each call ${4 * SERVICE_TIME_MS} ms instead of ${SERVICE_TIME_MS}; touch ${c.slowFile}): its ORCA reports say so`,
    );
    fs.writeFileSync(c.slowFile, '');
    const slowedAt = Date.now();
    const weightOf = async (address: string) =>
      (await this.admin?.getService(SERVICE))?.endpoints.find((e) => e.address === address);
    let slowed = false;
    const slowBound = Date.now() + 20_000;
    while (!slowed && Date.now() < slowBound) {
      await this.batch(client, 10);
      const e = await weightOf(c.address).catch(() => undefined);
      slowed = e !== undefined && e.reasons.includes('load') && e.effectiveWeight < c.weight / 2;
    }
    if (!slowed) throw new DemoStepError('load', `${c.address}'s weight did not fall within 20 s`);
    const slowEntry = await weightOf(c.address);
    say(
      `    ${Date.now() - slowedAt} ms later its effective weight is ${slowEntry?.effectiveWeight} (registered ${c.weight}; load factor ${(slowEntry?.loadFactor ?? 1).toFixed(2)} from ORCA)`,
    );
    const slow = await this.batch(client, this.flags.calls);
    say(`    ${this.flags.calls} calls while it is slow, its share well below 60%:`);
    console.log(indent(tallyView(slow)));
    fs.rmSync(c.slowFile, { force: true });
    let recovered = false;
    const back = Date.now() + 20_000;
    while (!recovered && Date.now() < back) {
      await this.batch(client, 10);
      const e = await weightOf(c.address).catch(() => undefined);
      recovered = e !== undefined && e.effectiveWeight >= 0.8 * c.weight;
    }
    if (!recovered) throw new DemoStepError('load', `${c.address}'s weight did not come back within 20 s`);
    const backEntry = await weightOf(c.address);
    say(
      `    it keeps up again (rm ${c.slowFile}): effective weight ${backEntry?.effectiveWeight} of its registered ${c.weight}`,
    );
    say(`ok: a slow instance lost share until it kept up, with no configuration change`);
    await sleep(this.flags.paceMs > 0 ? 1000 : 0);

    // 7. kill one instance: no deregistration, its lease must expire
    say(
      `7/8 killing ${a.address} with SIGKILL: it cannot deregister, so its lease expires within ${this.flags.ttl} s`,
    );
    a.child.kill('SIGKILL');
    const killedAt = Date.now();
    const gone = this.waitForRemoval(a.address, killedAt);
    let during = emptyTally();
    let removed = false;
    void gone.then(() => (removed = true)).catch(() => undefined);
    const bound = Date.now() + (this.flags.ttl + 15) * 1000;
    while (!removed && Date.now() < bound) {
      during = mergeTallies(during, await this.batch(client, 20));
    }
    await gone;
    say(
      `    while waiting: ${during.calls} calls, ${during.succeeded} succeeded, ${during.failed} failed; ${a.address} got ${
        during.byBackend[a.address] ?? 0
      } of them`,
    );
    const third = await this.batch(client, this.flags.calls);
    say(`    ${this.flags.calls} calls after the expiry, expected about 25% / 75%:`);
    console.log(indent(tallyView(third)));
    if (third.byBackend[a.address]) throw new DemoStepError('kill', `${a.address} still got calls`);
    say(`ok: the killed instance is gone and calls keep succeeding`);

    // 8. the admin view
    say(`8/8 what operators see (lookaside admin ... --lb ${lb.address}):`);
    // The client reports its calls every second here; show the admin view once a report is in.
    await this.until(5000, async () => {
      const r = await this.admin?.listClients(SERVICE);
      return (r?.clients ?? []).some((cl) => cl.stats.length > 0);
    });
    console.log(indent(`$ lookaside admin services\n${servicesView(await this.admin.listServices())}`));
    console.log(
      indent(`$ lookaside admin service ${SERVICE}\n${serviceView(await this.admin.getService(SERVICE))}`),
    );
    console.log(
      indent(`$ lookaside admin clients ${SERVICE}\n${clientsView(await this.admin.listClients(SERVICE))}`),
    );

    const seconds = ((Date.now() - started) / 1000).toFixed(1);
    say(
      `summary: ${this.total.calls} calls in ${seconds} s, ${this.total.succeeded} succeeded, ${this.total.failed} failed` +
        (this.total.failed > 0
          ? ` (${Object.entries(this.total.failures)
              .map(([k, v]) => `${k} ${v}`)
              .join(', ')}: calls in flight on the killed instance)`
          : ''),
    );
    say(
      'summary: spread over 2 backends, a weighted join, an unhealthy instance, a slow instance, a kill with lease expiry: all observed',
    );
  }

  /** Starts `lookaside demo-service` as a child process and waits until the LB server lists it. */
  private async startInstance(port: number, weight: number): Promise<Instance> {
    const cli = path.join(__dirname, 'lookaside.js');
    const slowFile = path.join(this.tmpDir, `slow-${port}`);
    const child = spawn(
      process.execPath,
      [
        cli,
        'demo-service',
        '--etcd',
        this.etcdUrls.join(','),
        '--port',
        String(port),
        '--weight',
        String(weight),
        '--ttl',
        String(this.flags.ttl),
        // A fixed capacity (one call at a time, SERVICE_TIME_MS each), 4× slower while slowFile exists.
        '--max-concurrent',
        '1',
        '--service-time-ms',
        String(SERVICE_TIME_MS),
        '--slow-file',
        slowFile,
      ],
      { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, LOG_LEVEL: 'warn' } },
    );
    const inst: Instance = { address: `127.0.0.1:${port}`, weight, child, stderr: '', slowFile };
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (d: string) => (inst.stderr = (inst.stderr + d).slice(-4000)));
    this.instances.push(inst);
    this.closers.push(async () => {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(timer);
      }
    });
    const deadline = Date.now() + 15_000;
    for (;;) {
      if (child.exitCode !== null) {
        throw new DemoStepError(
          'start',
          `demo service on port ${port} exited (${child.exitCode}): ${inst.stderr}`,
        );
      }
      const svc = await this.admin?.getService(SERVICE).catch(() => undefined);
      if (svc?.endpoints.some((e) => e.address === inst.address)) return inst;
      if (Date.now() > deadline) {
        throw new DemoStepError(
          'start',
          `demo service on port ${port} did not register within 15 s: ${inst.stderr}`,
        );
      }
      await sleep(50);
    }
  }

  private async batch(client: ReturnType<typeof greeterClient>, calls: number): Promise<CallTally> {
    const t = await callGreeter(client, { calls, paceMs: this.flags.paceMs, deadlineMs: 5000 });
    this.total = mergeTallies(this.total, t);
    return t;
  }

  /** Calls in small batches until `done` holds for what they did, or fails at the bound. */
  private async callUntil(
    client: ReturnType<typeof greeterClient>,
    step: string,
    boundMs: number,
    done: (t: CallTally) => boolean,
  ): Promise<CallTally> {
    const deadline = Date.now() + boundMs;
    let t = emptyTally();
    while (Date.now() < deadline) {
      t = mergeTallies(t, await this.batch(client, 5));
      if (done(t)) return t;
    }
    throw new DemoStepError(step, `not observed within ${boundMs} ms`);
  }

  /** Polls `condition` until it holds; gives up quietly at the bound (the view is shown anyway). */
  private async until(boundMs: number, condition: () => Promise<boolean>): Promise<void> {
    const deadline = Date.now() + boundMs;
    while (Date.now() < deadline) {
      if (await condition().catch(() => false)) return;
      await sleep(100);
    }
  }

  /** Resolves when the LB server no longer lists `address`; prints progress every second. */
  private async waitForRemoval(address: string, since: number): Promise<void> {
    const bound = since + (this.flags.ttl + 15) * 1000;
    let lastTick = since;
    for (;;) {
      const svc = await this.admin?.getService(SERVICE).catch(() => undefined);
      if (svc && !svc.endpoints.some((e) => e.address === address)) {
        say(
          `    lease expired after ${((Date.now() - since) / 1000).toFixed(1)} s: the LB server removed ${address}`,
        );
        return;
      }
      if (Date.now() > bound)
        throw new DemoStepError('kill', `${address} was not removed within ${bound - since} ms`);
      if (Date.now() - lastTick >= 1000) {
        lastTick = Date.now();
        say(
          `    ... ${((lastTick - since) / 1000).toFixed(0)} s: the lease of ${address} is still alive; calls go on`,
        );
      }
      await sleep(100);
    }
  }

  /** Stops everything this run started, newest first. Idempotent. */
  cleanup(): Promise<void> {
    return (this.cleaning ??= (async () => {
      for (const close of this.closers.reverse()) {
        try {
          await close();
        } catch (err) {
          process.stderr.write(`demo: cleanup step failed: ${(err as Error).message}\n`);
        }
      }
    })());
  }
}
