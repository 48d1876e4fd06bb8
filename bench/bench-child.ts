import { fork, type ChildProcess } from 'node:child_process';
import { z } from 'zod';

/**
 * A helper process of a benchmark (a greeter backend, an LB server) started with fork(), so that
 * the benchmark process measures only itself. The child reports "ready" with its address over
 * IPC, answers memory requests, and stops on SIGTERM. Every child is killed when the benchmark
 * process exits, so a crashed benchmark leaves nothing behind.
 */

const MemoryFiguresSchema = z.object({
  rss: z.number(),
  heapUsed: z.number(),
  heapTotal: z.number(),
  external: z.number(),
  arrayBuffers: z.number(),
});
/** process.memoryUsage() of a child. */
export type MemoryFigures = z.infer<typeof MemoryFiguresSchema>;

const UsageSchema = z.object({
  memory: MemoryFiguresSchema,
  /** process.cpuUsage() since the child started, in microseconds. */
  cpuMicros: z.object({ user: z.number(), system: z.number() }),
});
/** A child's memory and CPU time so far. */
export type ChildUsage = z.infer<typeof UsageSchema>;

const ChildMessageSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('ready'), address: z.string() }),
  z.object({ type: z.literal('usage'), usage: UsageSchema }),
  z.object({ type: z.literal('failed'), message: z.string() }),
]);
/** What a child sends to the benchmark. */
export type ChildMessage = z.infer<typeof ChildMessageSchema>;
/** What the benchmark sends to a child. */
export type ParentMessage = { readonly type: 'usage'; readonly gc: boolean };

const ParentMessageSchema = z.object({ type: z.literal('usage'), gc: z.boolean() });

const live = new Set<ChildProcess>();
let exitHookInstalled = false;
function track(child: ChildProcess): void {
  live.add(child);
  child.once('exit', () => live.delete(child));
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.once('exit', () => {
      for (const c of live) c.kill('SIGKILL');
    });
  }
}

/** How long close() waits for a SIGTERM'd child before SIGKILL. */
const STOP_BOUND_MS = 10_000;

export interface BenchChildOptions {
  /** Flags for node itself, e.g. ['--expose-gc']. */
  readonly execArgv?: readonly string[];
  readonly env?: NodeJS.ProcessEnv;
  /** How long to wait for "ready". Default 20 s. */
  readonly readyTimeoutMs?: number;
}

export class BenchChild {
  private closing: Promise<void> | undefined;
  private pending: ((m: ChildMessage) => void) | undefined;

  private constructor(
    private readonly child: ChildProcess,
    /** The address the child reported when ready ("host:port"). */
    readonly address: string,
  ) {
    child.on('message', (raw: unknown) => {
      const parsed = ChildMessageSchema.safeParse(raw);
      if (parsed.success && this.pending) this.pending(parsed.data);
    });
  }

  /**
   * Forks `modulePath` with `config` as its one argument (JSON) and resolves once it reports
   * ready; rejects (and kills it) when it fails, exits or stays silent past the timeout.
   */
  static start(modulePath: string, config: unknown, options: BenchChildOptions = {}): Promise<BenchChild> {
    // BENCH_CPU_PROF_DIR=<dir>: every child writes a V8 CPU profile there when it exits.
    const profDir = process.env.BENCH_CPU_PROF_DIR;
    const profArgs = profDir ? ['--cpu-prof', `--cpu-prof-dir=${profDir}`] : [];
    const child = fork(modulePath, [JSON.stringify(config)], {
      execArgv: [...(options.execArgv ?? []), ...profArgs],
      env: options.env ?? process.env,
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    track(child);
    const timeoutMs = options.readyTimeoutMs ?? 20_000;
    return new Promise<BenchChild>((resolve, reject) => {
      const fail = (why: string): void => {
        cleanup();
        child.kill('SIGKILL');
        reject(new Error(`bench child ${modulePath}: ${why}`));
      };
      const timer = setTimeout(() => fail(`not ready within ${timeoutMs} ms`), timeoutMs);
      const onExit = (code: number | null, signal: string | null): void =>
        fail(`exited before ready (code ${code}, signal ${signal})`);
      const onMessage = (raw: unknown): void => {
        const parsed = ChildMessageSchema.safeParse(raw);
        if (!parsed.success) return;
        if (parsed.data.type === 'failed') fail(parsed.data.message);
        else if (parsed.data.type === 'ready') {
          cleanup();
          resolve(new BenchChild(child, parsed.data.address));
        }
      };
      const cleanup = (): void => {
        clearTimeout(timer);
        child.off('exit', onExit);
        child.off('message', onMessage);
      };
      child.on('exit', onExit);
      child.on('message', onMessage);
    });
  }

  /** The child's process id (for `--cpu-prof` runs and logs). */
  get pid(): number | undefined {
    return this.child.pid;
  }

  /**
   * Asks the child for its memory and CPU time; with `gc`, after a full GC (the child must run
   * with --expose-gc). One request at a time.
   */
  usage(gc: boolean, timeoutMs = 10_000): Promise<ChildUsage> {
    return new Promise<ChildUsage>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending = undefined;
        reject(new Error('bench child did not answer a usage request'));
      }, timeoutMs);
      this.pending = (m) => {
        if (m.type !== 'usage') return;
        clearTimeout(timer);
        this.pending = undefined;
        resolve(m.usage);
      };
      const request: ParentMessage = { type: 'usage', gc };
      this.child.send(request);
    });
  }

  /**
   * Sends `message` (a child-specific request) and resolves with the child's next message that
   * `reply` accepts; rejects after `timeoutMs` or when the child exits. For children that answer
   * requests of their own besides usage (e.g. health-greeter-process).
   */
  request<T>(message: object, reply: z.ZodType<T>, timeoutMs = 10_000): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const cleanup = (): void => {
        clearTimeout(timer);
        this.child.off('message', onMessage);
        this.child.off('exit', onExit);
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`bench child did not answer ${JSON.stringify(message).slice(0, 80)}`));
      }, timeoutMs);
      const onMessage = (raw: unknown): void => {
        const parsed = reply.safeParse(raw);
        if (!parsed.success) return;
        cleanup();
        resolve(parsed.data);
      };
      const onExit = (): void => {
        cleanup();
        reject(new Error('bench child exited'));
      };
      this.child.on('message', onMessage);
      this.child.once('exit', onExit);
      this.child.send(message);
    });
  }

  /**
   * SIGKILL at once, resolved when the child has exited: for a child that holds only sockets
   * (the kernel closes them), where a graceful close of thousands of them would take longer than
   * the measurement. Idempotent, and shares close()'s promise.
   */
  kill(): Promise<void> {
    this.closing ??= new Promise<void>((resolve) => {
      if (this.child.exitCode !== null || this.child.signalCode !== null) {
        resolve();
        return;
      }
      this.child.once('exit', () => resolve());
      this.child.kill('SIGKILL');
    });
    return this.closing;
  }

  /** SIGTERM, then SIGKILL after STOP_BOUND_MS. Idempotent. */
  close(): Promise<void> {
    this.closing ??= new Promise<void>((resolve) => {
      if (this.child.exitCode !== null || this.child.signalCode !== null) {
        resolve();
        return;
      }
      const timer = setTimeout(() => this.child.kill('SIGKILL'), STOP_BOUND_MS);
      this.child.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
      this.child.kill('SIGTERM');
    });
    return this.closing;
  }
}

/**
 * The child side: parses the one JSON argument with `schema`, starts what `start` starts,
 * reports ready (or failed), answers usage requests, and on SIGTERM/SIGINT or a lost parent
 * runs the returned close() (bounded) and exits. Called at the top level of a child module.
 */
export function runBenchChild<T>(
  schema: z.ZodType<T>,
  start: (config: T) => Promise<{ address: string; close: () => Promise<void> }>,
): void {
  const send = (m: ChildMessage): void => {
    process.send?.(m);
  };
  const parsed = schema.safeParse(JSON.parse(process.argv[2] ?? 'null'));
  if (!parsed.success) {
    send({ type: 'failed', message: `bad config: ${parsed.error.message}` });
    process.exit(2);
  }
  start(parsed.data).then(
    (running) => {
      let stopping = false;
      const stop = (): void => {
        if (stopping) return;
        stopping = true;
        setTimeout(() => process.exit(1), STOP_BOUND_MS - 1000).unref();
        running.close().then(
          () => process.exit(0),
          () => process.exit(1),
        );
      };
      process.on('SIGTERM', stop);
      process.on('SIGINT', stop);
      process.on('disconnect', stop);
      process.on('message', (raw: unknown) => {
        const request = ParentMessageSchema.safeParse(raw);
        if (!request.success) return;
        if (request.data.gc) {
          globalThis.gc?.();
          globalThis.gc?.();
        }
        const m = process.memoryUsage();
        const cpu = process.cpuUsage();
        send({
          type: 'usage',
          usage: {
            memory: {
              rss: m.rss,
              heapUsed: m.heapUsed,
              heapTotal: m.heapTotal,
              external: m.external,
              arrayBuffers: m.arrayBuffers,
            },
            cpuMicros: { user: cpu.user, system: cpu.system },
          },
        });
      });
      send({ type: 'ready', address: running.address });
    },
    (err: unknown) => {
      send({ type: 'failed', message: err instanceof Error ? err.message : String(err) });
      setTimeout(() => process.exit(1), 100);
    },
  );
}
