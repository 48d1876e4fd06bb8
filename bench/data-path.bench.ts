import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { installLookaside } from '../client-sdk';
import { startEtcd } from '../etcd/etcd-process';
import type { GreeterClient } from '../proto/gen/helloworld/Greeter';
import { loadProtos } from '../proto/protos';
import { BenchChild } from './bench-child';
import { loadAverage1m, ratio, writeBenchResult, type Figure } from './bench-result';
import { median, summarize, type LatencySummary } from './sample-stats';

/**
 * Data-path benchmark (issue 4): unary helloworld calls through `lookaside://` (SDK resolver +
 * lookaside_wrr) against grpc-js's own round_robin over a static `ipv4:` list of the same two
 * backends, at client concurrency 1 and 64. Backends and the LB server run in child processes,
 * so this process measures only the client. Runs alternate a, b, a, b …; figures are medians.
 */

const SERVICE = 'greeter';
const CONCURRENCIES = [1, 64] as const;
const RUN_MS = 1500;
const WARMUP_MS = 1500;
const ROUNDS = 21;
const CALL_DEADLINE_MS = 5000;
/** Bounds every run's sample buffer (and so its loop). */
const MAX_CALLS_PER_RUN = 2_000_000;
const THROUGHPUT_TARGET = 0.97;
const P50_TARGET = 1.03;

type ArmName = 'lookaside' | 'round_robin';
interface Arm {
  readonly name: ArmName;
  readonly client: GreeterClient;
}

interface RunFigures {
  readonly callsPerSecond: number;
  readonly calls: number;
  readonly failures: number;
  /** Latency in milliseconds. */
  readonly latency: LatencySummary;
  /** Calls answered per reply text ("Hello bench from <backend>"), i.e. per backend. */
  readonly byBackend: Record<string, number>;
}

/** `concurrency` workers calling SayHello back to back for `durationMs`. */
async function runLoad(client: GreeterClient, concurrency: number, durationMs: number): Promise<RunFigures> {
  const latencies = new Float64Array(MAX_CALLS_PER_RUN);
  let calls = 0;
  let failures = 0;
  const perReply = new Map<string, number>();
  const start = performance.now();
  const end = start + durationMs;
  const request = { name: 'bench' };
  const oneCall = (): Promise<void> =>
    new Promise<void>((resolve) => {
      const t0 = performance.now();
      client.SayHello(request, { deadline: Date.now() + CALL_DEADLINE_MS }, (err, reply) => {
        const t1 = performance.now();
        if (err || !reply) failures++;
        else {
          if (calls < MAX_CALLS_PER_RUN) latencies[calls] = t1 - t0;
          calls++;
          perReply.set(reply.message, (perReply.get(reply.message) ?? 0) + 1);
        }
        resolve();
      });
    });
  const worker = async (): Promise<void> => {
    while (performance.now() < end && calls + failures < MAX_CALLS_PER_RUN) await oneCall();
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const elapsed = performance.now() - start;
  return {
    callsPerSecond: (calls / elapsed) * 1000,
    calls,
    failures,
    latency: summarize(latencies.subarray(0, Math.min(calls, MAX_CALLS_PER_RUN))),
    byBackend: Object.fromEntries(perReply),
  };
}

/** Waits until `client` has answered from every one of `backends`, or throws at the deadline. */
async function untilBothBackendsAnswer(
  arm: Arm,
  backends: readonly string[],
  timeoutMs: number,
): Promise<void> {
  const seen = new Set<string>();
  const deadline = Date.now() + timeoutMs;
  while (seen.size < backends.length) {
    if (Date.now() > deadline) {
      throw new Error(
        `${arm.name}: only ${[...seen].join(', ') || 'no backend'} answered within ${timeoutMs} ms`,
      );
    }
    const reply = await new Promise<string | undefined>((resolve) => {
      arm.client.SayHello(
        { name: 'probe' },
        new grpc.Metadata({ waitForReady: true }),
        { deadline: Date.now() + CALL_DEADLINE_MS },
        (err, r) => resolve(err ? undefined : r?.message),
      );
    });
    if (reply !== undefined) seen.add(reply.slice(reply.lastIndexOf(' from ') + 6));
  }
}

async function main(): Promise<void> {
  const startedAt = new Date();
  const loadAtStart = loadAverage1m();
  const etcd = await startEtcd();
  const children: BenchChild[] = [];
  const arms: Arm[] = [];
  try {
    const greeterModule = path.join(__dirname, 'greeter-process.js');
    const lbModule = path.join(__dirname, 'lb-server-process.js');
    const greeters = await Promise.all(
      [0, 1].map(() => BenchChild.start(greeterModule, { etcd: etcd.endpoints, service: SERVICE })),
    );
    children.push(...greeters);
    const lb = await BenchChild.start(lbModule, { etcd: etcd.endpoints });
    children.push(lb);
    const backends = greeters.map((g) => g.address);

    installLookaside();
    const { Greeter } = loadProtos().helloworld;
    const insecure = grpc.credentials.createInsecure();
    // Own subchannel pools: the two arms must not share connections.
    const common: grpc.ChannelOptions = { 'grpc.use_local_subchannel_pool': 1, 'grpc.enable_http_proxy': 0 };
    arms.push({
      name: 'lookaside',
      client: new Greeter(`lookaside://${lb.address}/${SERVICE}`, insecure, common),
    });
    arms.push({
      name: 'round_robin',
      client: new Greeter(`ipv4:${backends.join(',')}`, insecure, {
        ...common,
        'grpc.service_config': JSON.stringify({ loadBalancingConfig: [{ round_robin: {} }] }),
      }),
    });
    for (const arm of arms) await untilBothBackendsAnswer(arm, backends, 15_000);

    const runs: Record<string, Record<ArmName, RunFigures[]>> = {};
    for (const concurrency of CONCURRENCIES) {
      for (const arm of arms) await runLoad(arm.client, concurrency, WARMUP_MS);
      const perArm: Record<ArmName, RunFigures[]> = { lookaside: [], round_robin: [] };
      for (let r = 0; r < ROUNDS; r++) {
        for (const arm of arms) perArm[arm.name].push(await runLoad(arm.client, concurrency, RUN_MS));
      }
      runs[String(concurrency)] = perArm;
      const tp = (a: ArmName): number => median(perArm[a].map((x) => x.callsPerSecond));
      console.log(
        `data-path: concurrency ${concurrency}: lookaside ${tp('lookaside').toFixed(0)}/s, ` +
          `round_robin ${tp('round_robin').toFixed(0)}/s`,
      );
    }

    const figures: Figure[] = [];
    const pairedNotes: string[] = [];
    let failures = 0;
    for (const concurrency of CONCURRENCIES) {
      const perArm = runs[String(concurrency)];
      for (const a of ['lookaside', 'round_robin'] as const)
        for (const x of perArm[a]) failures += x.failures;
      const m = (a: ArmName, f: (x: RunFigures) => number): number => median(perArm[a].map(f));
      const tpA = m('lookaside', (x) => x.callsPerSecond);
      const tpB = m('round_robin', (x) => x.callsPerSecond);
      const p50A = m('lookaside', (x) => x.latency.p50);
      const p50B = m('round_robin', (x) => x.latency.p50);
      const p99A = m('lookaside', (x) => x.latency.p99);
      const p99B = m('round_robin', (x) => x.latency.p99);
      const paired = median(
        perArm.lookaside.map((x, i) => ratio(x.callsPerSecond, perArm.round_robin[i].callsPerSecond)),
      );
      pairedNotes.push(`concurrency ${concurrency}: ${paired.toFixed(3)}`);
      figures.push(
        {
          label: `throughput, concurrency ${concurrency}`,
          unit: 'calls/s',
          value: tpA,
          baseline: tpB,
          ratio: ratio(tpA, tpB),
          target: { text: `≥ ${THROUGHPUT_TARGET}× baseline`, met: ratio(tpA, tpB) >= THROUGHPUT_TARGET },
        },
        {
          label: `p50 latency, concurrency ${concurrency}`,
          unit: 'ms',
          value: p50A,
          baseline: p50B,
          ratio: ratio(p50A, p50B),
          target: { text: `≤ ${P50_TARGET}× baseline`, met: ratio(p50A, p50B) <= P50_TARGET },
        },
        {
          label: `p99 latency, concurrency ${concurrency}`,
          unit: 'ms',
          value: p99A,
          baseline: p99B,
          ratio: ratio(p99A, p99B),
        },
      );
    }
    const file = writeBenchResult({
      name: 'data-path',
      title: 'Data path: unary helloworld, 2 backends',
      subject: 'lookaside:// (SDK resolver + lookaside_wrr, client stats on)',
      baseline: 'grpc-js round_robin over a static ipv4: list of the same backends',
      startedAt: startedAt.toISOString(),
      durationMs: Date.now() - startedAt.getTime(),
      loadAverage: { start: loadAtStart, end: loadAverage1m() },
      settings: {
        backends: backends.length,
        concurrencies: CONCURRENCIES.join(','),
        runMs: RUN_MS,
        warmupMs: WARMUP_MS,
        rounds: ROUNDS,
        order: 'interleaved a, b, a, b …',
      },
      figures,
      notes: [
        'Greeters (one per child process) and the LB server run outside the measured process; all on loopback.',
        'Each figure is the median over the rounds; p50/p99 are exact percentiles of each run’s samples.',
        `Failed calls over all runs: ${failures}.`,
        `Median of the per-round throughput ratios (each a run of a over the run of b after it): ${pairedNotes.join(', ')}.`,
        'On 2 cores the client, both greeters, the LB server and etcd share the CPUs; the ratio is the figure to read.',
      ],
      runs,
    });
    console.log(`data-path: wrote ${file}`);
  } finally {
    for (const arm of arms) arm.client.close();
    await Promise.all(children.map((c) => c.close()));
    await etcd.close();
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error('data-path: failed:', err);
    process.exit(1);
  },
);
