import { timingSafeEqual } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import type { AdminHandlers } from '../../../proto/gen/lookaside/v1/Admin';
import type { ClientInfo } from '../../../proto/gen/lookaside/v1/ClientInfo';
import { validateServiceName } from '../../../common/service-name';
import { MAX_WHO_LENGTH } from '../../../common/override-record';
import { countAssignment, type AssignedEndpoint } from '../../assignment/assignment';
import type { AssignmentPipeline } from '../../assignment/assignment-pipeline';
import type { ClientRegistry, ClientSnapshot } from '../../core/client-registry';
import type { RegistryState } from '../../core/registry-state';
import type { EndpointHealth } from '../../io/health-checker';
import type { Ejection, ReportedRates } from '../../core/outlier-detector';
import type { EndpointLoad } from '../../core/load-weights';
import { toLookasideServerList } from '../lookaside-v1/lookaside-v1-server-list';
import type { ClientPlan as ClientPlanMessage } from '../../../proto/gen/lookaside/v1/ClientPlan';
import type { Assignment } from '../../assignment/assignment';
import type { ServicePlan } from '../../assignment/population-policy';
import type { Override } from '../../../proto/gen/lookaside/v1/Override';
import type { RejectedOverride } from '../../core/override-state';
import {
  OverrideInputError,
  OverrideWriteError,
  type OverrideStore,
  type StoredOverride,
} from '../../io/override-store';

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
  /** Server-wide state: initial sync done, etcd watch up. */
  readonly status: () => { synced: boolean; etcdConnected: boolean };
  /** When set, every call must carry `authorization: Bearer <token>`. */
  readonly adminToken?: string;
  /** Per-client assignments (subsetting, zones): the plans every replica computes alike. */
  readonly plans?: { planOf(service: string): ServicePlan | undefined };
  /** Which replica serves a client of the population ("" when unknown). */
  readonly replicaOf?: (service: string, clientId: string) => string;
  /** Operator overrides: the store (set, clear, list) and the malformed values the watch rejected. */
  readonly overrides: {
    readonly store: OverrideStore;
    rejected(service: string): readonly RejectedOverride[];
  };
}

/**
 * Why each endpoint of `base` is or is not in `sent`, the list of a client with `plan`'s parts.
 */
function planMessage(
  plan: ServicePlan,
  clientId: string,
  base: Assignment,
  sent: Assignment,
  replica: string,
): ClientPlanMessage | null {
  const client = plan.clients.get(clientId);
  if (!client) return null;
  const inList = new Map(sent.endpoints.map((e) => [e.endpoint.instanceId, e]));
  const zones = new Set(client.parts.map((p) => p.zone));
  return {
    zone: client.zone,
    index: client.index,
    zoneMode: client.zoneMode,
    subsetSize: plan.settings.subsetSize,
    parts: client.parts.map((p) => ({ zone: p.zone, share: p.share, instanceIds: [...p.ids] })),
    entries: base.endpoints.map((e) => {
      const id = e.endpoint.instanceId;
      const sentEntry = inList.get(id);
      let why: string;
      if (e.duplicateOf !== undefined) why = 'duplicate';
      else if (sentEntry) why = sentEntry.reasons.includes('refill') ? 'refill' : 'subset';
      else if (!zones.has('*') && !zones.has(e.endpoint.zone)) why = 'zone-no-share';
      else why = 'outside-subset';
      return { instanceId: id, inList: sentEntry !== undefined, why, zone: e.endpoint.zone };
    }),
    replica,
  };
}

function toOverride(o: StoredOverride): Override {
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

/** A thrown error as the status an admin call answers with. */
function statusOf(err: unknown): Partial<grpc.StatusObject> {
  if (err instanceof OverrideInputError) return invalid(err.field, err.reason);
  // etcd refused or did not answer: worth retrying once etcd is back (or the role fixed).
  if (err instanceof OverrideWriteError) return { code: grpc.status.UNAVAILABLE, details: err.message };
  return { code: grpc.status.INTERNAL, details: err instanceof Error ? err.message : String(err) };
}

/** "who" when the caller gives none: its peer address. */
function whoOf(given: string, peer: string): string {
  return given !== '' ? given : `peer ${peer}`.slice(0, MAX_WHO_LENGTH);
}

function toClientInfo(c: ClientSnapshot): ClientInfo {
  return {
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
 * The `lookaside.v1.Admin` frontend: views of the registry state, of what the assignment stage
 * decided (each endpoint's effective weight, eligibility and reasons, with the operator override
 * behind it) and of the connected clients with what each was sent; and operator overrides
 * (SetOverride, ClearOverride, ListOverrides) through the OverrideStore. `who` defaults to the
 * caller's peer; an etcd write that fails answers UNAVAILABLE. Unknown services answer with an empty version-0 view (the same answer a client gets).
 * Invalid names get INVALID_ARGUMENT; a missing or wrong token UNAUTHENTICATED.
 * Called once by startLbServer; the handlers are added to its grpc.Server.
 */
export function createAdminHandlers(deps: AdminHandlersDeps): AdminHandlers {
  const { state, pipeline, clients } = deps;
  const preservation = pipeline.preservation;
  const heldOf = (name: string) => preservation.held(name);
  const toEndpoint = (
    service: string,
    { endpoint: e, weight, eligible, reasons, duplicateOf }: AssignedEndpoint,
    heldUntilMs: number,
    override: StoredOverride | undefined,
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
      assignedClients: deps.plans?.planOf(service)?.assignedClients.get(e.instanceId) ?? 0,
      override: override ? toOverride(override) : null,
    };
  };

  /** Like guard(), for handlers that wait (etcd writes); a thrown error becomes its status. */
  function guardAsync<Req, Res>(
    body: (request: Req, peer: string) => Promise<Res>,
  ): grpc.handleUnaryCall<Req, Res> {
    return (call, callback) => {
      const denied = authenticate(call.metadata, deps.adminToken);
      if (denied) {
        callback(denied);
        return;
      }
      body(call.request, call.getPeer()).then(
        (res) => callback(null, res),
        (err: unknown) => callback(statusOf(err)),
      );
    };
  }

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
      const overrides = new Map(deps.overrides.store.list(req.name).map((o) => [o.instanceId, o]));
      const shown = new Set(assignment.endpoints.map((e) => e.endpoint.instanceId));
      return {
        name: view.name,
        version: view.version,
        // What clients are sent: held endpoints too (etcd removed them, clients still get them).
        endpoints: assignment.endpoints.map((e) =>
          toEndpoint(req.name, e, held.untilMs, overrides.get(e.endpoint.instanceId)),
        ),
        // Dangling: no record (a held endpoint counts as one: its override applies to it).
        danglingOverrides: [...overrides.values()]
          .filter((o) => !shown.has(o.instanceId))
          .map((o) => toOverride({ ...o, dangling: true })),
        heldEndpoints: held.count,
        heldUntilMs: held.untilMs,
        rejected: [
          ...view.rejected.map((r) => ({ ...r })),
          ...deps.overrides.rejected(req.name).map((r) => ({
            key: r.key,
            reason: r.reason,
            modRevision: r.modRevision,
          })),
        ],
        clients: clients.count(req.name),
        assignmentVersion: assignment.version,
        panic: assignment.panic,
      };
    }),

    ListClients: guard((req) => {
      if (req.service !== '') {
        const valid = validateServiceName(req.service);
        if (!valid.ok) return invalid('service', valid.reason);
      }
      return { clients: clients.list(req.service || undefined).map(toClientInfo) };
    }),

    GetAssignment: guard((req) => {
      const valid = validateServiceName(req.service);
      if (!valid.ok) return invalid('service', valid.reason);
      const base = pipeline.serviceAssignment(req.service);
      const plan = deps.plans?.planOf(req.service);
      const replicaOf = (clientId: string) => deps.replicaOf?.(req.service, clientId) ?? '';
      const matching = clients
        .list(req.service)
        .filter((c) => req.clientId === '' || c.clientId === req.clientId);
      const connected = new Set(matching.map((c) => c.clientId));
      const answers = matching.map((c) => {
        const sent = c.assigned ?? pipeline.clientAssignment(c);
        return {
          client: toClientInfo(c),
          serverList: c.assigned ? toLookasideServerList(c.assigned) : { version: 0, servers: [] },
          group: c.assigned?.group ?? '',
          plan: plan ? planMessage(plan, c.clientId, base, sent, replicaOf(c.clientId)) : null,
        };
      });
      // Clients of other replicas: every replica computes the same plan, so theirs is shown too.
      for (const p of plan ? [...plan.clients.values()] : []) {
        if (connected.has(p.clientId) || (req.clientId !== '' && p.clientId !== req.clientId)) continue;
        const sent = pipeline.groupAssignment(req.service, p.group);
        answers.push({
          client: { clientId: p.clientId, service: req.service, zone: p.zone },
          serverList: toLookasideServerList(sent),
          group: p.group,
          plan: plan ? planMessage(plan, p.clientId, base, sent, replicaOf(p.clientId)) : null,
        });
      }
      if (req.clientId !== '' && answers.length === 0) {
        return {
          code: grpc.status.NOT_FOUND,
          details: `no client "${req.clientId}" of service "${req.service}" is known to this LB server`,
        };
      }
      return {
        service: req.service,
        current: toLookasideServerList(base),
        clients: answers,
      };
    }),

    SetOverride: guardAsync(async (req, peer) => {
      const stored = await deps.overrides.store.set({
        service: req.service,
        instanceId: req.instanceId,
        ...(req.weight !== undefined ? { weight: req.weight } : {}),
        ...(req.draining !== undefined ? { draining: req.draining } : {}),
        reason: req.reason,
        forMs: Number(req.forMs),
        who: whoOf(req.who, peer),
      });
      return { override: toOverride(stored) };
    }),

    ClearOverride: guardAsync(async (req, peer) => ({
      cleared: await deps.overrides.store.clear(req.service, req.instanceId, whoOf(req.who, peer)),
    })),

    ListOverrides: guardAsync(async (req) => {
      if (req.service !== '') {
        const valid = validateServiceName(req.service);
        if (!valid.ok) throw new OverrideInputError('service', valid.reason);
      }
      return { overrides: deps.overrides.store.list(req.service || undefined).map(toOverride) };
    }),
  };
}
