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

/**
 * Our contracts. Each property parses its .proto files on first access and returns the same
 * object afterwards, so a process pays only for the contracts it reads: the client SDK reads
 * `loadBalancer` and never parses admin.proto or the demo's helloworld.proto.
 */
export interface LookasideProtos {
  /** Package definition of lookaside.v1 (LoadBalancer and Admin), e.g. for server reflection. */
  readonly lookasideDefinition: protoLoader.PackageDefinition;
  /** Package definition of the demo's helloworld.Greeter. */
  readonly helloworldDefinition: protoLoader.PackageDefinition;
  /** lookaside.v1 with the LoadBalancer service: what LB servers serve and SDK clients call. */
  readonly loadBalancer: LoadBalancerProto['lookaside']['v1'];
  /** lookaside.v1 with the Admin service (and the LoadBalancer messages it imports). */
  readonly admin: AdminProto['lookaside']['v1'];
  /** The demo's helloworld package. */
  readonly helloworld: HelloworldProto['helloworld'];
}

/** `compute` on the first call, the same value on every later one. */
function once<T>(compute: () => T): () => T {
  let value: { readonly v: T } | undefined;
  return () => (value ??= { v: compute() }).v;
}

const load = (files: string | string[]): protoLoader.PackageDefinition =>
  protoLoader.loadSync(files, PROTO_LOAD_OPTIONS);

const lookasideDefinition = once(() => load([PROTO_FILES.loadBalancer, PROTO_FILES.admin]));
const helloworldDefinition = once(() => load(PROTO_FILES.helloworld));
// The LoadBalancer alone, for the SDK; the LB server parses load_balancer.proto a second time
// for lookasideDefinition, once per process.
const loadBalancer = once(
  () =>
    (grpc.loadPackageDefinition(load(PROTO_FILES.loadBalancer)) as unknown as LoadBalancerProto).lookaside.v1,
);
const admin = once(
  () => (grpc.loadPackageDefinition(lookasideDefinition()) as unknown as AdminProto).lookaside.v1,
);
const helloworld = once(
  () => (grpc.loadPackageDefinition(helloworldDefinition()) as unknown as HelloworldProto).helloworld,
);

const protos: LookasideProtos = {
  get lookasideDefinition() {
    return lookasideDefinition();
  },
  get helloworldDefinition() {
    return helloworldDefinition();
  },
  get loadBalancer() {
    return loadBalancer();
  },
  get admin() {
    return admin();
  },
  get helloworld() {
    return helloworld();
  },
};

/**
 * Our contracts (lookaside.v1 and the demo's helloworld). Called by every server and client of
 * ours; returns the same object every time, whose properties parse their .proto files on first
 * access (see LookasideProtos).
 */
export function loadProtos(): LookasideProtos {
  return protos;
}
