import pino from 'pino';
import { z } from 'zod';
import { registerService, type Registration } from '../registrar';
import { startDemoService } from '../demo-service/demo-service';
import { runBenchChild } from './bench-child';

/**
 * Child process of the data-path benchmark: one helloworld greeter on a free loopback port,
 * registered in etcd under `service` and under each of `alsoServices` (so that one backend can be
 * in a 2-backend and an 8-backend service), and reachable directly by its address (so the static
 * round_robin baseline and the nginx proxy reach the same process).
 */
runBenchChild(
  z.object({
    etcd: z.array(z.string()).min(1),
    service: z.string(),
    alsoServices: z.array(z.string()).default([]),
  }),
  async (config) => {
    const logger = pino({ level: 'warn' }, pino.destination(2));
    const service = await startDemoService({
      etcd: config.etcd,
      port: 0,
      service: config.service,
      drainTimeoutMs: 1000,
      logger,
    });
    const extra: Registration[] = [];
    for (const name of config.alsoServices) {
      extra.push(
        await registerService({ etcd: config.etcd, service: name, address: service.address, logger }),
      );
    }
    return {
      address: service.address,
      close: async () => {
        await Promise.all(extra.map((r) => r.close()));
        await service.close();
      },
    };
  },
);
