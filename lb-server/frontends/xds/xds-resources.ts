import { isIP } from 'node:net';
import { serviceOfTargetName } from '../../../common/service-name';
import { exclusionReason, type Assignment, type ExclusionReason } from '../../assignment/assignment';

/**
 * The translation of assignments into the four xDS resources a proxyless gRPC client asks
 * for. Pure: no I/O, no state. Every resource of a service is named after it (the Listener keeps
 * the exact name the client asked for, port included). The objects are proto-loader input
 * objects of the Envoy v3 messages, typed here only as far as we fill them; an Any is written as
 * `{ '@type': <type URL>, ...fields }` and encoded by the loaded Envoy protos.
 */

export const LISTENER_TYPE_URL = 'type.googleapis.com/envoy.config.listener.v3.Listener';
export const ROUTE_CONFIGURATION_TYPE_URL = 'type.googleapis.com/envoy.config.route.v3.RouteConfiguration';
export const CLUSTER_TYPE_URL = 'type.googleapis.com/envoy.config.cluster.v3.Cluster';
export const CLUSTER_LOAD_ASSIGNMENT_TYPE_URL =
  'type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment';
const HTTP_CONNECTION_MANAGER_TYPE_URL =
  'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager';
const ROUTER_TYPE_URL = 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router';

/** The four resource types, in the order a client resolves them. */
export const XDS_TYPE_URLS = [
  LISTENER_TYPE_URL,
  ROUTE_CONFIGURATION_TYPE_URL,
  CLUSTER_TYPE_URL,
  CLUSTER_LOAD_ASSIGNMENT_TYPE_URL,
] as const;

export type XdsTypeUrl = (typeof XDS_TYPE_URLS)[number];

/** True for a type URL this frontend serves. */
export function isXdsTypeUrl(typeUrl: string): typeUrl is XdsTypeUrl {
  return (XDS_TYPE_URLS as readonly string[]).includes(typeUrl);
}

/** An xDS resource as written into DiscoveryResponse.resources (an Any). */
export interface XdsResource {
  readonly '@type': XdsTypeUrl;
  readonly name?: string;
  readonly clusterName?: string;
  readonly [field: string]: unknown;
}

/**
 * The Listener `listenerName` (an API listener for service `service`): an HttpConnectionManager
 * that takes its routes over ADS from RouteConfiguration `service`, with the router filter.
 */
export function listenerResource(listenerName: string, service: string): XdsResource {
  return {
    '@type': LISTENER_TYPE_URL,
    name: listenerName,
    apiListener: {
      apiListener: {
        '@type': HTTP_CONNECTION_MANAGER_TYPE_URL,
        rds: { configSource: { ads: {}, resourceApiVersion: 'V3' }, routeConfigName: service },
        httpFilters: [{ name: 'envoy.filters.http.router', typedConfig: { '@type': ROUTER_TYPE_URL } }],
      },
    },
  };
}

/** RouteConfiguration `service`: any authority, any path, to Cluster `service`. */
export function routeConfigurationResource(service: string): XdsResource {
  return {
    '@type': ROUTE_CONFIGURATION_TYPE_URL,
    name: service,
    virtualHosts: [
      { name: service, domains: ['*'], routes: [{ match: { prefix: '' }, route: { cluster: service } }] },
    ],
  };
}

/** Cluster `service`: EDS over ADS (ClusterLoadAssignment `service`), round robin. */
export function clusterResource(service: string): XdsResource {
  return {
    '@type': CLUSTER_TYPE_URL,
    name: service,
    type: 'EDS',
    lbPolicy: 'ROUND_ROBIN',
    edsClusterConfig: { edsConfig: { ads: {}, resourceApiVersion: 'V3' }, serviceName: service },
  };
}

/** Why an entry of an assignment is not in a ClusterLoadAssignment. */
export type SkippedEndpointReason = ExclusionReason | 'not-an-ip';

/** A ClusterLoadAssignment and the endpoints left out of it. */
export interface LoadAssignment {
  readonly resource: XdsResource;
  readonly skipped: readonly { readonly key: string; readonly reason: SkippedEndpointReason }[];
}

/**
 * ClusterLoadAssignment `assignment.service`. Stock clients (grpc-js-xds's ROUND_ROBIN) pick a
 * locality by locality weight and ignore endpoint weights inside one, so each endpoint gets a
 * locality of its own (sub_zone = instance id, zone = its zone) whose `load_balancing_weight` is
 * its weight; the endpoint weight is set too, for policies that read it (RING_HASH). Entries the
 * stage made ineligible are left out, so they get no new calls; so are hosts that are not IP
 * addresses (xDS clients NACK host names). An empty assignment fails calls with UNAVAILABLE.
 */
export function loadAssignmentResource(assignment: Assignment): LoadAssignment {
  const skipped: { key: string; reason: SkippedEndpointReason }[] = [];
  const localities: unknown[] = [];
  for (const entry of assignment.endpoints) {
    const e = entry.endpoint;
    const reason = exclusionReason(entry) ?? (isIP(e.host) === 0 ? 'not-an-ip' : undefined);
    if (reason) {
      skipped.push({ key: e.key, reason });
      continue;
    }
    localities.push({
      locality: { region: '', zone: e.zone, subZone: e.instanceId },
      loadBalancingWeight: { value: entry.weight },
      priority: 0,
      lbEndpoints: [
        {
          endpoint: { address: { socketAddress: { address: e.host, portValue: e.port } } },
          healthStatus: 'HEALTHY',
          loadBalancingWeight: { value: entry.weight },
        },
      ],
    });
  }
  return {
    resource: {
      '@type': CLUSTER_LOAD_ASSIGNMENT_TYPE_URL,
      clusterName: assignment.service,
      endpoints: localities,
    },
    skipped,
  };
}

/** The full state-of-the-world answer of one type, and a key of what it holds. */
export interface XdsAnswer {
  /** Equal keys mean equal answers: a stream sends a type again only when its key changed. */
  readonly key: string;
  /** The highest assignment version among the named services (version_info). */
  readonly version: number;
  readonly resources: readonly XdsResource[];
  /** The assignments an EDS answer carries (to note on each client's record). */
  readonly assignments: readonly Assignment[];
}

/**
 * The answer of type `typeUrl` for the subscribed `names`. `assignmentOf` gives the current
 * assignment of a service (for this client), `claOf` its ClusterLoadAssignment (cached by the
 * caller per assignment). Names that are not service names do not exist and are left out; a
 * service never registered gets the same chain with an empty assignment (version 0), as
 * lookaside.v1 answers it with an empty list: stock clients then fail calls at once with
 * UNAVAILABLE (leaving its Listener out makes grpc-js-xds 1.14 mark it missing only after 15 s
 * and then still queue calls until their deadline). Pure.
 */
export function xdsAnswer(
  typeUrl: XdsTypeUrl,
  names: readonly string[],
  assignmentOf: (service: string) => Assignment,
  claOf: (assignment: Assignment) => XdsResource,
): XdsAnswer {
  const resources: XdsResource[] = [];
  const assignments: Assignment[] = [];
  const held: [string, number][] = [];
  let version = 0;
  for (const name of names) {
    const service = serviceOfTargetName(name);
    if (service === undefined) continue;
    const assignment = assignmentOf(service);
    version = Math.max(version, assignment.version);
    switch (typeUrl) {
      case LISTENER_TYPE_URL:
        held.push([name, 0]);
        resources.push(listenerResource(name, service));
        break;
      case ROUTE_CONFIGURATION_TYPE_URL:
        held.push([name, 0]);
        resources.push(routeConfigurationResource(service));
        break;
      case CLUSTER_TYPE_URL:
        held.push([name, 0]);
        resources.push(clusterResource(service));
        break;
      case CLUSTER_LOAD_ASSIGNMENT_TYPE_URL:
        held.push([name, assignment.version]);
        resources.push({ ...claOf(assignment), clusterName: name });
        assignments.push(assignment);
        break;
    }
  }
  return { key: JSON.stringify(held), version, resources, assignments };
}
