import pino from 'pino';
import { AdminClient } from '../../../cli/admin-client';
import { startGreeterServer, type GreeterServer } from '../../../demo-service/greeter-server';
import { DEFAULT_PREFIX, encodeRecordValue, recordKey } from '../../../common/registry-record';
import { startLbServer, type LbServer } from '../../../lb-server';
import { TestEtcd } from '../../support/etcd';
import { buildGrpclbGoClient, GrpclbGoClient } from '../../support/grpclb-go-client';
import { waitFor } from '../../support/wait-for';
import { XdsClientProcess } from '../../support/xds-client-process';

jest.setTimeout(120_000);

const logger = pino({ level: process.env.LOG_LEVEL ?? 'silent' });
const SERVICE = 'subset-stock';
const build = buildGrpclbGoClient();
if (!build.ok && build.missingToolchain) {
  process.stderr.write(`SKIPPED the grpclb half of the stock-client subsetting test: ${build.reason}\n`);
}

/** Stock clients are sent their own subsets too: a grpc-js-xds process and a grpc-go grpclb one. */
describe('subsetting with stock xDS and grpclb clients', () => {
  let etcd: TestEtcd;
  let lb: LbServer;
  const greeters: GreeterServer[] = [];
  let admin: AdminClient;

  beforeAll(async () => {
    etcd = await TestEtcd.start();
    lb = await startLbServer({
      etcd: etcd.endpoints,
      listen: '127.0.0.1:0',
      logger,
      coalesceMs: 5,
      clientFlushMs: 50,
    });
    await lb.synced();
    const kv = etcd.client();
    // Subsetting for this service only, from its setting in etcd.
    await kv.put('/lookaside/config/subset-stock').value(JSON.stringify({ subsetSize: 3 }));
    for (let i = 0; i < 9; i++) {
      const g = await startGreeterServer({ port: 0 });
      greeters.push(g);
      await kv
        .put(recordKey(DEFAULT_PREFIX, SERVICE, `g${i}`))
        .value(encodeRecordValue({ address: g.address }));
    }
    kv.close();
    admin = new AdminClient({ target: lb.address });
  });

  afterAll(async () => {
    admin?.close();
    await Promise.all(greeters.splice(0).map((g) => g.close()));
    await lb?.close();
    await etcd?.close();
  });

  /** The addresses the admin says `clientId` (or the only client of `protocol`) was assigned. */
  async function planned(match: (id: string, protocol: string) => boolean): Promise<string[] | undefined> {
    const r = await admin.getAssignment(SERVICE);
    const c = r.clients.find((x) => match(x.client?.clientId ?? '', x.client?.protocol ?? ''));
    if (!c?.plan) return undefined;
    const addressOf = new Map(greeters.map((g, i) => [`g${i}`, g.address]));
    return c.plan.parts
      .flatMap((p) => p.instanceIds)
      .map((id) => addressOf.get(id) ?? id)
      .sort();
  }

  test('a stock grpc-js-xds client reaches exactly the 3 endpoints of its subset', async () => {
    const xds = XdsClientProcess.start(lb.address, 'xds-subset-node');
    try {
      await xds.calls(`xds:///${SERVICE}`, 10);
      let subset: string[] | undefined;
      await waitFor('the xDS node has a subset of 3', async () => {
        subset = await planned((id) => id === 'xds-subset-node');
        return subset?.length === 3;
      });
      await waitFor('its calls reach exactly its subset', async () => {
        const t = await xds.calls(`xds:///${SERVICE}`, 60);
        return Object.keys(t.byBackend).sort().join() === subset?.join() && t.failures.length === 0;
      });
    } finally {
      await xds.close();
    }
  });

  (build.ok ? test : test.skip)(
    'a stock grpc-go grpclb client reaches exactly the 3 endpoints of its subset',
    async () => {
      if (!build.ok) return;
      const go = GrpclbGoClient.start(build.binary, lb.address, SERVICE, 10);
      try {
        await go.result();
        let subset: string[] | undefined;
        await waitFor('the grpclb client has a subset of 3', async () => {
          subset = await planned((_id, protocol) => protocol === 'grpclb');
          return subset?.length === 3;
        });
        await waitFor('its calls reach exactly its subset', async () => {
          const t = await go.calls(60);
          return Object.keys(t.byBackend).sort().join() === subset?.join() && t.failures === 0;
        });
      } finally {
        await go.close();
      }
    },
  );
});
