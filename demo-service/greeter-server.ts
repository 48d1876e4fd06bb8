import * as grpc from '@grpc/grpc-js';
import { HealthImplementation } from 'grpc-health-check';
import { loadProtos } from '../proto/protos';
import type { HelloRequest__Output } from '../proto/gen/helloworld/HelloRequest';
import type { HelloReply } from '../proto/gen/helloworld/HelloReply';
import { checkListenable } from '../common/check-listenable';
import { formatAddress } from '../common/host-port';
import { LoadReporter } from '../registrar/load-reporter';

export interface GreeterServerOptions {
  /** Interface to bind; default 127.0.0.1. */
  readonly host?: string;
  /** Port to bind; 0 picks a free one. */
  readonly port: number;
  /** Server credentials; default insecure. */
  readonly credentials?: grpc.ServerCredentials;
  /** Extra gRPC server options. */
  readonly serverOptions?: grpc.ServerOptions;
  /** Share of calls (0..1) answered with INTERNAL, to show outlier handling; default 0. */
  readonly failureRate?: number;
  /** Uniform random numbers in [0, 1) for failureRate; default Math.random. */
  readonly random?: () => number;
  /**
   * Capacity model: at most this many calls are served at once, the rest wait in FIFO order;
   * default unbounded. With serviceTimeMs, capacity is maxConcurrent / serviceTimeMs calls per ms.
   */
  readonly maxConcurrent?: number;
  /** Fixed time each call takes once it is served (a timer, no CPU burnt), ms; default 0. */
  readonly serviceTimeMs?: number;
  /**
   * Out-of-band ORCA load reports (registrar's LoadReporter) recomputed every this many ms; 0: no
   * ORCA service. Default 1000 when maxConcurrent is set (utilization = busy slots /
   * maxConcurrent averaged over the interval), else 0: a greeter without a capacity model has no
   * honest utilization (its timers barely move the event loop, and greeters sharing one process,
   * as in tests, would all report that process's event-loop utilization).
   */
  readonly loadReportIntervalMs?: number;
}

/** The greeter cannot bind its address (a taken port, a host it does not have). */
export class GreeterListenError extends Error {
  override readonly name = 'GreeterListenError';
  constructor(
    readonly listen: string,
    cause: Error,
  ) {
    super(`greeter cannot listen on ${listen}: ${cause.message}`, { cause });
  }
}

/** The names the greeter's grpc.health.v1 service reports: the server's overall health and the Greeter. */
export const GREETER_HEALTH_SERVICES = ['', 'helloworld.Greeter'] as const;

/** A running greeter: where it listens, how many calls are in flight, and how to stop it. */
export interface GreeterServer {
  /** "host:port" as bound (IPv6 in brackets); what the greeter puts in its replies. */
  readonly address: string;
  readonly port: number;
  /** Calls answered so far. */
  served(): number;
  /** Calls currently being handled. */
  inFlight(): number;
  /** Stops accepting calls, lets in-flight calls finish, then closes. Idempotent. */
  close(): Promise<void>;
  /** Closes at once, cancelling in-flight calls. */
  forceClose(): void;
  /** What grpc.health.v1 reports for the server and the Greeter: SERVING or NOT_SERVING. */
  setServing(serving: boolean): void;
  serving(): boolean;
  /** Changes the share of calls answered with INTERNAL (0..1). */
  setFailureRate(rate: number): void;
  /** Changes the service time of calls served from now on (ms >= 0). */
  setServiceTimeMs(ms: number): void;
  serviceTimeMs(): number;
  /** Calls being served (holding a slot), and calls waiting for one. */
  busy(): number;
  queued(): number;
  /** The ORCA reporter, unless loadReportIntervalMs is 0. */
  readonly load: LoadReporter | undefined;
}

function checkedRate(rate: number): number {
  if (!(rate >= 0 && rate <= 1)) throw new RangeError(`failure rate ${rate} must be in [0, 1]`);
  return rate;
}

function checkedServiceTime(ms: number): number {
  if (!(Number.isFinite(ms) && ms >= 0))
    throw new RangeError(`service time ${ms} must be a number of ms >= 0`);
  return ms;
}

/**
 * The busy share of a pool of `slots` over time: the owner calls change() whenever the busy count
 * moves; share() returns busy-slot time / (slots * elapsed) since the previous share() call.
 */
class BusyTime {
  private busy = 0;
  private integral = 0;
  private changedAt: number;
  private windowStart: number;

  constructor(
    private readonly slots: number,
    private readonly now: () => number,
  ) {
    this.changedAt = this.windowStart = now();
  }

  change(busy: number): void {
    const at = this.now();
    this.integral += this.busy * (at - this.changedAt);
    this.changedAt = at;
    this.busy = busy;
  }

  share(): number {
    this.change(this.busy);
    const elapsed = this.changedAt - this.windowStart;
    const share = elapsed > 0 ? this.integral / (this.slots * elapsed) : 0;
    this.integral = 0;
    this.windowStart = this.changedAt;
    return share;
  }
}

/** A call waiting for, or holding, a slot. */
interface PendingCall {
  readonly call: grpc.ServerUnaryCall<HelloRequest__Output, HelloReply>;
  readonly callback: grpc.sendUnaryData<HelloReply>;
}

/**
 * Starts gRPC's canonical helloworld.Greeter, answering "Hello <name> from <address>" so that the
 * spread of calls over backends is visible to the caller, and grpc.health.v1 (SERVING until
 * setServing(false)). With serviceTimeMs / maxConcurrent it models a backend of fixed capacity
 * (calls wait FIFO for a slot), and it reports its load over out-of-band ORCA. The demo service,
 * the benchmarks and the tests use it.
 */
export async function startGreeterServer(options: GreeterServerOptions): Promise<GreeterServer> {
  const host = options.host ?? '127.0.0.1';
  const maxConcurrent = options.maxConcurrent ?? Infinity;
  if (!(maxConcurrent >= 1)) throw new RangeError(`maxConcurrent ${maxConcurrent} must be >= 1`);
  let serviceTimeMs = checkedServiceTime(options.serviceTimeMs ?? 0);
  const busyTime = Number.isFinite(maxConcurrent)
    ? new BusyTime(maxConcurrent, () => performance.now())
    : undefined;
  const loadIntervalMs = options.loadReportIntervalMs ?? (busyTime ? 1000 : 0);
  const load =
    loadIntervalMs > 0
      ? new LoadReporter({ intervalMs: loadIntervalMs, utilization: busyTime && (() => busyTime.share()) })
      : undefined;
  const server = new grpc.Server({
    ...options.serverOptions,
    interceptors: [...(options.serverOptions?.interceptors ?? []), ...(load ? [load.interceptor] : [])],
  });
  let address = formatAddress(host, options.port);
  let served = 0;
  let inFlight = 0;
  let busy = 0;
  const queue: PendingCall[] = [];
  const timers = new Set<NodeJS.Timeout>();
  let failureRate = checkedRate(options.failureRate ?? 0);
  let isServing = true;
  const random = options.random ?? Math.random;
  const health = new HealthImplementation(
    Object.fromEntries(GREETER_HEALTH_SERVICES.map((name) => [name, 'SERVING' as const])),
  );
  health.addToServer(server);
  load?.addToServer(server);
  const answer = ({ call, callback }: PendingCall): void => {
    served++;
    inFlight--;
    const name = call.request.name || 'world';
    if (failureRate > 0 && random() < failureRate) {
      callback({ code: grpc.status.INTERNAL, details: `injected failure at ${address}` });
    } else {
      callback(null, { message: `Hello ${name} from ${address}` });
    }
  };
  /** Serves queued calls while a slot is free; each holds its slot for the service time. */
  const serveQueued = (): void => {
    while (busy < maxConcurrent && queue.length > 0) {
      const next = queue.shift() as PendingCall;
      if (next.call.cancelled) {
        inFlight--;
        continue;
      }
      busy++;
      busyTime?.change(busy);
      const timer = setTimeout(() => {
        timers.delete(timer);
        busy--;
        busyTime?.change(busy);
        answer(next);
        serveQueued();
      }, serviceTimeMs);
      timers.add(timer);
    }
  };
  server.addService(loadProtos().helloworld.Greeter.service, {
    SayHello(
      call: grpc.ServerUnaryCall<HelloRequest__Output, HelloReply>,
      callback: grpc.sendUnaryData<HelloReply>,
    ): void {
      inFlight++;
      // No service time: answered at once, as before the capacity model.
      if (serviceTimeMs === 0 && queue.length === 0) {
        answer({ call, callback });
        return;
      }
      queue.push({ call, callback });
      serveQueued();
    },
  });
  const listen = formatAddress(host, options.port);
  const cannotListen = (err: unknown): GreeterListenError => {
    server.forceShutdown();
    load?.close();
    return new GreeterListenError(listen, err instanceof Error ? err : new Error(String(err)));
  };
  // A taken port fails here with Node's error alone, before grpc-js prints its own line for it.
  await checkListenable(host, options.port).catch((err: unknown) => {
    throw cannotListen(err);
  });
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(listen, options.credentials ?? grpc.ServerCredentials.createInsecure(), (err, bound) =>
      err ? reject(cannotListen(err)) : resolve(bound),
    );
  });
  address = formatAddress(host, port);
  let closing: Promise<void> | undefined;
  return {
    address,
    port,
    served: () => served,
    inFlight: () => inFlight,
    close: () =>
      (closing ??= new Promise<void>((resolve) => {
        server.tryShutdown(() => {
          load?.close();
          resolve();
        });
      })),
    forceClose: () => {
      load?.close();
      for (const t of timers) clearTimeout(t);
      timers.clear();
      queue.length = 0;
      server.forceShutdown();
    },
    setServing(serving: boolean): void {
      isServing = serving;
      for (const name of GREETER_HEALTH_SERVICES) health.setStatus(name, serving ? 'SERVING' : 'NOT_SERVING');
    },
    serving: () => isServing,
    setFailureRate(rate: number): void {
      failureRate = checkedRate(rate);
    },
    setServiceTimeMs(ms: number): void {
      serviceTimeMs = checkedServiceTime(ms);
    },
    serviceTimeMs: () => serviceTimeMs,
    busy: () => busy,
    queued: () => queue.length,
    load,
  };
}
