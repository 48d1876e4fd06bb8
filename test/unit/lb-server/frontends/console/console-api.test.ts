import pino from 'pino';
import { AssignmentPipeline } from '../../../../../lb-server/assignment/assignment-pipeline';
import { ClientRegistry } from '../../../../../lb-server/core/client-registry';
import { RegistryState } from '../../../../../lb-server/core/registry-state';
import type {
  ConsoleOverrides,
  OverrideRequest,
} from '../../../../../lb-server/frontends/console/console-actions';
import {
  createConsoleApi,
  type ConsoleApiRequest,
  type ConsoleApiResponse,
} from '../../../../../lb-server/frontends/console/console-api';
import { ConsoleEvents } from '../../../../../lb-server/frontends/console/console-events';
import {
  serviceView,
  servicesView,
  type EndpointView,
} from '../../../../../lb-server/frontends/admin/admin-views';
import { FakeClock } from '../../../../support/fake-clock';

const PREFIX = '/lookaside/services';

/** A store that records what it was asked and rejects bad weights the way the real one will. */
class RecordingOverrides implements ConsoleOverrides {
  readonly sets: OverrideRequest[] = [];
  readonly clears: string[][] = [];
  failWith: unknown;

  async set(req: OverrideRequest): Promise<unknown> {
    if (this.failWith !== undefined) throw this.failWith;
    this.sets.push(req);
    return { ok: true };
  }

  async clear(service: string, instanceId: string, who: string): Promise<boolean> {
    this.clears.push([service, instanceId, who]);
    return true;
  }
}

function setup({ token, overrides }: { token?: string; overrides?: ConsoleOverrides } = {}) {
  const clock = new FakeClock();
  const state = new RegistryState(PREFIX);
  const pipeline = new AssignmentPipeline(state, clock, {
    coalesceMs: 0,
    selfPreservation: { graceMs: 0, threshold: 0.5 },
  });
  const clients = new ClientRegistry(clock);
  const events = new ConsoleEvents(clock);
  const put = (id: string, value: object, rev: number): void => {
    state.put({ key: `${PREFIX}/greeter/${id}`, value: JSON.stringify(value), modRevision: rev, lease: '0' });
    pipeline.republish(['greeter']);
  };
  const api = createConsoleApi({
    state,
    pipeline,
    clients,
    status: () => ({ synced: true, etcdConnected: true }),
    events,
    eventSink: events,
    overrides,
    adminToken: token,
    replica: '127.0.0.1:7000',
    logger: pino({ level: 'silent' }),
  });
  const call = (
    method: string,
    pathAndQuery: string,
    more: Partial<ConsoleApiRequest> = {},
  ): Promise<ConsoleApiResponse> => {
    const [path, query = ''] = pathAndQuery.split('?');
    return api({
      method,
      path,
      query: new URLSearchParams(query),
      body: undefined,
      authorization: undefined,
      actionsAllowed: true,
      who: 'console@127.0.0.1',
      ...more,
    });
  };
  return { clock, state, pipeline, clients, events, put, call };
}

type ServicesBody = ReturnType<typeof servicesView>;
type ServiceBody = Omit<ReturnType<typeof serviceView>, 'endpoints'> & {
  endpoints: (EndpointView & { share: number })[];
  assignedClients: { clientId: string; zone: string; protocol: string; assignedVersion: number }[];
};
interface ClientsBody {
  replica: string;
  clients: { clientId: string; protocol: string; replica: string; sent: unknown[] }[];
}
interface EventsBody {
  events: { kind: string; message: string }[];
  latestSeq: number;
}
/** Any answer: an error's fields, an action's result. */
interface AnyBody {
  error?: string;
  field?: string;
  reason?: string;
  ok?: boolean;
  cleared?: boolean;
  tokenRequired?: boolean;
  authenticated?: boolean;
  actions?: string;
}

/** The answer's JSON body, as the type the route answers with. */
function body<T = AnyBody>(r: ConsoleApiResponse): T {
  return r.body as T;
}

describe('console JSON API', () => {
  it('lists services with endpoint, serving, draining and client counts', async () => {
    const t = setup();
    t.put('a', { address: '127.0.0.1:1001' }, 2);
    t.put('b', { address: '127.0.0.1:1002', draining: true }, 3);
    t.clients.connect({
      clientId: 'c1',
      service: 'greeter',
      peer: 'p',
      zone: 'z1',
      protocol: 'lookaside.v1',
    });
    const r = await t.call('GET', '/services');
    expect(r.status).toBe(200);
    const [greeter] = body<ServicesBody>(r).services;
    expect(greeter).toMatchObject({
      name: 'greeter',
      endpoints: 2,
      servingEndpoints: 1,
      drainingEndpoints: 1,
      clients: 1,
      heldEndpoints: 0,
      ejectedEndpoints: 0,
    });
    expect(body<ServicesBody>(r).synced).toBe(true);
  });

  it("shows a service's endpoints with registered and effective weight, reasons and traffic shares", async () => {
    const t = setup();
    t.put('a', { address: '127.0.0.1:1001', weight: 300, zone: 'z1', metadata: { v: '1' } }, 2);
    t.put('b', { address: '127.0.0.1:1002', weight: 100 }, 3);
    t.put('c', { address: '127.0.0.1:1003', draining: true }, 4);
    t.clients.connect({ clientId: 'c1', service: 'greeter', peer: 'p', zone: 'z1', protocol: 'xds' });
    const r = await t.call('GET', '/services/greeter');
    expect(r.status).toBe(200);
    const byId = Object.fromEntries(body<ServiceBody>(r).endpoints.map((e) => [e.instanceId, e]));
    expect(byId.a).toMatchObject({ weight: 300, effectiveWeight: 300, zone: 'z1', share: 0.75, reasons: [] });
    expect(byId.a.metadata).toEqual({ v: '1' });
    expect(byId.b.share).toBe(0.25);
    expect(byId.c).toMatchObject({ effectiveWeight: 0, eligible: false, share: 0, reasons: ['draining'] });
    expect(body<ServiceBody>(r).assignedClients).toEqual([
      { clientId: 'c1', zone: 'z1', protocol: 'xds', assignedVersion: 0 },
    ]);
  });

  it('an unknown service is an empty view; an invalid name is a 400 naming the field', async () => {
    const t = setup();
    const unknown = await t.call('GET', '/services/nobody');
    expect(unknown.status).toBe(200);
    expect(body<ServiceBody>(unknown)).toMatchObject({ name: 'nobody', version: 0, endpoints: [] });
    const bad = await t.call('GET', '/services/has%20space');
    expect(bad.status).toBe(400);
    expect(body(bad).field).toBe('service');
    const malformed = await t.call('GET', '/services/%E0%A4%A');
    expect(body(malformed).field).toBe('path');
  });

  it('lists clients, filtered by service, with what each was sent', async () => {
    const t = setup();
    t.put('a', { address: '127.0.0.1:1001' }, 2);
    const record = t.clients.connect({
      clientId: 'c1',
      service: 'greeter',
      peer: 'p',
      zone: '',
      protocol: 'grpclb',
    });
    record.assigned(t.pipeline.serviceAssignment('greeter'));
    t.clients.connect({ clientId: 'c2', service: 'other', peer: 'p', zone: '', protocol: 'lookaside.v1' });
    const r = await t.call('GET', '/clients?service=greeter');
    expect(body<ClientsBody>(r).clients).toHaveLength(1);
    expect(body<ClientsBody>(r).clients[0]).toMatchObject({
      clientId: 'c1',
      protocol: 'grpclb',
      replica: '127.0.0.1:7000',
      sent: [{ address: '127.0.0.1:1001', instanceId: 'a', weight: 100 }],
    });
    expect(body<ClientsBody>(await t.call('GET', '/clients')).clients).toHaveLength(2);
    const bad = await t.call('GET', '/clients?service=a%20b');
    expect(bad.status).toBe(400);
    expect(body(bad).field).toBe('service');
  });

  it('answers events since a seq and rejects a malformed since or limit', async () => {
    const t = setup();
    t.events.record('endpoint_joined', 'greeter', 'a joined');
    t.events.record('endpoint_left', 'greeter', 'a left');
    const r = await t.call('GET', '/events?since=1');
    expect(body<EventsBody>(r).events.map((e) => e.message)).toEqual(['a left']);
    expect(body<EventsBody>(r).latestSeq).toBe(2);
    for (const [query, field] of [
      ['since=-1', 'since'],
      ['since=abc', 'since'],
      ['limit=0', 'limit'],
      ['limit=99999', 'limit'],
    ]) {
      const bad = await t.call('GET', `/events?${query}`);
      expect([query, bad.status, body(bad).field]).toEqual([query, 400, field]);
    }
  });

  it('with a token: 401 without it or with a wrong one; the session says a token is needed', async () => {
    const t = setup({ token: 's3cret' });
    expect((await t.call('GET', '/services')).status).toBe(401);
    expect((await t.call('GET', '/services', { authorization: 'Bearer wrong!' })).status).toBe(401);
    expect((await t.call('GET', '/events', { authorization: 'Basic s3cret' })).status).toBe(401);
    expect((await t.call('GET', '/services', { authorization: 'Bearer s3cret' })).status).toBe(200);
    const session = await t.call('GET', '/session');
    // Without the token, whether one is needed and nothing else.
    expect(body(session)).toEqual({ tokenRequired: true, authenticated: false });
    expect(body(await t.call('GET', '/session', { authorization: 'Bearer s3cret' }))).toEqual({
      tokenRequired: true,
      authenticated: true,
      actions: 'unavailable',
      replica: '127.0.0.1:7000',
    });
    // Actions need the token too.
    expect(
      (await t.call('POST', '/services/greeter/endpoints/a/drain', { body: { reason: 'x' } })).status,
    ).toBe(401);
  });

  it('actions without an overrides store answer 501', async () => {
    const t = setup();
    const r = await t.call('POST', '/services/greeter/endpoints/a/drain', {
      body: { reason: 'maintenance' },
    });
    expect(r.status).toBe(501);
    expect(body(r).error).toMatch(/overrides store/);
  });

  it('actions over an insecure connection answer 403 and change nothing', async () => {
    const overrides = new RecordingOverrides();
    const t = setup({ overrides });
    const r = await t.call('POST', '/services/greeter/endpoints/a/drain', {
      body: { reason: 'maintenance' },
      actionsAllowed: false,
    });
    expect(r.status).toBe(403);
    expect(body(r).error).toMatch(/--console-allow-insecure-actions/);
    expect(overrides.sets).toEqual([]);
    expect(body(await t.call('GET', '/session', { actionsAllowed: false })).actions).toBe('insecure');
  });

  it('drain, weight and undrain go to the store with who and why, and are recorded as events', async () => {
    const overrides = new RecordingOverrides();
    const t = setup({ overrides });
    const drain = await t.call('POST', '/services/greeter/endpoints/a/drain', {
      body: { reason: 'kernel upgrade', forMs: 600_000 },
    });
    expect(drain.status).toBe(200);
    const weight = await t.call('POST', '/services/greeter/endpoints/a/weight', {
      body: { weight: 0, reason: 'canary off' },
    });
    expect(weight.status).toBe(200);
    const undrain = await t.call('POST', '/services/greeter/endpoints/a/undrain', {});
    expect(body(undrain)).toMatchObject({ ok: true, cleared: true });
    expect(overrides.sets).toEqual([
      {
        service: 'greeter',
        instanceId: 'a',
        draining: true,
        reason: 'kernel upgrade',
        forMs: 600_000,
        who: 'console@127.0.0.1',
      },
      { service: 'greeter', instanceId: 'a', weight: 0, reason: 'canary off', who: 'console@127.0.0.1' },
    ]);
    expect(overrides.clears).toEqual([['greeter', 'a', 'console@127.0.0.1']]);
    // The events come from the LB server's watch of the overrides (whoever set them), not from
    // the API: a console action is not recorded twice.
    expect(t.events.since(0).events).toEqual([]);
  });

  it.each([
    ['drain', {}, 'body.reason'],
    ['drain', { reason: '   ' }, 'body.reason'],
    ['drain', { reason: 'x', forMs: 5 }, 'body.forMs'],
    ['drain', { reason: 'x', forMs: 'soon' }, 'body.forMs'],
    ['drain', { reason: 'x', extra: 1 }, 'body.extra'],
    ['weight', { reason: 'x' }, 'body.weight'],
    ['weight', { reason: 'x', weight: -1 }, 'body.weight'],
    ['weight', { reason: 'x', weight: 1.5 }, 'body.weight'],
    ['weight', { reason: 'x', weight: 10_001 }, 'body.weight'],
    ['weight', [1, 2], 'body'],
  ])('%s with %j is a 400 naming %s, and the store is not called', async (action, payload, field) => {
    const overrides = new RecordingOverrides();
    const t = setup({ overrides });
    const r = await t.call('POST', `/services/greeter/endpoints/a/${action}`, { body: payload });
    expect(r.status).toBe(400);
    expect(body(r).field).toBe(field);
    expect(overrides.sets).toEqual([]);
  });

  it("the store's bad-input rejection is a 400 naming its field; another failure a 500", async () => {
    const overrides = new RecordingOverrides();
    const t = setup({ overrides });
    overrides.failWith = Object.assign(new Error('no'), { field: 'instanceId', reason: 'unknown instance' });
    const bad = await t.call('POST', '/services/greeter/endpoints/zz/drain', { body: { reason: 'x' } });
    expect([bad.status, body(bad).field, body(bad).reason]).toEqual([400, 'instanceId', 'unknown instance']);
    overrides.failWith = new Error('etcd unavailable');
    const failed = await t.call('POST', '/services/greeter/endpoints/zz/drain', { body: { reason: 'x' } });
    expect(failed.status).toBe(500);
    expect(body(failed).error).toMatch(/etcd unavailable/);
  });

  it('an invalid instance id is a 400; a GET of an action 405; an unknown path 404', async () => {
    const t = setup({ overrides: new RecordingOverrides() });
    const bad = await t.call('POST', '/services/greeter/endpoints/a%20b/drain', { body: { reason: 'x' } });
    expect([bad.status, body(bad).field]).toEqual([400, 'instance']);
    expect((await t.call('GET', '/services/greeter/endpoints/a/drain')).status).toBe(405);
    expect((await t.call('GET', '/nothing')).status).toBe(404);
    expect((await t.call('POST', '/services')).status).toBe(404);
  });
});
