import * as grpc from '@grpc/grpc-js';
import { HealthImplementation } from 'grpc-health-check';
import { loadProtos } from '../proto/protos';
import type { HelloRequest__Output } from '../proto/gen/helloworld/HelloRequest';
import type { HelloReply } from '../proto/gen/helloworld/HelloReply';
import { formatAddress } from '../common/host-port';

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
}

function checkedRate(rate: number): number {
  if (!(rate >= 0 && rate <= 1)) throw new RangeError(`failure rate ${rate} must be in [0, 1]`);
  return rate;
}

/**
 * Starts gRPC's canonical helloworld.Greeter, answering "Hello <name> from <address>" so that the
 * spread of calls over backends is visible to the caller, and grpc.health.v1 (SERVING until
 * setServing(false)). The demo service and the tests use it.
 */
export async function startGreeterServer(options: GreeterServerOptions): Promise<GreeterServer> {
  const host = options.host ?? '127.0.0.1';
  const server = new grpc.Server(options.serverOptions);
  let address = formatAddress(host, options.port);
  let served = 0;
  let inFlight = 0;
  let failureRate = checkedRate(options.failureRate ?? 0);
  let isServing = true;
  const random = options.random ?? Math.random;
  const health = new HealthImplementation(
    Object.fromEntries(GREETER_HEALTH_SERVICES.map((name) => [name, 'SERVING' as const])),
  );
  health.addToServer(server);
  server.addService(loadProtos().helloworld.Greeter.service, {
    SayHello(
      call: grpc.ServerUnaryCall<HelloRequest__Output, HelloReply>,
      callback: grpc.sendUnaryData<HelloReply>,
    ): void {
      inFlight++;
      served++;
      const name = call.request.name || 'world';
      if (failureRate > 0 && random() < failureRate) {
        callback({ code: grpc.status.INTERNAL, details: `injected failure at ${address}` });
      } else {
        callback(null, { message: `Hello ${name} from ${address}` });
      }
      inFlight--;
    },
  });
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(
      formatAddress(host, options.port),
      options.credentials ?? grpc.ServerCredentials.createInsecure(),
      (err, bound) => (err ? reject(err) : resolve(bound)),
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
        server.tryShutdown(() => resolve());
      })),
    forceClose: () => server.forceShutdown(),
    setServing(serving: boolean): void {
      isServing = serving;
      for (const name of GREETER_HEALTH_SERVICES) health.setStatus(name, serving ? 'SERVING' : 'NOT_SERVING');
    },
    serving: () => isServing,
    setFailureRate(rate: number): void {
      failureRate = checkedRate(rate);
    },
  };
}
