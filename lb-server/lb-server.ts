import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { ReflectionService } from '@grpc/reflection';
import { Etcd3, type IOptions } from 'etcd3';
import { HealthImplementation, protoPath as healthProtoPath } from 'grpc-health-check';
import pino, { type Logger } from 'pino';
import { checkListenable } from '../common/check-listenable';
import { formatAddress, parseListenAddress } from '../common/host-port';
import { describeEtcdSecurity, etcdClientOptions, EtcdSecurityError } from '../etcd/etcd-client-options';
import { adsServiceDefinition, loadEnvoyProtos } from '../proto/envoy-protos';
import { grpclbServiceDefinition, loadGrpclbProtos } from '../proto/grpclb-protos';
import { loadProtos, PROTO_LOAD_OPTIONS } from '../proto/protos';
import { createAdminHandlers } from './frontends/admin/admin-handlers';
import { AssignmentPipeline } from './assignment/assignment-pipeline';
import { ClientRegistry } from './core/client-registry';
import { systemClock } from '../common/clock';
import { EtcdRegistryWatcher } from './io/etcd-registry-watcher';
import { ClientPopulation, populationObserver } from './io/client-population';
import { ServiceConfigWatcher } from './io/service-config-watcher';
import { createGrpclbHandlers } from './frontends/grpclb/grpclb-handlers';
import { LbServerConfigError, resolveLbServerConfig, type LbServerConfig } from './lb-server-config';
import { LbServerMetrics } from './frontends/metrics/lb-server-metrics';
import { createLookasideV1Handlers } from './frontends/lookaside-v1/lookaside-v1-handlers';
import { RegistryState } from './core/registry-state';
import { startMetricsHttpServer, type MetricsHttpServer } from './frontends/metrics/metrics-http-server';
import { ReloadingCertificateProvider, TlsFilesError } from './io/reloading-certificate-provider';
import { HealthChecker, type OrcaLoad } from './io/health-checker';
import { healthCheckCredentials, HealthCheckTlsError } from './io/health-check-credentials';
import { HeldEndpointProber } from './io/held-endpoint-prober';
import { OutlierDetector, type EjectionChange } from './core/outlier-detector';
import { countAssignment } from './assignment/assignment';
import { LoadWeights } from './core/load-weights';
import { MembershipLog } from './membership-log';
import { withSharedSerialization } from './frontends/shared-serialization';
import { StreamTracker } from './frontends/stream-tracker';
import { createXdsHandlers } from './frontends/xds/xds-handlers';

export type { LbServerConfig } from './lb-server-config';

/** A running LB server, as startLbServer returns it. The caller owns it and must close() it. */
export interface LbServer {
  /** The bound "host:port". */
  readonly address: string;
  readonly port: number;
  /** True when the gRPC port speaks TLS. */
  readonly tls: boolean;
  /** The bound "host:port" of GET /metrics, when metricsListen was given. */
  readonly metricsAddress: string | undefined;
  /** The bound "host:port" of the plaintext health-only listener, when healthListen was given. */
  readonly healthAddress: string | undefined;
  /** Resolves after the initial etcd sync; rejects if the server is closed before it. */
  synced(): Promise<void>;
  /**
   * The latest valid out-of-band ORCA report this replica holds for the endpoint with registry key
   * `key` (undefined: ORCA or health checks off, not checked, or nothing valid yet). For embedders
   * and tests; load-aware weights read the health checker directly.
   */
  orcaOf(key: string): OrcaLoad | undefined;
  /**
   * The client population across replicas (this replica's clients joined from every frontend,
   * the others' from etcd). For the assignment policy, embedders and tests.
   */
  readonly population: ClientPopulation;
  /** Per-service configuration from etcd over the flags' defaults. */
  readonly serviceConfig: ServiceConfigWatcher;
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

/** The host of a validated listen address (the config schema checked it). */
function listenHost(listen: string): string {
  const parsed = parseListenAddress(listen);
  if (!parsed.ok) throw new LbServerConfigError('listen', parsed.reason);
  return parsed.value.host;
}

async function bind(
  server: grpc.Server,
  listen: string,
  credentials: grpc.ServerCredentials,
): Promise<number> {
  const parsed = parseListenAddress(listen);
  if (!parsed.ok) throw new LbServerConfigError('listen', parsed.reason);
  // A taken port fails here with Node's error alone, before grpc-js prints its own line for it.
  await checkListenable(parsed.value.host, parsed.value.port).catch((err: unknown) => {
    throw new LbServerListenError(listen, err instanceof Error ? err : new Error(String(err)));
  });
  return new Promise((resolve, reject) => {
    server.bindAsync(listen, credentials, (err, port) => {
      if (err) reject(new LbServerListenError(listen, err));
      else resolve(port);
    });
  });
}

/** Every service on the port (lookaside.v1, xDS, grpclb, health), so reflection lists them all. */
function reflectionDefinition(): protoLoader.PackageDefinition {
  const health = protoLoader.loadSync(healthProtoPath, PROTO_LOAD_OPTIONS);
  return { ...loadEnvoyProtos(), ...loadGrpclbProtos(), ...loadProtos().lookasideDefinition, ...health };
}

/**
 * Starts an LB server: validates `config` (LbServerConfigError names the bad field), binds the
 * listen address with lookaside.v1.LoadBalancer, the xDS (ADS) and grpclb v1 frontends for stock
 * gRPC clients, lookaside.v1.Admin, grpc.health.v1.Health
 * (NOT_SERVING until the initial etcd sync, SERVING after) and server reflection, then reads and
 * watches etcd in the background. Resolves once listening, before the sync (see synced()).
 * With TLS files the port speaks TLS (mTLS with a client CA), re-reading the files for rotation;
 * with metricsListen a separate HTTP listener serves GET /metrics (see LbServerMetrics); with
 * healthListen a separate plaintext gRPC listener serves only grpc.health.v1 (for probes that
 * cannot speak TLS, such as the kubelet's), with the same statuses as the main port. Unreadable
 * TLS, health-check TLS or etcd files, and etcd settings that do not go together, are
 * LbServerConfigErrors too. With healthCheckCaFile the health checker reaches backends over TLS.
 * Beside the registry it keeps the client population (this replica's clients written under
 * `<root>/clients/` on a lease of its own, every replica's read back: `population`) and watches
 * per-service configuration under `<root>/config/` (`serviceConfig`); see common/key-layout.ts.
 * Called by `lookaside lb-server`, the demo and tests; each call is an independent server.
 */
export async function startLbServer(config: LbServerConfig): Promise<LbServer> {
  const resolved = resolveLbServerConfig(config);
  const logger = config.logger ?? defaultLogger();
  const clock = systemClock;
  let etcdOptions: IOptions;
  try {
    etcdOptions = etcdClientOptions(resolved.etcd, resolved.etcdSecurity);
  } catch (err) {
    if (err instanceof EtcdSecurityError) throw new LbServerConfigError(err.field, err.reason);
    throw err;
  }

  // Read before anything opens: a bad file is a config error, not a half-started server.
  const checkTls = resolved.healthChecks ? resolved.healthCheckTls : undefined;
  let checkCredentials = grpc.credentials.createInsecure();
  if (checkTls) {
    try {
      checkCredentials = healthCheckCredentials(checkTls);
    } catch (err) {
      if (err instanceof HealthCheckTlsError) throw new LbServerConfigError(err.field, err.reason);
      throw err;
    }
  }

  let certificates: ReloadingCertificateProvider | undefined;
  let credentials = grpc.ServerCredentials.createInsecure();
  if (resolved.tls) {
    const tls = resolved.tls;
    try {
      certificates = new ReloadingCertificateProvider(tls, resolved.tlsReloadIntervalMs, (event) => {
        if (event.ok) logger.info({ event: 'tls_reloaded', certFile: tls.certFile }, 'TLS files reloaded');
        else logger.warn({ event: 'tls_reload_failed', err: event.error }, 'kept the previous TLS files');
      });
    } catch (err) {
      if (err instanceof TlsFilesError) throw new LbServerConfigError(err.field, err.reason);
      throw err;
    }
    // One provider for both roles; with a client CA, clients without a valid certificate are refused.
    credentials = grpc.experimental.createCertificateProviderServerCredentials(
      certificates,
      tls.clientCaFile !== undefined ? certificates : null,
      tls.clientCaFile !== undefined,
    );
  }
  const health = new HealthImplementation(
    Object.fromEntries(HEALTH_SERVICE_NAMES.map((name) => [name, 'NOT_SERVING' as const])),
  );

  // The pipeline, in the order data flows: etcd → registry state → (coalescing,
  // self-preservation, assignment stage, hub: the AssignmentPipeline) → frontends.
  const state = new RegistryState(resolved.prefix);
  const pipeline = new AssignmentPipeline(state, clock, {
    coalesceMs: resolved.coalesceMs,
    selfPreservation: {
      graceMs: resolved.selfPreservationGraceMs,
      threshold: resolved.selfPreservationThreshold,
    },
    policy: config.assignmentPolicy,
    panicThreshold: resolved.panicThreshold,
  });
  const clients = new ClientRegistry(clock);
  const streams = new StreamTracker();

  const etcd = new Etcd3({
    ...etcdOptions,
    dialTimeout: 3000,
    // Keepalive pings find a frozen or partitioned etcd under an open watch (etcd allows one per 5 s).
    grpcOptions: { 'grpc.keepalive_time_ms': 10_000, 'grpc.keepalive_timeout_ms': 5_000 },
  });
  let closing = false;
  const watcher = new EtcdRegistryWatcher({
    client: etcd,
    endpoints: resolved.etcd,
    prefix: resolved.prefix,
    state,
    clock,
    logger,
    onChange: (services) => pipeline.changed(services),
    onStatus: (status) => {
      logger.info({ event: 'etcd_status', ...status }, 'etcd status changed');
      // Publish the initial read at once; streams opened before it get their first list now.
      if (status.synced) pipeline.ready();
      if (status.synced && !closing) {
        for (const name of HEALTH_SERVICE_NAMES) health.setStatus(name, 'SERVING');
      }
    },
  });

  // The client population of every replica (this one's written under its own lease), and the
  // per-service configuration: both beside the registry prefix (common/key-layout.ts). The
  // assignment policy reads them; their onChange says which services to recompute.
  const population = new ClientPopulation({
    client: etcd,
    endpoints: resolved.etcd,
    prefix: resolved.prefix,
    replicaId: resolved.replicaId,
    leaseTtlSeconds: resolved.replicaLeaseTtlSeconds,
    flushMs: resolved.clientFlushMs,
    clock,
    logger,
  });
  const serviceConfig = new ServiceConfigWatcher({
    client: etcd,
    endpoints: resolved.etcd,
    prefix: resolved.prefix,
    defaults: resolved.serviceConfigDefaults,
    clock,
    logger,
  });

  // Signals the LB server observes itself: each endpoint's grpc.health.v1 status.
  const healthChecker = resolved.healthChecks
    ? new HealthChecker({
        clock,
        logger,
        credentials: checkCredentials,
        // The SDK's rule: a backend's certificate must name the service, unless overridden.
        serverNameOf: checkTls ? (service) => checkTls.serverName ?? service : undefined,
        onChange: (service) => pipeline.republish([service]),
        // Out-of-band ORCA on the same connections; orcaOf() is what load-aware weights read,
        // soon after each report arrives.
        orcaIntervalMs: resolved.orcaIntervalMs,
        onOrca: (service) => loads.orcaReported(service),
      })
    : undefined;
  if (healthChecker) pipeline.useHealth(healthChecker);

  // Outlier ejection from what every client reports (the metrics count the ejections, below).
  let onEjections: (changes: readonly EjectionChange[]) => void = () => undefined;
  const outliers = new OutlierDetector({
    clock,
    options: { ...resolved.outlierDetection, panicThreshold: resolved.panicThreshold },
    assignmentOf: (service) => pipeline.serviceAssignment(service),
    onChange: (service, changes) => {
      onEjections(changes);
      pipeline.republish([service]);
    },
  });
  clients.observe(outliers);
  pipeline.useEjections(outliers);

  // Load-aware weights: registered weight × a load factor (ORCA reports, else client latency).
  const loads = new LoadWeights({
    clock,
    options: resolved.loadWeights,
    assignmentOf: (service) => pipeline.serviceAssignment(service),
    // Out-of-band ORCA reports, read on the health checks' connections (none with checks off).
    orcaOf: (key) => healthChecker?.orcaOf(key),
    onChange: (service) => pipeline.republish([service]),
  });
  clients.observe(loads);
  pipeline.useLoad(loads);

  // What watches the pipeline: the checker, the metrics, the logs, the prober of held endpoints.
  const metrics = new LbServerMetrics({
    state,
    assignments: pipeline,
    clients,
    health: healthChecker,
    outliers,
    loads,
    orcaRejected: () => healthChecker?.rejectedOrcaReports() ?? 0,
    etcdConnected: () => watcher.current().connected,
    population,
    serviceConfig,
    processMetrics: resolved.metricsListen !== undefined,
  });
  clients.observe(metrics);
  // Membership at info level: endpoints joining, draining, leaving; clients connecting, leaving.
  const membership = new MembershipLog(logger, clock);
  clients.observe(membership);
  // Every accepted stream of any frontend joins the population; its end leaves it.
  clients.observe(populationObserver(population));
  onEjections = (changes) => {
    for (const c of changes) {
      const x = c.ejection;
      const fields = {
        service: c.service,
        address: c.address,
        rule: x.rule,
        consecutive: x.consecutive,
        requests: Math.round(x.requests),
        failures: Math.round(x.failures),
        threshold: x.threshold,
      };
      if (c.ejected) {
        metrics.ejected(c.service, x.rule);
        logger.warn(
          { event: 'endpoint_ejected', ...fields, untilMs: x.untilMs },
          `outlier ejected ${c.address} of ${c.service} (${x.rule}) until ${new Date(x.untilMs).toISOString()}`,
        );
      } else {
        // The figures are the ones it was ejected on (the interval before the ejection).
        logger.info(
          {
            event: 'endpoint_returned',
            service: c.service,
            address: c.address,
            rule: x.rule,
            consecutive: x.consecutive,
            ejectedOnRequests: fields.requests,
            ejectedOnFailures: fields.failures,
            ejectedMs: clock.now() - x.sinceMs,
          },
          `ejected endpoint ${c.address} of ${c.service} returns`,
        );
      }
    }
  };
  const prober = new HeldEndpointProber(pipeline.preservation, logger, (service) =>
    pipeline.republish([service]),
  );
  // Services in panic mode now, so that entering and leaving it is logged once each.
  const inPanic = new Set<string>();
  pipeline.observe({
    changed: (services) => metrics.changed(services),
    published: (service, subscribers, previous) => {
      metrics.published(service, subscribers);
      loads.touch(service);
      const assignment = pipeline.serviceAssignment(service);
      // The initial read's publish comes before the pipeline is ready: not transitions.
      membership.published(service, previous, assignment, !pipeline.isReady);
      if (assignment.panic !== inPanic.has(service)) {
        const counts = countAssignment(assignment);
        if (assignment.panic) {
          inPanic.add(service);
          logger.warn(
            { event: 'panic_started', service, endpoints: counts.endpoints, eligible: counts.eligible },
            `health verdicts and ejections of ${service} would leave too few endpoints: ignored, calls spread over all`,
          );
        } else {
          inPanic.delete(service);
          logger.info(
            { event: 'panic_ended', service, eligible: counts.eligible },
            `${service} left panic mode`,
          );
        }
      }
      healthChecker?.sync(
        service,
        pipeline.serviceAssignment(service).endpoints.map((e) => e.endpoint),
      );
    },
    republished: () => prober.check(),
    holding: (service, held) =>
      logger.warn(
        { event: 'self_preservation_hold', service, held: held.count, untilMs: held.untilMs },
        'mass removal held: publishing the last endpoints while registrars re-register',
      ),
    expired: (services) =>
      logger.info({ event: 'self_preservation_expired', services }, 'held removals applied after the grace'),
    // A vanished service leaves nothing behind here either (names may come and go by the thousand).
    forgotten: (service) => {
      inPanic.delete(service);
      metrics.forget(service);
    },
  });

  const server = new grpc.Server({
    'grpc.max_concurrent_streams': 10_000,
    // Ping idle clients so a vanished client's BalanceLoad stream is ended (and leaves the admin
    // view) within ~40 s. grpc-js servers accept client pings at any rate (the SDK pings every 10 s).
    'grpc.keepalive_time_ms': 30_000,
    'grpc.keepalive_timeout_ms': 10_000,
    'grpc.keepalive_permit_without_calls': 1,
  });
  const protos = loadProtos();
  const frontendDeps = {
    pipeline,
    clients,
    streams,
    clientStatsIntervalMs: resolved.clientStatsIntervalMs,
    initialRequestTimeoutMs: INITIAL_REQUEST_TIMEOUT_MS,
    clock,
    logger,
    population,
    serviceConfig,
  };
  server.addService(
    withSharedSerialization(protos.loadBalancer.LoadBalancer.service),
    createLookasideV1Handlers(frontendDeps),
  );
  // Stock clients, same port: xDS (ADS) for proxyless gRPC, grpclb v1 for older clients.
  server.addService(adsServiceDefinition(), createXdsHandlers(frontendDeps));
  server.addService(withSharedSerialization(grpclbServiceDefinition()), createGrpclbHandlers(frontendDeps));
  server.addService(
    protos.admin.Admin.service,
    createAdminHandlers({
      state,
      pipeline,
      clients,
      health: healthChecker,
      outliers,
      loads,
      population,
      serviceConfig,
      adminToken: resolved.adminToken,
      status: () => {
        const s = watcher.current();
        return { synced: s.synced, etcdConnected: s.connected };
      },
    }),
  );
  health.addToServer(server);
  new ReflectionService(reflectionDefinition()).addToServer(server);
  // Health alone, plaintext, on its own port: nothing but SERVING/NOT_SERVING is readable there.
  let healthServer: grpc.Server | undefined;
  if (resolved.healthListen !== undefined) {
    healthServer = new grpc.Server();
    health.addToServer(healthServer);
  }

  const host = listenHost(resolved.listen);
  let port: number;
  let metricsServer: MetricsHttpServer | undefined;
  let healthAddress: string | undefined;
  try {
    port = await bind(server, resolved.listen, credentials);
    if (healthServer && resolved.healthListen !== undefined) {
      const healthPort = await bind(
        healthServer,
        resolved.healthListen,
        grpc.ServerCredentials.createInsecure(),
      );
      healthAddress = formatAddress(listenHost(resolved.healthListen), healthPort);
    }
    if (resolved.metricsListen !== undefined) {
      metricsServer = await startMetricsHttpServer(resolved.metricsListen, metrics.registry, (err) =>
        logger.warn({ event: 'metrics_server_error', err: err.message }, 'metrics server error'),
      );
    }
  } catch (err) {
    pipeline.close();
    healthChecker?.close();
    outliers.close();
    loads.close();
    await population.close();
    await serviceConfig.close();
    etcd.close();
    certificates?.close();
    server.forceShutdown();
    healthServer?.forceShutdown();
    throw err;
  }
  const address = formatAddress(host, port);
  logger.info(
    {
      event: 'lb_server_listening',
      address,
      etcd: resolved.etcd,
      prefix: resolved.prefix,
      adminToken: resolved.adminToken !== undefined,
      clientStatsIntervalMs: resolved.clientStatsIntervalMs,
      coalesceMs: resolved.coalesceMs,
      tls: resolved.tls !== undefined,
      mtls: resolved.tls?.clientCaFile !== undefined,
      metrics: metricsServer?.address,
      health: healthAddress,
      ...describeEtcdSecurity(resolved.etcdSecurity),
      selfPreservationGraceMs: resolved.selfPreservationGraceMs,
      selfPreservationThreshold: resolved.selfPreservationThreshold,
      healthChecks: resolved.healthChecks,
      healthCheckTls: !checkTls ? 'off' : checkTls.certFile !== undefined ? 'mtls' : 'tls',
      ...(checkTls ? { healthCheckServerName: checkTls.serverName ?? '<service name>' } : {}),
      orcaIntervalMs: resolved.orcaIntervalMs,
      panicThreshold: resolved.panicThreshold,
      outlierDetection: resolved.outlierDetection.enabled,
      outlierIntervalMs: resolved.outlierDetection.intervalMs,
      maxEjectionPercent: resolved.outlierDetection.maxEjectionPercent,
      loadAware: resolved.loadWeights.enabled,
      loadUpdateMs: resolved.loadWeights.updateMs,
      loadClientLatency: resolved.loadWeights.clientLatency,
      replicaId: resolved.replicaId,
      replicaLeaseTtlSeconds: resolved.replicaLeaseTtlSeconds,
      clientFlushMs: resolved.clientFlushMs,
      ...resolved.serviceConfigDefaults,
    },
    `LB server listening on ${address}`,
  );
  watcher.start();
  serviceConfig.start();
  population.start();

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
      // First, so that the streams ended below announce no more changes; it revokes this
      // replica's lease: its client records vanish for the other replicas at once.
      const populationClosed = population.close();
      for (const name of HEALTH_SERVICE_NAMES) health.setStatus(name, 'NOT_SERVING');
      rejectSynced?.(new Error(`LB server ${address} closed before the initial etcd sync`));
      streams.closeAll();
      pipeline.close();
      healthChecker?.close();
      outliers.close();
      loads.close();
      prober.close();
      await watcher.close();
      await populationClosed;
      await serviceConfig.close();
      etcd.close();
      certificates?.close();
      await metricsServer?.close();
      // Health watches are long-lived streams: this listener has nothing to drain.
      healthServer?.forceShutdown();
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
    tls: resolved.tls !== undefined,
    metricsAddress: metricsServer?.address,
    healthAddress,
    synced: () => syncedOrClosed,
    orcaOf: (key) => healthChecker?.orcaOf(key),
    population,
    serviceConfig,
    close,
  };
}
