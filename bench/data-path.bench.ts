import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { installLookaside } from '../client-sdk';
import { startEtcd } from '../etcd/etcd-process';
import type { GreeterClient } from '../proto/gen/helloworld/Greeter';
import { loadProtos } from '../proto/protos';
import { BenchChild } from './bench-child';
import { findNginx, NginxGrpcProxy, NGINX_WORKERS, nginxVersion } from './nginx-grpc-proxy';
import { loadAverage1m, ratio, writeBenchResult, type Figure } from './bench-result';
import { median, medianCi95, summarize, type LatencySummary } from './sample-stats';

/**
 * Data-path benchmark (issue 9): unary helloworld calls with 2 and with 8 backends, at client
 * concurrency 1 and 64, through
 *   a. `lookaside://` (SDK resolver + lookaside_wrr),
 *   b. grpc-js's own round_robin over a static `ipv4:` list of the same backends (the ceiling),
 *   c. nginx `grpc_pass` in front of the same backends (the proxy model; skipped when there is
 *      no nginx).
 * Backends, the LB server and nginx run outside this process, so it measures only the client.
 * Runs rotate the arm order each round (a b c, b c a, c a b …); figures are medians.
 */

const BACKEND_COUNTS = [2, 8] as const;
const MAX_BACKENDS = 8;
const serviceFor = (n: number): string => `bench-${n}`;
const CONCURRENCIES = [1, 64] as const;
const RUN_MS = 500;
const WARMUP_MS = 1000;
const ROUNDS = 27;
const CALL_DEADLINE_MS = 5000;
/** Bounds every run's sample buffer (and so its loop). */
const MAX_CALLS_PER_RUN = 2_000_000;
const THROUGHPUT_TARGET = 0.97;
const P50_TARGET = 1.03;
/** a must keep this share of b's advantage over c. */
const KEPT_TARGET = 0.97;

type ArmName = 'lookaside' | 'round_robin' | 'nginx';
const ARM_NAMES: readonly ArmName[] = ['lookaside', 'round_robin', 'nginx'];
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
async function untilEveryBackendAnswers(
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

type PerArm = Partial<Record<ArmName, RunFigures[]>>;

/** Everything measured with one backend set: runs per concurrency, per arm. */
interface SetRuns {
  readonly backends: number;
  readonly byConcurrency: Record<string, PerArm>;
}

/** Warm-up, then ROUNDS rounds of every arm at each concurrency, arm order rotated each round. */
async function measureSet(arms: readonly Arm[], backends: number): Promise<SetRuns> {
  const byConcurrency: Record<string, PerArm> = {};
  for (const concurrency of CONCURRENCIES) {
    for (const arm of arms) await runLoad(arm.client, concurrency, WARMUP_MS);
    const perArm: PerArm = {};
    for (const arm of arms) perArm[arm.name] = [];
    for (let r = 0; r < ROUNDS; r++) {
      for (let k = 0; k < arms.length; k++) {
        const arm = arms[(r + k) % arms.length];
        perArm[arm.name]?.push(await runLoad(arm.client, concurrency, RUN_MS));
      }
    }
    byConcurrency[String(concurrency)] = perArm;
    const tp = (a: ArmName): string => {
      const runs = perArm[a];
      return runs ? `${a} ${median(runs.map((x) => x.callsPerSecond)).toFixed(0)}/s` : `${a} skipped`;
    };
    console.log(
      `data-path: ${backends} backends, concurrency ${concurrency}: ${ARM_NAMES.map(tp).join(', ')}`,
    );
  }
  return { backends, byConcurrency };
}

/**
 * The share of b's advantage over c that a keeps, from the paired ratios a/c and b/c:
 * (a/c − 1) ÷ (b/c − 1) for throughput, (1 − a/c) ÷ (1 − b/c) for latency. NaN when b has no
 * advantage over c.
 */
function kept(ac: number, bc: number, higherIsBetter: boolean): number {
  const advantage = higherIsBetter ? bc - 1 : 1 - bc;
  if (!(advantage > 0)) return NaN;
  return (higherIsBetter ? ac - 1 : 1 - ac) / advantage;
}

type Metric = 'throughput' | 'p50 latency' | 'p99 latency';
const METRICS: ReadonlyArray<{
  readonly name: Metric;
  readonly unit: string;
  readonly of: (x: RunFigures) => number;
}> = [
  { name: 'throughput', unit: 'calls/s', of: (x) => x.callsPerSecond },
  { name: 'p50 latency', unit: 'ms', of: (x) => x.latency.p50 },
  { name: 'p99 latency', unit: 'ms', of: (x) => x.latency.p99 },
];

function figuresOf(set: SetRuns): { figures: Figure[]; failures: number } {
  const figures: Figure[] = [];
  let failures = 0;
  const n = set.backends;
  for (const concurrency of CONCURRENCIES) {
    const perArm = set.byConcurrency[String(concurrency)];
    for (const a of ARM_NAMES) for (const x of perArm[a] ?? []) failures += x.failures;
    const where = `${n} backends, concurrency ${concurrency}`;
    const med = (arm: ArmName, f: (x: RunFigures) => number): number => {
      const runs = perArm[arm];
      return runs ? median(runs.map(f)) : NaN;
    };
    /** x's run ÷ y's run in the same round, one per round. */
    const ratios = (x: ArmName, y: ArmName, f: (r: RunFigures) => number): number[] => {
      const xs = perArm[x];
      const ys = perArm[y];
      return xs && ys ? xs.map((r, i) => ratio(f(r), f(ys[i]))) : [];
    };
    /** Median over the rounds of the paired ratios. */
    const paired = (x: ArmName, y: ArmName, f: (r: RunFigures) => number): number => median(ratios(x, y, f));
    const pairs: ReadonlyArray<readonly [ArmName, ArmName, string]> = [
      ['lookaside', 'round_robin', 'a/b'],
      ['lookaside', 'nginx', 'a/c'],
      ['round_robin', 'nginx', 'b/c (ceiling over the proxy)'],
    ];
    for (const [x, y, name] of pairs) {
      if (!perArm[x] || !perArm[y]) continue;
      for (const metric of METRICS) {
        const r = paired(x, y, metric.of);
        const ci = medianCi95(ratios(x, y, metric.of));
        let target: Figure['target'];
        if (name === 'a/b' && metric.name === 'throughput') {
          target = { text: `≥ ${THROUGHPUT_TARGET}× baseline`, met: r >= THROUGHPUT_TARGET };
        } else if (name === 'a/b' && metric.name === 'p50 latency') {
          target = { text: `≤ ${P50_TARGET}× baseline`, met: r <= P50_TARGET };
        }
        figures.push({
          label: `${name} ${metric.name}, ${where}`,
          unit: metric.unit,
          value: med(x, metric.of),
          baseline: med(y, metric.of),
          ratio: r,
          ...(Number.isFinite(ci[0]) ? { ratioCi95: ci } : {}),
          ...(target ? { target } : {}),
        });
      }
    }
    if (!perArm.nginx) continue;
    for (const metric of METRICS.slice(0, 2)) {
      const k = kept(
        paired('lookaside', 'nginx', metric.of),
        paired('round_robin', 'nginx', metric.of),
        metric.name === 'throughput',
      );
      figures.push({
        label: `a keeps this share of b's ${metric.name} advantage over c, ${where}`,
        unit: '%',
        value: k * 100,
        target: { text: `≥ ${KEPT_TARGET * 100}%`, met: k >= KEPT_TARGET },
      });
    }
  }
  return { figures, failures };
}

async function main(): Promise<void> {
  const startedAt = new Date();
  const loadAtStart = loadAverage1m();
  const etcd = await startEtcd();
  const children: BenchChild[] = [];
  const clients: GreeterClient[] = [];
  let proxy: NginxGrpcProxy | undefined;
  const notes: string[] = [];
  try {
    const greeterModule = path.join(__dirname, 'greeter-process.js');
    const lbModule = path.join(__dirname, 'lb-server-process.js');
    // Greeters 0 and 1 serve both services; 2..7 only the 8-backend one.
    const greeters = await Promise.all(
      Array.from({ length: MAX_BACKENDS }, (_, i) =>
        BenchChild.start(
          greeterModule,
          i < BACKEND_COUNTS[0]
            ? {
                etcd: etcd.endpoints,
                service: serviceFor(BACKEND_COUNTS[0]),
                alsoServices: [serviceFor(MAX_BACKENDS)],
              }
            : { etcd: etcd.endpoints, service: serviceFor(MAX_BACKENDS) },
        ),
      ),
    );
    children.push(...greeters);
    const lb = await BenchChild.start(lbModule, { etcd: etcd.endpoints });
    children.push(lb);

    installLookaside();
    const { Greeter } = loadProtos().helloworld;
    const insecure = grpc.credentials.createInsecure();
    // Own subchannel pools: the arms must not share connections.
    const common: grpc.ChannelOptions = { 'grpc.use_local_subchannel_pool': 1, 'grpc.enable_http_proxy': 0 };
    const nginx = findNginx();
    if (nginx === undefined) {
      notes.push('**c skipped**: no nginx binary (install Debian’s `nginx` to get the proxy row).');
      console.log('data-path: no nginx found; the proxy row (c) is skipped');
    } else {
      notes.push(
        `c: ${nginxVersion(nginx)}, worker_processes ${NGINX_WORKERS} (the client opens one HTTP/2 connection, ` +
          'which one worker serves whatever the count; one event loop like each Node process), upstream ' +
          '`keepalive 256` and unlimited keepalive_requests on both sides, access_log off, round robin upstream; ' +
          'the client reaches it with grpc-js’s default pick_first over one connection.',
      );
    }

    const sets: SetRuns[] = [];
    for (const n of BACKEND_COUNTS) {
      const backends = greeters.slice(0, n).map((g) => g.address);
      const arms: Arm[] = [
        {
          name: 'lookaside',
          client: new Greeter(`lookaside://${lb.address}/${serviceFor(n)}`, insecure, common),
        },
        {
          name: 'round_robin',
          client: new Greeter(`ipv4:${backends.join(',')}`, insecure, {
            ...common,
            'grpc.service_config': JSON.stringify({ loadBalancingConfig: [{ round_robin: {} }] }),
          }),
        },
      ];
      if (nginx !== undefined) {
        try {
          proxy = await NginxGrpcProxy.start(nginx, backends);
          arms.push({ name: 'nginx', client: new Greeter(`ipv4:${proxy.address}`, insecure, common) });
        } catch (err) {
          const why = err instanceof Error ? err.message : String(err);
          notes.push(`**c skipped with ${n} backends**: nginx did not start (${why}).`);
          console.log(`data-path: nginx did not start (${why}); the proxy row is skipped`);
        }
      }
      clients.push(...arms.map((a) => a.client));
      for (const arm of arms) await untilEveryBackendAnswers(arm, backends, 15_000);
      sets.push(await measureSet(arms, n));
      for (const arm of arms) arm.client.close();
      await proxy?.close();
      proxy = undefined;
    }

    const figures: Figure[] = [];
    let failures = 0;
    for (const set of sets) {
      const f = figuresOf(set);
      figures.push(...f.figures);
      failures += f.failures;
    }
    const file = writeBenchResult({
      name: 'data-path',
      title: 'Data path: unary helloworld, 2 and 8 backends, lookaside vs round_robin vs nginx',
      subject: 'a = lookaside:// (SDK resolver + lookaside_wrr, client stats on)',
      baseline:
        'b = grpc-js round_robin over a static ipv4: list of the same backends (rows "a/b"); ' +
        'c = nginx grpc_pass in front of the same backends (rows "a/c"); "b/c" rows show the ceiling over the proxy',
      startedAt: startedAt.toISOString(),
      durationMs: Date.now() - startedAt.getTime(),
      loadAverage: { start: loadAtStart, end: loadAverage1m() },
      settings: {
        backends: BACKEND_COUNTS.join(','),
        concurrencies: CONCURRENCIES.join(','),
        runMs: RUN_MS,
        warmupMs: WARMUP_MS,
        rounds: ROUNDS,
        order: 'rotated each round: a b c, b c a, c a b …',
      },
      figures,
      notes: [
        'Greeters (one per child process), the LB server and nginx run outside the measured process; all on loopback.',
        'Value and baseline: medians over the rounds; p50/p99 are exact percentiles of each run’s samples. ' +
          'Ratio: the median of the per-round ratios (each run over the other arm’s run in the same round, ' +
          'adjacent in time), which cancels most of the load that other work puts on the machine; in ' +
          'brackets a distribution-free 95% confidence interval of that median (order statistics).',
        '"a keeps X% of b’s advantage over c" = (a/c − 1) ÷ (b/c − 1) for throughput, (1 − a/c) ÷ (1 − b/c) ' +
          'for p50, from the paired ratios; 100% means the SDK costs nothing over the static list; "–" when b ' +
          'has no advantage over c.',
        ...notes,
        `Failed calls over all runs: ${failures}.`,
        'On 2 cores the client, the greeters, the LB server, nginx and etcd share the CPUs; the ratio is the figure to read.',
      ],
      runs: sets,
    });
    console.log(`data-path: wrote ${file}`);
  } finally {
    for (const c of clients) c.close();
    await proxy?.close();
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
