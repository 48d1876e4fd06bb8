import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { ReflectionService } from '@grpc/reflection';
import { Etcd3 } from 'etcd3';
import { HealthImplementation, protoPath as healthProtoPath } from 'grpc-health-check';
import pino, { type Logger } from 'pino';
import { adsServiceDefinition } from '../proto/envoy-protos';
import { grpclbServiceDefinition } from '../proto/grpclb-protos';
import { loadProtos, PROTO_LOAD_OPTIONS } from '../proto/protos';
import { createAdminHandlers } from './admin-handlers';
import { ChangeCoalescer } from './change-coalescer';
import { ClientRegistry } from './client-registry';
import { systemClock } from './clock';
import { EtcdRegistryWatcher } from './etcd-registry-watcher';
import { createGrpclbHandlers } from './grpclb-handlers';
import { resolveLbServerConfig, type LbServerConfig } from './lb-server-config';
import { createLoadBalancerHandlers } from './load-balancer-handlers';
import { emptyServiceView, RegistryState, type ServiceView } from './registry-state';
import { withSharedSerialization } from './shared-serialization';
import { StreamTracker } from './stream-tracker';
import { VersionedHub } from './versioned-hub';
import { createXdsHandlers } from './xds-handlers';

export type { LbServerConfig } from './lb-server-config';

/** A running LB server, as startLbServer returns it. The caller owns it and must close() it. */
export interface LbServer {
  /** The bound "host:port". */
  readonly address: string;
  readonly port: number;
  /** Resolves after the initial etcd sync; rejects if the server is closed before it. */
  synced(): Promise<void>;
  /**
   * Health NOT_SERVING, open streams end with UNAVAILABLE, the etcd watch stops, the etcd client
   * closes and the gRPC server shuts down (forcibly after a short grace). Idempotent.
   */
  close(): Promise<void>;
}

/** The gRPC service names reported by the health service (besides the overall ""). */
export const HEALTH_SERVICE_NAMES = [
  '',
  'lookaside.v1.LoadBalancer',
  'envoy.service.discovery.v3.AggregatedDiscoveryService',
  'grpc.lb.v1.LoadBalancer',
] as const;

/** How long a BalanceLoad stream may stay open without its initial_request. */
const INITIAL_REQUEST_TIMEOUT_MS = 10_000;

/** How long close() lets calls finish before cutting connections. */
const SHUTDOWN_GRACE_MS = 2000;

/** Raised when the server cannot bind its listen address. */
export class LbServerListenError extends Error {
  constructor(
    readonly listen: string,
    cause: Error,
  ) {
    super(`LB server cannot listen on ${listen}: ${cause.message}`);
    this.name = 'LbServerListenError';
  }
}

function defaultLogger(): Logger {
  return pino(
    { level: process.env.LOG_LEVEL ?? 'info', base: { component: 'lb-server' } },
    pino.destination(2),
  );
}

function splitListen(listen: string): { host: string; port: number } {
  const colon = listen.lastIndexOf(':');
  const host = listen.slice(0, colon);
  return { host: host.replace(/^\[(.*)\]$/, '$1'), port: Number(listen.slice(colon + 1)) };
}

function bind(server: grpc.Server, listen: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.bindAsync(listen, grpc.ServerCredentials.createInsecure(), (err, port) => {
      if (err) reject(new LbServerListenError(listen, err));
      else resolve(port);
    });
  });
}

/** lookaside.v1 plus grpc.health.v1, so reflection lists (and describes) both. */
function reflectionDefinition(): protoLoader.PackageDefinition {
  const health = protoLoader.loadSync(healthProtoPath, PROTO_LOAD_OPTIONS);
  return { ...loadProtos().lookasideDefinition, ...health };
}

/**
 * Starts an LB server: validates `config` (LbServerConfigError names the bad field), binds the
 * listen address with lookaside.v1.LoadBalancer, the xDS (ADS) and grpclb v1 frontends for stock
 * gRPC clients, lookaside.v1.Admin, grpc.health.v1.Health
 * (NOT_SERVING until the initial etcd sync, SERVING after) and server reflection, then reads and
 * watches etcd in the background. Resolves once listening, before the sync (see synced()).
 * Called by `lookaside lb-server`, the demo and tests; each call is an independent server.
 */
export async function startLbServer(config: LbServerConfig): Promise<LbServer> {
  const resolved = resolveLbServerConfig(config);
  const logger = config.logger ?? defaultLogger();
  const clock = systemClock;

  const state = new RegistryState(resolved.prefix);
  const hub = new VersionedHub<ServiceView>(emptyServiceView);
  const clients = new ClientRegistry(clock);
  const streams = new StreamTracker();
  const coalescer = new ChangeCoalescer(clock, resolved.coalesceMs, (services) => {
    for (const name of services) hub.publish(name, state.service(name));
  });
  const health = new HealthImplementation(
    Object.fromEntries(HEALTH_SERVICE_NAMES.map((name) => [name, 'NOT_SERVING' as const])),
  );

  const etcd = new Etcd3({
    hosts: resolved.etcd,
    dialTimeout: 3000,
    // Keepalive pings find a frozen or partitioned etcd under an open watch (etcd allows one per 5 s).
    grpcOptions: { 'grpc.keepalive_time_ms': 10_000, 'grpc.keepalive_timeout_ms': 5_000 },
  });
  let closing = false;
  const watcher = new EtcdRegistryWatcher({
    client: etcd,
    prefix: resolved.prefix,
    state,
    clock,
    logger,
    onChange: (services) => coalescer.add(services),
    onStatus: (status) => {
      logger.info({ event: 'etcd_status', ...status }, 'etcd status changed');
      if (status.synced && !hub.ready) {
        // Publish the initial read at once; streams opened before it get their first list now.
        coalescer.flushNow();
        hub.markReady();
      }
      if (status.synced && !closing) {
        for (const name of HEALTH_SERVICE_NAMES) health.setStatus(name, 'SERVING');
      }
    },
  });

  const server = new grpc.Server({ 'grpc.max_concurrent_streams': 10_000 });
  const protos = loadProtos();
  server.addService(
    withSharedSerialization(protos.loadBalancer.LoadBalancer.service),
    createLoadBalancerHandlers({
      hub,
      clients,
      streams,
      clientStatsIntervalMs: resolved.clientStatsIntervalMs,
      initialRequestTimeoutMs: INITIAL_REQUEST_TIMEOUT_MS,
      clock,
      logger,
    }),
  );
  // Stock clients, same port: xDS (ADS) for proxyless gRPC, grpclb v1 for older clients.
  server.addService(adsServiceDefinition(), createXdsHandlers({ hub, clients, streams, logger }));
  server.addService(
    withSharedSerialization(grpclbServiceDefinition()),
    createGrpclbHandlers({
      hub,
      clients,
      streams,
      clientStatsIntervalMs: resolved.clientStatsIntervalMs,
      initialRequestTimeoutMs: INITIAL_REQUEST_TIMEOUT_MS,
      clock,
      logger,
    }),
  );
  server.addService(
    protos.admin.Admin.service,
    createAdminHandlers({
      state,
      hub,
      clients,
      adminToken: resolved.adminToken,
      status: () => {
        const s = watcher.current();
        return { synced: s.synced, etcdConnected: s.connected };
      },
    }),
  );
  health.addToServer(server);
  new ReflectionService(reflectionDefinition()).addToServer(server);

  let port: number;
  try {
    port = await bind(server, resolved.listen);
  } catch (err) {
    etcd.close();
    server.forceShutdown();
    throw err;
  }
  const { host } = splitListen(resolved.listen);
  const address = host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
  logger.info(
    {
      event: 'lb_server_listening',
      address,
      etcd: resolved.etcd,
      prefix: resolved.prefix,
      adminToken: resolved.adminToken !== undefined,
      clientStatsIntervalMs: resolved.clientStatsIntervalMs,
      coalesceMs: resolved.coalesceMs,
    },
    `LB server listening on ${address}`,
  );
  watcher.start();

  let rejectSynced: ((err: Error) => void) | undefined;
  const syncedOrClosed = new Promise<void>((resolve, reject) => {
    rejectSynced = reject;
    void watcher.synced().then(resolve);
  });
  // A caller that never asks for synced() must not see an unhandled rejection on close.
  syncedOrClosed.catch(() => undefined);

  let closed: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closed ??= (async () => {
      closing = true;
      for (const name of HEALTH_SERVICE_NAMES) health.setStatus(name, 'NOT_SERVING');
      rejectSynced?.(new Error(`LB server ${address} closed before the initial etcd sync`));
      streams.closeAll();
      coalescer.close();
      await watcher.close();
      etcd.close();
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, SHUTDOWN_GRACE_MS);
        server.tryShutdown(() => {
          clearTimeout(timer);
          resolve();
        });
      });
      logger.info({ event: 'lb_server_closed', address }, 'LB server closed');
    })();
    return closed;
  };

  return {
    address,
    port,
    synced: () => syncedOrClosed,
    close,
  };
}
