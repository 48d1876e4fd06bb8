import * as grpc from '@grpc/grpc-js';
import pino from 'pino';
import { z } from 'zod';
import { systemClock } from '../common/clock';
import type { RegistryEndpoint } from '../lb-server/core/registry-state';
import {
  CHECKER_CHANNEL_OPTIONS,
  HealthChecker,
  HealthClientConstructor,
  type HealthClient,
  type WatchResponse,
} from '../lb-server/io/health-checker';
import { runBenchChild } from './bench-child';

/**
 * Child process of the health checker scale benchmark: holds one grpc.health.v1 Watch stream per
 * address it is given, either through the LB server's HealthChecker (`checker`) or, the baseline,
 * as bare grpc-js Health clients with the checker's channel options and one Watch each (`bare`).
 * Both open `opensPerTick` streams every `tickMs`. On `{ type: 'watch', addresses }` it opens them
 * and answers `{ type: 'watching', serving, ms }` once every stream has said SERVING (or at the
 * deadline). The benchmark kills it when done.
 * Memory and CPU are read with the usual usage requests (run with --expose-gc).
 */

const ConfigSchema = z.object({
  mode: z.enum(['checker', 'bare']),
  opensPerTick: z.number().int().min(1),
  tickMs: z.number().int().min(1),
});

/** What the benchmark sends. */
export const WatchRequestSchema = z.object({
  type: z.literal('watch'),
  addresses: z.array(z.string()),
  timeoutMs: z.number().int().positive(),
});
export type WatchRequest = z.infer<typeof WatchRequestSchema>;
/** What the child answers. */
export const WatchingReplySchema = z.object({
  type: z.literal('watching'),
  serving: z.number(),
  ms: z.number(),
});

/** Endpoints a service, as the LB server would see a registry of many services. */
const PER_SERVICE = 10;
const POLL_MS = 50;

interface Watching {
  serving(): number;
  close(): void;
}

function endpointOf(address: string, i: number): RegistryEndpoint {
  const colon = address.lastIndexOf(':');
  const host = address.slice(0, colon);
  const port = Number(address.slice(colon + 1));
  const service = `svc-${Math.floor(i / PER_SERVICE)}`;
  return {
    service,
    instanceId: `i${i}`,
    address,
    host,
    port,
    weight: 100,
    zone: '',
    metadata: {},
    draining: false,
    healthService: '',
    format: 'lookaside',
    key: `/lookaside/services/${service}/i${i}`,
    lease: '0',
    modRevision: i + 1,
    loadBalanceToken: `i${i}`,
  };
}

function watchWithChecker(addresses: readonly string[], opensPerTick: number, tickMs: number): Watching {
  const checker = new HealthChecker({
    clock: systemClock,
    logger: pino({ level: 'silent' }),
    credentials: grpc.credentials.createInsecure(),
    onChange: () => undefined,
    opensPerTick,
    tickMs,
  });
  const endpoints = addresses.map(endpointOf);
  const byService = new Map<string, RegistryEndpoint[]>();
  for (const e of endpoints) {
    const list = byService.get(e.service) ?? [];
    list.push(e);
    byService.set(e.service, list);
  }
  for (const [service, list] of byService) checker.sync(service, list);
  return {
    serving: () => endpoints.filter((e) => checker.healthOf(e.key) === 'serving').length,
    close: () => checker.close(),
  };
}

function watchBare(addresses: readonly string[], opensPerTick: number, tickMs: number): Watching {
  const insecure = grpc.credentials.createInsecure();
  const clients: HealthClient[] = [];
  const calls: grpc.ClientReadableStream<WatchResponse>[] = [];
  let serving = 0;
  let next = 0;
  let timer: NodeJS.Timeout | undefined;
  const openSome = (): void => {
    timer = undefined;
    for (let n = 0; n < opensPerTick && next < addresses.length; n++, next++) {
      const client = new HealthClientConstructor(addresses[next], insecure, CHECKER_CHANNEL_OPTIONS);
      const call = client.Watch({ service: '' });
      let seen = false;
      call.on('data', (r: WatchResponse) => {
        if (!seen && (r.status === 'SERVING' || r.status === 1)) {
          seen = true;
          serving++;
        }
      });
      call.on('error', () => undefined);
      clients.push(client);
      calls.push(call);
    }
    if (next < addresses.length) timer = setTimeout(openSome, tickMs);
  };
  openSome();
  return {
    serving: () => serving,
    close: () => {
      if (timer) clearTimeout(timer);
      for (const c of calls) c.cancel();
      for (const c of clients) c.close();
    },
  };
}

if (require.main === module) {
  runBenchChild(ConfigSchema, async (config) => {
    let current: Watching | undefined;
    const reply = (m: object): void => {
      process.send?.(m);
    };
    const onMessage = (raw: unknown): void => {
      const request = WatchRequestSchema.safeParse(raw);
      if (!request.success) return;
      const r = request.data;
      current?.close();
      const startedAt = performance.now();
      const deadline = startedAt + r.timeoutMs;
      const watching =
        config.mode === 'checker'
          ? watchWithChecker(r.addresses, config.opensPerTick, config.tickMs)
          : watchBare(r.addresses, config.opensPerTick, config.tickMs);
      current = watching;
      // Bounded: polls until every stream said SERVING or the deadline passes.
      const poll = (): void => {
        const serving = watching.serving();
        if (serving === r.addresses.length || performance.now() >= deadline) {
          reply({ type: 'watching', serving, ms: performance.now() - startedAt });
        } else setTimeout(poll, POLL_MS);
      };
      poll();
    };
    process.on('message', onMessage);
    return {
      address: '',
      close: async () => {
        process.off('message', onMessage);
        current?.close();
      },
    };
  });
}
