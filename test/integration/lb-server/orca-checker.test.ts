import * as grpc from '@grpc/grpc-js';
import { HealthImplementation } from 'grpc-health-check';
import { systemClock } from '../../../common/clock';
import { HealthChecker } from '../../../lb-server/io/health-checker';
import type { RegistryEndpoint } from '../../../lb-server/core/registry-state';
import { capturingLogger } from '../../support/capturing-logger';
import { waitFor } from '../../support/wait-for';

const ORCA_PATH = '/xds.service.orca.v3.OpenRcaService/StreamCoreMetrics';
const passThrough = (b: Buffer): Buffer => b;

/** A backend with grpc.health.v1 and either grpc-js's real ORCA service or a fake one that fails every stream with `fail`. */
interface OrcaBackend {
  readonly address: string;
  /** StreamCoreMetrics calls received. */
  orcaCalls(): number;
  /** The peer (client ip:port) of each call, by method path. */
  readonly peers: Map<string, Set<string>>;
  readonly recorder: grpc.ServerMetricRecorder | undefined;
  close(): void;
}

async function orcaBackend(orca: 'real' | { fail: grpc.status }): Promise<OrcaBackend> {
  let calls = 0;
  const peers = new Map<string, Set<string>>();
  const server = new grpc.Server({
    interceptors: [
      (method, call) => {
        if (method.path === ORCA_PATH) calls += 1;
        const set = peers.get(method.path) ?? new Set<string>();
        set.add(call.getPeer());
        peers.set(method.path, set);
        return new grpc.ServerInterceptingCall(call);
      },
    ],
  });
  new HealthImplementation({ '': 'SERVING' }).addToServer(server);
  let recorder: grpc.ServerMetricRecorder | undefined;
  if (orca === 'real') {
    recorder = new grpc.ServerMetricRecorder();
    recorder.addToServer(server);
  } else {
    const definition: grpc.ServiceDefinition = {
      StreamCoreMetrics: {
        path: ORCA_PATH,
        requestStream: false,
        responseStream: true,
        requestSerialize: passThrough,
        requestDeserialize: passThrough,
        responseSerialize: passThrough,
        responseDeserialize: passThrough,
      },
    };
    server.addService(definition, {
      StreamCoreMetrics: (call: grpc.ServerWritableStream<Buffer, Buffer>) => {
        call.emit('error', { code: orca.fail, details: 'scripted ORCA failure' });
      },
    });
  }
  const port = await new Promise<number>((ok, fail) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? fail(e) : ok(p))),
  );
  return {
    address: `127.0.0.1:${port}`,
    orcaCalls: () => calls,
    peers,
    recorder,
    close: () => server.forceShutdown(),
  };
}

const endpoint = (key: string, address: string): RegistryEndpoint =>
  ({ key, address, healthService: '' }) as unknown as RegistryEndpoint;

describe("the health checker's out-of-band ORCA subscriptions", () => {
  const closers: { close(): void }[] = [];
  afterEach(() => {
    for (const c of closers.splice(0).reverse()) c.close();
  });

  function checker(log = capturingLogger()) {
    const seen: string[] = [];
    const c = new HealthChecker({
      clock: systemClock,
      logger: log.logger,
      credentials: grpc.credentials.createInsecure(),
      onChange: () => undefined,
      backoff: { initialMs: 50, maxMs: 100 },
      orcaIntervalMs: 100,
      onOrca: (_service, key) => seen.push(key),
    });
    closers.push(c);
    return { checker: c, log, seen };
  }

  test('reports arrive on the health check connection and orcaOf() returns the latest one', async () => {
    const b = await orcaBackend('real');
    closers.push(b);
    b.recorder?.setApplicationUtilizationMetric(0.4);
    b.recorder?.setQpsMetric(250);
    b.recorder?.setEpsMetric(5);
    const { checker: c, seen } = checker();
    c.sync('svc', [endpoint('k1', b.address)]);
    const load = await waitFor('an ORCA report', () => c.orcaOf('k1'));
    expect(load).toMatchObject({
      applicationUtilization: 0.4,
      rpsFractional: 250,
      eps: 5,
      cpuUtilization: 0,
    });
    expect(seen).toContain('k1');
    expect(c.orcaStateOf('k1')).toBe('streaming');
    b.recorder?.setApplicationUtilizationMetric(0.9);
    await waitFor('the next report', () => c.orcaOf('k1')?.applicationUtilization === 0.9);
    // One client connection carries both the health Watch and the ORCA stream.
    expect(b.peers.get(ORCA_PATH)).toEqual(b.peers.get('/grpc.health.v1.Health/Watch'));
    expect(b.peers.get(ORCA_PATH)?.size).toBe(1);
    c.sync('svc', []);
    expect(c.orcaOf('k1')).toBeUndefined();
  });

  test('UNIMPLEMENTED is logged once and never retried, while UNAVAILABLE is retried with backoff', async () => {
    const none = await orcaBackend({ fail: grpc.status.UNIMPLEMENTED });
    const flaky = await orcaBackend({ fail: grpc.status.UNAVAILABLE });
    closers.push(none, flaky);
    const { checker: c, log } = checker();
    c.sync('svc', [endpoint('none', none.address), endpoint('flaky', flaky.address)]);
    // Backoff 50..100 ms: several retries of the flaky one is time enough for a retry of the other.
    await waitFor('the flaky backend retried', () => flaky.orcaCalls() >= 4, { timeoutMs: 15_000 });
    expect(c.orcaStateOf('none')).toBe('unimplemented');
    expect(none.orcaCalls()).toBe(1);
    expect(log.events('orca_unimplemented')).toEqual([
      expect.objectContaining({ service: 'svc', address: none.address }),
    ]);
    expect(c.healthOf('none')).toBe('serving');
    expect(c.orcaOf('none')).toBeUndefined();
  });

  test('reports with NaN or negative values are ignored, counted and logged once; a good one is then taken', async () => {
    const b = await orcaBackend('real');
    closers.push(b);
    b.recorder?.setApplicationUtilizationMetric(Number.NaN);
    b.recorder?.setQpsMetric(10);
    const { checker: c, log, seen } = checker();
    c.sync('svc', [endpoint('bad', b.address)]);
    await waitFor('two rejected reports', () => c.rejectedOrcaReports() >= 2);
    b.recorder?.setApplicationUtilizationMetric(0.5);
    b.recorder?.setQpsMetric(-3);
    const before = c.rejectedOrcaReports();
    await waitFor('a rejected negative report', () => c.rejectedOrcaReports() >= before + 2);
    expect(c.orcaOf('bad')).toBeUndefined();
    expect(seen).toEqual([]);
    expect(log.events('orca_report_rejected')).toHaveLength(1);
    b.recorder?.setQpsMetric(30);
    const load = await waitFor('a good report', () => c.orcaOf('bad'));
    expect(load).toMatchObject({ applicationUtilization: 0.5, rpsFractional: 30 });
    for (const v of Object.values(load)) expect(Number.isFinite(v)).toBe(true);
  });

  test('close() ends the ORCA streams', async () => {
    const b = await orcaBackend('real');
    closers.push(b);
    const { checker: c } = checker();
    c.sync('svc', [endpoint('k', b.address)]);
    await waitFor('the stream open', () => c.orcaStateOf('k') === 'streaming' || b.orcaCalls() > 0);
    c.close();
    expect(c.orcaStateOf('k')).toBeUndefined();
  });
});
