import { z } from 'zod';

/**
 * The IPC requests a capacity greeter (capacity-greeter-process) answers besides usage, sent by
 * the load-aware benchmark with BenchChild.request: `{ type: 'set-service-time', ms }` →
 * `{ type: 'service-time', ms }` (new calls take `ms` from now on); `{ type: 'stats' }` →
 * CapacityStats.
 */
export const SetServiceTimeSchema = z.object({
  type: z.literal('set-service-time'),
  ms: z.number().positive(),
});
export const ServiceTimeReplySchema = z.object({ type: z.literal('service-time'), ms: z.number() });
export const StatsRequestSchema = z.object({ type: z.literal('stats') });
export const CapacityStatsSchema = z.object({
  type: z.literal('stats'),
  busy: z.number(),
  queued: z.number(),
  completed: z.number(),
  rejected: z.number(),
  droppedCancelled: z.number(),
  utilization: z.number(),
});
/** What a capacity greeter answers to `{ type: 'stats' }`: counters since it started, busy slots now. */
export type CapacityStats = z.infer<typeof CapacityStatsSchema>;
