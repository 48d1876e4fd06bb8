import pino from 'pino';
import { z } from 'zod';
import { startLbServer } from '../lb-server';
import { runBenchChild } from './bench-child';

/**
 * Child process of the benchmarks: one LB server on a free loopback port, with its default
 * coalescing window and client-stats interval, ready once its initial etcd sync is done. Run
 * with --expose-gc so that its memory can be read after a full GC. `prefix` and
 * `selfPreservationGraceMs` override the defaults when a benchmark needs it (and says so), as do
 * `loadAware`, `clientStatsIntervalMs`, `orcaIntervalMs` and `loadClientLatency` (the load-aware benchmark).
 */
runBenchChild(
  z.object({
    etcd: z.array(z.string()).min(1),
    prefix: z.string().optional(),
    selfPreservationGraceMs: z.number().int().min(0).optional(),
    loadAware: z.boolean().optional(),
    clientStatsIntervalMs: z.number().int().min(0).optional(),
    orcaIntervalMs: z.number().int().min(0).optional(),
    loadClientLatency: z.enum(['fastest', 'mean']).optional(),
  }),
  async (config) => {
    const server = await startLbServer({
      etcd: config.etcd,
      listen: '127.0.0.1:0',
      ...(config.prefix !== undefined ? { prefix: config.prefix } : {}),
      ...(config.selfPreservationGraceMs !== undefined
        ? { selfPreservationGraceMs: config.selfPreservationGraceMs }
        : {}),
      ...(config.loadAware !== undefined ? { loadAware: config.loadAware } : {}),
      ...(config.clientStatsIntervalMs !== undefined
        ? { clientStatsIntervalMs: config.clientStatsIntervalMs }
        : {}),
      ...(config.orcaIntervalMs !== undefined ? { orcaIntervalMs: config.orcaIntervalMs } : {}),
      ...(config.loadClientLatency !== undefined ? { loadClientLatency: config.loadClientLatency } : {}),
      logger: pino({ level: 'warn', base: { component: 'lb-server' } }, pino.destination(2)),
    });
    await server.synced();
    return { address: server.address, close: () => server.close() };
  },
);
