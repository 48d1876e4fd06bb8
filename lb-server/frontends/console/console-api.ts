import type { Logger } from 'pino';
import { z } from 'zod';
import { validateInstanceId, MAX_WEIGHT } from '../../../common/registry-record';
import { validateServiceName } from '../../../common/service-name';
import { checkBearerToken } from '../bearer-token';
import {
  localClientInfo,
  serviceView,
  servicesView,
  toRemoteClientInfo,
  type AdminViewDeps,
} from '../admin/admin-views';
import type { Assignment } from '../../assignment/assignment';
import { isOverrideInputError, type ConsoleOverrides } from './console-actions';
import type { ConsoleEvents, ConsoleEventSink } from './console-events';

/** One request to the console's JSON API, as the HTTP layer hands it over (path below /ui/api). */
export interface ConsoleApiRequest {
  readonly method: string;
  /** The path after `/ui/api`, e.g. `/services/greeter` (still percent-encoded). */
  readonly path: string;
  readonly query: URLSearchParams;
  /** The parsed JSON body (undefined: none). */
  readonly body: unknown;
  /** The `authorization` header, when sent. */
  readonly authorization: string | undefined;
  /**
   * Whether this request may change something: over HTTPS, to a loopback address, or with
   * --console-allow-insecure-actions. The HTTP layer decides.
   */
  readonly actionsAllowed: boolean;
  /** Who is asking, for the override's record (`console@<peer address>`). */
  readonly who: string;
}

/** The answer: an HTTP status and a JSON body. */
export interface ConsoleApiResponse {
  readonly status: number;
  readonly body: unknown;
}

/** What the console API reads and writes. */
export interface ConsoleApiDeps extends AdminViewDeps {
  readonly events: ConsoleEvents;
  /** Where actions are recorded for the events page (the same ConsoleEvents, normally). */
  readonly eventSink: ConsoleEventSink;
  /** The overrides store; undefined: actions answer 501. */
  readonly overrides: ConsoleOverrides | undefined;
  /** When set, every API request but GET /session needs `authorization: Bearer <token>`. */
  readonly adminToken: string | undefined;
  /** This replica's gRPC address: every client listed is connected to it. */
  readonly replica: string;
  readonly logger: Logger;
}

/** The longest an action may last (forMs): 30 days. */
export const MAX_OVERRIDE_FOR_MS = 30 * 86_400_000;
/** The longest reason accepted. */
export const MAX_REASON_LENGTH = 500;
/** At most this many events are answered per request. */
export const MAX_EVENTS_PER_REQUEST = 2000;

const reason = z
  .string({ error: 'expected a string' })
  .trim()
  .min(1, 'must not be empty: say why')
  .max(MAX_REASON_LENGTH, `at most ${MAX_REASON_LENGTH} characters`);
const forMs = z
  .number({ error: 'expected a number of milliseconds' })
  .int('expected an integer number of milliseconds')
  .min(1000, 'at least 1000 ms')
  .max(MAX_OVERRIDE_FOR_MS, `at most ${MAX_OVERRIDE_FOR_MS} ms (30 days)`)
  .optional();
const DrainBody = z.strictObject({ reason, forMs });
const WeightBody = z.strictObject({
  weight: z
    .number({ error: 'expected an integer weight' })
    .int('expected an integer weight')
    .min(0, 'expected 0 or more')
    .max(MAX_WEIGHT, `at most ${MAX_WEIGHT}`),
  reason,
  forMs,
});
const UndrainBody = z.strictObject({ reason: z.string().max(MAX_REASON_LENGTH).optional() });

type Action = 'drain' | 'undrain' | 'weight';
const ACTIONS: readonly Action[] = ['drain', 'undrain', 'weight'];

function json(status: number, body: unknown): ConsoleApiResponse {
  return { status, body };
}

/** A 400 that names the input at fault. */
function badRequest(field: string, reason: string): ConsoleApiResponse {
  return json(400, { error: `${field}: ${reason}`, field, reason });
}

/** The first zod issue as a 400 naming the field (`body.<key>`). */
function zodError(error: z.ZodError): ConsoleApiResponse {
  const issue = error.issues[0];
  if (issue.code === 'unrecognized_keys') {
    return badRequest(`body.${issue.keys[0]}`, 'unknown field');
  }
  const field = issue.path.length > 0 ? `body.${issue.path.join('.')}` : 'body';
  return badRequest(field, issue.message);
}

/**
 * The console's JSON API over the admin views (the same functions the gRPC Admin service
 * answers with) and the events ring buffer, plus the three actions through ConsoleOverrides.
 * Routes (below /ui/api): GET /session, GET /services, GET /services/:name,
 * GET /clients?service=, GET /events?since=&limit=,
 * POST /services/:name/endpoints/:instance/drain|undrain|weight. Bad input is a 400 naming the
 * field; a missing or wrong token 401; an action over an insecure connection 403; actions
 * without an overrides store 501. Never throws: a failing store is a 500 with its message.
 * Called by the console's HTTP handler once per request.
 */
export function createConsoleApi(
  deps: ConsoleApiDeps,
): (req: ConsoleApiRequest) => Promise<ConsoleApiResponse> {
  const tokenRequired = deps.adminToken !== undefined && deps.adminToken !== '';

  /** What the page needs before it has the token: whether to ask for it. Nothing else without it. */
  function session(req: ConsoleApiRequest): ConsoleApiResponse {
    const authenticated = checkBearerToken(req.authorization, deps.adminToken) === 'ok';
    if (!authenticated) return json(200, { tokenRequired, authenticated });
    return json(200, {
      tokenRequired,
      authenticated,
      actions: deps.overrides === undefined ? 'unavailable' : req.actionsAllowed ? 'allowed' : 'insecure',
      replica: deps.replica,
    });
  }

  function service(name: string): ConsoleApiResponse {
    const view = serviceView(deps, name);
    const total = view.endpoints.reduce((sum, e) => sum + (e.eligible ? e.effectiveWeight : 0), 0);
    const clients = deps.clients.list(name).map((c) => ({
      clientId: c.clientId,
      zone: c.zone,
      protocol: c.protocol,
      assignedVersion: c.assignedVersion,
    }));
    return json(200, {
      ...view,
      endpoints: view.endpoints.map((e) => ({
        ...e,
        // Of new calls, the share each endpoint gets under weighted round-robin.
        share: total > 0 && e.eligible ? e.effectiveWeight / total : 0,
      })),
      assignedClients: clients,
    });
  }

  function clients(query: URLSearchParams): ConsoleApiResponse {
    const name = query.get('service') ?? '';
    if (name !== '') {
      const valid = validateServiceName(name);
      if (!valid.ok) return badRequest('service', valid.reason);
    }
    // What it was sent, as it was sent: each address with its weight.
    const sentOf = (a: Assignment | undefined) =>
      (a?.endpoints ?? [])
        .filter((e) => e.duplicateOf === undefined)
        .map((e) => ({ address: e.endpoint.address, instanceId: e.endpoint.instanceId, weight: e.weight }));
    const local = deps.clients.list(name || undefined).map((c) => ({
      ...localClientInfo(deps, c),
      replica: deps.replica,
      sent: sentOf(c.assigned),
      group: c.assigned?.group ?? '',
    }));
    // Clients of other replicas (the population in etcd): what every replica's plan gives them.
    const population = deps.population;
    const remote = (population ? (name ? [name] : population.services()) : []).flatMap((service) =>
      (population?.clients(service) ?? [])
        .filter((m) => !m.local)
        .map((m) => {
          const plan = deps.plans?.planOf(service)?.clients.get(m.clientId);
          return {
            ...toRemoteClientInfo(m),
            sent: plan ? sentOf(deps.pipeline.groupAssignment(service, plan.group)) : [],
            group: plan?.group ?? '',
          };
        }),
    );
    return json(200, { replica: deps.replica, clients: [...local, ...remote] });
  }

  function events(query: URLSearchParams): ConsoleApiResponse {
    const sinceText = query.get('since') ?? '0';
    const since = Number(sinceText);
    if (!/^\d{1,15}$/.test(sinceText) || !Number.isSafeInteger(since)) {
      return badRequest(
        'since',
        `expected the seq of the last event seen (an integer >= 0), got "${sinceText}"`,
      );
    }
    const limitText = query.get('limit') ?? String(MAX_EVENTS_PER_REQUEST);
    const limit = Number(limitText);
    if (!/^\d{1,5}$/.test(limitText) || limit < 1 || limit > MAX_EVENTS_PER_REQUEST) {
      return badRequest('limit', `expected an integer in 1..${MAX_EVENTS_PER_REQUEST}, got "${limitText}"`);
    }
    const page = deps.events.since(since, limit);
    return json(200, {
      events: page.events,
      latestSeq: page.latestSeq,
      truncated: page.truncated,
      maxAgeMs: deps.events.options.maxAgeMs,
    });
  }

  async function act(
    req: ConsoleApiRequest,
    serviceName: string,
    instanceId: string,
    action: Action,
  ): Promise<ConsoleApiResponse> {
    const store = deps.overrides;
    if (store === undefined) {
      return json(501, {
        error: 'actions are not available: this LB server has no operator overrides store wired',
      });
    }
    if (!req.actionsAllowed) {
      return json(403, {
        error:
          'actions are refused over plain HTTP to a non-loopback address: serve the console over TLS (--tls-cert/--tls-key), use a loopback address, or start the server with --console-allow-insecure-actions',
      });
    }
    const body = req.body ?? {};
    const who = req.who;
    const at = { service: serviceName, instanceId, who };
    try {
      if (action === 'undrain') {
        const parsed = UndrainBody.safeParse(body);
        if (!parsed.success) return zodError(parsed.error);
        const cleared = await store.clear(serviceName, instanceId, who);
        deps.logger.info(
          { event: 'console_override_cleared', ...at, cleared },
          `console cleared the override of ${instanceId}`,
        );
        return json(200, { ok: true, action, ...at, cleared });
      }
      const parsed = action === 'drain' ? DrainBody.safeParse(body) : WeightBody.safeParse(body);
      if (!parsed.success) return zodError(parsed.error);
      const { reason: why, forMs: duration } = parsed.data;
      const weight = action === 'weight' ? WeightBody.parse(body).weight : undefined;
      await store.set({
        service: serviceName,
        instanceId,
        ...(action === 'drain' ? { draining: true } : { weight }),
        reason: why,
        ...(duration !== undefined ? { forMs: duration } : {}),
        who,
      });
      const what = action === 'drain' ? 'drained' : `set the weight ${weight} of`;
      const fields = {
        ...at,
        action,
        reason: why,
        ...(weight !== undefined ? { weight } : {}),
        ...(duration !== undefined ? { forMs: duration } : {}),
      };
      deps.logger.info({ event: 'console_override_set', ...fields }, `console ${what} ${instanceId}: ${why}`);
      return json(200, { ok: true, ...fields });
    } catch (err) {
      if (isOverrideInputError(err)) return badRequest(err.field, err.reason);
      const message = err instanceof Error ? err.message : String(err);
      deps.logger.warn(
        { event: 'console_action_failed', ...at, action, err: message },
        'console action failed',
      );
      return json(500, { error: `${action} failed: ${message}` });
    }
  }

  return async (req) => {
    let segments: string[];
    try {
      segments = req.path
        .split('/')
        .filter((s) => s !== '')
        .map((s) => decodeURIComponent(s));
    } catch {
      return badRequest('path', 'malformed percent-encoding');
    }
    if (req.method === 'GET' && segments.length === 1 && segments[0] === 'session') return session(req);
    switch (checkBearerToken(req.authorization, deps.adminToken)) {
      case 'missing':
        return json(401, {
          error: 'this console needs the admin token: send "authorization: Bearer <token>"',
        });
      case 'mismatch':
        return json(401, { error: 'admin token does not match' });
      case 'ok':
        break;
    }
    const [head, name, sub, instance, action, ...rest] = segments;
    if (head === 'services' && name !== undefined) {
      const valid = validateServiceName(name);
      if (!valid.ok) return badRequest('service', valid.reason);
    }
    if (req.method === 'GET' && rest.length === 0 && sub === undefined) {
      if (head === 'services' && name === undefined) return json(200, servicesView(deps));
      if (head === 'services' && name !== undefined) return service(name);
      if (head === 'clients' && name === undefined) return clients(req.query);
      if (head === 'events' && name === undefined) return events(req.query);
    }
    if (
      head === 'services' &&
      name !== undefined &&
      sub === 'endpoints' &&
      instance !== undefined &&
      rest.length === 0
    ) {
      const known = ACTIONS.find((a) => a === action);
      if (known !== undefined) {
        if (req.method !== 'POST') return json(405, { error: `${known} needs POST` });
        const valid = validateInstanceId(instance);
        if (!valid.ok) return badRequest('instance', valid.reason);
        return act(req, name, instance, known);
      }
    }
    return json(404, { error: `no such console API: ${req.method} /ui/api${req.path}` });
  };
}
