import { AdminClient } from '../../../cli/admin-client';
import { DEFAULT_PREFIX, encodeRecordValue, recordKey } from '../../../common/registry-record';
import { installLookaside } from '../../../client-sdk';
import { startGreeterServer, type GreeterServer } from '../../../demo-service';
import { startLbServer, type LbServer } from '../../../lb-server';
import { registerService } from '../../../registrar';
import { capturingLogger, type CapturedLog } from '../../support/capturing-logger';
import { TestEtcd } from '../../support/etcd';
import { greeterClient, sayHello } from '../../support/greeter-load';
import { waitFor } from '../../support/wait-for';

const SERVICE = 'console-events';

interface EventsPage {
  events: { seq: number; kind: string; service: string; message: string; fields: Record<string, unknown> }[];
  latestSeq: number;
}

/**
 * The console's events page is fed by the LB server's own log sites: membership, clients, health
 * verdicts. Real etcd, LB server, greeter and SDK client; the console's JSON API read over HTTP.
 */
describe('console events from a running LB server', () => {
  let etcd: TestEtcd;
  let lb: LbServer;
  let log: CapturedLog;
  let greeter: GreeterServer;
  const cleanups: (() => unknown)[] = [];

  const events = async (since = 0): Promise<EventsPage> => {
    const res = await fetch(`${lb.consoleUrl}api/events?since=${since}`);
    expect(res.status).toBe(200);
    return (await res.json()) as EventsPage;
  };
  const kinds = async (): Promise<string[]> => (await events()).events.map((e) => e.kind);

  beforeAll(async () => {
    etcd = await TestEtcd.start();
    // Part of the initial read: not an event.
    await etcd
      .client()
      .put(recordKey(DEFAULT_PREFIX, SERVICE, 'pre'))
      .value(encodeRecordValue({ address: '127.0.0.1:9' }));
    log = capturingLogger();
    lb = await startLbServer({
      etcd: etcd.endpoints,
      listen: '127.0.0.1:0',
      metricsListen: '127.0.0.1:0',
      selfPreservationGraceMs: 0,
      logger: log.logger,
    });
    await lb.synced();
    greeter = await startGreeterServer({ port: 0 });
    cleanups.push(() => greeter.forceClose());
  });

  afterAll(async () => {
    for (const c of cleanups.reverse()) await c();
    await lb?.close();
    await etcd?.close();
  });

  it('records joins, clients, health changes and leaves as the log does, not the initial read', async () => {
    const reg = await registerService({
      etcd: etcd.endpoints,
      service: SERVICE,
      instanceId: 'g1',
      address: greeter.address,
    });
    await waitFor('g1 joined and serving', async () => {
      const page = await events();
      return (
        page.events.some((e) => e.kind === 'endpoint_joined' && e.fields.instanceId === 'g1') &&
        page.events.some(
          (e) =>
            e.kind === 'health_changed' && e.fields.address === greeter.address && e.fields.to === 'serving',
        )
      );
    });
    installLookaside();
    const client = greeterClient(`lookaside://${lb.address}/${SERVICE}`);
    cleanups.push(() => client.close());
    await waitFor('a call through the LB', async () => (await sayHello(client)).ok);
    await waitFor('the client connected', async () => (await kinds()).includes('client_connected'));

    greeter.setServing(false);
    await waitFor('the health change to not-serving', async () =>
      (await events()).events.some((e) => e.kind === 'health_changed' && e.fields.to === 'not-serving'),
    );

    const seen = (await events()).latestSeq;
    await reg.close();
    const later = await waitFor('g1 left', async () => {
      const page = await events(seen);
      return page.events.some((e) => e.kind === 'endpoint_left' && e.fields.instanceId === 'g1')
        ? page
        : undefined;
    });
    expect(later.events.every((e) => e.seq > seen)).toBe(true);

    const page = await events();
    expect(page.events.filter((e) => e.fields.instanceId === 'pre')).toEqual([]);
    // Every event has its log line, with the same name: one source for both.
    for (const kind of new Set(page.events.map((e) => e.kind))) {
      const recorded = page.events.filter((e) => e.kind === kind).length;
      expect([kind, log.events(kind).length >= recorded]).toEqual([kind, true]);
    }
    expect(page.events.every((e) => e.service === SERVICE)).toBe(true);
  }, 60_000);

  it('records overrides whoever sets them (here the Admin API, as the CLI does), and their expiry', async () => {
    const admin = new AdminClient({ target: lb.address });
    cleanups.push(() => admin.close());
    const seen = (await events()).latestSeq;
    await admin.setOverride({
      service: SERVICE,
      instanceId: 'pre',
      draining: true,
      reason: 'disk swap',
      forMs: 1500,
      who: 'ops@example',
    });
    const set = await waitFor('the override is an event', async () =>
      (await events(seen)).events.find((e) => e.kind === 'override_set'),
    );
    expect(set.fields).toMatchObject({
      instanceId: 'pre',
      who: 'ops@example',
      reason: 'disk swap',
      draining: true,
    });
    await waitFor(
      'its expiry is an event',
      async () =>
        (await events(seen)).events.some(
          (e) => e.kind === 'override_expired' && e.fields.who === 'ops@example',
        ),
      { timeoutMs: 10_000 },
    );
    expect((await events(seen)).events.filter((e) => e.kind === 'override_set')).toHaveLength(1);
  }, 30_000);

  it('with the console off, the metrics port serves /metrics alone', async () => {
    const quiet = await startLbServer({
      etcd: etcd.endpoints,
      listen: '127.0.0.1:0',
      metricsListen: '127.0.0.1:0',
      console: false,
      logger: log.logger,
    });
    cleanups.push(() => quiet.close());
    expect(quiet.consoleUrl).toBeUndefined();
    expect((await fetch(`http://${quiet.metricsAddress}/ui/`)).status).toBe(404);
    expect((await fetch(`http://${quiet.metricsAddress}/ui/api/services`)).status).toBe(404);
    expect((await fetch(`http://${quiet.metricsAddress}/metrics`)).status).toBe(200);
  });
});
