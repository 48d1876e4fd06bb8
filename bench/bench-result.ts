import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

/** The repository root (this module runs from dist/bench/ or, type-checked, from bench/). */
export const REPO_ROOT = path.resolve(
  __dirname,
  __dirname.includes(`${path.sep}dist${path.sep}`) ? '../..' : '..',
);

/** Where every benchmark writes `<name>.json` and the runner writes latest.json / latest.md. */
export const RESULTS_DIR = path.join(REPO_ROOT, 'bench', 'results');

/** A target a figure is judged against; `met` is decided by the benchmark that measured it. */
export interface FigureTarget {
  /** As a reader should see it, e.g. "≥ 0.97× baseline" or "< 20 ms". */
  readonly text: string;
  readonly met: boolean;
}

/** One line of a benchmark's table: our figure, the same-run baseline and their ratio. */
export interface Figure {
  /** What was measured, e.g. "throughput, concurrency 64". */
  readonly label: string;
  /** Unit of value and baseline, e.g. "calls/s", "ms", "ns/pick", "KiB". */
  readonly unit: string;
  readonly value: number;
  /** The baseline's figure in the same run, when this figure has one. */
  readonly baseline?: number;
  /** value / baseline unless the label says otherwise. */
  readonly ratio?: number;
  /** A 95 % confidence interval of the ratio, when the benchmark has paired runs to compute one. */
  readonly ratioCi95?: readonly [number, number];
  readonly target?: FigureTarget;
}

/** What one benchmark writes to bench/results/<name>.json. */
export interface BenchResult {
  /** File-safe name, e.g. "picker"; also the compiled file's stem (<name>.bench.js). */
  readonly name: string;
  readonly title: string;
  /** What the "value" column measures. */
  readonly subject: string;
  /** What the "baseline" column measures. */
  readonly baseline: string;
  readonly startedAt: string;
  readonly durationMs: number;
  /**
   * The machine's 1-minute load average when the benchmark started and ended: anything well above
   * what the benchmark itself runs means other work shared the CPUs.
   */
  readonly loadAverage: { readonly start: number; readonly end: number };
  /** Run parameters (run length, rounds, warm-ups, sizes …). */
  readonly settings: Readonly<Record<string, number | string>>;
  readonly figures: readonly Figure[];
  /** Caveats a reader of the figures must know. */
  readonly notes: readonly string[];
  /** Per-run raw figures, for whoever wants to look behind the medians. */
  readonly runs: unknown;
}

/** value / baseline, or NaN when the baseline is 0 or missing. */
export function ratio(value: number, baseline: number): number {
  return baseline > 0 ? value / baseline : NaN;
}

/** The 1-minute load average, rounded to 2 decimals. */
export function loadAverage1m(): number {
  return Math.round(os.loadavg()[0] * 100) / 100;
}

/** Writes `result` to bench/results/<name>.json; called by each benchmark once at its end. */
export function writeBenchResult(result: BenchResult): string {
  mkdirSync(RESULTS_DIR, { recursive: true });
  const file = path.join(RESULTS_DIR, `${result.name}.json`);
  writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
  return file;
}

/** Reads bench/results/<name>.json as written by writeBenchResult (trusted: our own output). */
export function readBenchResult(name: string): BenchResult {
  return JSON.parse(readFileSync(path.join(RESULTS_DIR, `${name}.json`), 'utf8')) as BenchResult;
}
