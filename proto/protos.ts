import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import loadOptions from './load-options.json';
import type { ProtoGrpcType as LoadBalancerProto } from './gen/load_balancer';
import type { ProtoGrpcType as AdminProto } from './gen/admin';
import type { ProtoGrpcType as HelloworldProto } from './gen/helloworld';

/** Directory holding the .proto files (next to this module in the sources and in dist/). */
export const PROTO_DIR = __dirname;

const CONVERSIONS = { Number, String } as const;

/**
 * The proto-loader options every loader of our contracts uses; the generated types assume them.
 * load-options.json (shared with the type generator) names `longs`/`enums` as strings; the
 * loader wants the constructors themselves, or it silently returns Long objects.
 */
export const PROTO_LOAD_OPTIONS: protoLoader.Options = {
  keepCase: loadOptions.keepCase,
  defaults: loadOptions.defaults,
  oneofs: loadOptions.oneofs,
  longs: CONVERSIONS[loadOptions.longs as keyof typeof CONVERSIONS],
  enums: CONVERSIONS[loadOptions.enums as keyof typeof CONVERSIONS],
  includeDirs: [PROTO_DIR],
};

/** The .proto files of each contract, relative to PROTO_DIR. */
export const PROTO_FILES = {
  loadBalancer: 'lookaside/v1/load_balancer.proto',
  admin: 'lookaside/v1/admin.proto',
  helloworld: 'helloworld/helloworld.proto',
} as const;

export interface LookasideProtos {
  /** Package definition of lookaside.v1 (LoadBalancer and Admin), e.g. for server reflection. */
  readonly lookasideDefinition: protoLoader.PackageDefinition;
  readonly helloworldDefinition: protoLoader.PackageDefinition;
  readonly loadBalancer: LoadBalancerProto['lookaside']['v1'];
  readonly admin: AdminProto['lookaside']['v1'];
  readonly helloworld: HelloworldProto['helloworld'];
}

let cached: LookasideProtos | undefined;

/**
 * Loads the lookaside and helloworld contracts. Called by every server and client of ours;
 * parses the .proto files once per process and returns the same objects afterwards.
 */
export function loadProtos(): LookasideProtos {
  if (cached) return cached;
  const lookasideDefinition = protoLoader.loadSync(
    [PROTO_FILES.loadBalancer, PROTO_FILES.admin],
    PROTO_LOAD_OPTIONS,
  );
  const helloworldDefinition = protoLoader.loadSync(PROTO_FILES.helloworld, PROTO_LOAD_OPTIONS);
  const lookaside = grpc.loadPackageDefinition(lookasideDefinition) as unknown as LoadBalancerProto &
    AdminProto;
  const hello = grpc.loadPackageDefinition(helloworldDefinition) as unknown as HelloworldProto;
  cached = {
    lookasideDefinition,
    helloworldDefinition,
    loadBalancer: lookaside.lookaside.v1,
    admin: lookaside.lookaside.v1,
    helloworld: hello.helloworld,
  };
  return cached;
}
