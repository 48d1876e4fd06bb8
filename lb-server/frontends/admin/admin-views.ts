import type { ClientInfo } from '../../../proto/gen/lookaside/v1/ClientInfo';
import { countAssignment, type AssignedEndpoint } from '../../assignment/assignment';
import type { AssignmentPipeline } from '../../assignment/assignment-pipeline';
import type { ClientRegistry, ClientSnapshot } from '../../core/client-registry';
import type { RegistryState } from '../../core/registry-state';
import type { EndpointHealth } from '../../io/health-checker';
import type { Ejection, ReportedRates } from '../../core/outlier-detector';
import type { EndpointLoad } from '../../core/load-weights';
import type { Override } from '../../../proto/gen/lookaside/v1/Override';
import type { ServicePlan } from '../../assignment/population-policy';
import type { RejectedOverride } from '../../core/override-state';
import type { OverrideStore, StoredOverride } from '../../io/override-store';
import type { PopulationClient } from '../../core/client-population-state';
import type { ServiceConfig } from '../../core/service-config-state';
import type { RejectedRecordInfo } from '../../core/registry-state';

/** How many records without a valid service ListServices shows (all are counted). */
const MAX_UNATTRIBUTED_SHOWN = 100;

/** What the admin views read: the same objects the assignment stage and the metrics read. */
export interface AdminViewDeps {
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
  /** Server-wide state: initial sync done, etcd watch up. */
  readonly status: () => { synced: boolean; etcdConnected: boolean };
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
  /** Per-client assignments (subsetting, zones): the plans every replica computes alike. */
  readonly plans?: { planOf(service: string): ServicePlan | undefined };
  /** Operator overrides: the store (set, clear, list) and the malformed values the watch rejected. */
  readonly overrideViews?: {
    readonly store: OverrideStore;
    rejected(service: string): readonly RejectedOverride[];
  };
}

/** An operator override as the admin API (gRPC and console) shows it. */
export function toOverride(o: StoredOverride): Override {
  return {
    service: o.service,
    instanceId: o.instanceId,
    key: o.key,
    ...(o.weight !== undefined ? { weight: o.weight } : {}),
    draining: o.draining,
    who: o.who,
    reason: o.why,
    atMs: o.atMs,
    expiresAtMs: o.expiresAtMs ?? 0,
    dangling: o.dangling,
    modRevision: o.modRevision,
  };
}

/** One client this replica serves, as the admin API (gRPC and console) shows it. */
export function toClientInfo(c: ClientSnapshot, replica = '', subset: readonly string[] = []): ClientInfo {
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

/** A client of another replica: what the population record says; no peer, stats or assignment here. */
export function toRemoteClientInfo(c: PopulationClient): ClientInfo {
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

/** A local client with this replica's id and the subset its population record holds. */
export function localClientInfo(deps: AdminViewDeps, c: ClientSnapshot): ClientInfo {
  const population = deps.population;
  if (!population) return toClientInfo(c);
  const subset =
    population.clients(c.service).find((p) => p.local && p.clientId === c.clientId)?.subset ?? [];
  return toClientInfo(c, population.replicaId, subset);
}

/** Every client of `service` (all when undefined): this replica's first, then the others' from etcd. */
export function clientsView(deps: AdminViewDeps, service: string | undefined): ClientInfo[] {
  const local = deps.clients.list(service).map((c) => localClientInfo(deps, c));
  const population = deps.population;
  if (!population) return local;
  const services = service !== undefined ? [service] : population.services();
  const remote = services.flatMap((s) =>
    population
      .clients(s)
      .filter((c) => !c.local)
      .map(toRemoteClientInfo),
  );
  return [...local, ...remote];
}

/** One endpoint of a service's assignment with every signal behind its effective weight. */
export function endpointView(
  deps: AdminViewDeps,
  service: string,
  { endpoint: e, weight, eligible, reasons, duplicateOf }: AssignedEndpoint,
  heldUntilMs: number,
  override?: StoredOverride,
) {
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
    assignedClients: deps.plans?.planOf(service)?.assignedClients.get(e.instanceId) ?? 0,
    override: override ? toOverride(override) : null,
  };
}

/** An endpoint as endpointView shows it. */
export type EndpointView = ReturnType<typeof endpointView>;

/**
 * Every known service (registered, or asked for by a client) with its counts, and the
 * server-wide state: what ListServices answers and the console's services page shows.
 */
export function servicesView(deps: AdminViewDeps) {
  const { state, pipeline, clients } = deps;
  const preservation = pipeline.preservation;
  const names = [...new Set([...state.serviceNames(), ...clients.requestedServices()])].sort();
  const status = deps.status();
  return {
    services: names.map((name) => {
      const view = state.service(name);
      const assignment = pipeline.serviceAssignment(name);
      const counts = countAssignment(assignment);
      const held = preservation.held(name);
      return {
        name,
        version: view.version,
        // What clients are sent (held endpoints included), as GetService lists them.
        endpoints: counts.endpoints,
        servingEndpoints: counts.eligible,
        drainingEndpoints: counts.byReason.draining,
        rejectedRecords: view.rejected.length,
        clients: clients.count(name),
        heldEndpoints: held.count,
        heldUntilMs: held.untilMs,
        // Not in the gRPC message (its decoder drops them); the console shows them.
        ejectedEndpoints: counts.byReason.ejected,
        unhealthyEndpoints: counts.byReason.unhealthy,
        panic: assignment.panic,
      };
    }),
    synced: status.synced,
    etcdConnected: status.etcdConnected,
    selfPreservationGraceMs: preservation.options.graceMs,
    selfPreservationThreshold: preservation.options.threshold,
    selfPreservationActive: names.some((name) => preservation.held(name).count > 0),
    unattributedRejected: state
      .unattributedRejected()
      .slice(0, MAX_UNATTRIBUTED_SHOWN)
      .map((r) => ({ key: r.key, reason: r.reason, modRevision: r.modRevision })),
    rejectedRecords: state.rejectedCount(),
  };
}

/**
 * One service: what clients are sent (held endpoints too: etcd removed them, clients still get
 * them) with each endpoint's signals, its rejected records and client count. `name` must be a
 * valid service name (the callers validate it); an unknown one is an empty version-0 view.
 */
export function serviceView(deps: AdminViewDeps, name: string) {
  const view = deps.state.service(name);
  const held = deps.pipeline.preservation.held(name);
  const assignment = deps.pipeline.serviceAssignment(name);
  const overrides = new Map((deps.overrideViews?.store.list(name) ?? []).map((o) => [o.instanceId, o]));
  const shown = new Set(assignment.endpoints.map((e) => e.endpoint.instanceId));
  return {
    name: view.name,
    version: view.version,
    endpoints: assignment.endpoints.map((e) =>
      endpointView(deps, name, e, held.untilMs, overrides.get(e.endpoint.instanceId)),
    ),
    // Dangling: no record (a held endpoint counts as one: its override applies to it).
    danglingOverrides: [...overrides.values()]
      .filter((o) => !shown.has(o.instanceId))
      .map((o) => toOverride({ ...o, dangling: true })),
    heldEndpoints: held.count,
    heldUntilMs: held.untilMs,
    rejected: [
      ...view.rejected.map((r) => ({ ...r })),
      ...(deps.overrideViews?.rejected(name) ?? []).map((r) => ({
        key: r.key,
        reason: r.reason,
        modRevision: r.modRevision,
      })),
    ],
    clients: deps.clients.count(name),
    assignmentVersion: assignment.version,
    panic: assignment.panic,
    config: deps.serviceConfig ? toServiceConfig(deps.serviceConfig.configOf(name)) : null,
    rejectedConfig: rejectedConfigOf(deps, name),
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

function rejectedConfigOf(deps: AdminViewDeps, service: string) {
  const r = deps.serviceConfig?.rejectionOf(service);
  return r ? { key: r.key, reason: r.reason, modRevision: r.modRevision } : null;
}
