import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, accessSync, constants } from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { findEtcdBinary } from './find-etcd';

/**
 * Ephemeral etcd servers on loopback for the demo, the tests and the benchmarks: free client and
 * peer ports on 127.0.0.1, a temporary data dir, wait until healthy, stop and remove everything.
 * Every child is killed when this process exits, so a crashed test leaves no etcd behind.
 */

export interface EtcdOptions {
  /** Members in the cluster (1 for a single node, 3 or 5 for fault tests). Default 1. */
  readonly size?: number;
  /** Raft heartbeat in ms (etcd's default is 100). */
  readonly heartbeatMs?: number;
  /** Raft election timeout in ms (etcd's default is 1000). */
  readonly electionTimeoutMs?: number;
  /** How long to wait for the cluster to become healthy. Default 20 s. */
  readonly startTimeoutMs?: number;
  /** Where the temporary data dirs go; default /dev/shm when writable, else the OS temp dir. */
  readonly dataRoot?: string;
  /** Extra flags for every member. */
  readonly extraArgs?: readonly string[];
  /**
   * Serve clients over TLS with these PEM files; with `clientCertAuth` etcd also requires client
   * certificates signed by `trustedCaFile`. The client URLs are then https://localhost:<port>
   * (the certificate must name localhost; etcd listens on 127.0.0.1). Health is checked on a
   * plain-HTTP metrics listener (one more free port); leader() is not available.
   */
  readonly clientTls?: {
    readonly certFile: string;
    readonly keyFile: string;
    readonly trustedCaFile?: string;
    readonly clientCertAuth?: boolean;
  };
}

/** Raised when etcd does not start or become healthy; carries the tail of its log. */
export class EtcdStartError extends Error {
  constructor(
    message: string,
    readonly logTail: string,
  ) {
    super(logTail ? `${message}\n--- etcd log (tail) ---\n${logTail}` : message);
    this.name = 'EtcdStartError';
  }
}

const live = new Set<ChildProcess>();
let exitHookInstalled = false;
function trackChild(child: ChildProcess): void {
  live.add(child);
  child.once('exit', () => live.delete(child));
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.once('exit', () => {
      for (const c of live) c.kill('SIGKILL');
    });
  }
}

/** Asks the OS for a free TCP port on 127.0.0.1. */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, host, () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

function defaultDataRoot(): string {
  try {
    accessSync('/dev/shm', constants.W_OK);
    return '/dev/shm';
  } catch {
    return os.tmpdir();
  }
}

function httpJson(url: string, body: string | undefined, timeoutMs: number): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      url,
      {
        method: body === undefined ? 'GET' : 'POST',
        timeout: timeoutMs,
        headers: { 'content-type': 'application/json' },
      },
      (res) => {
        let data = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (data += chunk));
        res.on('end', () => {
          try {
            resolve(JSON.parse(data));
          } catch (err) {
            reject(err as Error);
          }
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error(`timeout after ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(body);
  });
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** One etcd member: a child process with fixed ports and data dir that can be killed and restarted. */
export class EtcdMember {
  private child: ChildProcess | undefined;
  private log: string[] = [];
  private paused = false;

  constructor(
    readonly name: string,
    readonly clientUrl: string,
    readonly peerUrl: string,
    readonly dataDir: string,
    private readonly args: readonly string[],
    private readonly binary: string,
    /** Where GET /health answers over plain HTTP; the client URL unless clients use TLS. */
    readonly healthUrl: string = clientUrl,
  ) {}

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** True while the process is alive (also when paused). */
  isRunning(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** The last lines etcd wrote, for error messages. */
  logTail(lines = 30): string {
    return this.log.slice(-lines).join('\n');
  }

  /** Spawns the process (same ports and data dir every time). Does not wait for health. */
  spawn(clusterState: 'new' | 'existing'): void {
    if (this.isRunning()) return;
    const args = [...this.args, `--initial-cluster-state=${clusterState}`];
    const child = spawn(this.binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    trackChild(child);
    const keep = (chunk: Buffer): void => {
      for (const line of chunk.toString('utf8').split('\n')) {
        if (line) this.log.push(line);
      }
      if (this.log.length > 200) this.log = this.log.slice(-100);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    this.child = child;
    this.paused = false;
  }

  /** Resolves once GET /health answers {"health":"true"}, or rejects at the deadline. */
  async waitHealthy(timeoutMs = 20_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let last = 'no answer';
    while (Date.now() < deadline) {
      if (!this.isRunning())
        throw new EtcdStartError(`etcd member ${this.name} exited before it was healthy`, this.logTail());
      try {
        const body = (await httpJson(`${this.healthUrl}/health`, undefined, 1000)) as { health?: string };
        if (body.health === 'true') return;
        last = JSON.stringify(body);
      } catch (err) {
        last = (err as Error).message;
      }
      await delay(50);
    }
    throw new EtcdStartError(
      `etcd member ${this.name} not healthy after ${timeoutMs} ms (${last})`,
      this.logTail(),
    );
  }

  /** Sends a signal and waits for the process to exit (SIGKILL after 5 s if it has not). */
  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const child = this.child;
    if (!child || !this.isRunning()) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    if (this.paused) child.kill('SIGCONT');
    child.kill(signal);
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  }

  /** Freezes the process (SIGSTOP): connections stay open but nothing answers. */
  pause(): void {
    if (this.isRunning() && !this.paused) {
      this.child?.kill('SIGSTOP');
      this.paused = true;
    }
  }

  /** Thaws a paused process (SIGCONT). */
  resume(): void {
    if (this.isRunning() && this.paused) {
      this.child?.kill('SIGCONT');
      this.paused = false;
    }
  }

  /** Starts a stopped member again with its old data dir and ports, and waits until healthy. */
  async restart(timeoutMs = 20_000): Promise<void> {
    await this.kill('SIGTERM');
    this.spawn('existing');
    await this.waitHealthy(timeoutMs);
  }
}

/** A running etcd (one member or several). Owner calls close(), which is idempotent. */
export class EtcdCluster {
  private closed = false;

  constructor(
    readonly members: readonly EtcdMember[],
    private readonly rootDir: string,
  ) {}

  /** Client URLs of every member, e.g. for the etcd3 client's `hosts`. */
  get endpoints(): string[] {
    return this.members.map((m) => m.clientUrl);
  }

  /** The first member's client URL (the only one for a single node). */
  get clientUrl(): string {
    return this.members[0].clientUrl;
  }

  /** The member that currently leads raft, asked of any running member's status endpoint. */
  async leader(): Promise<EtcdMember> {
    const ids = new Map<string, EtcdMember>();
    let leaderId: string | undefined;
    for (const m of this.members) {
      if (!m.isRunning()) continue;
      try {
        const status = (await httpJson(`${m.clientUrl}/v3/maintenance/status`, '{}', 2000)) as {
          header?: { member_id?: string };
          leader?: string;
        };
        if (status.header?.member_id) ids.set(status.header.member_id, m);
        if (status.leader && status.leader !== '0') leaderId = status.leader;
      } catch {
        // a member that does not answer is not the one we are looking for
      }
    }
    const leader = leaderId ? ids.get(leaderId) : undefined;
    if (!leader) throw new Error('etcd cluster has no known leader');
    return leader;
  }

  /** Waits until every running member reports healthy. */
  async waitHealthy(timeoutMs = 20_000): Promise<void> {
    await Promise.all(this.members.filter((m) => m.isRunning()).map((m) => m.waitHealthy(timeoutMs)));
  }

  /** Kills every member and removes the data dirs. Safe to call more than once. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all(this.members.map((m) => m.kill('SIGKILL')));
    rmSync(this.rootDir, { recursive: true, force: true });
  }
}

/**
 * Starts an etcd of `options.size` members (default 1) on free loopback ports with temporary data
 * dirs and resolves once every member is healthy. The caller owns the result and must close() it.
 */
export async function startEtcd(options: EtcdOptions = {}): Promise<EtcdCluster> {
  const size = options.size ?? 1;
  if (!Number.isInteger(size) || size < 1 || size > 7)
    throw new RangeError(`etcd cluster size ${size} not in 1..7`);
  const binary = findEtcdBinary();
  const rootDir = mkdtempSync(path.join(options.dataRoot ?? defaultDataRoot(), 'lookaside-etcd-'));
  const ports: Array<{ client: number; peer: number; metrics: number }> = [];
  const taken = new Set<number>();
  const tls = options.clientTls;
  while (ports.length < size) {
    const client = await freePort();
    const peer = await freePort();
    const metrics = tls ? await freePort() : 0;
    const distinct = new Set([client, peer, ...(tls ? [metrics] : [])]);
    if (distinct.size !== (tls ? 3 : 2) || [...distinct].some((p) => taken.has(p))) continue;
    for (const p of distinct) taken.add(p);
    ports.push({ client, peer, metrics });
  }
  const token = path.basename(rootDir);
  const names = ports.map((_, i) => `m${i}`);
  const initialCluster = ports.map((p, i) => `${names[i]}=http://127.0.0.1:${p.peer}`).join(',');
  const members = ports.map((p, i) => {
    const listenUrl = `${tls ? 'https' : 'http'}://127.0.0.1:${p.client}`;
    // TLS clients dial the name the certificate carries, not its IP: grpc-js (under etcd3) sends
    // the host it dials as the TLS server name, and Node deprecates an IP there (DEP0123).
    const clientUrl = tls ? `https://localhost:${p.client}` : listenUrl;
    const healthUrl = tls ? `http://127.0.0.1:${p.metrics}` : clientUrl;
    const tlsArgs = tls
      ? [
          `--cert-file=${tls.certFile}`,
          `--key-file=${tls.keyFile}`,
          ...(tls.trustedCaFile ? [`--trusted-ca-file=${tls.trustedCaFile}`] : []),
          ...(tls.clientCertAuth ? ['--client-cert-auth'] : []),
          `--listen-metrics-urls=${healthUrl}`,
        ]
      : [];
    const peerUrl = `http://127.0.0.1:${p.peer}`;
    const dataDir = path.join(rootDir, names[i]);
    const args = [
      `--name=${names[i]}`,
      `--data-dir=${dataDir}`,
      `--listen-client-urls=${listenUrl}`,
      `--advertise-client-urls=${clientUrl}`,
      `--listen-peer-urls=${peerUrl}`,
      `--initial-advertise-peer-urls=${peerUrl}`,
      `--initial-cluster=${initialCluster}`,
      `--initial-cluster-token=${token}`,
      `--heartbeat-interval=${options.heartbeatMs ?? 100}`,
      `--election-timeout=${options.electionTimeoutMs ?? 1000}`,
      '--logger=zap',
      '--log-outputs=stderr',
      '--log-level=warn',
      ...tlsArgs,
      ...(options.extraArgs ?? []),
    ];
    return new EtcdMember(names[i], clientUrl, peerUrl, dataDir, args, binary, healthUrl);
  });
  const cluster = new EtcdCluster(members, rootDir);
  try {
    for (const m of members) m.spawn('new');
    await cluster.waitHealthy(options.startTimeoutMs ?? 20_000);
    return cluster;
  } catch (err) {
    await cluster.close();
    throw err;
  }
}
