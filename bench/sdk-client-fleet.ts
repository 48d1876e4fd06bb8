import { fork, type ChildProcess } from 'node:child_process';
import * as path from 'node:path';
import { z } from 'zod';

/**
 * Many real SDK clients (grpc-js channels to `lookaside://`) spread over a few child processes
 * (sdk-client-fleet-process), driven by the SDK propagation benchmark: settle() until no channel
 * holds a backend, arm() a waitForReady call on every channel before a put, then collect when each
 * channel's call was first answered by the new backend; for the health propagation benchmark,
 * untilReady() and watchLeave(): when each channel's state (and so its picker) leaves READY. Times
 * are performance.timeOrigin +
 * performance.now(), comparable across the processes of one machine. close() stops every child.
 */

/** The child's one argument. */
export const FleetConfigSchema = z.object({
  lb: z.string(),
  service: z.string(),
  clients: z.number().int().min(1).max(5000),
});
export type FleetConfig = z.infer<typeof FleetConfigSchema>;

/** What the benchmark sends to a fleet process. */
export const FleetRequestSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('arm'), expect: z.string(), timeoutMs: z.number().int().positive() }),
  z.object({ type: z.literal('settle'), timeoutMs: z.number().int().positive() }),
  z.object({ type: z.literal('until-ready'), timeoutMs: z.number().int().positive() }),
  z.object({ type: z.literal('watch-leave'), timeoutMs: z.number().int().positive() }),
]);
export type FleetRequest = z.infer<typeof FleetRequestSchema>;

const FleetMessageSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('ready') }),
  z.object({ type: z.literal('armed') }),
  /** Per channel: when its call was answered by the expected backend (null: not in time). */
  z.object({ type: z.literal('answered'), at: z.array(z.number().nullable()), reissued: z.number() }),
  z.object({ type: z.literal('settled'), settled: z.number() }),
  z.object({ type: z.literal('readied'), ready: z.number() }),
  z.object({ type: z.literal('watching'), watching: z.number() }),
  /** Per channel: when it left READY (null: not READY when armed, or still READY at the deadline). */
  z.object({ type: z.literal('left'), at: z.array(z.number().nullable()) }),
  z.object({ type: z.literal('failed'), message: z.string() }),
]);
/** What a fleet process sends to the benchmark. */
export type FleetMessage = z.infer<typeof FleetMessageSchema>;
type FleetMessageType = FleetMessage['type'];

/** What one arm() collected over every process. */
export interface ArmResult {
  /** Per channel: answered-at (timeOrigin-based ms), NaN when not answered in time. */
  readonly at: readonly number[];
  /** Calls answered by another backend (or failed) and reissued. */
  readonly reissued: number;
}

const READY_TIMEOUT_MS = 30_000;
const STOP_BOUND_MS = 5000;

/** One fleet child process; one outstanding request of each type at a time. */
class FleetProcess {
  private readonly waiters = new Map<FleetMessageType, (m: FleetMessage) => void>();
  private exited = false;

  constructor(private readonly child: ChildProcess) {
    child.on('message', (raw: unknown) => {
      const parsed = FleetMessageSchema.safeParse(raw);
      if (!parsed.success) return;
      const waiter = this.waiters.get(parsed.data.type) ?? this.waiters.get('failed');
      if (parsed.data.type === 'failed') for (const w of this.waiters.values()) w(parsed.data);
      else waiter?.(parsed.data);
    });
    child.once('exit', () => {
      this.exited = true;
      for (const w of this.waiters.values()) w({ type: 'failed', message: 'fleet process exited' });
    });
  }

  /** Resolves with the next message of `type`; rejects on failure, exit or timeout. */
  next<T extends FleetMessageType>(type: T, timeoutMs: number): Promise<Extract<FleetMessage, { type: T }>> {
    return new Promise((resolve, reject) => {
      if (this.exited) {
        reject(new Error('fleet process exited'));
        return;
      }
      const timer = setTimeout(() => {
        this.waiters.delete(type);
        reject(new Error(`fleet process: no "${type}" within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiters.set(type, (m) => {
        clearTimeout(timer);
        this.waiters.delete(type);
        if (m.type === type) resolve(m as Extract<FleetMessage, { type: T }>);
        else reject(new Error(m.type === 'failed' ? m.message : `unexpected ${m.type}`));
      });
    });
  }

  send(request: FleetRequest): void {
    this.child.send(request);
  }

  close(): Promise<void> {
    return new Promise<void>((resolve) => {
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
  }
}

export class SdkClientFleet {
  private closing: Promise<void> | undefined;

  private constructor(
    private readonly processes: readonly FleetProcess[],
    /** Channels in all. */
    readonly size: number,
  ) {}

  /** Starts `clients` channels over `processes` child processes; resolves once all are created. */
  static async start(
    lb: string,
    service: string,
    clients: number,
    processes: number,
  ): Promise<SdkClientFleet> {
    const count = Math.max(1, Math.min(processes, clients));
    const modulePath = path.join(__dirname, 'sdk-client-fleet-process.js');
    const profDir = process.env.BENCH_CPU_PROF_DIR;
    const profArgs = profDir ? ['--cpu-prof', `--cpu-prof-dir=${profDir}`] : [];
    const started: FleetProcess[] = [];
    for (let p = 0; p < count; p++) {
      const share = Math.floor(clients / count) + (p < clients % count ? 1 : 0);
      const config: FleetConfig = { lb, service, clients: share };
      const child = fork(modulePath, [JSON.stringify(config)], {
        execArgv: profArgs,
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      });
      const killOnExit = (): void => {
        child.kill('SIGKILL');
      };
      process.once('exit', killOnExit);
      child.once('exit', () => process.off('exit', killOnExit));
      started.push(new FleetProcess(child));
    }
    const fleet = new SdkClientFleet(started, clients);
    try {
      await Promise.all(started.map((f) => f.next('ready', READY_TIMEOUT_MS)));
    } catch (err) {
      await fleet.close();
      throw err;
    }
    return fleet;
  }

  /** How many channels hold no backend (fail a call at once) within `timeoutMs`. */
  async settle(timeoutMs: number): Promise<number> {
    const replies = this.processes.map((p) => p.next('settled', timeoutMs + 5000));
    for (const p of this.processes) p.send({ type: 'settle', timeoutMs });
    return (await Promise.all(replies)).reduce((sum, m) => sum + m.settled, 0);
  }

  /**
   * Issues a waitForReady call on every channel (reissued until `expect` answers it); resolves,
   * once every process has issued its calls, with a function that awaits the answers.
   */
  async arm(expect: string, timeoutMs: number): Promise<() => Promise<ArmResult>> {
    const answers = this.processes.map((p) => p.next('answered', timeoutMs + 5000));
    const armed = this.processes.map((p) => p.next('armed', 10_000));
    for (const p of this.processes) p.send({ type: 'arm', expect, timeoutMs });
    await Promise.all(armed);
    return async () => {
      const all = await Promise.all(answers);
      return {
        at: all.flatMap((m) => m.at.map((t) => t ?? NaN)),
        reissued: all.reduce((sum, m) => sum + m.reissued, 0),
      };
    };
  }

  /** How many channels are READY (asked to connect if IDLE) within `timeoutMs`. */
  async untilReady(timeoutMs: number): Promise<number> {
    const replies = this.processes.map((p) => p.next('readied', timeoutMs + 5000));
    for (const p of this.processes) p.send({ type: 'until-ready', timeoutMs });
    return (await Promise.all(replies)).reduce((sum, m) => sum + m.ready, 0);
  }

  /**
   * Watches every READY channel until it leaves READY (its picker no longer has a backend to pick:
   * grpc-js installs the new picker and the new state together). Resolves, once every process has
   * set its watches, with how many channels are watched and a function that awaits the times
   * (timeOrigin-based ms; NaN: not READY when armed, or still READY after `timeoutMs`).
   */
  async watchLeave(timeoutMs: number): Promise<{ watching: number; left: () => Promise<number[]> }> {
    const left = this.processes.map((p) => p.next('left', timeoutMs + 5000));
    const watching = this.processes.map((p) => p.next('watching', 10_000));
    for (const p of this.processes) p.send({ type: 'watch-leave', timeoutMs });
    const counts = await Promise.all(watching);
    return {
      watching: counts.reduce((sum, m) => sum + m.watching, 0),
      left: async () => (await Promise.all(left)).flatMap((m) => m.at.map((t) => t ?? NaN)),
    };
  }

  /** Stops every fleet process. Idempotent. */
  close(): Promise<void> {
    this.closing ??= Promise.all(this.processes.map((p) => p.close())).then(() => undefined);
    return this.closing;
  }
}
