import { readFileSync } from 'node:fs';
import type { ServiceError } from '@grpc/grpc-js';
import pino from 'pino';
import * as path from 'node:path';
import { freePort } from '../../etcd/etcd-process';
import { startLbServer, type LbServer } from '../../lb-server';
import { greeterClient, serve } from '../../examples/embed-sdk';
import { TestEtcd } from '../support/etcd';
import { waitFor } from '../support/wait-for';

const root = path.resolve(__dirname, '../..');

/** The marked regions of examples/embed-sdk.ts, which the README shows. */
function exampleRegions(): Map<string, string> {
  const source = readFileSync(path.join(root, 'examples/embed-sdk.ts'), 'utf8');
  const regions = new Map<string, string>();
  for (const m of source.matchAll(/\/\/ --- README: (\w+) ---\n([\s\S]*?)\/\/ --- end ---/g)) {
    regions.set(m[1], m[2].trim());
  }
  return regions;
}

describe("the README's SDK example", () => {
  it('is the code of examples/embed-sdk.ts, which the type-check compiles', () => {
    const readme = readFileSync(path.join(root, 'README.md'), 'utf8');
    const regions = exampleRegions();
    expect([...regions.keys()].sort()).toEqual(['client', 'service']);
    for (const [name, code] of regions) {
      expect({ name, inReadme: readme.includes(code) }).toEqual({ name, inReadme: true });
    }
  });

  describe('run against a real etcd and LB server', () => {
    let etcd: TestEtcd;
    let lb: LbServer;

    beforeAll(async () => {
      etcd = await TestEtcd.start();
      lb = await startLbServer({
        etcd: etcd.endpoints,
        listen: '127.0.0.1:0',
        logger: pino({ level: 'silent' }),
      });
      await lb.synced();
    });

    afterAll(async () => {
      await lb?.close();
      await etcd?.close();
    });

    it('a registered service answers a call made through lookaside://', async () => {
      const port = await freePort();
      const service = await serve(etcd.endpoints, port);
      const client = greeterClient(lb.address);
      try {
        const message = await waitFor(
          'a reply through lookaside',
          () =>
            new Promise<string>((resolve, reject) =>
              client.SayHello(
                { name: 'readme' },
                { deadline: Date.now() + 2000 },
                (err: ServiceError | null, reply?: { message?: string }) =>
                  err ? reject(err) : resolve(reply?.message ?? ''),
              ),
            ),
        );
        expect(message).toBe(`Hello readme from 127.0.0.1:${port}`);
      } finally {
        client.close();
        await service.stop();
      }
    });
  });
});
