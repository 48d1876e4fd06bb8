import * as grpc from '@grpc/grpc-js';
import { HealthImplementation } from 'grpc-health-check';
import { z } from 'zod';
import { runBenchChild } from './bench-child';

/**
 * Child process of the health checker scale benchmark: `count` grpc.health.v1 endpoints on
 * distinct free loopback ports, all served by one grpc.Server bound `count` times (one listening
 * socket per port, one accepted connection per checker), every one SERVING for "". Reports its
 * addresses as one comma-separated "address". Each listening port and each accepted connection is
 * a file descriptor: keep `count` under half the descriptor limit.
 */
runBenchChild(z.object({ count: z.number().int().min(1).max(9000) }), async (config) => {
  const server = new grpc.Server();
  new HealthImplementation({ '': 'SERVING' }).addToServer(server);
  const addresses: string[] = [];
  for (let i = 0; i < config.count; i++) {
    const port = await new Promise<number>((resolve, reject) => {
      server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, bound) =>
        err ? reject(err) : resolve(bound),
      );
    });
    addresses.push(`127.0.0.1:${port}`);
  }
  return {
    address: addresses.join(','),
    close: () =>
      new Promise<void>((resolve) => {
        server.forceShutdown();
        resolve();
      }),
  };
});
