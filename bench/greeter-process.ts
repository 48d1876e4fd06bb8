import pino from 'pino';
import { z } from 'zod';
import { startDemoService } from '../demo-service/demo-service';
import { runBenchChild } from './bench-child';

/**
 * Child process of the data-path benchmark: one helloworld greeter on a free loopback port,
 * registered in etcd under `service` (so lookaside finds it) and reachable directly by its
 * address (so the static round_robin baseline reaches the same process).
 */
runBenchChild(z.object({ etcd: z.array(z.string()).min(1), service: z.string() }), async (config) => {
  const service = await startDemoService({
    etcd: config.etcd,
    port: 0,
    service: config.service,
    drainTimeoutMs: 1000,
    logger: pino({ level: 'warn' }, pino.destination(2)),
  });
  return { address: service.address, close: () => service.close() };
});
