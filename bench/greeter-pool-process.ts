import { z } from 'zod';
import { startGreeterServer, type GreeterServer } from '../demo-service/greeter-server';
import { runBenchChild } from './bench-child';

/**
 * Child process of the SDK propagation benchmark: `count` helloworld greeters on free loopback
 * ports, not registered anywhere (the benchmark writes their records itself, one at a time, so
 * every measured put names a backend no client has connected to yet). Reports its addresses as
 * one comma-separated "address".
 */
runBenchChild(z.object({ count: z.number().int().min(1).max(500) }), async (config) => {
  const servers: GreeterServer[] = [];
  for (let i = 0; i < config.count; i++) servers.push(await startGreeterServer({ port: 0 }));
  return {
    address: servers.map((s) => s.address).join(','),
    close: async () => {
      for (const s of servers) s.forceClose();
      await Promise.all(servers.map((s) => s.close()));
    },
  };
});
