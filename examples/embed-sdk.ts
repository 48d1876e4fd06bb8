/**
 * Embedding lookaside: a service that registers itself in etcd, and an application that calls it
 * through the LB server. The README shows the two marked parts; test/e2e/readme-example.test.ts
 * runs them against a real etcd and LB server, so the README's code is known to compile and work.
 * The proto is the demo's helloworld.proto, loaded the way any grpc-js application loads its own.
 */
// --- README: client ---
import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { installLookaside, LookasideChannelOptions } from 'lookaside';

// Your own proto, loaded as in any grpc-js application (typed stubs from proto-loader-gen-types work too).
const definition = protoLoader.loadSync('helloworld.proto', {
  includeDirs: [path.join(__dirname, '../proto/helloworld')],
});
const { Greeter } = grpc.loadPackageDefinition(definition).helloworld as {
  Greeter: grpc.ServiceClientConstructor;
};

installLookaside(); // once per process: registers the lookaside:// scheme and the WRR policy

export function greeterClient(lb: string) {
  // The only change to an ordinary grpc-js client is the target.
  return new Greeter(`lookaside://${lb}/greeter`, grpc.credentials.createInsecure(), {
    // Optional: backends to use if no server list comes within 5 s at start-up.
    [LookasideChannelOptions.FALLBACK_ADDRESSES]: '127.0.0.1:8181,127.0.0.1:8282',
  });
}
// --- end ---

// --- README: service ---
import { registerService } from 'lookaside/registrar';

export async function serve(etcd: string[], port: number) {
  const server = new grpc.Server();
  server.addService(Greeter.service, {
    SayHello: (call: grpc.ServerUnaryCall<{ name: string }, unknown>, done: grpc.sendUnaryData<unknown>) =>
      done(null, { message: `Hello ${call.request.name} from 127.0.0.1:${port}` }),
  });
  await new Promise<number>((ok, fail) =>
    server.bindAsync(`127.0.0.1:${port}`, grpc.ServerCredentials.createInsecure(), (e, p) =>
      e ? fail(e) : ok(p),
    ),
  );
  // A record under /lookaside/services/greeter/<id> on a lease kept alive until close().
  const registration = await registerService({
    etcd,
    service: 'greeter',
    address: `127.0.0.1:${port}`,
    weight: 100,
    reportLoad: server, // ORCA load reports, for load-aware weights
  });
  return {
    async stop() {
      await registration.drain(); // publish "draining": clients stop sending new calls
      await registration.close(); // revoke the lease: the record is gone
      await new Promise<void>((done) => server.tryShutdown(() => done()));
    },
  };
}
// --- end ---
