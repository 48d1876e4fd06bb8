import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { freePort } from '../../etcd/etcd-process';
import type { GreeterClient } from '../../proto/gen/helloworld/Greeter';
import { CliProcess, processesWithMarker, spawnCli } from '../support/cli';
import { greeterClient, sayHello } from '../support/greeter-load';
import { waitFor } from '../support/wait-for';

/**
 * The fault suite's harness: real processes on loopback (the compiled CLI, so `npm run build`
 * first), steady client load that counts every call, and a report per scenario.
 */

/** Where scenario reports go; `npm run faults` gathers them into latest.json and latest.md. */
export const RESULTS_DIR = path.resolve(__dirname, '../../faults-results');

/** True under `npm run faults`: the slow scenarios run too (else they are skipped). */
export const ALL_FAULTS = process.env.LOOKASIDE_FAULTS_ALL === '1';

/** `describe` for a slow scenario: runs under `npm run faults`, skipped in `npm test`. */
export const describeSlow: jest.Describe = ALL_FAULTS ? describe : describe.skip;

/** One failed call: its status and when it ended (ms since the load began). */
export interface FailedCall {
  readonly code: string;
  readonly details: string;
  readonly atMs: number;
}

/**
 * Steady client load through one channel: `concurrency` workers calling SayHello back to back
 * (5 s deadline each) until stop(); every call is counted: started, succeeded (per backend),
 * failed (per status). Bounded by `maxCalls`.
 */
export class CountedLoad {
  started = 0;
  succeeded = 0;
  readonly byBackend: Record<string, number> = {};
  readonly failures: FailedCall[] = [];
  readonly startedAt = Date.now();
  private inFlightNow = 0;
  private stopped = false;
  private readonly workers: Promise<void>[];

  constructor(
    readonly client: GreeterClient,
    { concurrency = 4, maxCalls = 200_000 }: { concurrency?: number; maxCalls?: number } = {},
  ) {
    this.workers = Array.from({ length: concurrency }, async () => {
      while (!this.stopped && this.started < maxCalls) {
        this.started++;
        this.inFlightNow++;
        const r = await sayHello(this.client, { deadlineMs: 5000 });
        this.inFlightNow--;
        if (r.ok) {
          this.succeeded++;
          this.byBackend[r.backend] = (this.byBackend[r.backend] ?? 0) + 1;
        } else {
          this.failures.push({
            code: grpc.status[r.code],
            details: r.details,
            atMs: Date.now() - this.startedAt,
          });
        }
      }
    });
  }

  /** Calls in flight right now. */
  inFlight(): number {
    return this.inFlightNow;
  }

  servedBy(backend: string): number {
    return this.byBackend[backend] ?? 0;
  }

  /** Waits until `n` more calls than now have succeeded. */
  async moreSucceeded(n: number, timeoutMs = 20_000): Promise<void> {
    const target = this.succeeded + n;
    await waitFor(`${n} more successful calls`, () => this.succeeded >= target, { timeoutMs });
  }

  /** Failures counted per status name. */
  failedByStatus(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const f of this.failures) out[f.code] = (out[f.code] ?? 0) + 1;
    return out;
  }

  /** Stops, waits for the calls in flight, closes the channel; returns the counts. */
  async stop(): Promise<LoadFigures> {
    this.stopped = true;
    await Promise.all(this.workers);
    this.client.close();
    return this.figures();
  }

  figures(): LoadFigures {
    return {
      callsStarted: this.started,
      callsSucceeded: this.succeeded,
      callsFailed: this.failures.length,
      failedByStatus: this.failedByStatus(),
      durationMs: Date.now() - this.startedAt,
      byBackend: { ...this.byBackend },
    };
  }
}

/** What a CountedLoad counted. */
export interface LoadFigures {
  readonly callsStarted: number;
  readonly callsSucceeded: number;
  readonly callsFailed: number;
  readonly failedByStatus: Record<string, number>;
  readonly durationMs: number;
  readonly byBackend: Record<string, number>;
}

/** Starts load on `lookaside://<lbs>/greeter` and waits until the first calls succeed. */
export async function startLoad(lbAddresses: readonly string[], concurrency = 4): Promise<CountedLoad> {
  const client = greeterClient(`lookaside://${lbAddresses.join(',')}/greeter`);
  const load = new CountedLoad(client, { concurrency });
  await load.moreSucceeded(20);
  return load;
}

/** A child process of the compiled CLI with the address it serves. */
export interface ServedProcess {
  readonly proc: CliProcess;
  readonly address: string;
  readonly port: number;
  readonly pid: number;
}

/** How often a child process is started again on a new free port after losing it to a race. */
const PORT_RACE_ATTEMPTS = 3;

/**
 * Spawns `argsFor(port)` and waits for `ready`. freePort() releases the port before the child
 * binds it, so on a busy machine another process may take it first: when no port was asked for
 * and the child exits with EADDRINUSE, it is started again on a new one (bounded).
 */
async function spawnOnPort(
  argsFor: (port: number) => string[],
  marker: string,
  ready: RegExp,
  port: number | undefined,
): Promise<ServedProcess> {
  for (let attempt = 1; ; attempt++) {
    const p = port ?? (await freePort());
    const proc = spawnCli(argsFor(p), marker);
    const outcome = await Promise.race([
      proc.waitForOutput(ready).then(() => 'ready' as const),
      proc.exited.then((r) => r),
    ]);
    if (outcome === 'ready') return { proc, address: `127.0.0.1:${p}`, port: p, pid: proc.child.pid ?? 0 };
    const lostRace = port === undefined && /EADDRINUSE/.test(outcome.stderr + outcome.stdout);
    if (!lostRace || attempt >= PORT_RACE_ATTEMPTS) {
      throw new Error(
        `${argsFor(p).join(' ')} exited (${outcome.code}):\n${outcome.stdout}\n${outcome.stderr}`,
      );
    }
  }
}

/** `lookaside lb-server` as a child process on 127.0.0.1:<port> (a free one if not given). */
export async function startLbProcess(
  etcd: readonly string[],
  marker: string,
  { port, args = [] }: { port?: number; args?: readonly string[] } = {},
): Promise<ServedProcess> {
  return spawnOnPort(
    (p) => ['lb-server', '--etcd', etcd.join(','), '--listen', `127.0.0.1:${p}`, ...args],
    marker,
    /"event":"etcd_synced"/,
    port,
  );
}

/** `lookaside demo-service` as a child process, registered in etcd. */
export async function startBackendProcess(
  etcd: readonly string[],
  marker: string,
  { port, ttl = 10, args = [] }: { port?: number; ttl?: number; args?: readonly string[] } = {},
): Promise<ServedProcess> {
  return spawnOnPort(
    (p) => ['demo-service', '--etcd', etcd.join(','), '--port', String(p), '--ttl', String(ttl), ...args],
    marker,
    /"event":"registered"/,
    port,
  );
}

/** Resident memory of a process in kB (Linux /proc), 0 if gone. */
export function rssKb(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'latin1'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

/** Stops every process (SIGKILL; they are test processes) and proves none with `marker` is left. */
export async function stopAll(procs: readonly CliProcess[], marker: string): Promise<void> {
  await Promise.all(procs.map((p) => p.stop('SIGKILL', 5000)));
  await waitFor('no process of this scenario left', () => processesWithMarker(marker).length === 0, {
    timeoutMs: 10_000,
  });
}

/** One scenario's report, as written to faults-results/<id>.json. */
export interface ScenarioReport {
  readonly id: string;
  readonly title: string;
  /** What the scenario promises (and asserts). */
  readonly promise: string;
  readonly load: LoadFigures | undefined;
  /** Scenario-specific figures (timings, counts). Reported, never asserted. */
  readonly figures: Record<string, number | string | boolean>;
  readonly finishedAt: string;
}

/** Writes a scenario's report; called at the end of a scenario, after its assertions passed. */
export function writeScenarioReport(report: Omit<ScenarioReport, 'finishedAt'>): void {
  mkdirSync(RESULTS_DIR, { recursive: true });
  const full: ScenarioReport = { ...report, finishedAt: new Date().toISOString() };
  writeFileSync(path.join(RESULTS_DIR, `${report.id}.json`), `${JSON.stringify(full, null, 2)}\n`);
}
