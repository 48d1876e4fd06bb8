import * as grpc from '@grpc/grpc-js';
import type { Etcd3 } from 'etcd3';
import { HealthImplementation } from 'grpc-health-check';
import { DEFAULT_PREFIX, encodeRecordValue, recordKey } from '../../../common/registry-record';
import { startGreeterServer } from '../../../demo-service/greeter-server';
import { startLbServer, type LbServer } from '../../../lb-server';
import type { GreeterClient } from '../../../proto/gen/helloworld/Greeter';
import { loadProtos } from '../../../proto/protos';
import { capturingLogger } from '../../support/capturing-logger';
import { TestEtcd } from '../../support/etcd';
import { waitFor } from '../../support/wait-for';

describe('the LB server reads out-of-band ORCA load from the endpoints it health-checks', () => {
  let etcd: TestEtcd;
  let kv: Etcd3;
  let lb: LbServer;
  const log = capturingLogger();
  const closers: { close(): void }[] = [];

  beforeAll(async () => {
    etcd = await TestEtcd.start();
    kv = etcd.client();
    lb = await startLbServer({
      etcd: etcd.endpoints,
      listen: '127.0.0.1:0',
      orcaIntervalMs: 100,
      logger: log.logger,
    });
    await lb.synced();
  });

  afterAll(async () => {
    for (const c of closers.splice(0).reverse()) c.close();
    await lb?.close();
    await etcd?.close();
  });

  test('the listening line names the ORCA interval', () => {
    expect(log.events('lb_server_listening')).toEqual([expect.objectContaining({ orcaIntervalMs: 100 })]);
  });

  test("a busy greeter's utilization and call rate reach orcaOf(); a backend without ORCA is logged once", async () => {
    const greeter = await startGreeterServer({
      port: 0,
      maxConcurrent: 2,
      serviceTimeMs: 20,
      loadReportIntervalMs: 100,
    });
    closers.push({ close: () => greeter.forceClose() });
    const plain = new grpc.Server();
    new HealthImplementation({ '': 'SERVING' }).addToServer(plain);
    const plainPort = await new Promise<number>((ok, fail) =>
      plain.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) =>
        e ? fail(e) : ok(p),
      ),
    );
    closers.push({ close: () => plain.forceShutdown() });
    const greeterKey = recordKey(DEFAULT_PREFIX, 'orca', 'g');
    await kv.put(greeterKey).value(encodeRecordValue({ address: greeter.address }));
    await kv
      .put(recordKey(DEFAULT_PREFIX, 'orca', 'p'))
      .value(encodeRecordValue({ address: `127.0.0.1:${plainPort}` }));

    // Keep both slots busy: two callers back to back, until the load shows (bounded by the wait).
    const client: GreeterClient = new (loadProtos().helloworld.Greeter)(
      greeter.address,
      grpc.credentials.createInsecure(),
    );
    closers.push(client);
    let running = true;
    const caller = async (): Promise<void> => {
      while (running) {
        await new Promise<void>((resolve) => client.SayHello({ name: 'load' }, () => resolve()));
      }
    };
    const callers = [caller(), caller()];
    try {
      const load = await waitFor(
        'the greeter busy in orcaOf()',
        () => {
          const l = lb.orcaOf(greeterKey);
          return l && l.applicationUtilization > 0.5 && l.rpsFractional > 5 ? l : undefined;
        },
        { timeoutMs: 15_000 },
      );
      expect(load.applicationUtilization).toBeLessThanOrEqual(1);
      expect(load.eps).toBe(0);
    } finally {
      running = false;
      await Promise.all(callers);
    }
    await waitFor('the plain backend found without ORCA', () =>
      log.events('orca_unimplemented').some((e) => e.address === `127.0.0.1:${plainPort}`),
    );
    expect(log.events('orca_unimplemented')).toHaveLength(1);
    expect(lb.orcaOf(recordKey(DEFAULT_PREFIX, 'orca', 'p'))).toBeUndefined();
  });
});
