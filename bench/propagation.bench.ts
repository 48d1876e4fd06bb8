import * as path from 'node:path';
import { Etcd3 } from 'etcd3';
import { startEtcd } from '../etcd/etcd-process';
import { DEFAULT_PREFIX, encodeRecordValue, recordKey } from '../common/registry-record';
import { BalanceLoadSubscribers } from './balance-load-subscribers';
import { BenchChild, type ChildUsage, type MemoryFigures } from './bench-child';
import { loadAverage1m, ratio, writeBenchResult, type Figure } from './bench-result';
import { summarize, type LatencySummary } from './sample-stats';
import { WatchProbe } from './watch-probe';

/**
 * Propagation benchmark (issue 3): etcd put → a subscribed BalanceLoad stream receives the list
 * containing it, with 1 and 1,000 subscribed streams; fan-out of one change to all 1,000 (put →
 * last stream); and the LB server's memory per idle stream. The LB server runs in a child
 * process (its default 5 ms coalescing window); the streams, the etcd writer and the baseline run
 * here, so every timestamp comes from one clock. Baseline, in the same puts: a plain etcd watch on
 * the same key (put → watch event), so the LB's added latency is visible.
 */

const SERVICE = 'prop';
/** Backends already registered, so every list carries a realistic few entries. */
const STANDING_BACKENDS = 10;
const MANY_STREAMS = 1000;
const MANY = MANY_STREAMS.toLocaleString('en-US');
const CHANNELS = 10;
const WARMUP_PUTS = 10;
const PUTS = 100;
/** Pause between puts: longer than the LB's coalescing window, so puts are not merged. */
const GAP_MS = 20;
const PUT_TIMEOUT_MS = 5000;
const P99_TARGET_MS = 20;
const MEMORY_TARGET_KIB = 20;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

interface PhaseSamples {
  /** put → each stream's receipt, every stream of every measured put (ms). */
  readonly streams: number[];
  /** put → the first stream's receipt, one per put (ms). */
  readonly first: number[];
  /** put → the last stream's receipt, one per put (ms). */
  readonly last: number[];
  /** put → the baseline watch event, one per put (ms). */
  readonly watch: number[];
  /** Stream receipts that did not arrive within PUT_TIMEOUT_MS. */
  readonly missing: number;
}

let portCounter = 0;

/** `warmups` unmeasured puts, then `puts` measured ones, one at a time. */
async function measurePuts(
  kv: Etcd3,
  probeKey: string,
  subscribers: BalanceLoadSubscribers,
  watch: WatchProbe,
  warmups: number,
  puts: number,
): Promise<PhaseSamples> {
  const samples = {
    streams: [] as number[],
    first: [] as number[],
    last: [] as number[],
    watch: [] as number[],
  };
  let missing = 0;
  for (let i = 0; i < warmups + puts; i++) {
    const address = `127.0.0.1:${20000 + portCounter++}`;
    subscribers.expect(address);
    watch.expect(address);
    const t0 = performance.now();
    await kv.put(probeKey).value(encodeRecordValue({ address }));
    await subscribers.untilAllReceived(PUT_TIMEOUT_MS);
    const watchAt = await watch.received(PUT_TIMEOUT_MS);
    if (i >= warmups) {
      let first = Infinity;
      let last = -Infinity;
      for (const at of subscribers.receiveTimes()) {
        if (Number.isNaN(at)) {
          missing++;
          continue;
        }
        samples.streams.push(at - t0);
        first = Math.min(first, at - t0);
        last = Math.max(last, at - t0);
      }
      if (Number.isFinite(first)) samples.first.push(first);
      if (Number.isFinite(last)) samples.last.push(last);
      if (!Number.isNaN(watchAt)) samples.watch.push(watchAt - t0);
    }
    await sleep(GAP_MS);
  }
  return { ...samples, missing };
}

const kib = (bytes: number): number => bytes / 1024;

async function main(): Promise<void> {
  const startedAt = new Date();
  const loadAtStart = loadAverage1m();
  const etcd = await startEtcd();
  const kv = new Etcd3({ hosts: etcd.endpoints });
  const watchClient = new Etcd3({ hosts: etcd.endpoints });
  let lb: BenchChild | undefined;
  let subscribers: BalanceLoadSubscribers | undefined;
  let watch: WatchProbe | undefined;
  try {
    for (let i = 0; i < STANDING_BACKENDS; i++) {
      await kv
        .put(recordKey(DEFAULT_PREFIX, SERVICE, `standing-${i}`))
        .value(encodeRecordValue({ address: `127.0.0.1:${9000 + i}`, weight: 100 }));
    }
    const probeKey = recordKey(DEFAULT_PREFIX, SERVICE, 'probe');
    await kv.put(probeKey).value(encodeRecordValue({ address: '127.0.0.1:19999' }));
    lb = await BenchChild.start(
      path.join(__dirname, 'lb-server-process.js'),
      { etcd: etcd.endpoints },
      {
        execArgv: ['--expose-gc'],
      },
    );
    watch = await WatchProbe.open(watchClient, probeKey);

    // Phase 1: one stream.
    subscribers = BalanceLoadSubscribers.open(lb.address, SERVICE, 1, 1);
    if (!(await subscribers.untilAllHaveAList(10_000))) throw new Error('the single stream got no list');
    const one = await measurePuts(kv, probeKey, subscribers, watch, WARMUP_PUTS, PUTS);
    subscribers.close();
    subscribers = undefined;
    await sleep(500);

    // Phase 2: memory with no stream, then with MANY_STREAMS idle streams.
    const memIdle: MemoryFigures = (await lb.usage(true)).memory;
    const openedAt = performance.now();
    subscribers = BalanceLoadSubscribers.open(lb.address, SERVICE, MANY_STREAMS, CHANNELS);
    if (!(await subscribers.untilAllHaveAList(30_000))) {
      throw new Error(`not all ${MANY} streams got their first list within 30 s`);
    }
    const allSubscribedMs = performance.now() - openedAt;
    await sleep(1000);
    const memMany: MemoryFigures = (await lb.usage(true)).memory;

    // Phase 3: propagation and fan-out with MANY_STREAMS subscribed; CPU time of the LB server
    // and of this (receiving) process over the measured puts.
    await measurePuts(kv, probeKey, subscribers, watch, WARMUP_PUTS, 0);
    const lbBefore: ChildUsage = await lb.usage(false);
    const hereBefore = process.cpuUsage();
    const many = await measurePuts(kv, probeKey, subscribers, watch, 0, PUTS);
    const here = process.cpuUsage(hereBefore);
    const lbAfter: ChildUsage = await lb.usage(false);
    const cpuMs = (c: { user: number; system: number }): number => (c.user + c.system) / 1000;
    const lbCpuPerPut = (cpuMs(lbAfter.cpuMicros) - cpuMs(lbBefore.cpuMicros)) / PUTS;
    const receiverCpuPerPut = cpuMs(here) / PUTS;

    const s1 = summarize(one.streams);
    const w1 = summarize(one.watch);
    const sN = summarize(many.streams);
    const wN = summarize(many.watch);
    const fanOut = summarize(many.last);
    const firstN = summarize(many.first);
    const perStream = (k: keyof MemoryFigures): number => kib((memMany[k] - memIdle[k]) / MANY_STREAMS);
    const latency = (
      label: string,
      ours: LatencySummary,
      base: LatencySummary,
      p: 'p50' | 'p99',
      target?: boolean,
    ): Figure => ({
      label: `${label}, ${p}`,
      unit: 'ms',
      value: ours[p],
      baseline: base[p],
      ratio: ratio(ours[p], base[p]),
      ...(target ? { target: { text: `< ${P99_TARGET_MS} ms`, met: ours[p] < P99_TARGET_MS } } : {}),
    });
    const figures: Figure[] = [
      latency('put → stream, 1 stream', s1, w1, 'p50'),
      latency('put → stream, 1 stream', s1, w1, 'p99'),
      latency(`put → stream, ${MANY} streams (every stream)`, sN, wN, 'p50'),
      latency(`put → stream, ${MANY} streams (every stream)`, sN, wN, 'p99', true),
      latency(`put → first of ${MANY} streams`, firstN, wN, 'p50'),
      latency(`fan-out: put → last of ${MANY} streams`, fanOut, wN, 'p50'),
      latency(`fan-out: put → last of ${MANY} streams`, fanOut, wN, 'p99'),
      { label: `LB server CPU per change pushed to ${MANY} streams`, unit: 'ms', value: lbCpuPerPut },
      { label: `receiving process CPU per change (${MANY} streams)`, unit: 'ms', value: receiverCpuPerPut },
      {
        label: 'LB server RSS per idle stream',
        unit: 'KiB',
        value: perStream('rss'),
        target: { text: `< ${MEMORY_TARGET_KIB} KiB`, met: perStream('rss') < MEMORY_TARGET_KIB },
      },
      { label: 'LB server JS heap per idle stream', unit: 'KiB', value: perStream('heapUsed') },
      { label: 'LB server external memory per idle stream', unit: 'KiB', value: perStream('external') },
      {
        label: `time to subscribe ${MANY} streams (all have a list)`,
        unit: 'ms',
        value: allSubscribedMs,
      },
    ];
    const file = writeBenchResult({
      name: 'propagation',
      title: 'Propagation: etcd put → BalanceLoad stream, fan-out, memory per stream',
      subject:
        'LB server (child process, default coalescing: a lone change is pushed at once) → raw grpc-js BalanceLoad streams',
      baseline: 'a plain etcd watch on the same key, same puts (put → watch event)',
      startedAt: startedAt.toISOString(),
      durationMs: Date.now() - startedAt.getTime(),
      loadAverage: { start: loadAtStart, end: loadAverage1m() },
      settings: {
        standingBackends: STANDING_BACKENDS,
        streams: MANY_STREAMS,
        channels: CHANNELS,
        warmupPuts: WARMUP_PUTS,
        puts: PUTS,
        gapMs: GAP_MS,
      },
      figures,
      notes: [
        'Latency runs from just before the put is sent to the moment the stream’s data handler runs; ' +
          'the put’s own round trip is in both columns.',
        `"every stream": all ${PUTS} × ${MANY} receipts. One process receives every stream (grpc-js ` +
          'framing only, no protobuf decode), so its own serial receive work is part of the spread.',
        'CPU per change: the LB server’s CPU time over the measured puts ÷ puts (its per-stream push cost is that ' +
          `÷ ${MANY}); the receiving process’s CPU per change is work that real clients would spread over ` +
          `${MANY} processes, and the fan-out figure cannot be lower than it.`,
        `Memory: LB server process after a full GC with no stream vs. ${MANY} idle streams on ` +
          `${CHANNELS} connections, divided by ${MANY} (connection cost included).`,
        `Missing receipts (not within ${PUT_TIMEOUT_MS} ms): 1 stream ${one.missing}, ${MANY} streams ${many.missing}.`,
      ],
      runs: { one, many: { ...many, streams: undefined, streamSummary: sN }, memIdle, memMany },
    });
    console.log(`propagation: wrote ${file}`);
  } finally {
    subscribers?.close();
    await watch?.close();
    await lb?.close();
    kv.close();
    watchClient.close();
    await etcd.close();
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error('propagation: failed:', err);
    process.exit(1);
  },
);
