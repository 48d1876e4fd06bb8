import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { protoPath as healthProtoPath } from 'grpc-health-check';

/** A grpc.health.v1 Health client as the tests call it (Check only, statuses as names). */
export interface HealthClient extends grpc.Client {
  Check(
    req: { service: string },
    options: grpc.CallOptions,
    cb: (err: grpc.ServiceError | null, res?: { status: string }) => void,
  ): void;
}

/** An insecure Health client of `address`. */
export function healthClient(address: string): HealthClient {
  const def = grpc.loadPackageDefinition(
    protoLoader.loadSync(healthProtoPath, { keepCase: true, defaults: true, enums: String }),
  ) as unknown as {
    grpc: { health: { v1: { Health: new (a: string, c: grpc.ChannelCredentials) => HealthClient } } };
  };
  return new def.grpc.health.v1.Health(address, grpc.credentials.createInsecure());
}
