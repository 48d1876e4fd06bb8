import { connectivityState as ConnectivityState, experimental, Metadata } from '@grpc/grpc-js';
import { ClientStatsAccumulator } from '../client-sdk/client-stats-accumulator';
import { WeightedPicker, type PickerBackend } from '../client-sdk/weighted-picker';
import { loadAverage1m, ratio, writeBenchResult, type Figure } from './bench-result';
import { median } from './sample-stats';

/**
 * Picker benchmark (issue 4): nanoseconds per pick of the `lookaside_wrr` weighted picker at
 * 10 … 10,000 backends with varied weights, against the cheapest possible pick (a round-robin
 * index over the same leaf pickers) measured in the same run, interleaved. Both pickers call the
 * same leaf pickers, which build a fresh pick result per pick as grpc-js's pick_first leaf does.
 */

type Picker = experimental.Picker;
type PickArgs = experimental.PickArgs;
type PickResult = experimental.PickResult;

const SIZES = [10, 100, 1_000, 10_000] as const;
const PICKS_PER_RUN = 1_000_000;
const WARMUP_RUNS = 3;
const RUNS = 9;
const PICK_TARGET_NS = 200;
const FLATNESS_TARGET = 1.25;

/** Stands for a subchannel; the benchmark never connects anything. */
const SUBCHANNEL = Object.freeze({ kind: 'bench-subchannel' }) as unknown as experimental.SubchannelInterface;

/** A READY backend's own picker, as pick_first's: a fresh COMPLETE result per pick. */
class LeafPicker implements Picker {
  pick(): PickResult {
    return {
      pickResultType: experimental.PickResultType.COMPLETE,
      subchannel: SUBCHANNEL,
      status: null,
      onCallStarted: null,
      onCallEnded: null,
    };
  }
}

/** The baseline: round robin by index, no weights, nothing else. */
class IndexRoundRobinPicker implements Picker {
  private next = 0;
  constructor(private readonly pickers: readonly Picker[]) {}
  pick(args: PickArgs): PickResult {
    const i = this.next;
    this.next = i + 1 === this.pickers.length ? 0 : i + 1;
    return this.pickers[i].pick(args);
  }
}

/**
 * The same ten varied weights (1..1000) repeated, so that every size has the same weight mix
 * (the same heaviest-to-mean ratio, which sets the scheduler's probes per pick) and the sizes
 * differ only in the number of backends.
 */
const WEIGHT_PATTERN = [1000, 10, 250, 500, 50, 750, 100, 900, 300, 5] as const;
function weights(n: number): number[] {
  return Array.from({ length: n }, (_, i) => WEIGHT_PATTERN[i % WEIGHT_PATTERN.length]);
}

interface Subject {
  readonly name: 'round_robin_index' | 'wrr' | 'wrr_stats';
  readonly picker: Picker;
}

function subjects(n: number): Subject[] {
  const w = weights(n);
  const leaves = w.map(() => new LeafPicker());
  const backends: PickerBackend[] = w.map((weight, i) => ({
    address: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}:8080`,
    state: ConnectivityState.READY,
    draining: false,
    weight,
    picker: leaves[i],
  }));
  const build = (statsEnabled: boolean): WeightedPicker => {
    const stats = new ClientStatsAccumulator();
    stats.enabled = statsEnabled;
    const picker = WeightedPicker.build(backends, stats, () => 0.5);
    if (picker === null) throw new Error('no pickable backend');
    return picker;
  };
  return [
    { name: 'round_robin_index', picker: new IndexRoundRobinPicker(leaves) },
    { name: 'wrr', picker: build(false) },
    { name: 'wrr_stats', picker: build(true) },
  ];
}

let sink = 0;

/** Nanoseconds per pick over `picks` picks. */
function timePicks(picker: Picker, args: PickArgs, picks: number): number {
  let hits = 0;
  const start = process.hrtime.bigint();
  for (let i = 0; i < picks; i++) {
    const r = picker.pick(args);
    if (r.subchannel === SUBCHANNEL) hits++;
  }
  const ns = Number(process.hrtime.bigint() - start);
  sink += hits;
  return ns / picks;
}

function main(): void {
  const startedAt = new Date();
  const loadAtStart = loadAverage1m();
  const args: PickArgs = { metadata: new Metadata(), extraPickInfo: {} };
  const bySize = SIZES.map((n) => ({ n, subjects: subjects(n) }));
  // Warm every call site on every size before any timed run.
  for (let w = 0; w < WARMUP_RUNS; w++) {
    for (const { subjects: ss } of bySize) for (const s of ss) timePicks(s.picker, args, PICKS_PER_RUN);
  }
  const runs: Record<string, Record<string, number[]>> = {};
  for (const { n, subjects: ss } of bySize) {
    const perSubject: Record<string, number[]> = {};
    for (const s of ss) perSubject[s.name] = [];
    // Interleaved: rr, wrr, wrr_stats, rr, wrr, …
    for (let r = 0; r < RUNS; r++)
      for (const s of ss) perSubject[s.name].push(timePicks(s.picker, args, PICKS_PER_RUN));
    runs[String(n)] = perSubject;
  }
  const med = (n: number, name: Subject['name']): number => median(runs[String(n)][name]);
  const figures: Figure[] = [];
  for (const n of SIZES) {
    for (const name of ['wrr', 'wrr_stats'] as const) {
      const value = med(n, name);
      figures.push({
        label: `ns per pick, ${n} backends${name === 'wrr_stats' ? ', client stats on' : ''}`,
        unit: 'ns',
        value,
        baseline: med(n, 'round_robin_index'),
        ratio: ratio(value, med(n, 'round_robin_index')),
        target: { text: `< ${PICK_TARGET_NS} ns`, met: value < PICK_TARGET_NS },
      });
    }
  }
  const first = SIZES[0];
  for (const n of SIZES.slice(1)) {
    for (const name of ['wrr', 'wrr_stats'] as const) {
      const flat = ratio(med(n, name), med(first, name));
      const baseFlat = ratio(med(n, 'round_robin_index'), med(first, 'round_robin_index'));
      figures.push({
        label: `flatness: ns at ${n} ÷ ns at ${first}${name === 'wrr_stats' ? ', client stats on' : ''}`,
        unit: '×',
        value: flat,
        baseline: baseFlat,
        ratio: ratio(flat, baseFlat),
        target: { text: `≤ ${FLATNESS_TARGET}×`, met: flat <= FLATNESS_TARGET },
      });
    }
  }
  const file = writeBenchResult({
    name: 'picker',
    title: 'Weighted picker: cost per pick',
    subject: 'lookaside_wrr WeightedPicker.pick (stride scheduler), weights 5..1000 in a fixed mix',
    baseline: 'round-robin index over the same leaf pickers (the cheapest possible pick)',
    startedAt: startedAt.toISOString(),
    durationMs: Date.now() - startedAt.getTime(),
    loadAverage: { start: loadAtStart, end: loadAverage1m() },
    settings: { picksPerRun: PICKS_PER_RUN, warmupRuns: WARMUP_RUNS, runs: RUNS, sizes: SIZES.join(',') },
    figures,
    notes: [
      'Median of the interleaved runs. Each pick includes the leaf pick_first picker building its result.',
      '"client stats on" is the default in production (the LB server asks for ClientStats every 10 s): ' +
        'the pick then wraps onCallStarted/onCallEnded and reads the clock.',
      'Flatness ratio column: our growth divided by the baseline growth (cache effects hit both).',
      'Probes per pick follow the heaviest-to-mean weight ratio, not the backend count; every size ' +
        'uses the same weight mix so that only the count varies.',
    ],
    runs,
  });
  console.log(`picker: wrote ${file} (sink ${sink > 0 ? 'ok' : 'empty'})`);
}

main();
