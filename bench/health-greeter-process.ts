import { z } from 'zod';
import { startGreeterServer } from '../demo-service/greeter-server';
import { runBenchChild } from './bench-child';

/**
 * Child process of the health propagation benchmark: one helloworld greeter with grpc.health.v1
 * on a free loopback port, not registered anywhere (the benchmark writes its record). On
 * `{ type: 'set-serving', serving }` it calls the greeter's setServing() and answers
 * `{ type: 'serving-set', serving, at }`, `at` the moment of the switch
 * (performance.timeOrigin + performance.now(), comparable across the processes of one machine).
 */

/** What the benchmark sends. */
export const SetServingRequestSchema = z.object({ type: z.literal('set-serving'), serving: z.boolean() });
export type SetServingRequest = z.infer<typeof SetServingRequestSchema>;
/** What the child answers. */
export const ServingSetReplySchema = z.object({
  type: z.literal('serving-set'),
  serving: z.boolean(),
  at: z.number(),
});

if (require.main === module) {
  runBenchChild(z.object({}), async () => {
    const greeter = await startGreeterServer({ port: 0 });
    const onMessage = (raw: unknown): void => {
      const request = SetServingRequestSchema.safeParse(raw);
      if (!request.success) return;
      const at = performance.timeOrigin + performance.now();
      greeter.setServing(request.data.serving);
      const reply: z.infer<typeof ServingSetReplySchema> = {
        type: 'serving-set',
        serving: request.data.serving,
        at,
      };
      process.send?.(reply);
    };
    process.on('message', onMessage);
    return {
      address: greeter.address,
      close: async () => {
        process.off('message', onMessage);
        greeter.forceClose();
        await greeter.close();
      },
    };
  });
}
