import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import type { LoadBalancerDefinition } from './gen/grpc/lb/v1/LoadBalancer';
import { PROTO_LOAD_OPTIONS } from './protos';

/** The grpclb v1 contract (public `grpc.lb.v1`), relative to PROTO_DIR. */
export const GRPCLB_PROTO_FILE = 'grpc/lb/v1/load_balancer.proto';

let cached: LoadBalancerDefinition | undefined;
let cachedPackage: protoLoader.PackageDefinition | undefined;

/** The package definition of grpc.lb.v1 (for server reflection), parsed once per process. */
export function loadGrpclbProtos(): protoLoader.PackageDefinition {
  cachedPackage ??= protoLoader.loadSync(GRPCLB_PROTO_FILE, PROTO_LOAD_OPTIONS);
  return cachedPackage;
}

/**
 * The `grpc.lb.v1.LoadBalancer` service definition, parsed once per process. startLbServer adds
 * it (with the grpclb frontend's handlers) next to `lookaside.v1.LoadBalancer`; the two differ by
 * package, so both live on one port.
 */
export function grpclbServiceDefinition(): LoadBalancerDefinition {
  if (cached) return cached;
  const loaded = grpc.loadPackageDefinition(loadGrpclbProtos()) as unknown as {
    grpc: { lb: { v1: { LoadBalancer: { service: LoadBalancerDefinition } } } };
  };
  cached = loaded.grpc.lb.v1.LoadBalancer.service;
  return cached;
}
