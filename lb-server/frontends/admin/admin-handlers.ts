import { timingSafeEqual } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import type { AdminHandlers } from '../../../proto/gen/lookaside/v1/Admin';
import type { ClientInfo } from '../../../proto/gen/lookaside/v1/ClientInfo';
import { validateServiceName } from '../../../common/service-name';
import { countAssignment, type AssignedEndpoint } from '../../assignment/assignment';
import type { AssignmentPipeline } from '../../assignment/assignment-pipeline';
import type { ClientRegistry, ClientSnapshot } from '../../core/client-registry';
import type { RegistryState } from '../../core/registry-state';
import type { EndpointHealth } from '../../io/health-checker';
import type { Ejection, ReportedRates } from '../../core/outlier-detector';
import type { EndpointLoad } from '../../core/load-weights';
import type { PopulationClient } from '../../core/client-population-state';
import type { ServiceConfig } from '../../core/service-config-state';
import type { RejectedRecordInfo } from '../../core/registry-state';
import { toLookasideServerList } from '../lookaside-v1/lookaside-v1-server-list';

/** How many records without a valid service ListServices shows (all are counted). */
const MAX_UNATTRIBUTED_SHOWN = 100;
/** What the admin frontend reads. */
export interface AdminHandlersDeps {
  /** The registry: records as registered, rejected records. */
  readonly state: RegistryState;
  /** What clients are sent and why (and what self-preservation holds). */
  readonly pipeline: AssignmentPipeline;
  readonly clients: ClientRegistry;
  /** This replica's health checks, when on. */
  readonly health?: { healthOf(key: string): EndpointHealth | undefined };
  /** Outlier ejections and the client-reported rates they come from. */
  readonly outliers?: {
    ejection(service: string, address: string): Ejection | undefined;
    rates(service: string, address: string): ReportedRates;
  };
  /** Load-aware weights: each endpoint's factor and the inputs behind it. */
  readonly loads?: { loadOf(service: string, key: string): EndpointLoad };
  /** The client population of every replica (ListClients shows the other replicas' clients too). */
  readonly population?: {
    readonly replicaId: string;
    services(): string[];
    clients(service: string): readonly PopulationClient[];
  };
  /** Per-service configuration (GetService shows the effective one and a rejected value). */
  readonly serviceConfig?: {
    configOf(service: string): ServiceConfig;
    rejectionOf(service: string): RejectedRecordInfo | undefined;
  };
  /** Server-wide state: initial sync done, etcd watch up. */
  readonly status: () => { synced: boolean; etcdConnected: boolean };
  /** When set, every call must carry `authorization: Bearer <token>`. */
  readonly adminToken?: string;
}

/** A client of another replica: what the population record says; no peer, stats or assignment here. */
function toRemoteClientInfo(c: PopulationClient): ClientInfo {
  return {
    clientId: c.clientId,
    service: c.service,
    peer: '',
    zone: c.zone,
    connectedAtMs: c.connectedAtMs,
    assignedVersion: 0,
    assignedAtMs: 0,
    stats: [],
    lastStatsAtMs: 0,
    protocol: c.protocol,
    nacks: 0,
    replica: c.replica,
    local: false,
    subset: [...c.subset],
  };
}

function toClientInfo(c: ClientSnapshot, replica = '', subset: readonly string[] = []): ClientInfo {
  return {
    replica,
    local: true,
    subset: [...subset],
    clientId: c.clientId,
    service: c.service,
    peer: c.peer,
    zone: c.zone,
    connectedAtMs: c.connectedAtMs,
    assignedVersion: c.assignedVersion,
    assignedAtMs: c.assignedAtMs,
    stats: c.stats.map((s) => ({ ...s, failedByStatus: (s.failedByStatus ?? []).map((f) => ({ ...f })) })),
    lastStatsAtMs: c.lastStatsAtMs,
    protocol: c.protocol,
    nacks: c.nacks,
  };
}

function toServiceConfig(c: ServiceConfig) {
  return {
    subsetSize: c.subsetSize,
    zoneAware: c.zoneAware,
    zoneMinEndpoints: c.zoneMinEndpoints,
    source: c.source,
  };
}

function invalid(field: string, reason: string): Partial<grpc.StatusObject> {
  return { code: grpc.status.INVALID_ARGUMENT, details: `${field}: ${reason}` };
}

/** Checks the bearer token; returns an UNAUTHENTICATED status, or undefined when allowed. */
function authenticate(
  metadata: grpc.Metadata,
  token: string | undefined,
): Partial<grpc.StatusObject> | undefined {
  if (token === undefined || token === '') return undefined;
  const header = metadata.get('authorization')[0];
  const text = typeof header === 'string' ? header : '';
  const match = /^Bearer (.+)$/i.exec(text);
  if (!match) {
    return { code: grpc.status.UNAUTHENTICATED, details: 'missing "authorization: Bearer <token>" metadata' };
  }
  const given = Buffer.from(match[1]);
  const expected = Buffer.from(token);
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
    return { code: grpc.status.UNAUTHENTICATED, details: 'admin token does not match' };
  }
  return undefined;
}

/**
 * The `lookaside.v1.Admin` frontend: read-only views of the registry state, of what the
 * assignment stage decided (each endpoint's effective weight, eligibility and reasons) and of the
 * connected clients with what each was sent. Unknown services answer with an empty version-0 view (the same answer a client gets).
 * Invalid names get INVALID_ARGUMENT; a missing or wrong token UNAUTHENTICATED.
 * Called once by startLbServer; the handlers are added to its grpc.Server.
 */
export function createAdminHandlers(deps: AdminHandlersDeps): AdminHandlers {
  const { state, pipeline, clients } = deps;
  const replicaId = deps.population?.replicaId ?? '';
  /** The subset the population holds for a local client ([] when none). */
  const subsetOf = (service: string, clientId: string): readonly string[] =>
    deps.population?.clients(service).find((p) => p.local && p.clientId === clientId)?.subset ?? [];
  const localInfo = (c: ClientSnapshot): ClientInfo =>
    toClientInfo(c, replicaId, deps.population ? subsetOf(c.service, c.clientId) : []);
  const preservation = pipeline.preservation;
  const heldOf = (name: string) => preservation.held(name);
  const toEndpoint = (
    service: string,
    { endpoint: e, weight, eligible, reasons, duplicateOf }: AssignedEndpoint,
    heldUntilMs: number,
  ) => {
    const ejection = deps.outliers?.ejection(service, e.address);
    const rates = deps.outliers?.rates(service, e.address);
    const load = deps.loads?.loadOf(service, e.key);
    return {
      instanceId: e.instanceId,
      key: e.key,
      address: e.address,
      weight: e.weight,
      effectiveWeight: weight,
      zone: e.zone,
      metadata: { ...e.metadata },
      draining: e.draining,
      format: e.format,
      lease: e.lease,
      modRevision: e.modRevision,
      held: reasons.includes('held'),
      heldUntilMs: reasons.includes('held') ? heldUntilMs : 0,
      eligible,
      reasons: [...reasons],
      health: deps.health?.healthOf(e.key) ?? '',
      ejectionRule: ejection?.rule ?? '',
      ejectedSinceMs: ejection?.sinceMs ?? 0,
      ejectedUntilMs: ejection?.untilMs ?? 0,
      consecutiveEjections: ejection?.consecutive ?? 0,
      callsPerSecond: rates?.callsPerSecond ?? 0,
      failureRate: rates?.failureRate ?? 0,
      loadSource: load?.source ?? '',
      loadFactor: load?.factor ?? 1,
      capacity: load?.capacity ?? 0,
      utilization: load?.utilization ?? 0,
      qps: load?.qps ?? 0,
      eps: load?.eps ?? 0,
      latencyMs: load?.latencyMs ?? 0,
      duplicateOf: duplicateOf ?? '',
    };
  };

  const rejectedConfigOf = (service: string) => {
    const r = deps.serviceConfig?.rejectionOf(service);
    return r ? { key: r.key, reason: r.reason, modRevision: r.modRevision } : null;
  };

  function guard<Req, Res>(
    body: (request: Req) => Res | Partial<grpc.StatusObject>,
  ): grpc.handleUnaryCall<Req, Res> {
    return (call, callback) => {
      const denied = authenticate(call.metadata, deps.adminToken);
      if (denied) {
        callback(denied);
        return;
      }
      const out = body(call.request);
      if (typeof out === 'object' && out !== null && 'code' in out && typeof out.code === 'number') {
        callback(out as Partial<grpc.StatusObject>);
      } else {
        callback(null, out as Res);
      }
    };
  }

  return {
    ListServices: guard(() => {
      const names = [...new Set([...state.serviceNames(), ...clients.requestedServices()])].sort();
      const status = deps.status();
      return {
        services: names.map((name) => {
          const view = state.service(name);
          const counts = countAssignment(pipeline.serviceAssignment(name));
          return {
            name,
            version: view.version,
            // What clients are sent (held endpoints included), as GetService lists them.
            endpoints: counts.endpoints,
            servingEndpoints: counts.eligible,
            drainingEndpoints: counts.byReason.draining,
            rejectedRecords: view.rejected.length,
            clients: clients.count(name),
            heldEndpoints: heldOf(name).count,
            heldUntilMs: heldOf(name).untilMs,
          };
        }),
        synced: status.synced,
        etcdConnected: status.etcdConnected,
        selfPreservationGraceMs: preservation.options.graceMs,
        selfPreservationThreshold: preservation.options.threshold,
        selfPreservationActive: names.some((name) => heldOf(name).count > 0),
        unattributedRejected: state
          .unattributedRejected()
          .slice(0, MAX_UNATTRIBUTED_SHOWN)
          .map((r) => ({ key: r.key, reason: r.reason, modRevision: r.modRevision })),
        rejectedRecords: state.rejectedCount(),
      };
    }),

    GetService: guard((req) => {
      const valid = validateServiceName(req.name);
      if (!valid.ok) return invalid('name', valid.reason);
      const view = state.service(req.name);
      const held = heldOf(req.name);
      const assignment = pipeline.serviceAssignment(req.name);
      return {
        name: view.name,
        version: view.version,
        // What clients are sent: held endpoints too (etcd removed them, clients still get them).
        endpoints: assignment.endpoints.map((e) => toEndpoint(req.name, e, held.untilMs)),
        heldEndpoints: held.count,
        heldUntilMs: held.untilMs,
        rejected: view.rejected.map((r) => ({ ...r })),
        clients: clients.count(req.name),
        assignmentVersion: assignment.version,
        panic: assignment.panic,
        config: deps.serviceConfig ? toServiceConfig(deps.serviceConfig.configOf(req.name)) : null,
        rejectedConfig: rejectedConfigOf(req.name),
      };
    }),

    ListClients: guard((req) => {
      if (req.service !== '') {
        const valid = validateServiceName(req.service);
        if (!valid.ok) return invalid('service', valid.reason);
      }
      const local = clients.list(req.service || undefined).map(localInfo);
      const population = deps.population;
      if (!population) return { clients: local };
      const services = req.service !== '' ? [req.service] : population.services();
      const remote = services.flatMap((s) =>
        population
          .clients(s)
          .filter((c) => !c.local)
          .map(toRemoteClientInfo),
      );
      return { clients: [...local, ...remote] };
    }),

    GetAssignment: guard((req) => {
      const valid = validateServiceName(req.service);
      if (!valid.ok) return invalid('service', valid.reason);
      const matching = clients
        .list(req.service)
        .filter((c) => req.clientId === '' || c.clientId === req.clientId);
      if (req.clientId !== '' && matching.length === 0) {
        const elsewhere = deps.population
          ?.clients(req.service)
          .find((c) => !c.local && c.clientId === req.clientId);
        return {
          code: grpc.status.NOT_FOUND,
          details: elsewhere
            ? `client "${req.clientId}" of service "${req.service}" is served by replica "${elsewhere.replica}", not this one: ask that replica for its assignment`
            : `no client "${req.clientId}" is connected for service "${req.service}"`,
        };
      }
      return {
        service: req.service,
        current: toLookasideServerList(pipeline.serviceAssignment(req.service)),
        clients: matching.map((c) => ({
          client: localInfo(c),
          serverList: c.assigned ? toLookasideServerList(c.assigned) : { version: 0, servers: [] },
          group: c.assigned?.group ?? '',
        })),
      };
    }),
  };
}
