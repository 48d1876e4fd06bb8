import * as grpc from '@grpc/grpc-js';
import type { GreeterClient } from '../../proto/gen/helloworld/Greeter';
import { loadProtos } from '../../proto/protos';

/** A helloworld client for `target` (e.g. `lookaside://127.0.0.1:7000/greeter`). */
export function greeterClient(target: string, options: grpc.ChannelOptions = {}): GreeterClient {
  const Greeter = loadProtos().helloworld.Greeter;
  return new Greeter(target, grpc.credentials.createInsecure(), options);
}

/** The outcome of one call: the answering backend, or the error. */
export type CallOutcome = { ok: true; backend: string } | { ok: false; code: grpc.status; details: string };

/** One SayHello; never rejects. The greeter answers "Hello <name> from <address>". */
export function sayHello(
  client: GreeterClient,
  { deadlineMs = 5000, waitForReady = false }: { deadlineMs?: number; waitForReady?: boolean } = {},
): Promise<CallOutcome> {
  return new Promise((resolve) => {
    client.SayHello(
      { name: 'test' },
      new grpc.Metadata({ waitForReady }),
      { deadline: Date.now() + deadlineMs },
      (err, reply) => {
        if (err || !reply) {
          resolve({ ok: false, code: err?.code ?? grpc.status.UNKNOWN, details: err?.details ?? 'no reply' });
          return;
        }
        const at = reply.message.lastIndexOf(' from ');
        resolve({ ok: true, backend: reply.message.slice(at + ' from '.length) });
      },
    );
  });
}

/** Calls made one after another; returns the calls per backend and the failures. */
export async function callMany(
  client: GreeterClient,
  calls: number,
): Promise<{ byBackend: Record<string, number>; failures: CallOutcome[] }> {
  const byBackend: Record<string, number> = {};
  const failures: CallOutcome[] = [];
  for (let i = 0; i < calls; i++) {
    const r = await sayHello(client);
    if (r.ok) byBackend[r.backend] = (byBackend[r.backend] ?? 0) + 1;
    else failures.push(r);
  }
  return { byBackend, failures };
}

/**
 * Steady load: `concurrency` workers calling back to back until stop(), which resolves with the
 * tally once every call in flight has ended. Bounded by `maxCalls` (default 100,000).
 */
export class GreeterLoad {
  readonly byBackend: Record<string, number> = {};
  readonly failures: CallOutcome[] = [];
  calls = 0;
  private stopped = false;
  private readonly workers: Promise<void>[];

  constructor(
    private readonly client: GreeterClient,
    { concurrency = 4, maxCalls = 100_000 }: { concurrency?: number; maxCalls?: number } = {},
  ) {
    this.workers = Array.from({ length: concurrency }, async () => {
      while (!this.stopped && this.calls < maxCalls) {
        this.calls++;
        const r = await sayHello(this.client);
        if (r.ok) this.byBackend[r.backend] = (this.byBackend[r.backend] ?? 0) + 1;
        else this.failures.push(r);
      }
    });
  }

  /** Calls answered by `backend` so far. */
  servedBy(backend: string): number {
    return this.byBackend[backend] ?? 0;
  }

  async stop(): Promise<this> {
    this.stopped = true;
    await Promise.all(this.workers);
    return this;
  }
}
