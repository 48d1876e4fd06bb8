import * as path from 'node:path';
import { Etcd3 } from 'etcd3';
import { startEtcd } from '../etcd/etcd-process';
import { DEFAULT_PREFIX, encodeRecordValue, recordKey } from '../common/registry-record';
import type { BackendStats } from '../proto/gen/lookaside/v1/BackendStats';
import { BalanceLoadSubscribers } from './balance-load-subscribers';
import { BenchChild, type ChildUsage } from './bench-child';
import { loadAverage1m, ratio, writeBenchResult, type Figure } from './bench-result';
import { median, summarize } from './sample-stats';
import { WatchProbe } from './watch-probe';

/**
 * LB server scale (issue 9, part 4): memory and CPU per idle BalanceLoad stream at 1,000 and
 * 5,000 streams, against a bare grpc-js server holding the same streams (the floor any gRPC
 * server pays); fan-out of one change to all of them (put → last stream), against a plain etcd
 * watch of the same puts; and the initial sync of 10,000 endpoints across 1,000 services (LB
 * process start → synced, i.e. health SERVING), against the same start with an empty registry.
 */

const SERVICE = 'scale';
const STANDING_BACKENDS = 10;
const STEPS = [1000, 5000] as const;
const STREAMS_PER_CHANNEL = 100;
const SETTLE_MS = 1000;
const IDLE_MS = 3000;
const WARMUP_PUTS = 5;
const PUTS = 20;
const GAP_MS = 30;
const PUT_TIMEOUT_MS = 10_000;
const FAN_OUT_TARGET_MS = 200;
const SYNC_PREFIX = '/bench-sync/services';
const EMPTY_PREFIX = '/bench-sync-empty/services';
const SYNC_SERVICES = 1000;
const SYNC_PER_SERVICE = 10;
const SYNC_RUNS = 3;
const PUT_BATCH = 250;
/** Load-driven updates, at LOAD_STREAMS streams: every stream reports each standing backend once a round. */
const LOAD_STREAMS = 1000;
const LOAD_ROUND_MS = 1000;
const LOAD_CALLS_PER_REPORT = 20;
const LOAD_STEADY_ROUNDS = 8;
const LOAD_FLIP_ROUNDS = 16;
/** Rounds before backend 0's reported latency flips between fast and slow. */
const LOAD_FLIP_EVERY = 3;
const LOAD_FAST_MS = 10;
const LOAD_SLOW_MS = 40;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const cpuMs = (u: ChildUsage): number => (u.cpuMicros.user + u.cpuMicros.system) / 1000;
const fmt = (n: number): string => n.toLocaleString('en-US');

interface StepFigures {
  readonly streams: number;
  readonly subscribeMs: number;
  readonly rssKiB: number;
  readonly heapKiB: number;
  /** CPU over IDLE_MS with every stream idle, µs per second per stream. */
  readonly idleCpuMicrosPerSecPerStream: number;
}

/** Per LB step: streams opened → every client record in etcd, ms. */
const populationWrittenMs: number[] = [];

/** Opens `streams` idle streams on `server`, reads its memory (after GC) and idle CPU; closes them. */
async function idleStep(
  server: BenchChild,
  service: string,
  streams: number,
  whileOpen?: (subs: BalanceLoadSubscribers) => Promise<void>,
  population?: Etcd3,
): Promise<StepFigures> {
  const before = await server.usage(true);
  const openedAt = performance.now();
  const subs = BalanceLoadSubscribers.open(
    server.address,
    service,
    streams,
    Math.ceil(streams / STREAMS_PER_CHANNEL),
  );
  try {
    if (!(await subs.untilAllHaveAList(60_000)))
      throw new Error(`not all ${streams} streams got a list in 60 s`);
    const subscribeMs = performance.now() - openedAt;
    // The LB server records its clients in etcd (the client population), at most 1,024 a flush
    // of 500 ms: the idle window starts once every record is written, so it measures idle.
    if (population) {
      const deadline = Date.now() + 60_000;
      while (Date.now() < deadline) {
        const written = await population.getAll().prefix(`/lookaside/clients/${service}/`).count();
        if (written >= streams) break;
        await sleep(100);
      }
      populationWrittenMs.push(performance.now() - openedAt);
    }
    await sleep(SETTLE_MS);
    const idleFrom = await server.usage(true);
    await sleep(IDLE_MS);
    const idleTo = await server.usage(false);
    const figures: StepFigures = {
      streams,
      subscribeMs,
      rssKiB: (idleFrom.memory.rss - before.memory.rss) / 1024 / streams,
      heapKiB: (idleFrom.memory.heapUsed - before.memory.heapUsed) / 1024 / streams,
      idleCpuMicrosPerSecPerStream: ((cpuMs(idleTo) - cpuMs(idleFrom)) * 1000) / (IDLE_MS / 1000) / streams,
    };
    if (whileOpen) await whileOpen(subs);
    return figures;
  } finally {
    subs.close();
    await sleep(SETTLE_MS);
  }
}

interface FanOut {
  readonly last: number[];
  readonly first: number[];
  readonly watch: number[];
  readonly lbCpuPerPutMs: number;
  readonly missing: number;
}

let portCounter = 0;

async function fanOut(
  kv: Etcd3,
  probeKey: string,
  lb: BenchChild,
  subs: BalanceLoadSubscribers,
  watch: WatchProbe,
): Promise<FanOut> {
  const last: number[] = [];
  const first: number[] = [];
  const watchSamples: number[] = [];
  let missing = 0;
  let cpuFrom: ChildUsage | undefined;
  for (let i = 0; i < WARMUP_PUTS + PUTS; i++) {
    if (i === WARMUP_PUTS) cpuFrom = await lb.usage(false);
    const address = `127.0.0.1:${21000 + portCounter++}`;
    subs.expect(address);
    watch.expect(address);
    const t0 = performance.now();
    await kv.put(probeKey).value(encodeRecordValue({ address }));
    await subs.untilAllReceived(PUT_TIMEOUT_MS);
    const watchAt = await watch.received(PUT_TIMEOUT_MS);
    if (i >= WARMUP_PUTS) {
      let lo = Infinity;
      let hi = -Infinity;
      for (const at of subs.receiveTimes()) {
        if (Number.isNaN(at)) missing++;
        else {
          lo = Math.min(lo, at - t0);
          hi = Math.max(hi, at - t0);
        }
      }
      if (Number.isFinite(hi)) last.push(hi);
      if (Number.isFinite(lo)) first.push(lo);
      if (!Number.isNaN(watchAt)) watchSamples.push(watchAt - t0);
    }
    await sleep(GAP_MS);
  }
  const cpuTo = await lb.usage(false);
  const lbCpuPerPutMs = cpuFrom ? (cpuMs(cpuTo) - cpuMs(cpuFrom)) / PUTS : NaN;
  return { last, first, watch: watchSamples, lbCpuPerPutMs, missing };
}

interface LoadUpdates {
  /** LB CPU while every stream reports and no weight moves, ms per second (median round). */
  readonly steadyCpuMsPerSec: number;
  /** Pushes (lists per stream) in the steady rounds: 0 expected. */
  readonly steadyPushes: number;
  /** Pushes while backend 0's latency flips. */
  readonly flipPushes: number;
  /** Median CPU of the rounds with a push − median CPU of the rounds without, ms. */
  readonly cpuPerUpdateMs: number;
  /** Every round: its CPU (ms), its length (s) and the pushes in it. */
  readonly rounds: Array<{ cpuMs: number; seconds: number; pushes: number }>;
}

/** One round's report of a client: LOAD_CALLS_PER_REPORT calls on each standing backend. */
function loadReport(standing: readonly string[], slowMs: number): BackendStats[] {
  return standing.map((address, i) => ({
    address,
    callsStarted: LOAD_CALLS_PER_REPORT,
    callsSucceeded: LOAD_CALLS_PER_REPORT,
    callsFailed: 0,
    latencyMsSum: LOAD_CALLS_PER_REPORT * (i === 0 ? slowMs : LOAD_FAST_MS),
    latencyMsMin: i === 0 ? slowMs : LOAD_FAST_MS,
  }));
}

/**
 * LB CPU per load-driven weight update: every stream reports its calls (ClientStats) once a
 * round; first with every backend equally fast (the cost of taking the reports in, no push), then
 * with backend 0's latency flipping between fast and slow, which moves its load factor (the
 * clients source: the median of 1,000 clients' figures) and makes the LB server push the
 * service. Each round's CPU is read on its own; an update costs what a round with a push costs
 * more than a round without one (medians: a round's report intake varies more than a push costs).
 */
async function loadUpdates(
  lb: BenchChild,
  subs: BalanceLoadSubscribers,
  standing: readonly string[],
): Promise<LoadUpdates> {
  const rounds: Array<{ cpuMs: number; seconds: number; pushes: number; steady: boolean }> = [];
  for (let r = 0; r < LOAD_STEADY_ROUNDS + LOAD_FLIP_ROUNDS; r++) {
    const steady = r < LOAD_STEADY_ROUNDS;
    const f = r - LOAD_STEADY_ROUNDS;
    const slowMs = steady || Math.floor(f / LOAD_FLIP_EVERY) % 2 === 1 ? LOAD_FAST_MS : LOAD_SLOW_MS;
    const cpuFrom = cpuMs(await lb.usage(false));
    const listsFrom = subs.listsReceived();
    const t0 = performance.now();
    subs.sendStats(loadReport(standing, slowMs));
    await sleep(LOAD_ROUND_MS);
    rounds.push({
      cpuMs: cpuMs(await lb.usage(false)) - cpuFrom,
      seconds: (performance.now() - t0) / 1000,
      pushes: (subs.listsReceived() - listsFrom) / subs.size,
      steady,
    });
  }
  const withPush = rounds.filter((r) => r.pushes >= 0.5).map((r) => r.cpuMs);
  const without = rounds.filter((r) => r.pushes < 0.5).map((r) => r.cpuMs);
  const sum = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0);
  return {
    steadyCpuMsPerSec: median(rounds.filter((r) => r.steady).map((r) => r.cpuMs / r.seconds)),
    steadyPushes: sum(rounds.filter((r) => r.steady).map((r) => r.pushes)),
    flipPushes: sum(rounds.filter((r) => !r.steady).map((r) => r.pushes)),
    cpuPerUpdateMs: withPush.length && without.length ? median(withPush) - median(without) : NaN,
    rounds: rounds.map(({ cpuMs: c, seconds, pushes }) => ({ cpuMs: c, seconds, pushes })),
  };
}

async function putMany(kv: Etcd3, prefix: string): Promise<void> {
  const keys: Array<{ key: string; value: string }> = [];
  for (let s = 0; s < SYNC_SERVICES; s++) {
    for (let e = 0; e < SYNC_PER_SERVICE; e++) {
      keys.push({
        key: recordKey(prefix, `svc-${s}`, `e${e}`),
        value: encodeRecordValue({ address: `10.${s >> 8}.${s & 255}.${e + 1}:8080`, weight: 100 }),
      });
    }
  }
  for (let i = 0; i < keys.length; i += PUT_BATCH) {
    await Promise.all(keys.slice(i, i + PUT_BATCH).map((k) => kv.put(k.key).value(k.value)));
  }
}

async function main(): Promise<void> {
  const startedAt = new Date();
  const loadAtStart = loadAverage1m();
  const etcd = await startEtcd();
  const kv = new Etcd3({ hosts: etcd.endpoints });
  const watchClient = new Etcd3({ hosts: etcd.endpoints });
  const children: BenchChild[] = [];
  let watch: WatchProbe | undefined;
  try {
    // The standing backends answer the LB server's health checks (SERVING), as a live fleet's do:
    // unreachable ones would add the checker's reconnection attempts to the idle CPU.
    const healthServers = await BenchChild.start(path.join(__dirname, 'health-endpoints-process.js'), {
      count: STANDING_BACKENDS,
    });
    children.push(healthServers);
    const standing = healthServers.address.split(',');
    for (const [i, address] of standing.entries()) {
      await kv
        .put(recordKey(DEFAULT_PREFIX, SERVICE, `standing-${i}`))
        .value(encodeRecordValue({ address, weight: 100 }));
    }
    const probeKey = recordKey(DEFAULT_PREFIX, SERVICE, 'probe');
    await kv.put(probeKey).value(encodeRecordValue({ address: '127.0.0.1:19999' }));
    watch = await WatchProbe.open(watchClient, probeKey);
    const gcFlags = { execArgv: ['--expose-gc'] };
    const lb = await BenchChild.start(
      path.join(__dirname, 'lb-server-process.js'),
      { etcd: etcd.endpoints },
      gcFlags,
    );
    children.push(lb);
    const bare = await BenchChild.start(
      path.join(__dirname, 'idle-stream-server-process.js'),
      { servers: STANDING_BACKENDS + 1 },
      gcFlags,
    );
    children.push(bare);

    const lbSteps: StepFigures[] = [];
    const bareSteps: StepFigures[] = [];
    const fanOuts: FanOut[] = [];
    let load: LoadUpdates | undefined;
    for (const streams of STEPS) {
      bareSteps.push(await idleStep(bare, SERVICE, streams));
      const w = watch;
      lbSteps.push(
        await idleStep(
          lb,
          SERVICE,
          streams,
          async (subs) => {
            fanOuts.push(await fanOut(kv, probeKey, lb, subs, w));
            if (streams === LOAD_STREAMS) load = await loadUpdates(lb, subs, standing);
          },
          kv,
        ),
      );
      const f = fanOuts[fanOuts.length - 1];
      console.log(
        `lb-scale: ${streams} streams: fan-out p50 ${summarize(f.last).p50.toFixed(1)} ms, ` +
          `RSS ${lbSteps[lbSteps.length - 1].rssKiB.toFixed(1)} KiB/stream`,
      );
    }

    // Initial sync: 10,000 endpoints across 1,000 services, against an empty registry.
    await putMany(kv, SYNC_PREFIX);
    const readFrom = performance.now();
    const all = await kv.getAll().prefix(`${SYNC_PREFIX}/`).strings();
    const rangeMs = performance.now() - readFrom;
    const endpoints = Object.keys(all).length;
    const syncFull: number[] = [];
    const syncEmpty: number[] = [];
    for (let r = 0; r < SYNC_RUNS; r++) {
      for (const [prefix, samples] of [
        [SYNC_PREFIX, syncFull],
        [EMPTY_PREFIX, syncEmpty],
      ] as const) {
        const t0 = performance.now();
        const child = await BenchChild.start(
          path.join(__dirname, 'lb-server-process.js'),
          { etcd: etcd.endpoints, prefix },
          { readyTimeoutMs: 60_000 },
        );
        samples.push(performance.now() - t0);
        await child.close();
      }
    }

    const figures: Figure[] = [];
    STEPS.forEach((streams, k) => {
      const a = lbSteps[k];
      const b = bareSteps[k];
      const f = fanOuts[k];
      const n = fmt(streams);
      const last = summarize(f.last);
      const w = summarize(f.watch);
      figures.push(
        {
          label: `RSS per idle stream, ${n} streams`,
          unit: 'KiB',
          value: a.rssKiB,
          baseline: b.rssKiB,
          ratio: ratio(a.rssKiB, b.rssKiB),
        },
        {
          label: `JS heap per idle stream, ${n} streams`,
          unit: 'KiB',
          value: a.heapKiB,
          baseline: b.heapKiB,
          ratio: ratio(a.heapKiB, b.heapKiB),
        },
        {
          label: `idle CPU per stream, ${n} streams`,
          unit: 'µs/s',
          value: a.idleCpuMicrosPerSecPerStream,
          baseline: b.idleCpuMicrosPerSecPerStream,
          ratio: ratio(a.idleCpuMicrosPerSecPerStream, b.idleCpuMicrosPerSecPerStream),
        },
        {
          label: `time to subscribe ${n} streams (all have a list)`,
          unit: 'ms',
          value: a.subscribeMs,
          baseline: b.subscribeMs,
          ratio: ratio(a.subscribeMs, b.subscribeMs),
        },
        {
          label: `fan-out: put → last of ${n} streams, p50`,
          unit: 'ms',
          value: last.p50,
          baseline: w.p50,
          ratio: ratio(last.p50, w.p50),
        },
        {
          label: `fan-out: put → last of ${n} streams, p99`,
          unit: 'ms',
          value: last.p99,
          baseline: w.p99,
          ratio: ratio(last.p99, w.p99),
          ...(streams === 5000
            ? { target: { text: `< ${FAN_OUT_TARGET_MS} ms`, met: last.p99 < FAN_OUT_TARGET_MS } }
            : {}),
        },
        {
          label: `fan-out: put → first of ${n} streams, p50`,
          unit: 'ms',
          value: summarize(f.first).p50,
          baseline: w.p50,
          ratio: ratio(summarize(f.first).p50, w.p50),
        },
        { label: `LB server CPU per change pushed to ${n} streams`, unit: 'ms', value: f.lbCpuPerPutMs },
      );
    });
    if (load) {
      const n = fmt(LOAD_STREAMS);
      const perPut = fanOuts[STEPS.indexOf(LOAD_STREAMS)]?.lbCpuPerPutMs ?? NaN;
      figures.push(
        {
          label: `LB server CPU taking in ${n} clients' load reports (${STANDING_BACKENDS} backends each, one a second)`,
          unit: 'ms/s',
          value: load.steadyCpuMsPerSec,
        },
        {
          label: `LB server CPU per load-driven weight update pushed to ${n} streams`,
          unit: 'ms',
          value: load.cpuPerUpdateMs,
          baseline: perPut,
          ratio: ratio(load.cpuPerUpdateMs, perPut),
        },
      );
    }
    const full = median(syncFull);
    const empty = median(syncEmpty);
    figures.push(
      {
        label: `LB start → synced (health SERVING), ${fmt(endpoints)} endpoints in ${fmt(SYNC_SERVICES)} services`,
        unit: 'ms',
        value: full,
        baseline: empty,
        ratio: ratio(full, empty),
      },
      { label: 'of which the sync itself (difference of the medians)', unit: 'ms', value: full - empty },
      {
        label: `plain etcd range read of the ${fmt(endpoints)} records (in the benchmark process)`,
        unit: 'ms',
        value: rangeMs,
      },
    );
    const file = writeBenchResult({
      name: 'lb-scale',
      title: 'LB server scale: idle streams at 1,000 and 5,000, fan-out, initial sync of 10,000 endpoints',
      subject: 'LB server (child process, defaults)',
      baseline:
        'memory/CPU/subscribe: a bare grpc-js server holding the same BalanceLoad streams (one fixed list, no registry); ' +
        'fan-out: a plain etcd watch of the same puts; sync: the same LB start with an empty registry; ' +
        'load-driven update: the CPU per change pushed after an etcd put (same streams, same run)',
      startedAt: startedAt.toISOString(),
      durationMs: Date.now() - startedAt.getTime(),
      loadAverage: { start: loadAtStart, end: loadAverage1m() },
      settings: {
        steps: STEPS.join(','),
        streamsPerConnection: STREAMS_PER_CHANNEL,
        idleMs: IDLE_MS,
        warmupPuts: WARMUP_PUTS,
        puts: PUTS,
        gapMs: GAP_MS,
        syncServices: SYNC_SERVICES,
        syncEndpointsPerService: SYNC_PER_SERVICE,
        syncRuns: SYNC_RUNS,
      },
      figures,
      notes: [
        `Client population: each stream is a client the LB server records in etcd (/lookaside/clients/, coalesced, ` +
          `at most 1,024 records a 500 ms flush); streams opened → every record written: ` +
          `${populationWrittenMs.map((ms, i) => `${STEPS[i]} streams ${Math.round(ms)} ms`).join(', ')}. The idle ` +
          'window starts after that, so the idle figures do not include those writes.',
        `Streams: ${STREAMS_PER_CHANNEL} per HTTP/2 connection (so 10 and 50 connections), raw grpc-js BalanceLoad ` +
          'streams in the benchmark process; per-stream memory = (after − before, both after a full GC) ÷ streams, connection cost included.',
        `Idle CPU: the server's CPU time over ${IDLE_MS} ms with every stream open and idle, ÷ streams (µs of CPU per second per stream).`,
        'Fan-out: one process receives every stream (framing only, no decode), so its serial receive work is in the spread; ' +
          'real clients would receive in parallel.',
        'Sync: fork of the LB process → "ready", sent after startLbServer() resolved and synced() (health SERVING); ' +
          'the empty-registry start is Node’s start, module loading and listening, so the difference is the sync.',
        `Missing fan-out receipts: ${fanOuts.map((f) => f.missing).join(', ')}.`,
        `Load-driven updates, ${fmt(LOAD_STREAMS)} streams: each reports ${LOAD_CALLS_PER_REPORT} calls on each of the ` +
          `${STANDING_BACKENDS} standing backends every ${LOAD_ROUND_MS} ms (ClientStats, the clients source of load-aware ` +
          `weights): ${LOAD_STEADY_ROUNDS} rounds all at ${LOAD_FAST_MS} ms (pushes: ${load?.steadyPushes ?? '–'}), then ` +
          `${LOAD_FLIP_ROUNDS} rounds with backend 0 flipping between ${LOAD_SLOW_MS} and ${LOAD_FAST_MS} ms every ` +
          `${LOAD_FLIP_EVERY} (pushes: ${load?.flipPushes.toFixed(1) ?? '–'}). Each round's LB CPU is read on its own; ` +
          'CPU per update = median CPU of the rounds with a push − median of the rounds without (the recompute, the ' +
          'assignment and the push to every stream; report intake is in both). Intake = median steady round ÷ its length.',
      ],
      runs: { lbSteps, bareSteps, fanOuts, load, syncFull, syncEmpty, rangeMs },
    });
    console.log(`lb-scale: wrote ${file}`);
  } finally {
    await watch?.close();
    await Promise.all(children.map((c) => c.close()));
    kv.close();
    watchClient.close();
    await etcd.close();
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error('lb-scale: failed:', err);
    process.exit(1);
  },
);
