import * as path from 'node:path';
import { BenchChild, type ChildUsage } from './bench-child';
import { loadAverage1m, ratio, writeBenchResult, type Figure } from './bench-result';
import { WatchingReplySchema, type WatchRequest } from './health-watch-process';

/**
 * Health checker scale: memory and idle CPU per checked endpoint at 1,000 and 10,000 endpoints.
 * The LB server's HealthChecker, alone in a child process, watches N grpc.health.v1 endpoints on
 * N distinct loopback ports (served by a few endpoint processes, one grpc.Server bound to many
 * ports each), against the same child holding the same N Watch streams with bare grpc-js Health
 * clients (one client per address, the checker's channel options): the floor any process pays for
 * N streams, so the ratio is what the checker's bookkeeping adds.
 */

const STEPS = [1000, 10_000] as const;
/** Endpoints per endpoint process: one listening and one accepted socket each, under `ulimit -n`. */
const PER_ENDPOINT_PROCESS = 5000;
/** Both arms open this many streams per tick (the checker's default is 50 per 100 ms). */
const OPENS_PER_TICK = 500;
const TICK_MS = 100;
const SERVING_TIMEOUT_MS = 90_000;
const SETTLE_MS = 1000;
const IDLE_MS = 5000;
/** The checker's keepalive interval, for the notes. */
const KEEPALIVE_S = 20;

type Mode = 'checker' | 'bare';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const cpuMicros = (u: ChildUsage): number => u.cpuMicros.user + u.cpuMicros.system;

interface ArmFigures {
  readonly mode: Mode;
  readonly endpoints: number;
  readonly serving: number;
  /** watch request → every stream SERVING (ms). */
  readonly allServingMs: number;
  readonly rssKiB: number;
  readonly heapKiB: number;
  /** CPU over IDLE_MS with every stream idle, µs per second per endpoint. */
  readonly idleCpuMicrosPerSecPerEndpoint: number;
}

/** One arm in a fresh child: memory before and after N streams are up, then CPU over an idle window. */
async function arm(mode: Mode, addresses: readonly string[]): Promise<ArmFigures> {
  const child = await BenchChild.start(
    path.join(__dirname, 'health-watch-process.js'),
    { mode, opensPerTick: OPENS_PER_TICK, tickMs: TICK_MS },
    { execArgv: ['--expose-gc'] },
  );
  try {
    await sleep(SETTLE_MS);
    const before = await child.usage(true);
    const request: WatchRequest = { type: 'watch', addresses: [...addresses], timeoutMs: SERVING_TIMEOUT_MS };
    const up = await child.request(request, WatchingReplySchema, SERVING_TIMEOUT_MS + 10_000);
    if (up.serving < addresses.length) {
      throw new Error(
        `${mode}: ${addresses.length - up.serving} of ${addresses.length} streams never said SERVING`,
      );
    }
    await sleep(SETTLE_MS);
    const idleFrom = await child.usage(true);
    const idleFromAt = performance.now();
    await sleep(IDLE_MS);
    const idleTo = await child.usage(false);
    const idleS = (performance.now() - idleFromAt) / 1000;
    const n = addresses.length;
    console.log(`health-checker-scale: ${mode} ${n}: every stream SERVING after ${up.ms.toFixed(0)} ms`);
    return {
      mode,
      endpoints: n,
      serving: up.serving,
      allServingMs: up.ms,
      rssKiB: (idleFrom.memory.rss - before.memory.rss) / 1024 / n,
      heapKiB: (idleFrom.memory.heapUsed - before.memory.heapUsed) / 1024 / n,
      idleCpuMicrosPerSecPerEndpoint: (cpuMicros(idleTo) - cpuMicros(idleFrom)) / idleS / n,
    };
  } finally {
    // It holds only sockets and the streams on them: a graceful close of 10,000 takes ~10 s.
    await child.kill();
  }
}

async function main(): Promise<void> {
  const startedAt = new Date();
  const loadAtStart = loadAverage1m();
  const largest = Math.max(...STEPS);
  const endpointProcesses: BenchChild[] = [];
  try {
    const addresses: string[] = [];
    for (let start = 0; start < largest; start += PER_ENDPOINT_PROCESS) {
      const count = Math.min(PER_ENDPOINT_PROCESS, largest - start);
      const p = await BenchChild.start(
        path.join(__dirname, 'health-endpoints-process.js'),
        { count },
        { readyTimeoutMs: 120_000 },
      );
      endpointProcesses.push(p);
      addresses.push(...p.address.split(','));
    }
    const runs: ArmFigures[] = [];
    const figures: Figure[] = [];
    for (const n of STEPS) {
      const subset = addresses.slice(0, n);
      const bare = await arm('bare', subset);
      const checker = await arm('checker', subset);
      runs.push(bare, checker);
      const label = n.toLocaleString('en-US');
      console.log(
        `health-checker-scale: ${label} endpoints: checker ${checker.rssKiB.toFixed(1)} KiB RSS, ` +
          `${checker.idleCpuMicrosPerSecPerEndpoint.toFixed(2)} µs/s idle per endpoint; bare ` +
          `${bare.rssKiB.toFixed(1)} KiB, ${bare.idleCpuMicrosPerSecPerEndpoint.toFixed(2)} µs/s`,
      );
      const fig = (what: string, unit: string, key: keyof ArmFigures): Figure => {
        const value = checker[key] as number;
        const baseline = bare[key] as number;
        return { label: `${what}, ${label} endpoints`, unit, value, baseline, ratio: ratio(value, baseline) };
      };
      figures.push(
        fig('memory (RSS) per endpoint', 'KiB', 'rssKiB'),
        fig('JS heap per endpoint', 'KiB', 'heapKiB'),
        fig('idle CPU per endpoint', 'µs/s', 'idleCpuMicrosPerSecPerEndpoint'),
        fig('watch → every stream SERVING', 'ms', 'allServingMs'),
      );
    }
    const file = writeBenchResult({
      name: 'health-checker-scale',
      title: 'Health checker scale: memory and idle CPU per checked endpoint',
      subject:
        'the LB server’s HealthChecker (lb-server/io/health-checker.ts) alone in a child process, one grpc.health.v1 ' +
        'Watch stream per endpoint on a connection of its own',
      baseline:
        'the same child holding the same Watch streams with bare grpc-js Health clients (one client per address, ' +
        'the checker’s channel options), no checker',
      startedAt: startedAt.toISOString(),
      durationMs: Date.now() - startedAt.getTime(),
      loadAverage: { start: loadAtStart, end: loadAverage1m() },
      settings: {
        endpoints: STEPS.join(','),
        endpointProcesses: endpointProcesses.length,
        opensPerTick: OPENS_PER_TICK,
        tickMs: TICK_MS,
        settleMs: SETTLE_MS,
        idleMs: IDLE_MS,
      },
      figures,
      notes: [
        `N distinct addresses: ${endpointProcesses.length} endpoint process(es), each one grpc.Server bound to up to ` +
          `${PER_ENDPOINT_PROCESS.toLocaleString('en-US')} free loopback ports serving grpc.health.v1 (SERVING); each ` +
          'port costs the endpoint process a listening and an accepted socket, so at most ' +
          `${PER_ENDPOINT_PROCESS.toLocaleString('en-US')} a process under the descriptor limit (ulimit -n 20,000 here).`,
        'Each arm runs in a fresh child (--expose-gc): memory is the RSS and heap growth from before the first stream ' +
          `to ${SETTLE_MS} ms after the last said SERVING, after a full GC, divided by N; idle CPU is user + system ` +
          `time over the next ${IDLE_MS / 1000} s, per second and per endpoint. The checker runs with its real clock ` +
          'and a silent logger; its endpoints are grouped 10 a service, as the LB server would sync them.',
        `Both arms open ${OPENS_PER_TICK} streams every ${TICK_MS} ms (the checker’s default is 50, so that 10,000 ` +
          'endpoints start over 20 s; raised here to keep the run short). Both use the checker’s keepalive ' +
          `(${KEEPALIVE_S} s): with streams opened in a burst, the first pings come ${KEEPALIVE_S} s after the opens, ` +
          'after the idle window, so the idle figure is timers and bookkeeping without keepalive pings ' +
          `(those add one ping per endpoint per ${KEEPALIVE_S} s to both arms).`,
        'Idle CPU is a few microseconds per second per endpoint in both arms (grpc-js’s own per-connection timers), ' +
          'and the two differ by less than the noise of a shared 2-core machine: read its ratio as "no idle cost of ' +
          'the checker’s own" rather than as a precise factor. ' +
          '10,000 endpoints fit this machine (24 GiB, ulimit -n 20,000); the checker process holds 10,000 sockets.',
      ],
      runs,
    });
    console.log(`health-checker-scale: wrote ${file}`);
  } finally {
    await Promise.all(endpointProcesses.map((p) => p.close()));
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error('health-checker-scale: failed:', err);
    process.exit(1);
  },
);
