import { readdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { readBenchResult, REPO_ROOT, RESULTS_DIR, type BenchResult, type Figure } from './bench-result';
import { machineFacts, type MachineFacts } from './machine-facts';

/**
 * The last step of `npm run bench`: gathers bench/results/<name>.json of the benchmarks named on
 * the command line (default: every one there) into bench/results/latest.json and a Markdown
 * table, bench/results/latest.md, headed by the machine's facts.
 */

const REPORT_FILES = new Set(['latest.json']);

/** What latest.json holds. */
export interface LatestReport {
  readonly machine: MachineFacts;
  readonly command: string;
  readonly benches: readonly BenchResult[];
}

/** A figure as a reader wants it: about three significant digits, thousands grouped. */
function formatNumber(n: number): string {
  if (!Number.isFinite(n)) return '–';
  const abs = Math.abs(n);
  const digits = abs >= 100 ? 0 : abs >= 10 ? 1 : abs >= 1 ? 2 : 3;
  return n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

function withUnit(n: number | undefined, unit: string): string {
  if (n === undefined) return '';
  return unit === '×' ? `${formatNumber(n)}×` : `${formatNumber(n)} ${unit}`;
}

function row(f: Figure): string {
  const cells = [
    f.label,
    withUnit(f.value, f.unit),
    withUnit(f.baseline, f.unit),
    f.ratio === undefined
      ? ''
      : `${formatNumber(f.ratio)}×` +
        (f.ratioCi95 ? ` (${formatNumber(f.ratioCi95[0])}–${formatNumber(f.ratioCi95[1])})` : ''),
    f.target?.text ?? '',
    f.target === undefined ? '' : f.target.met ? 'yes' : '**no**',
  ];
  return `| ${cells.map((c) => c.replace(/\|/g, '\\|')).join(' | ')} |`;
}

function markdown(report: LatestReport): string {
  const m = report.machine;
  const lines: string[] = [
    '# lookaside benchmarks: latest run',
    '',
    `- Command: \`${report.command}\``,
    `- Date: ${m.date}`,
    `- Machine: ${m.cores} cores, ${m.cpuModel}, ${formatNumber(m.totalMemoryMiB)} MiB, ${m.platform} (kernel ${m.kernel})`,
    `- Node ${m.node}, @grpc/grpc-js ${m.grpcJs}, commit ${m.gitCommit}`,
    '',
    'Every figure is compared with a baseline measured in the same run; ratio = value ÷ baseline.',
    '',
  ];
  const missed = report.benches.flatMap((b) =>
    b.figures.filter((f) => f.target && !f.target.met).map((f) => `${b.title}: ${f.label}`),
  );
  lines.push(missed.length === 0 ? 'All targets met.' : `Targets missed: ${missed.join('; ')}.`, '');
  for (const b of report.benches) {
    lines.push(
      `## ${b.title}`,
      '',
      `Value: ${b.subject}. Baseline: ${b.baseline}.`,
      `Took ${formatNumber(b.durationMs / 1000)} s; 1-minute load average ${b.loadAverage.start} at the start, ` +
        `${b.loadAverage.end} at the end. Settings: ` +
        Object.entries(b.settings)
          .map(([k, v]) => `${k} ${v}`)
          .join(', ') +
        '.',
      '',
      '| figure | value | baseline | ratio | target | met |',
      '|---|---:|---:|---:|---|:-:|',
      ...b.figures.map(row),
      '',
      ...b.notes.map((n) => `- ${n}`),
      '',
    );
  }
  return lines.join('\n');
}

function main(): void {
  const requested = process.argv.slice(2);
  const names =
    requested.length > 0
      ? requested
      : readdirSync(RESULTS_DIR)
          .filter((f) => f.endsWith('.json') && !REPORT_FILES.has(f))
          .map((f) => f.slice(0, -'.json'.length))
          .sort();
  const report: LatestReport = {
    machine: machineFacts(REPO_ROOT),
    command: process.env.BENCH_COMMAND ?? 'npm run bench',
    benches: names.map(readBenchResult),
  };
  writeFileSync(path.join(RESULTS_DIR, 'latest.json'), `${JSON.stringify(report, null, 2)}\n`);
  writeFileSync(path.join(RESULTS_DIR, 'latest.md'), markdown(report));
  console.log(`bench: wrote ${path.join(RESULTS_DIR, 'latest.md')}`);
}

main();
