import * as grpc from '@grpc/grpc-js';
import type { GreeterClient } from '../proto/gen/helloworld/Greeter';
import { loadProtos } from '../proto/protos';

/** What a batch of greeter calls did: successes per backend, failures per status code. */
export interface CallTally {
  readonly calls: number;
  readonly succeeded: number;
  readonly failed: number;
  /** Backend address (from the reply) → calls it answered. */
  readonly byBackend: Record<string, number>;
  /** Status code name → calls that failed with it. */
  readonly failures: Record<string, number>;
  /** One example message per failing status code. */
  readonly failureExamples: Record<string, string>;
}

export interface CallOptions {
  /** Calls to make in all. */
  readonly calls: number;
  /** Calls in flight at once; default 1. */
  readonly concurrency?: number;
  /** Deadline of each call; default 5 s. */
  readonly deadlineMs?: number;
  /** Pause after each call of a worker, to spread a batch over time; default 0. */
  readonly paceMs?: number;
  /** Called after every call, e.g. to show progress. */
  readonly onCall?: (tally: CallTally) => void;
}

/** Builds a helloworld client for `target` (e.g. `lookaside://127.0.0.1:7000/greeter`). */
export function greeterClient(
  target: string,
  options: grpc.ChannelOptions = {},
  credentials: grpc.ChannelCredentials = grpc.credentials.createInsecure(),
): GreeterClient {
  const Greeter = loadProtos().helloworld.Greeter;
  return new Greeter(target, credentials, options);
}

/** The greeter answers "Hello <name> from <address>"; returns the address. */
export function backendOf(message: string): string {
  const at = message.lastIndexOf(' from ');
  return at < 0 ? '(unknown)' : message.slice(at + ' from '.length);
}

/** Returns an empty tally, to merge batches into. */
export function emptyTally(): CallTally {
  return { calls: 0, succeeded: 0, failed: 0, byBackend: {}, failures: {}, failureExamples: {} };
}

/** Adds `b` to `a` (a new object). */
export function mergeTallies(a: CallTally, b: CallTally): CallTally {
  const add = (x: Record<string, number>, y: Record<string, number>): Record<string, number> => {
    const out = { ...x };
    for (const [k, v] of Object.entries(y)) out[k] = (out[k] ?? 0) + v;
    return out;
  };
  return {
    calls: a.calls + b.calls,
    succeeded: a.succeeded + b.succeeded,
    failed: a.failed + b.failed,
    byBackend: add(a.byBackend, b.byBackend),
    failures: add(a.failures, b.failures),
    failureExamples: { ...b.failureExamples, ...a.failureExamples },
  };
}

/**
 * Makes `calls` SayHello calls through `client` with bounded concurrency and counts what
 * happened. Never rejects: a failed call is counted under its status code.
 */
export async function callGreeter(client: GreeterClient, options: CallOptions): Promise<CallTally> {
  const byBackend: Record<string, number> = {};
  const failures: Record<string, number> = {};
  const failureExamples: Record<string, string> = {};
  let started = 0;
  let succeeded = 0;
  let failed = 0;
  const snapshot = (): CallTally => ({
    calls: succeeded + failed,
    succeeded,
    failed,
    byBackend: { ...byBackend },
    failures: { ...failures },
    failureExamples: { ...failureExamples },
  });
  const one = (): Promise<void> =>
    new Promise((resolve) => {
      const deadline = new Date(Date.now() + (options.deadlineMs ?? 5000));
      client.SayHello({ name: 'lookaside' }, { deadline }, (err, reply) => {
        if (err || !reply) {
          failed++;
          const code = grpc.status[err?.code ?? grpc.status.UNKNOWN] ?? String(err?.code);
          failures[code] = (failures[code] ?? 0) + 1;
          failureExamples[code] ??= err?.details ?? 'no reply';
        } else {
          succeeded++;
          const backend = backendOf(reply.message);
          byBackend[backend] = (byBackend[backend] ?? 0) + 1;
        }
        options.onCall?.(snapshot());
        resolve();
      });
    });
  const worker = async (): Promise<void> => {
    while (started < options.calls) {
      started++;
      await one();
      if (options.paceMs) await new Promise((resolve) => setTimeout(resolve, options.paceMs));
    }
  };
  const workers = Math.max(1, Math.min(options.concurrency ?? 1, options.calls));
  await Promise.all(Array.from({ length: workers }, worker));
  return snapshot();
}
