import * as grpc from '@grpc/grpc-js';
import pino from 'pino';
import { installLookaside, LookasideChannelOptions } from '../../../client-sdk';
import { startGreeterServer, type GreeterServer } from '../../../demo-service';
import { startLbServer, type LbServer } from '../../../lb-server';
import { registerService, type Registration } from '../../../registrar';
import type { GreeterClient } from '../../../proto/gen/helloworld/Greeter';
import { TestEtcd } from '../../support/etcd';
import { greeterClient, GreeterLoad, sayHello } from '../../support/greeter-load';
import { waitFor } from '../../support/wait-for';

const silent = pino({ level: 'silent' });

/**
 * What the lookaside-with-lb-server tests share: one etcd for the file, and LB servers, registered
 * greeters, lookaside:// clients and loads that are closed after each test.
 */
export interface LookasideWithLbServer {
  readonly etcd: TestEtcd;
  /** A service name no other test of the file uses. */
  newService(): string;
  /** A started and synced LB server (coalesceMs 5, ClientStats every 500 ms). */
  lbServer(listen?: string): Promise<LbServer>;
  /** A greeter registered with the registrar (TTL 2 s). */
  instance(service: string, weight?: number): Promise<{ greeter: GreeterServer; registration: Registration }>;
  /** A greeter client on `target`, reconnecting to the LB server within 200..1000 ms. */
  client(target: string, options?: grpc.ChannelOptions): GreeterClient;
  /** Starts steady load once a first call has succeeded (the registration has reached the LB). */
  load(c: GreeterClient): Promise<GreeterLoad>;
  /** Runs `fn` after the test; the last deferred first. */
  defer(fn: () => unknown): void;
}

/** Installs lookaside and registers beforeAll/afterEach/afterAll in the calling describe. */
export function useLookasideWithLbServer(): LookasideWithLbServer {
  installLookaside();
  let etcd: TestEtcd | undefined;
  let serviceCounter = 0;
  const cleanups: Array<() => unknown> = [];
  const current = (): TestEtcd => {
    if (!etcd) throw new Error('no etcd outside the tests of the describe');
    return etcd;
  };

  beforeAll(async () => {
    etcd = await TestEtcd.start();
  });
  afterEach(async () => {
    for (const fn of cleanups.splice(0).reverse()) await fn();
  });
  afterAll(async () => {
    await etcd?.close();
  });

  return {
    get etcd() {
      return current();
    },
    newService: () => `greeter-${++serviceCounter}`,
    async lbServer(listen = '127.0.0.1:0') {
      const lb = await startLbServer({
        etcd: current().endpoints,
        listen,
        coalesceMs: 5,
        clientStatsIntervalMs: 500,
        logger: silent,
      });
      cleanups.push(() => lb.close());
      await lb.synced();
      return lb;
    },
    async instance(service, weight = 100) {
      const greeter = await startGreeterServer({ port: 0 });
      cleanups.push(() => greeter.forceClose());
      const registration = await registerService({
        etcd: current().endpoints,
        service,
        address: greeter.address,
        weight,
        ttlSeconds: 2,
        logger: silent,
      });
      cleanups.push(() => registration.close());
      return { greeter, registration };
    },
    client(target, options = {}) {
      const c = greeterClient(target, {
        [LookasideChannelOptions.RECONNECT_INITIAL_BACKOFF_MS]: 200,
        [LookasideChannelOptions.RECONNECT_MAX_BACKOFF_MS]: 1000,
        ...options,
      });
      cleanups.push(() => c.close());
      return c;
    },
    async load(c) {
      await waitFor('a first call to succeed', async () => (await sayHello(c)).ok);
      const l = new GreeterLoad(c, { concurrency: 4 });
      cleanups.push(() => l.stop());
      return l;
    },
    defer(fn) {
      cleanups.push(fn);
    },
  };
}
