import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { waitFor } from './wait-for';

/** The compiled CLI, as a user runs it (`npm test` builds it first). */
export const CLI = path.resolve(__dirname, '../../dist/cli/lookaside.js');

/**
 * Every CLI process a test starts carries this variable (and passes it to its own children), so
 * that a test can prove afterwards that none of them is left running.
 */
export const MARKER_VAR = 'LOOKASIDE_TEST_MARKER';

export interface CliResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** A running `lookaside ...` process with its output so far. */
export class CliProcess {
  stdout = '';
  stderr = '';
  readonly exited: Promise<CliResult>;

  constructor(readonly child: ChildProcess) {
    child.stdout?.setEncoding('utf8');
    child.stderr?.setEncoding('utf8');
    child.stdout?.on('data', (d: string) => (this.stdout += d));
    child.stderr?.on('data', (d: string) => (this.stderr += d));
    this.exited = new Promise((resolve) =>
      child.once('close', (code, signal) =>
        resolve({ code, signal, stdout: this.stdout, stderr: this.stderr }),
      ),
    );
  }

  /** Where the output is now, for waitForOutput(…, since) to look only at what comes after. */
  mark(): { stdout: number; stderr: number } {
    return { stdout: this.stdout.length, stderr: this.stderr.length };
  }

  /**
   * Waits until stdout or stderr (after `since`, when given) matches `pattern`, or fails at the
   * deadline with the output.
   */
  async waitForOutput(
    pattern: RegExp,
    timeoutMs = 20_000,
    since: { stdout: number; stderr: number } = { stdout: 0, stderr: 0 },
  ): Promise<RegExpMatchArray> {
    return waitFor(
      `output matching ${pattern}`,
      () => {
        if (this.child.exitCode !== null) {
          throw new Error(`process exited (${this.child.exitCode}):\n${this.stdout}\n${this.stderr}`);
        }
        return pattern.exec(this.stdout.slice(since.stdout)) ?? pattern.exec(this.stderr.slice(since.stderr));
      },
      { timeoutMs },
    );
  }

  /** Sends `signal` and waits for the exit; SIGKILLs at the deadline. */
  async stop(signal: NodeJS.Signals = 'SIGTERM', timeoutMs = 15_000): Promise<CliResult> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal);
    const timer = setTimeout(() => this.child.kill('SIGKILL'), timeoutMs);
    try {
      return await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }
}

/** Starts `node dist/cli/lookaside.js ...args` with the test's marker in its environment. */
export function spawnCli(args: readonly string[], marker: string, env: NodeJS.ProcessEnv = {}): CliProcess {
  const child = spawn(process.execPath, [CLI, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, LOG_LEVEL: 'info', ...env, [MARKER_VAR]: marker },
  });
  return new CliProcess(child);
}

/** Runs the CLI to completion (SIGKILL at the deadline) and returns its exit and output. */
export async function runCli(
  args: readonly string[],
  marker: string,
  { env = {}, timeoutMs = 60_000 }: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): Promise<CliResult> {
  const p = spawnCli(args, marker, env);
  const timer = setTimeout(() => p.child.kill('SIGKILL'), timeoutMs);
  try {
    return await p.exited;
  } finally {
    clearTimeout(timer);
  }
}

/** A marker unique to one test file. */
export function newMarker(): string {
  return randomUUID();
}

/** PIDs of live processes whose environment carries `marker` (Linux /proc). */
export function processesWithMarker(marker: string): number[] {
  const needle = `${MARKER_VAR}=${marker}`;
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const env = readFileSync(`/proc/${entry}/environ`, 'latin1');
      if (env.split('\0').includes(needle)) {
        const stat = readFileSync(`/proc/${entry}/stat`, 'latin1');
        // A zombie (state Z) has exited; only its parent has not reaped it yet.
        if (!/^\d+ \(.*\) Z/.test(stat)) pids.push(Number(entry));
      }
    } catch {
      // The process ended while we looked, or is not ours to read.
    }
  }
  return pids;
}
