import * as grpc from '@grpc/grpc-js';
import { HealthImplementation } from 'grpc-health-check';
import pino from 'pino';
import { z } from 'zod';
import type { HelloReply } from '../proto/gen/helloworld/HelloReply';
import type { HelloRequest__Output } from '../proto/gen/helloworld/HelloRequest';
import { loadProtos } from '../proto/protos';
import { registerService } from '../registrar';
import { runBenchChild } from './bench-child';
import { SetServiceTimeSchema, StatsRequestSchema, type CapacityStats } from './capacity-greeter-messages';

/**
 * Child process of the load-aware benchmark (issue 14): a helloworld greeter with a capacity of
 * its own, independent of the CPUs it shares: at most `slots` calls are served at once, each
 * takes `serviceTimeMs` (a timer, no CPU), the rest wait FIFO in a queue of at most `maxQueue`
 * (beyond it: RESOURCE_EXHAUSTED). A call cancelled (deadline) while queued is dropped without
 * using a slot; one cancelled while served keeps its slot until its service time is over.
 * Completion times are kept on a virtual schedule (a slot's next call starts when the previous
 * one was due to end, not when its timer fired), so timer lateness adds latency but never takes
 * capacity: the capacity is exactly slots / serviceTime.
 *
 * Reports ORCA out of band (grpc-js ServerMetricRecorder): application_utilization = busy slots
 * averaged over the last second ÷ slots, qps = calls completed per second, eps = calls rejected
 * per second, both over the last second, refreshed every METRICS_TICK_MS. Registers in etcd
 * under `service` (weight 100) and is reachable directly by its address.
 *
 * IPC requests (BenchChild.request): see capacity-greeter-messages.ts.
 */

const METRICS_TICK_MS = 250;
/** The ORCA figures are averaged over this many ticks (1 s). */
const METRICS_WINDOW_TICKS = 4;

interface Waiting {
  readonly call: grpc.ServerUnaryCall<HelloRequest__Output, HelloReply>;
  readonly callback: grpc.sendUnaryData<HelloReply>;
  readonly arrivedAt: number;
}

runBenchChild(
  z.object({
    etcd: z.array(z.string()).min(1),
    service: z.string(),
    slots: z.number().int().min(1),
    serviceTimeMs: z.number().positive(),
    maxQueue: z.number().int().min(0),
  }),
  async (config) => {
    const logger = pino({ level: 'warn' }, pino.destination(2));
    let serviceTimeMs = config.serviceTimeMs;
    const server = new grpc.Server();
    const recorder = new grpc.ServerMetricRecorder();
    recorder.addToServer(server);
    new HealthImplementation({ '': 'SERVING', 'helloworld.Greeter': 'SERVING' }).addToServer(server);

    let address = '';
    /** When each slot is (virtually) free again; a slot is busy while its call is being served. */
    const freeAt: number[] = Array.from({ length: config.slots }, () => 0);
    const idle: number[] = Array.from({ length: config.slots }, (_, i) => i);
    // A FIFO queue as an array plus a head index, compacted now and then.
    let queue: Waiting[] = [];
    let head = 0;
    let completed = 0;
    let rejected = 0;
    let droppedCancelled = 0;
    let busyIntegral = 0;
    let lastChange = performance.now();
    const markBusyChange = (): void => {
      const now = performance.now();
      busyIntegral += (config.slots - idle.length) * (now - lastChange);
      lastChange = now;
    };

    const serve = (slot: number, w: Waiting): void => {
      const now = performance.now();
      // Virtual start: when the slot was due to be free (its timer may have fired late), or when
      // the call arrived if later.
      const start = Math.max(freeAt[slot], w.arrivedAt);
      const end = start + serviceTimeMs;
      freeAt[slot] = end;
      const name = w.call.request.name || 'world';
      setTimeout(
        () => {
          completed++;
          if (!w.call.cancelled) w.callback(null, { message: `Hello ${name} from ${address}` });
          next(slot);
        },
        Math.max(0, end - now),
      );
    };
    /** Slot `slot` is free: serve the oldest live queued call, else mark it idle. */
    const next = (slot: number): void => {
      while (head < queue.length) {
        const w = queue[head++];
        if (head > 1024 && head * 2 > queue.length) {
          queue = queue.slice(head);
          head = 0;
        }
        if (w.call.cancelled) {
          droppedCancelled++;
          continue;
        }
        serve(slot, w);
        return;
      }
      markBusyChange();
      freeAt[slot] = performance.now();
      idle.push(slot);
    };

    server.addService(loadProtos().helloworld.Greeter.service, {
      SayHello(
        call: grpc.ServerUnaryCall<HelloRequest__Output, HelloReply>,
        callback: grpc.sendUnaryData<HelloReply>,
      ): void {
        const w: Waiting = { call, callback, arrivedAt: performance.now() };
        const slot = idle.pop();
        if (slot !== undefined) {
          markBusyChange();
          // The slot was idle: it starts now, not at its old virtual free time.
          freeAt[slot] = w.arrivedAt;
          serve(slot, w);
          return;
        }
        if (queue.length - head >= config.maxQueue) {
          rejected++;
          callback({ code: grpc.status.RESOURCE_EXHAUSTED, details: `queue full at ${address}` });
          return;
        }
        queue.push(w);
      },
    });

    // ORCA figures over a sliding window of METRICS_WINDOW_TICKS ticks.
    const ticks: Array<{ busy: number; completed: number; rejected: number; at: number }> = [];
    let utilization = 0;
    const tick = (): void => {
      markBusyChange();
      ticks.push({ busy: busyIntegral, completed, rejected, at: performance.now() });
      if (ticks.length > METRICS_WINDOW_TICKS + 1) ticks.shift();
      if (ticks.length < 2) return;
      const first = ticks[0];
      const last = ticks[ticks.length - 1];
      const spanMs = last.at - first.at;
      if (spanMs <= 0) return;
      utilization = (last.busy - first.busy) / (spanMs * config.slots);
      recorder.setApplicationUtilizationMetric(utilization);
      recorder.setQpsMetric(((last.completed - first.completed) * 1000) / spanMs);
      recorder.setEpsMetric(((last.rejected - first.rejected) * 1000) / spanMs);
    };
    const metricsTimer = setInterval(tick, METRICS_TICK_MS);

    process.on('message', (raw: unknown) => {
      const set = SetServiceTimeSchema.safeParse(raw);
      if (set.success) {
        serviceTimeMs = set.data.ms;
        process.send?.({ type: 'service-time', ms: serviceTimeMs });
        return;
      }
      if (StatsRequestSchema.safeParse(raw).success) {
        const stats: CapacityStats = {
          type: 'stats',
          busy: config.slots - idle.length,
          queued: queue.length - head,
          completed,
          rejected,
          droppedCancelled,
          utilization,
        };
        process.send?.(stats);
      }
    });

    const port = await new Promise<number>((resolve, reject) => {
      server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, bound) =>
        err ? reject(err) : resolve(bound),
      );
    });
    address = `127.0.0.1:${port}`;
    const registration = await registerService({
      etcd: config.etcd,
      service: config.service,
      address,
      weight: 100,
      logger,
    });
    return {
      address,
      close: async () => {
        clearInterval(metricsTimer);
        await registration.close();
        server.forceShutdown();
      },
    };
  },
);
