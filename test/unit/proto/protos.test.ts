import type { MethodDefinition, PackageDefinition, ServiceDefinition } from '@grpc/proto-loader';
import { loadProtos } from '../../../proto/protos';

/**
 * Every message of every contract is round-tripped through proto-loader's own serializers (the
 * ones grpc-js uses on the wire), fully populated, so a field that does not survive shows up here.
 */

const serverList = {
  servers: [
    {
      address: '127.0.0.1:8181',
      weight: 30,
      zone: 'z1',
      metadata: { version: '2' },
      loadBalanceToken: 'tok-1',
      draining: true,
    },
  ],
  version: 42,
};
const backendStats = {
  address: '127.0.0.1:8181',
  callsStarted: 10,
  callsSucceeded: 8,
  callsFailed: 2,
  latencyMsSum: 12.5,
};
const clientInfo = {
  clientId: 'c-1',
  service: 'greeter',
  peer: 'ipv4:127.0.0.1:5555',
  zone: 'z1',
  connectedAtMs: 1_700_000_000_000,
  assignedVersion: 42,
  assignedAtMs: 1_700_000_000_001,
  stats: [backendStats],
  lastStatsAtMs: 1_700_000_000_002,
  protocol: 'lookaside.v1',
};

const override = {
  service: 'greeter',
  instanceId: 'i-1',
  key: '/lookaside/overrides/greeter/i-1',
  weight: 0,
  draining: true,
  who: 'alice',
  reason: 'disk',
  atMs: 1_700_000_000_000,
  expiresAtMs: 1_700_000_060_000,
  dangling: false,
  modRevision: 19,
};

/** A fully populated request and response for each method, by its full path. */
const samples: Record<string, { request: object[]; response: object[] }> = {
  '/lookaside.v1.LoadBalancer/BalanceLoad': {
    request: [
      {
        initialRequest: { name: 'greeter', clientId: 'c-1', zone: 'z1' },
        loadBalanceRequestType: 'initialRequest',
      },
      { clientStats: { backends: [backendStats] }, loadBalanceRequestType: 'clientStats' },
    ],
    response: [
      { initialResponse: { clientStatsReportIntervalMs: 1000 }, loadBalanceResponseType: 'initialResponse' },
      { serverList, loadBalanceResponseType: 'serverList' },
    ],
  },
  '/lookaside.v1.Admin/ListServices': {
    request: [{}],
    response: [
      {
        services: [
          {
            name: 'greeter',
            version: 42,
            endpoints: 3,
            servingEndpoints: 2,
            drainingEndpoints: 1,
            rejectedRecords: 1,
            clients: 5,
          },
        ],
        synced: true,
        etcdConnected: true,
      },
    ],
  },
  '/lookaside.v1.Admin/GetService': {
    request: [{ name: 'greeter' }],
    response: [
      {
        name: 'greeter',
        version: 42,
        endpoints: [
          {
            instanceId: 'i-1',
            key: '/lookaside/services/greeter/i-1',
            address: '127.0.0.1:8181',
            weight: 100,
            effectiveWeight: 0,
            zone: 'z1',
            metadata: { a: 'b' },
            draining: true,
            format: 'lookaside',
            // Lease ids exceed 2^53: a string, so that the round trip keeps every digit.
            lease: '7587869364123456789',
            modRevision: 17,
            override,
          },
        ],
        danglingOverrides: [{ ...override, instanceId: 'gone', dangling: true }],
        rejected: [{ key: '/lookaside/services/greeter/bad', reason: 'value is not JSON', modRevision: 18 }],
        clients: 5,
      },
    ],
  },
  '/lookaside.v1.Admin/ListClients': {
    request: [{ service: 'greeter' }],
    response: [{ clients: [clientInfo] }],
  },
  '/lookaside.v1.Admin/GetAssignment': {
    request: [{ service: 'greeter', clientId: 'c-1' }],
    response: [{ service: 'greeter', current: serverList, clients: [{ client: clientInfo, serverList }] }],
  },
  '/lookaside.v1.Admin/SetOverride': {
    request: [
      {
        service: 'greeter',
        instanceId: 'i-1',
        weight: 0,
        draining: true,
        reason: 'disk',
        forMs: 60_000,
        who: 'alice',
      },
    ],
    response: [{ override }],
  },
  '/lookaside.v1.Admin/ClearOverride': {
    request: [{ service: 'greeter', instanceId: 'i-1', who: 'alice' }],
    response: [{ cleared: true }],
  },
  '/lookaside.v1.Admin/ListOverrides': {
    request: [{ service: 'greeter' }],
    response: [{ overrides: [override] }],
  },
  '/helloworld.Greeter/SayHello': {
    request: [{ name: 'world' }],
    response: [{ message: 'Hello world from 127.0.0.1:8181' }],
  },
};

type AnyMethod = MethodDefinition<object, object>;

function methods(def: PackageDefinition): AnyMethod[] {
  const out: AnyMethod[] = [];
  for (const value of Object.values(def)) {
    if (!('format' in value)) {
      for (const method of Object.values(value as ServiceDefinition)) out.push(method as AnyMethod);
    }
  }
  return out;
}

interface DescriptorField {
  typeName?: string;
}
interface Descriptor {
  name: string;
  field?: DescriptorField[];
}

/** Every message type (full name) in the definitions, and the ones the samples reach. */
function messageTypes(def: PackageDefinition): string[] {
  return Object.entries(def)
    .filter(([, v]) => 'format' in v && v.format === 'Protocol Buffer 3 DescriptorProto')
    .map(([name]) => name)
    .filter((name) => !name.startsWith('google.protobuf.'));
}

/** The full name of a message type given the (possibly short) name a descriptor uses. */
function fullName(all: string[], name: string): string | undefined {
  const bare = name.replace(/^\./, '');
  return all.find((n) => n === bare || n.endsWith(`.${bare}`));
}

function reached(def: PackageDefinition, all: string[], start: string, seen: Set<string>): void {
  if (seen.has(start)) return;
  seen.add(start);
  const entry = def[start] as { type?: Descriptor } | undefined;
  for (const field of entry?.type?.field ?? []) {
    const next = field.typeName ? fullName(all, field.typeName) : undefined;
    if (next) reached(def, all, next, seen);
  }
}

describe('proto contracts', () => {
  const protos = loadProtos();
  const defs = [protos.lookasideDefinition, protos.helloworldDefinition];

  it('has a sample for every method of every service', () => {
    const paths = defs
      .flatMap(methods)
      .map((m) => m.path)
      .sort();
    expect(paths).toEqual(Object.keys(samples).sort());
  });

  it('reaches every message type from the methods sampled here', () => {
    for (const def of defs) {
      const all = messageTypes(def);
      const seen = new Set<string>();
      for (const m of methods(def)) {
        const req = (m.requestType as { type: Descriptor }).type.name;
        const res = (m.responseType as { type: Descriptor }).type.name;
        for (const short of [req, res]) {
          const full = fullName(all, short);
          if (full) reached(def, all, full, seen);
        }
      }
      expect(all.filter((n) => !seen.has(n))).toEqual([]);
    }
  });

  for (const def of [loadProtos().lookasideDefinition, loadProtos().helloworldDefinition]) {
    for (const method of methods(def)) {
      it(`round-trips ${method.path} requests and responses without loss`, () => {
        const sample = samples[method.path];
        expect(sample).toBeDefined();
        for (const msg of sample.request) {
          expect(method.requestDeserialize(method.requestSerialize(msg))).toMatchObject(msg);
        }
        for (const msg of sample.response) {
          expect(method.responseDeserialize(method.responseSerialize(msg))).toMatchObject(msg);
        }
      });
    }
  }

  it('fills defaults for omitted fields (the generated __Output types promise them)', () => {
    const m = methods(protos.lookasideDefinition).find(
      (x) => x.path === '/lookaside.v1.LoadBalancer/BalanceLoad',
    );
    const out = m!.responseDeserialize(
      m!.responseSerialize({ serverList: { servers: [{ address: 'h:1' }] } }),
    ) as {
      serverList: {
        version: number;
        servers: Array<{ weight: number; draining: boolean; metadata: object }>;
      };
    };
    expect(out.serverList.version).toBe(0);
    expect(out.serverList.servers[0]).toMatchObject({ weight: 0, draining: false, metadata: {} });
  });
});

describe('loadProtos', () => {
  /** The files each loadSync call parsed, in a fresh copy of proto/protos.ts and proto-loader. */
  async function parsedFiles(read: (protos: ReturnType<typeof loadProtos>) => unknown): Promise<unknown[]> {
    let files: unknown[] = [];
    await jest.isolateModulesAsync(async () => {
      const protoLoader = await import('@grpc/proto-loader');
      const loadSync = jest.spyOn(protoLoader, 'loadSync');
      const fresh = await import('../../../proto/protos');
      read(fresh.loadProtos());
      files = loadSync.mock.calls.map(([f]) => f);
    });
    return files;
  }

  it('parses nothing until a contract is read', async () => {
    expect(await parsedFiles(() => undefined)).toEqual([]);
  });

  it('parses only load_balancer.proto for the LoadBalancer, once however often it is read', async () => {
    const files = await parsedFiles((protos) => [
      protos.loadBalancer.LoadBalancer,
      protos.loadBalancer.LoadBalancer,
    ]);
    expect(files).toEqual(['lookaside/v1/load_balancer.proto']);
  });

  it('parses helloworld.proto only when the helloworld contract is read', async () => {
    expect(await parsedFiles((protos) => protos.helloworld.Greeter)).toEqual(['helloworld/helloworld.proto']);
  });
});
