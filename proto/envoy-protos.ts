import { dirname, join } from 'node:path';
import type * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { PROTO_LOAD_OPTIONS } from './protos';

/**
 * The Envoy xDS contracts, loaded at run time from the .proto files that `@grpc/grpc-js-xds`
 * ships in its `deps/` folder (never copied into this repository). Only the ADS service and the
 * resource types our xDS frontend writes are loaded; they share one protobuf root, so that a
 * resource written as an Any object `{ '@type': <type URL>, ...fields }` is encoded by its type.
 */

/** The .proto files loaded, relative to the include dirs. */
export const ENVOY_PROTO_FILES = [
  'envoy/service/discovery/v3/ads.proto',
  'envoy/config/listener/v3/listener.proto',
  'envoy/config/route/v3/route.proto',
  'envoy/config/cluster/v3/cluster.proto',
  'envoy/config/endpoint/v3/endpoint.proto',
  'envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.proto',
  'envoy/extensions/filters/http/router/v3/router.proto',
] as const;

/** The fully qualified name of the ADS service. */
export const ADS_SERVICE_NAME = 'envoy.service.discovery.v3.AggregatedDiscoveryService';

/** The include dirs inside the installed `@grpc/grpc-js-xds` package. */
export function envoyIncludeDirs(): string[] {
  const pkg = dirname(require.resolve('@grpc/grpc-js-xds/package.json'));
  return ['envoy-api', 'xds', 'googleapis', 'protoc-gen-validate'].map((d) => join(pkg, 'deps', d));
}

let cached: protoLoader.PackageDefinition | undefined;

/**
 * The package definition of the Envoy protos above, with our usual load options (camelCase
 * fields, enums as strings, defaults). Parsed once per process (about 70 files, ~0.3 s), on the
 * first call: startLbServer calls it when it adds the xDS frontend.
 */
export function loadEnvoyProtos(): protoLoader.PackageDefinition {
  cached ??= protoLoader.loadSync([...ENVOY_PROTO_FILES], {
    ...PROTO_LOAD_OPTIONS,
    includeDirs: envoyIncludeDirs(),
  });
  return cached;
}

/** The ADS service definition, for grpc.Server.addService. */
export function adsServiceDefinition(): grpc.ServiceDefinition {
  const service = loadEnvoyProtos()[ADS_SERVICE_NAME];
  if (!service || 'format' in service) {
    throw new Error(`${ADS_SERVICE_NAME} is missing from the Envoy protos in @grpc/grpc-js-xds`);
  }
  return service as grpc.ServiceDefinition;
}
