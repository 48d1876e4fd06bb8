import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

/** Calls per backend and failures, as the xDS child reports them. */
export interface XdsTally {
  readonly byBackend: Record<string, number>;
  readonly failures: { code: number; details?: string }[];
  readonly calls: number;
}

/**
 * A stock `@grpc/grpc-js-xds` client running in its own process (xds-greeter-child.js), with a
 * bootstrap that points at `lbAddress`: grpc-js-xds reads its bootstrap once per process, so each
 * LB server under test gets its own child. close() ends the child.
 */
export class XdsClientProcess {
  private nextId = 1;
  private readonly pending = new Map<number, (answer: Record<string, unknown>) => void>();
  private readonly exited: Promise<void>;
  stderr = '';

  private constructor(private readonly child: ChildProcessWithoutNullStreams) {
    createInterface({ input: child.stdout }).on('line', (line) => {
      const answer = JSON.parse(line) as Record<string, unknown>;
      const id = Number(answer.id);
      this.pending.get(id)?.(answer);
      this.pending.delete(id);
    });
    child.stderr.on('data', (chunk: Buffer) => {
      if (this.stderr.length < 20_000) this.stderr += chunk.toString();
    });
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
  }

  /** Starts the child with a bootstrap naming `lbAddress` as its only xDS server. */
  static start(lbAddress: string, nodeId = 'xds-test-client'): XdsClientProcess {
    const bootstrap = {
      xds_servers: [{ server_uri: lbAddress, channel_creds: [{ type: 'insecure' }] }],
      node: { id: nodeId, locality: {} },
    };
    const child = spawn(process.execPath, [join(__dirname, 'xds-greeter-child.js')], {
      env: { ...process.env, GRPC_XDS_BOOTSTRAP_CONFIG: JSON.stringify(bootstrap) },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    return new XdsClientProcess(child);
  }

  private request(cmd: Record<string, unknown>): Promise<Record<string, unknown>> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      if (this.child.exitCode !== null) {
        reject(new Error(`xDS child exited (${this.child.exitCode}): ${this.stderr}`));
        return;
      }
      this.pending.set(id, (answer) => {
        if (typeof answer.error === 'string') reject(new Error(answer.error));
        else resolve(answer);
      });
      this.child.stdin.write(JSON.stringify({ id, ...cmd }) + '\n');
    });
  }

  /** `n` SayHello calls one after another to `target`. */
  async calls(target: string, n: number, deadlineMs = 5000): Promise<XdsTally> {
    return (await this.request({ op: 'calls', target, n, deadlineMs })) as unknown as XdsTally;
  }

  /** Starts steady load on `target` until stopLoad(). */
  async startLoad(target: string, concurrency = 4): Promise<void> {
    await this.request({ op: 'load-start', target, concurrency });
  }

  /** The running load's progress. */
  async peekLoad(): Promise<{ calls: number; byBackend: Record<string, number>; failures: number }> {
    return (await this.request({ op: 'load-peek' })) as unknown as {
      calls: number;
      byBackend: Record<string, number>;
      failures: number;
    };
  }

  /** Stops the load once its calls in flight end; resolves with its tally. */
  async stopLoad(): Promise<XdsTally> {
    return (await this.request({ op: 'load-stop' })) as unknown as XdsTally;
  }

  /** Ends the child (stdin closed, then SIGKILL if it lingers); idempotent. */
  async close(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.child.stdin.end();
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 2000);
    await this.exited;
    clearTimeout(timer);
  }
}
