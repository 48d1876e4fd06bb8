import type { CallTally } from './greeter-calls';
import { textTable } from './text-table';

/**
 * The human view of a batch of calls: one row per backend with its count and share, then the
 * failures by status code. Pure; used by `lookaside demo-client` and `lookaside demo`.
 */
export function tallyView(tally: CallTally): string {
  const backends = Object.entries(tally.byBackend).sort(([a], [b]) => a.localeCompare(b));
  const lines: string[] = [];
  if (backends.length === 0) {
    lines.push('(no call succeeded)');
  } else {
    lines.push(
      textTable(
        ['BACKEND', 'CALLS', 'SHARE'],
        backends.map(([address, n]) => [address, n, `${((100 * n) / tally.succeeded).toFixed(1)}%`]),
      ),
    );
  }
  lines.push(`${tally.calls} calls: ${tally.succeeded} succeeded, ${tally.failed} failed`);
  for (const [code, n] of Object.entries(tally.failures).sort(([a], [b]) => a.localeCompare(b))) {
    lines.push(`  ${code}: ${n} (e.g. "${tally.failureExamples[code] ?? ''}")`);
  }
  return lines.join('\n');
}
