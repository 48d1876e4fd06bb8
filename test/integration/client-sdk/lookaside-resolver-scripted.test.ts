import * as grpc from '@grpc/grpc-js';
import { installLookaside, LookasideChannelOptions } from '../../../client-sdk';
import { startGreeterServer, type GreeterServer } from '../../../demo-service/greeter-server';
import type { GreeterClient } from '../../../proto/gen/helloworld/Greeter';
import { callMany, greeterClient, sayHello } from '../../support/greeter-load';
import { startScriptedLbServer, type ScriptedLbServer } from '../../support/scripted-lb-server';
import { waitFor } from '../../support/wait-for';

const SERVICE = 'greeter';

describe('lookaside resolver against a scripted LB server', () => {
  installLookaside();
  const cleanups: Array<() => unknown> = [];
  const greeters: GreeterServer[] = [];

  async function greeter(): Promise<GreeterServer> {
    const g = await startGreeterServer({ port: 0 });
    greeters.push(g);
    cleanups.push(() => g.forceClose());
    return g;
  }

  async function lb(options: Parameters<typeof startScriptedLbServer>[0] = {}): Promise<ScriptedLbServer> {
    const s = await startScriptedLbServer(options);
    cleanups.push(() => s.close());
    return s;
  }

  function client(target: string, options: grpc.ChannelOptions = {}): GreeterClient {
    const c = greeterClient(target, {
      [LookasideChannelOptions.RECONNECT_INITIAL_BACKOFF_MS]: 100,
      [LookasideChannelOptions.RECONNECT_MAX_BACKOFF_MS]: 500,
      ...options,
    });
    cleanups.push(() => c.close());
    return c;
  }

  afterEach(async () => {
    for (const fn of cleanups.splice(0).reverse()) await fn();
    greeters.splice(0);
  });

  test('weights 1:2:3 split 600 calls within 5 points of 1/6, 2/6, 3/6', async () => {
    const [a, b, c] = [await greeter(), await greeter(), await greeter()];
    const server = await lb();
    server.setServers(SERVICE, [
      { address: a.address, weight: 1 },
      { address: b.address, weight: 2 },
      { address: c.address, weight: 3 },
    ]);
    const cl = client(`lookaside://${server.address}/${SERVICE}`);
    // Wait until all three backends are connected, so the split is the steady one.
    await waitFor('all three backends answering', async () => {
      const r = await callMany(cl, 30);
      return Object.keys(r.byBackend).length === 3;
    });
    const { byBackend, failures } = await callMany(cl, 600);
    expect(failures).toEqual([]);
    expect(Math.abs(byBackend[a.address] / 600 - 1 / 6)).toBeLessThanOrEqual(0.05);
    expect(Math.abs(byBackend[b.address] / 600 - 2 / 6)).toBeLessThanOrEqual(0.05);
    expect(Math.abs(byBackend[c.address] / 600 - 3 / 6)).toBeLessThanOrEqual(0.05);
  });

  test('an empty list fails calls at once with UNAVAILABLE naming the service', async () => {
    const server = await lb();
    const cl = client(`lookaside://${server.address}/nosuch`);
    const started = Date.now();
    const r = await sayHello(cl, { deadlineMs: 10_000 });
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.code).toBe(grpc.status.UNAVAILABLE);
    expect(r.details).toContain('"nosuch"');
    expect(Date.now() - started).toBeLessThan(5000);
  });
});
