import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import * as os from 'node:os';

/** What a reader needs to compare figures across machines and runs. */
export interface MachineFacts {
  readonly cores: number;
  readonly cpuModel: string;
  readonly totalMemoryMiB: number;
  readonly platform: string;
  readonly kernel: string;
  readonly node: string;
  readonly grpcJs: string;
  readonly gitCommit: string;
  readonly date: string;
}

function grpcJsVersion(): string {
  try {
    const pkg: unknown = JSON.parse(readFileSync(require.resolve('@grpc/grpc-js/package.json'), 'utf8'));
    if (typeof pkg === 'object' && pkg !== null && 'version' in pkg && typeof pkg.version === 'string') {
      return pkg.version;
    }
  } catch {
    // fall through
  }
  return 'unknown';
}

function gitCommit(cwd: string): string {
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], {
      cwd,
      encoding: 'utf8',
      timeout: 5000,
    }).trim();
  } catch {
    return 'unknown';
  }
}

/** Reads the facts of this machine and checkout; called once by the report writer. */
export function machineFacts(repoRoot: string, now: Date = new Date()): MachineFacts {
  const cpus = os.cpus();
  return {
    cores: cpus.length,
    cpuModel: cpus[0]?.model.trim() ?? 'unknown',
    totalMemoryMiB: Math.round(os.totalmem() / 1024 / 1024),
    platform: `${os.platform()} ${os.arch()}`,
    kernel: os.release(),
    node: process.version,
    grpcJs: grpcJsVersion(),
    gitCommit: gitCommit(repoRoot),
    date: now.toISOString(),
  };
}
