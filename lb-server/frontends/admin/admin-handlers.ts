import * as grpc from '@grpc/grpc-js';
import type { AdminHandlers } from '../../../proto/gen/lookaside/v1/Admin';
import { validateServiceName } from '../../../common/service-name';
import { checkBearerToken } from '../bearer-token';
import { toLookasideServerList } from '../lookaside-v1/lookaside-v1-server-list';
import { serviceView, servicesView, toClientInfo, type AdminViewDeps } from './admin-views';

/** What the admin frontend reads: the views' inputs and the token. */
export interface AdminHandlersDeps extends AdminViewDeps {
  /** When set, every call must carry `authorization: Bearer <token>`. */
  readonly adminToken?: string;
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
      return { clients: clients.list(req.service || undefined).map(toClientInfo) };
    }),

    GetAssignment: guard((req) => {
      const valid = validateServiceName(req.service);
      if (!valid.ok) return invalid('service', valid.reason);
      const matching = clients
        .list(req.service)
        .filter((c) => req.clientId === '' || c.clientId === req.clientId);
      if (req.clientId !== '' && matching.length === 0) {
        return {
          code: grpc.status.NOT_FOUND,
          details: `no client "${req.clientId}" is connected for service "${req.service}"`,
        };
      }
      return {
        service: req.service,
        current: toLookasideServerList(pipeline.serviceAssignment(req.service)),
        clients: matching.map((c) => ({
          client: toClientInfo(c),
          serverList: c.assigned ? toLookasideServerList(c.assigned) : { version: 0, servers: [] },
          group: c.assigned?.group ?? '',
        })),
      };
    }),
  };
}
