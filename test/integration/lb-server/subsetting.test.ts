import * as grpc from '@grpc/grpc-js';
import type { Etcd3 } from 'etcd3';
import pino from 'pino';
import { AdminClient } from '../../../cli/admin-client';
import { installLookaside, LookasideChannelOptions } from '../../../client-sdk';
import { DEFAULT_PREFIX, encodeRecordValue, recordKey } from '../../../common/registry-record';
import { startLbServer, type LbServer } from '../../../lb-server';
import type { GreeterClient } from '../../../proto/gen/helloworld/Greeter';
import type { HelloRequest__Output } from '../../../proto/gen/helloworld/HelloRequest';
import type { HelloReply } from '../../../proto/gen/helloworld/HelloReply';
import { loadProtos } from '../../../proto/protos';
import { TestEtcd } from '../../support/etcd';
import { greeterClient, sayHello } from '../../support/greeter-load';
import { waitFor } from '../../support/wait-for';

const logger = pino({ level: process.env.LOG_LEVEL ?? 'silent' });
const SERVICE = 'subsetted';
const BACKENDS = 9;
const CLIENTS = 30;
const SUBSET = 3;

/** A greeter that remembers every distinct client connection (peer address) that called it. */
class CountingBackend {
  private constructor(
    readonly server: grpc.Server,
    readonly address: string,
    readonly peers: Set<string>,
  ) {}

  static async start(): Promise<CountingBackend> {
    const server = new grpc.Server();
    const peers = new Set<string>();
    let address = '?';
    server.addService(loadProtos().helloworld.Greeter.service, {
      SayHello: (
        call: grpc.ServerUnaryCall<HelloRequest__Output, HelloReply>,
        cb: grpc.sendUnaryData<HelloReply>,
      ) => {
        peers.add(call.getPeer());
        cb(null, { message: `Hello ${call.request.name} from ${address}` });
      },
    });
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) =>
        err ? reject(err) : resolve(p),
      ),
    );
    address = `127.0.0.1:${port}`;
    return new CountingBackend(server, address, peers);
  }
}

describe('deterministic subsetting across two LB replicas, with real SDK channels', () => {
  let etcd: TestEtcd;
  let kv: Etcd3;
  const lbs: LbServer[] = [];
  const backends: CountingBackend[] = [];
  const channels: { id: string; client: GreeterClient; lb: LbServer }[] = [];

  beforeAll(async () => {
    installLookaside();
    etcd = await TestEtcd.start();
    kv = etcd.client();
    for (let i = 0; i < 2; i++) {
      const lb = await startLbServer({
        etcd: etcd.endpoints,
        listen: '127.0.0.1:0',
        coalesceMs: 5,
        logger,
        subsetSize: SUBSET,
        replicaId: `replica-${i}`,
        clientFlushMs: 50,
      });
      lbs.push(lb);
      await lb.synced();
    }
    for (let i = 0; i < BACKENDS; i++) {
      const b = await CountingBackend.start();
      backends.push(b);
      await kv
        .put(recordKey(DEFAULT_PREFIX, SERVICE, `b${i}`))
        .value(encodeRecordValue({ address: b.address }));
    }
    for (let i = 0; i < CLIENTS; i++) {
      const lb = lbs[i % 2];
      const id = `client-${String(i).padStart(2, '0')}`;
      channels.push({
        id,
        lb,
        client: greeterClient(`lookaside://${lb.address}/${SERVICE}`, {
          // Each channel owns its connections, as separate processes would.
          'grpc.use_local_subchannel_pool': 1,
          [LookasideChannelOptions.CLIENT_ID]: id,
        }),
      });
    }
  }, 60_000);

  afterAll(async () => {
    for (const c of channels) c.client.close();
    for (const lb of lbs) await lb.close();
    for (const b of backends) b.server.forceShutdown();
    kv?.close();
    await etcd?.close();
  });

  /** Which backends each channel reaches over `calls` calls. */
  async function reached(calls = 24): Promise<Map<string, Set<string>>> {
    const out = new Map<string, Set<string>>();
    await Promise.all(
      channels.map(async (c) => {
        const seen = new Set<string>();
        for (let i = 0; i < calls; i++) {
          const r = await sayHello(c.client, { waitForReady: true });
          if (r.ok) seen.add(r.backend);
        }
        out.set(c.id, seen);
      }),
    );
    return out;
  }

  /** Each client's subset, as the admin of `lb` explains it (every replica plans alike). */
  async function subsetsFrom(lb: LbServer): Promise<Map<string, string[]>> {
    const admin = new AdminClient({ target: lb.address });
    try {
      const r = await admin.getAssignment(SERVICE);
      return new Map(
        r.clients.map((c) => [
          c.client?.clientId ?? '',
          (c.plan?.parts ?? []).flatMap((p) => p.instanceIds).sort(),
        ]),
      );
    } finally {
      admin.close();
    }
  }

  test('every client talks to exactly 3 backends, every backend to 10 ± 1 clients; both replicas agree', async () => {
    // A channel opens its LB stream on its first call: one each, then the plan settles.
    await reached(1);
    await waitFor(
      'both replicas plan every client of both',
      async () => {
        const [a, b] = await Promise.all(lbs.map(subsetsFrom));
        return (
          a.size === CLIENTS &&
          b.size === CLIENTS &&
          [...a].every(([id, s]) => s.length === SUBSET && s.join() === b.get(id)?.join())
        );
      },
      { timeoutMs: 20_000 },
    );
    for (const b of backends) b.peers.clear();
    const byClient = await reached();
    for (const [id, seen] of byClient) expect([id, seen.size]).toEqual([id, SUBSET]);
    const perBackend = backends.map((b) => b.peers.size);
    process.stdout.write(
      `subset 3 of 9, 30 SDK channels over 2 replicas: distinct client connections per backend ${perBackend.join(' ')}\n`,
    );
    for (const n of perBackend) expect(Math.abs(n - (CLIENTS * SUBSET) / BACKENDS)).toBeLessThanOrEqual(1);
    expect(perBackend.reduce((s, n) => s + n, 0)).toBe(CLIENTS * SUBSET);
    // What the admin says each client was assigned is what its calls reached.
    const plans = await subsetsFrom(lbs[0]);
    const addressOf = new Map(backends.map((b, i) => [`b${i}`, b.address]));
    for (const [id, seen] of byClient) {
      expect((plans.get(id) ?? []).map((x) => addressOf.get(x)).sort()).toEqual([...seen].sort());
    }
  }, 60_000);

  test('killing a backend changes only its clients, each by one replacement', async () => {
    const before = await subsetsFrom(lbs[1]);
    backends[4].server.forceShutdown();
    await kv.delete().key(recordKey(DEFAULT_PREFIX, SERVICE, 'b4'));
    await waitFor(
      'no client keeps b4, on both replicas',
      async () => {
        const all = await Promise.all(lbs.map(subsetsFrom));
        return all.every((m) => m.size === CLIENTS && [...m.values()].every((s) => !s.includes('b4')));
      },
      { timeoutMs: 20_000 },
    );
    const after = await subsetsFrom(lbs[0]);
    let changed = 0;
    for (const [id, was] of before) {
      const now = after.get(id) ?? [];
      expect(now).toHaveLength(SUBSET);
      if (was.includes('b4')) {
        changed += 1;
        expect(now.filter((x) => !was.includes(x))).toHaveLength(1);
      } else {
        expect([id, now]).toEqual([id, was]);
      }
    }
    expect(changed).toBe((CLIENTS * SUBSET) / BACKENDS);
    // And the channels follow: calls reach exactly their new subsets.
    for (const b of backends) b.peers.clear();
    const byClient = await reached();
    const addressOf = new Map(backends.map((b, i) => [`b${i}`, b.address]));
    for (const [id, seen] of byClient) {
      expect([id, [...seen].sort()]).toEqual([id, (after.get(id) ?? []).map((x) => addressOf.get(x)).sort()]);
    }
    const counts = backends.filter((_, i) => i !== 4).map((b) => b.peers.size);
    process.stdout.write(
      `after b4 was killed: ${changed} clients changed (each by one), connections per backend ${counts.join(' ')}\n`,
    );
    expect(Math.max(...counts) - Math.min(...counts)).toBeLessThanOrEqual(1);
  }, 60_000);
});
