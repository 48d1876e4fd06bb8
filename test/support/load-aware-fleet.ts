import type { Logger } from 'pino';
import type { AdminClient } from '../../cli/admin-client';
import { startGreeterServer, type GreeterServer } from '../../demo-service';
import type { Endpoint__Output } from '../../proto/gen/lookaside/v1/Endpoint';
import { registerService } from '../../registrar';
import { greeterClient, GreeterLoad, sayHello } from './greeter-load';
import { waitFor } from './wait-for';

/** What the load-aware tests share: an etcd, an LB server, and where to defer clean-ups. */
export interface LoadFleet {
  readonly etcd: readonly string[];
  readonly lbAddress: string;
  readonly logger: Logger;
  /** Runs `fn` after the test (the owner runs them newest first). */
  defer(fn: () => unknown): void;
}

/** Registers each `instanceId → address` under `service` (closed after the test). */
export async function registerAll(
  fleet: LoadFleet,
  service: string,
  instances: Readonly<Record<string, string>>,
): Promise<void> {
  for (const [instanceId, address] of Object.entries(instances)) {
    const r = await registerService({
      etcd: [...fleet.etcd],
      service,
      instanceId,
      address,
      logger: fleet.logger,
    });
    fleet.defer(() => r.close());
  }
}

/**
 * Greeters with a capacity model that report ORCA every 200 ms, one per `instanceId →
 * serviceTimeMs`, registered under `service`; closed after the test.
 */
export async function capacityGreeters(
  fleet: LoadFleet,
  service: string,
  maxConcurrent: number,
  serviceTimes: Readonly<Record<string, number>>,
): Promise<Record<string, GreeterServer>> {
  const greeters: Record<string, GreeterServer> = {};
  for (const [id, serviceTimeMs] of Object.entries(serviceTimes)) {
    const g = await startGreeterServer({ port: 0, maxConcurrent, serviceTimeMs, loadReportIntervalMs: 200 });
    fleet.defer(() => g.forceClose());
    greeters[id] = g;
  }
  await registerAll(
    fleet,
    service,
    Object.fromEntries(Object.entries(greeters).map(([id, g]) => [id, g.address])),
  );
  return greeters;
}

/** A lookaside:// client of `service` under steady load, once a first call succeeded. */
export async function steadyLoad(
  fleet: LoadFleet,
  service: string,
  concurrency: number,
): Promise<GreeterLoad> {
  const client = greeterClient(`lookaside://${fleet.lbAddress}/${service}`);
  fleet.defer(() => client.close());
  await waitFor('a first call', async () => (await sayHello(client)).ok);
  const load = new GreeterLoad(client, { concurrency });
  fleet.defer(() => load.stop());
  return load;
}

/** The admin view of `service`'s endpoints, by instance id. */
export async function endpointsById(
  admin: AdminClient,
  service: string,
): Promise<Record<string, Endpoint__Output>> {
  return Object.fromEntries((await admin.getService(service)).endpoints.map((e) => [e.instanceId, e]));
}

/**
 * Waits until instance "slow" of `service` has a load factor from `source` that puts its effective
 * weight below half of instance "fast"'s; returns the endpoints then.
 */
export async function untilSlowWeightedDown(
  admin: AdminClient,
  service: string,
  source: 'orca' | 'clients',
): Promise<Record<string, Endpoint__Output>> {
  await waitFor(
    `${source} factors: the slow backend weighted below half of the fast one`,
    async () => {
      const e = await endpointsById(admin, service);
      return e.slow?.loadSource === source && e.slow.effectiveWeight * 2 < (e.fast?.effectiveWeight ?? 0);
    },
    { timeoutMs: 15_000 },
  );
  return endpointsById(admin, service);
}
