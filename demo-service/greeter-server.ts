import * as grpc from '@grpc/grpc-js';
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
}

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
}

/**
 * Starts gRPC's canonical helloworld.Greeter, answering "Hello <name> from <address>" so that the
 * spread of calls over backends is visible to the caller. The demo service and the tests use it.
 */
export async function startGreeterServer(options: GreeterServerOptions): Promise<GreeterServer> {
  const host = options.host ?? '127.0.0.1';
  const server = new grpc.Server(options.serverOptions);
  let address = formatAddress(host, options.port);
  let served = 0;
  let inFlight = 0;
  server.addService(loadProtos().helloworld.Greeter.service, {
    SayHello(
      call: grpc.ServerUnaryCall<HelloRequest__Output, HelloReply>,
      callback: grpc.sendUnaryData<HelloReply>,
    ): void {
      inFlight++;
      served++;
      const name = call.request.name || 'world';
      callback(null, { message: `Hello ${name} from ${address}` });
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
  };
}
