import * as grpc from '@grpc/grpc-js';
import type { AdminHandlers } from '../../../proto/gen/lookaside/v1/Admin';
import { validateServiceName } from '../../../common/service-name';
import { checkBearerToken } from '../bearer-token';
import { toLookasideServerList } from '../lookaside-v1/lookaside-v1-server-list';
import {
  clientsView,
  localClientInfo,
  serviceView,
  servicesView,
  toOverride,
  toRemoteClientInfo,
  type AdminViewDeps,
} from './admin-views';
import { MAX_WHO_LENGTH } from '../../../common/override-record';
import type { ClientPlan as ClientPlanMessage } from '../../../proto/gen/lookaside/v1/ClientPlan';
import type { Assignment } from '../../assignment/assignment';
import type { ServicePlan } from '../../assignment/population-policy';
import type { RejectedOverride } from '../../core/override-state';
import { OverrideInputError, OverrideWriteError, type OverrideStore } from '../../io/override-store';

/** What the admin frontend reads: the views' inputs and the token. */
export interface AdminHandlersDeps extends AdminViewDeps {
  /** When set, every call must carry `authorization: Bearer <token>`. */
  readonly adminToken?: string;
  /** Operator overrides: the store (set, clear, list) and the malformed values the watch rejected. */
  readonly overrideViews: {
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
  withEntries: boolean,
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
    // Every endpoint's why only for one client: all clients × all endpoints would be N × M.
    entries: (withEntries ? base.endpoints : []).map((e) => {
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

function invalid(field: string, reason: string): Partial<grpc.StatusObject> {
  return { code: grpc.status.INVALID_ARGUMENT, details: `${field}: ${reason}` };
}

/** Checks the bearer token; returns an UNAUTHENTICATED status, or undefined when allowed. */
function authenticate(
  metadata: grpc.Metadata,
  token: string | undefined,
): Partial<grpc.StatusObject> | undefined {
  const header = metadata.get('authorization')[0];
  switch (checkBearerToken(typeof header === 'string' ? header : undefined, token)) {
    case 'ok':
      return undefined;
    case 'missing':
      return {
        code: grpc.status.UNAUTHENTICATED,
        details: 'missing "authorization: Bearer <token>" metadata',
      };
    case 'mismatch':
      return { code: grpc.status.UNAUTHENTICATED, details: 'admin token does not match' };
  }
}

/**
 * The `lookaside.v1.Admin` frontend: read-only views of the registry state, of what the
 * assignment stage decided (each endpoint's effective weight, eligibility and reasons) and of the
 * connected clients with what each was sent. Unknown services answer with an empty version-0 view (the same answer a client gets).
 * Invalid names get INVALID_ARGUMENT; a missing or wrong token UNAUTHENTICATED.
 * Called once by startLbServer; the handlers are added to its grpc.Server.
 */
export function createAdminHandlers(deps: AdminHandlersDeps): AdminHandlers {
  const { pipeline, clients } = deps;

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
    ListServices: guard(() => servicesView(deps)),

    GetService: guard((req) => {
      const valid = validateServiceName(req.name);
      if (!valid.ok) return invalid('name', valid.reason);
      return serviceView(deps, req.name);
    }),

    ListClients: guard((req) => {
      if (req.service !== '') {
        const valid = validateServiceName(req.service);
        if (!valid.ok) return invalid('service', valid.reason);
      }
      return { clients: clientsView(deps, req.service || undefined) };
    }),

    GetAssignment: guard((req) => {
      const valid = validateServiceName(req.service);
      if (!valid.ok) return invalid('service', valid.reason);
      const base = pipeline.serviceAssignment(req.service);
      const plan = deps.plans?.planOf(req.service);
      const members = new Map((deps.population?.clients(req.service) ?? []).map((m) => [m.clientId, m]));
      const replicaOf = (clientId: string) =>
        members.get(clientId)?.local
          ? (deps.population?.replicaId ?? '')
          : (members.get(clientId)?.replica ?? '');
      const matching = clients
        .list(req.service)
        .filter((c) => req.clientId === '' || c.clientId === req.clientId);
      const connected = new Set(matching.map((c) => c.clientId));
      const answers = matching.map((c) => {
        const sent = c.assigned ?? pipeline.clientAssignment(c);
        return {
          client: localClientInfo(deps, c),
          serverList: c.assigned ? toLookasideServerList(c.assigned) : { version: 0, servers: [] },
          group: c.assigned?.group ?? '',
          plan: plan
            ? planMessage(plan, c.clientId, base, sent, replicaOf(c.clientId), req.clientId !== '')
            : null,
        };
      });
      // Clients of other replicas: every replica computes the same plan, so theirs is shown too.
      for (const p of plan ? [...plan.clients.values()] : []) {
        if (connected.has(p.clientId) || (req.clientId !== '' && p.clientId !== req.clientId)) continue;
        const sent = pipeline.groupAssignment(req.service, p.group);
        const member = members.get(p.clientId);
        answers.push({
          client: member
            ? toRemoteClientInfo(member)
            : { clientId: p.clientId, service: req.service, zone: p.zone },
          serverList: toLookasideServerList(sent),
          group: p.group,
          plan: plan
            ? planMessage(plan, p.clientId, base, sent, replicaOf(p.clientId), req.clientId !== '')
            : null,
        });
      }
      if (req.clientId !== '' && answers.length === 0) {
        // Without per-client plans, only the replica serving a client knows what it was sent.
        const elsewhere = members.get(req.clientId);
        return {
          code: grpc.status.NOT_FOUND,
          details:
            elsewhere && !elsewhere.local
              ? `client "${req.clientId}" of service "${req.service}" is served by replica "${elsewhere.replica}", not this one: ask that replica for its assignment (or turn on subsetting or zones, whose plans every replica computes)`
              : `no client "${req.clientId}" of service "${req.service}" is known to this LB server`,
        };
      }
      return {
        service: req.service,
        current: toLookasideServerList(base),
        clients: answers,
      };
    }),

    SetOverride: guardAsync(async (req, peer) => {
      const stored = await deps.overrideViews.store.set({
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
      cleared: await deps.overrideViews.store.clear(req.service, req.instanceId, whoOf(req.who, peer)),
    })),

    ListOverrides: guardAsync(async (req) => {
      if (req.service !== '') {
        const valid = validateServiceName(req.service);
        if (!valid.ok) throw new OverrideInputError('service', valid.reason);
      }
      return { overrides: deps.overrideViews.store.list(req.service || undefined).map(toOverride) };
    }),
  };
}
