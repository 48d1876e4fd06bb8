import * as grpc from '@grpc/grpc-js';
import type { Etcd3 } from 'etcd3';
import { HealthImplementation } from 'grpc-health-check';
import { AdminClient } from '../../../cli/admin-client';
import { systemClock, type Clock } from '../../../common/clock';
import { DEFAULT_PREFIX, encodeRecordValue, recordKey } from '../../../common/registry-record';
import { startLbServer, type LbServer } from '../../../lb-server';
import type { RegistryEndpoint } from '../../../lb-server/core/registry-state';
import { HealthChecker } from '../../../lb-server/io/health-checker';
import { capturingLogger, type CapturedLog } from '../../support/capturing-logger';
import { TestEtcd } from '../../support/etcd';
import { waitFor } from '../../support/wait-for';
import { BalanceLoadProbe } from './balance-load-probe';

/** What a misbehaving backend does on each Health/Watch call, in raw bytes. */
type Behaviour = (call: grpc.ServerWritableStream<Buffer, Buffer>) => void;

/** HealthCheckResponse{status} on the wire: field 1, varint. */
const response = (status: number): Buffer => Buffer.from([0x08, status]);
/** Field 1 with wire type 7, which does not exist: no protobuf decoder accepts it. */
const GARBAGE = Buffer.from([0x0f, 0xff, 0xff]);

/** A grpc.health.v1.Health/Watch that writes raw bytes, so it can say what no real server would. */
const RAW_WATCH: grpc.ServiceDefinition = {
  Watch: {
    path: '/grpc.health.v1.Health/Watch',
    requestStream: false,
    responseStream: true,
    requestSerialize: (b: Buffer) => b,
    requestDeserialize: (b: Buffer) => b,
    responseSerialize: (b: Buffer) => b,
    responseDeserialize: (b: Buffer) => b,
  },
};

interface RawBackend {
  readonly address: string;
  /** Watch calls received so far. */
  readonly watches: () => number;
  close(): void;
}

async function rawBackend(behaviour: Behaviour): Promise<RawBackend> {
  const server = new grpc.Server();
  let watches = 0;
  server.addService(RAW_WATCH, {
    Watch: (call: grpc.ServerWritableStream<Buffer, Buffer>) => {
      watches += 1;
      behaviour(call);
    },
  });
  const port = await new Promise<number>((ok, fail) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? fail(e) : ok(p))),
  );
  return { address: `127.0.0.1:${port}`, watches: () => watches, close: () => server.forceShutdown() };
}

async function goodBackend(): Promise<{ address: string; health: HealthImplementation; close(): void }> {
  const server = new grpc.Server();
  const health = new HealthImplementation({ '': 'SERVING' });
  health.addToServer(server);
  const port = await new Promise<number>((ok, fail) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? fail(e) : ok(p))),
  );
  return { address: `127.0.0.1:${port}`, health, close: () => server.forceShutdown() };
}

describe('health checks of backends that answer Watch with nonsense', () => {
  let etcd: TestEtcd;
  let kv: Etcd3;
  let lb: LbServer;
  let log: CapturedLog;
  const closers: { close(): unknown }[] = [];

  beforeAll(async () => {
    etcd = await TestEtcd.start();
    kv = etcd.client();
    log = capturingLogger();
    lb = await startLbServer({ etcd: etcd.endpoints, listen: '127.0.0.1:0', logger: log.logger });
    await lb.synced();
  });

  afterAll(async () => {
    for (const c of closers.splice(0).reverse()) await c.close();
    await lb?.close();
    kv?.close();
    await etcd?.close();
  });

  test('bytes that do not decode: unreachable and retried; status 99: not serving; the rest keep serving', async () => {
    const garbage = await rawBackend((call) => call.write(GARBAGE));
    const status99 = await rawBackend((call) => call.write(response(99)));
    const ok = await goodBackend();
    const ok2 = await goodBackend();
    closers.push(garbage, status99, ok, ok2);
    const register = (id: string, address: string) =>
      kv.put(recordKey(DEFAULT_PREFIX, 'hc-bad', id)).value(encodeRecordValue({ address }));
    await register('garbage', garbage.address);
    await register('status99', status99.address);
    await register('ok', ok.address);
    await register('ok2', ok2.address);
    const probe = BalanceLoadProbe.open(lb.address, 'hc-bad');
    const admin = new AdminClient({ target: lb.address });
    closers.push(probe, admin);
    const view = async () =>
      Object.fromEntries(
        (await admin.getService('hc-bad')).endpoints.map((e) => [
          e.instanceId,
          `${e.health}/${e.eligible}/${e.reasons.join(',')}`,
        ]),
      );

    await waitFor('garbage unreachable, 99 not serving, the others serving', async () => {
      const v = await view();
      return (
        v.garbage === 'unreachable/true/' &&
        v.status99 === 'not-serving/false/unhealthy' &&
        v.ok === 'serving/true/' &&
        v.ok2 === 'serving/true/'
      );
    });
    const weight = (address: string) => probe.last?.servers.find((s) => s.address === address)?.weight;
    await waitFor('status99 sent with weight 0', () => weight(status99.address) === 0);
    expect(weight(ok.address)).toBe(100);
    expect(weight(garbage.address)).toBe(100);

    // The decode failure is logged with its cause; the odd status once, by number.
    const garbled = log
      .events('health_changed')
      .find((e) => e.address === garbage.address && e.to === 'unreachable');
    expect(garbled).toMatchObject({ code: grpc.status.INTERNAL });
    expect(String(garbled?.details)).toMatch(/pars/i);
    expect(log.events('health_check_unknown_status')).toEqual([
      expect.objectContaining({ service: 'hc-bad', address: status99.address, status: 99 }),
    ]);
    // Retried with backoff, not given up on.
    await waitFor('the garbage backend asked again', () => garbage.watches() >= 2, { timeoutMs: 15_000 });

    // The checker still works for the other endpoints: ok2 says NOT_SERVING and goes out
    // (2 of 4 still serve: not below the panic threshold), then comes back.
    ok2.health.setStatus('', 'NOT_SERVING');
    await waitFor('ok2 out', () => weight(ok2.address) === 0);
    ok2.health.setStatus('', 'SERVING');
    await waitFor('ok2 back', () => weight(ok2.address) === 100);
    expect((await view()).ok).toBe('serving/true/');
  }, 60_000);
});

describe('the health checker against a backend that answers and drops every stream', () => {
  test('backs off growing delays instead of reconnecting (and flapping) at the initial delay', async () => {
    const flapping = await rawBackend((call) => {
      call.write(response(2)); // NOT_SERVING, then an abrupt end
      call.emit('error', { code: grpc.status.INTERNAL, details: 'dropped on purpose' });
    });
    const delays: number[] = [];
    const clock: Clock = {
      now: () => systemClock.now(),
      setTimeout: (fn, ms) => {
        if (ms > 0) delays.push(ms);
        return systemClock.setTimeout(fn, ms);
      },
    };
    const log = capturingLogger();
    const initialMs = 20;
    const checker = new HealthChecker({
      clock,
      logger: log.logger,
      credentials: grpc.credentials.createInsecure(),
      onChange: () => undefined,
      backoff: { initialMs, maxMs: 5000 },
    });
    try {
      const port = Number(flapping.address.split(':')[1]);
      const endpoint: RegistryEndpoint = {
        key: '/lookaside/services/flap/a',
        service: 'flap',
        instanceId: 'a',
        address: flapping.address,
        host: '127.0.0.1',
        port,
        weight: 100,
        zone: '',
        metadata: {},
        draining: false,
        healthService: '',
        format: 'lookaside',
        lease: '0',
        modRevision: 1,
        loadBalanceToken: 'a',
      };
      checker.sync('flap', [endpoint]);
      await waitFor('six Watch calls', () => flapping.watches() >= 6, { timeoutMs: 20_000 });
      // 1.6x a step with ±20% jitter: the fifth retry waits about 6.5x the first.
      expect(delays.length).toBeGreaterThanOrEqual(5);
      expect(delays[4]).toBeGreaterThan(3 * initialMs);
      expect(['not-serving', 'unreachable']).toContain(checker.healthOf('/lookaside/services/flap/a'));
    } finally {
      checker.close();
      flapping.close();
    }
  }, 30_000);
});
