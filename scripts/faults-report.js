#!/usr/bin/env node
// Gathers faults-results/<scenario>.json (written by each scenario in test/faults/) into
// faults-results/latest.json and latest.md, and prints the table. Run by scripts/faults.sh.
'use strict';
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const dir = path.resolve(__dirname, '../faults-results');
const files = fs
  .readdirSync(dir)
  .filter((f) => f.endsWith('.json') && f !== 'latest.json')
  .sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));
const scenarios = files.map((f) => JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8')));

const machine = {
  cpus: os.cpus().length,
  cpuModel: os.cpus()[0]?.model ?? 'unknown',
  memoryGb: Math.round(os.totalmem() / 2 ** 30),
  node: process.version,
};
const latest = {
  command: process.env.FAULTS_COMMAND ?? 'npm run faults',
  jestExit: Number(process.env.FAULTS_EXIT ?? 0),
  finishedAt: new Date().toISOString(),
  machine,
  scenarios,
};
fs.writeFileSync(path.join(dir, 'latest.json'), `${JSON.stringify(latest, null, 2)}\n`);

function figuresText(figures) {
  return Object.entries(figures)
    .filter(([k]) => k !== 'failedCalls')
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');
}

const head = ['scenario', 'calls', 'ok', 'failed', 'failed by status', 'figures'];
const rows = scenarios.map((s) => [
  `${s.id}`,
  s.load ? String(s.load.callsStarted) : '-',
  s.load ? String(s.load.callsSucceeded) : '-',
  s.load ? String(s.load.callsFailed) : '-',
  s.load && s.load.callsFailed
    ? Object.entries(s.load.failedByStatus)
        .map(([k, v]) => `${k} ${v}`)
        .join(', ')
    : '-',
  figuresText(s.figures),
]);
const md = [
  '# Fault suite: latest figures',
  '',
  `\`${latest.command}\` on ${machine.cpus} × ${machine.cpuModel}, ${machine.memoryGb} GB, Node ${machine.node}; ` +
    `finished ${latest.finishedAt}; jest exit ${latest.jestExit}. Every scenario asserts its promise ` +
    '(see test/faults/); the figures are reported, never asserted.',
  '',
  `| ${head.join(' | ')} |`,
  `| ${head.map(() => '---').join(' | ')} |`,
  ...rows.map((r) => `| ${r.join(' | ')} |`),
  '',
  ...scenarios.map((s) => `- **${s.id}** ${s.title}: ${s.promise}.`),
  '',
].join('\n');
fs.writeFileSync(path.join(dir, 'latest.md'), md);
process.stdout.write(`${md}\n`);
if (scenarios.length === 0) {
  process.stderr.write('faults: no scenario reports found in faults-results/\n');
  process.exitCode = 1;
}
