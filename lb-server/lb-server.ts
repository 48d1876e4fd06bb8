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
import { PopulationPolicy } from './assignment/population-policy';
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
import { OverrideWatcher } from './io/override-watcher';
import { EtcdOverrideStore, type OverrideStore, type StoredOverride } from './io/override-store';
import { ConsoleEvents } from './frontends/console/console-events';
import { createConsoleApi } from './frontends/console/console-api';
import { ConsoleHttpHandler } from './frontends/console/console-http-handler';

export type { LbServerConfig } from './lb-server-config';

/** A running LB server, as startLbServer returns it. The caller owns it and must close() it. */
export interface LbServer {
  /** The bound "host:port". */
  readonly address: string;
  readonly port: number;
  /** True when the gRPC port speaks TLS. */
  readonly tls: boolean;
  /** The bound "host:port" of GET /metrics (and the console at /ui/), when metricsListen was given. */
  readonly metricsAddress: string | undefined;
  /**
   * The console's URL (`http://` or, with TLS, `https://<metricsAddress>/ui/`), when
   * metricsListen was given and the console is on.
   */
  readonly consoleUrl: string | undefined;
  /** The bound "host:port" of the plaintext health-only listener, when healthListen was given. */
  readonly healthAddress: string | undefined;
  /**
   * Resolves after the initial etcd reads (registry, overrides, client population, per-service
   * settings: health is SERVING then); rejects if the server is closed before it.
   */
  synced(): Promise<void>;
  /**
   * The latest valid out-of-band ORCA report this replica holds for the endpoint with registry key
   * `key` (undefined: ORCA or health checks off, not checked, or nothing valid yet). For embedders
   * and tests; load-aware weights read the health checker directly.
   */
  orcaOf(key: string): OrcaLoad | undefined;
  /**
   * Operator overrides (what the Admin API's SetOverride/ClearOverride/ListOverrides use; the
   * console calls the same store).
   */
  readonly overrides: OverrideStore;
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
 * with metricsListen a separate HTTP listener serves GET /metrics (see LbServerMetrics) and,
 * unless `console` is false, the web console at /ui/ (over HTTPS on the same port when TLS is on;
 * its actions go through `consoleOverrides`, 501 without; a missing page file is a
 * ConsoleAssetsError); with
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

  const etcdClient = (): Etcd3 =>
    new Etcd3({
      ...etcdOptions,
      dialTimeout: 3000,
      // Keepalive pings find a frozen or partitioned etcd under an open watch (etcd allows one per 5 s).
      grpcOptions: { 'grpc.keepalive_time_ms': 10_000, 'grpc.keepalive_timeout_ms': 5_000 },
    });
  // One etcd client per watch: etcd3's watch manager throws from its stream handler ("Failed to
  // find watcher for IWatchResponse", an uncaught exception) when several watchers of one client
  // are re-created around an etcd restart; with one watcher each it has not been seen.
  const etcd = etcdClient();
  const etcdOverrides = etcdClient();
  const etcdPopulation = etcdClient();
  const etcdConfig = etcdClient();
  const closeEtcd = (): void => {
    for (const c of [etcd, etcdOverrides, etcdPopulation, etcdConfig]) c.close();
  };
  // The console's events page: what the log sites below write at info level, last 10 minutes.
  const events = new ConsoleEvents(clock);
  // The client population of every replica, and per-service settings (subset size, zones): what
  // the assignment policy plans each client's list from, alike on every replica.
  const population = new ClientPopulation({
    client: etcdPopulation,
    endpoints: resolved.etcd,
    prefix: resolved.prefix,
    replicaId: resolved.replicaId,
    leaseTtlSeconds: resolved.replicaLeaseTtlSeconds,
    flushMs: resolved.clientFlushMs,
    clock,
    logger,
  });
  const serviceConfig = new ServiceConfigWatcher({
    client: etcdConfig,
    endpoints: resolved.etcd,
    prefix: resolved.prefix,
    defaults: resolved.serviceConfigDefaults,
    clock,
    logger,
  });

  const policy =
    config.assignmentPolicy ??
    new PopulationPolicy(population, serviceConfig, (change) => {
      const fields = {
        service: change.service,
        changedClients: change.changedClients,
        changedEntries: change.changedEntries,
        clients: change.clients,
      };
      if (change.changedClients > 0) {
        logger.info(
          { event: 'subsets_changed', ...fields },
          `${change.changedClients} of ${change.clients} clients of ${change.service} were given new subsets`,
        );
        events.record(
          'subsets_changed',
          change.service,
          `${change.changedClients} of ${change.clients} clients got new subsets (${change.changedEntries} entries)`,
          fields,
        );
      }
      for (const [zone, [from, to]] of change.zoneModes) {
        const message = `zone ${zone || '(none)'} of ${change.service}: ${from || 'unplanned'} → ${to || 'unplanned'}`;
        logger.info({ event: 'zone_routing_changed', service: change.service, zone, from, to }, message);
        events.record('zone_routing_changed', change.service, message, { zone, from, to });
      }
    });

  // What admin views and metrics read of the per-client plans (none under a test's own policy).
  const plans = policy instanceof PopulationPolicy ? policy : undefined;

  // The pipeline, in the order data flows: etcd → registry state → (coalescing,
  // self-preservation, assignment stage, hub: the AssignmentPipeline) → frontends.
  const state = new RegistryState(resolved.prefix);
  const pipeline = new AssignmentPipeline(state, clock, {
    coalesceMs: resolved.coalesceMs,
    selfPreservation: {
      graceMs: resolved.selfPreservationGraceMs,
      threshold: resolved.selfPreservationThreshold,
    },
    policy,
    panicThreshold: resolved.panicThreshold,
  });
  // A change of who the clients are, or of a service's settings, re-plans the service.
  population.onChange((services) => pipeline.replan(services));
  serviceConfig.onChange((services) => pipeline.replan(services));
  const clients = new ClientRegistry(clock);
  const streams = new StreamTracker();

  let closing = false;
  // Ready (lists sent, health SERVING) once both the registry and the overrides were read, so
  // that a client's first list already follows every override.
  // And once the population and the per-service settings were read, so that a client's first list
  // is already its subset (not the whole service, then the subset).
  let populationRead = false;
  const markReadyIfSynced = (): void => {
    if (!watcher.current().synced || !overrideWatcher.current().synced || !populationRead) return;
    pipeline.ready();
    if (!closing) for (const name of HEALTH_SERVICE_NAMES) health.setStatus(name, 'SERVING');
  };
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
      markReadyIfSynced();
    },
  });
  // Operator overrides: a signal of the assignment stage, watched under <root>/overrides/.
  const overrideWatcher = new OverrideWatcher({
    client: etcdOverrides,
    endpoints: resolved.etcd,
    registryPrefix: resolved.prefix,
    clock,
    logger,
    onChange: (services) => {
      overrideEvents(services);
      pipeline.republish(services);
    },
    onStatus: (status) => {
      logger.info({ event: 'etcd_status', watch: 'overrides', ...status }, 'etcd status changed (overrides)');
      markReadyIfSynced();
    },
  });
  pipeline.useOverrides(overrideWatcher.state);
  // The console's events of overrides, whoever set them (CLI, console, another replica) and
  // when they expire: what the watch saw change, after the initial read.
  const overridesSeen = new Map<string, StoredOverride>();
  const overrideEvents = (services: readonly string[]): void => {
    for (const service of services) {
      const now = new Map(overrideStore.list(service).map((o) => [o.key, o]));
      for (const [key, o] of now) {
        const was = overridesSeen.get(key);
        overridesSeen.set(key, o);
        if (was?.modRevision === o.modRevision || !pipeline.isReady) continue;
        const what = o.draining ? 'drained' : `set the weight ${o.weight ?? '?'} of`;
        events.record('override_set', service, `${o.who} ${what} ${o.instanceId}: ${o.why}`, {
          instanceId: o.instanceId,
          who: o.who,
          reason: o.why,
          ...(o.weight !== undefined ? { weight: o.weight } : {}),
          draining: o.draining,
          ...(o.expiresAtMs !== undefined ? { expiresAtMs: o.expiresAtMs } : {}),
        });
      }
      for (const [key, o] of overridesSeen) {
        if (o.service !== service || now.has(key)) continue;
        overridesSeen.delete(key);
        if (!pipeline.isReady) continue;
        const expired = o.expiresAtMs !== undefined && o.expiresAtMs <= clock.now();
        events.record(
          expired ? 'override_expired' : 'override_cleared',
          service,
          expired
            ? `the override of ${o.instanceId} by ${o.who} expired`
            : `the override of ${o.instanceId} was cleared`,
          { instanceId: o.instanceId, who: o.who },
        );
      }
    }
  };
  const overrideStore = new EtcdOverrideStore({
    client: etcdOverrides,
    registryPrefix: resolved.prefix,
    state: overrideWatcher.state,
    // A record in etcd, or one clients are still sent (held by self-preservation): not dangling.
    hasInstance: (service, instanceId) =>
      state.service(service).endpoints.some((e) => e.instanceId === instanceId) ||
      pipeline.serviceAssignment(service).endpoints.some((e) => e.endpoint.instanceId === instanceId),
    clock,
    logger,
  });

  // The client population of every replica (this one's written under its own lease), and the
  // per-service configuration: both beside the registry prefix (common/key-layout.ts). The
  // assignment policy reads them; their onChange says which services to recompute.
  // Signals the LB server observes itself: each endpoint's grpc.health.v1 status.
  const healthChecker = resolved.healthChecks
    ? new HealthChecker({
        clock,
        logger,
        credentials: checkCredentials,
        // The SDK's rule: a backend's certificate must name the service, unless overridden.
        serverNameOf: checkTls ? (service) => checkTls.serverName ?? service : undefined,
        onChange: (service) => pipeline.republish([service]),
        onHealthChange: (c) =>
          events.record('health_changed', c.service, `${c.address} health ${c.from} -> ${c.to}`, c),
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
    overrides: overrideWatcher.state,
    population,
    serviceConfig,
    plans,
    processMetrics: resolved.metricsListen !== undefined,
  });
  clients.observe(metrics);
  // Membership at info level: endpoints joining, draining, leaving; clients connecting, leaving.
  const membership = new MembershipLog(logger, clock, events);
  clients.observe(membership);
  // Set below when the console is served; what it shows changes with every publish and report.
  let consoleHandler: ConsoleHttpHandler | undefined;
  clients.observe({ assigned: () => consoleHandler?.changed(), reported: () => consoleHandler?.changed() });
  events.subscribe(() => consoleHandler?.changed());
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
        const message = `outlier ejected ${c.address} of ${c.service} (${x.rule}) until ${new Date(x.untilMs).toISOString()}`;
        logger.warn({ event: 'endpoint_ejected', ...fields, untilMs: x.untilMs }, message);
        events.record('endpoint_ejected', c.service, message, { ...fields, untilMs: x.untilMs });
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
        events.record(
          'endpoint_returned',
          c.service,
          `ejected endpoint ${c.address} of ${c.service} returns`,
          {
            address: c.address,
            rule: x.rule,
          },
        );
      }
    }
  };
  const prober = new HeldEndpointProber(
    pipeline.preservation,
    logger,
    (service) => pipeline.republish([service]),
    (service, address) =>
      events.record(
        'self_preservation_released',
        service,
        'held endpoint is unreachable: removed before the grace ends',
        { address },
      ),
  );
  // Services in panic mode now, so that entering and leaving it is logged once each.
  const inPanic = new Set<string>();
  pipeline.observe({
    changed: (services) => metrics.changed(services),
    published: (service, subscribers, previous) => {
      metrics.published(service, subscribers);
      consoleHandler?.changed();
      loads.touch(service);
      const assignment = pipeline.serviceAssignment(service);
      // The initial read's publish comes before the pipeline is ready: not transitions.
      membership.published(service, previous, assignment, !pipeline.isReady);
      if (assignment.panic !== inPanic.has(service)) {
        const counts = countAssignment(assignment);
        if (assignment.panic) {
          inPanic.add(service);
          const message = `health verdicts and ejections of ${service} would leave too few endpoints: ignored, calls spread over all`;
          const fields = { endpoints: counts.endpoints, eligible: counts.eligible };
          logger.warn({ event: 'panic_started', service, ...fields }, message);
          events.record('panic_started', service, message, fields);
        } else {
          inPanic.delete(service);
          logger.info(
            { event: 'panic_ended', service, eligible: counts.eligible },
            `${service} left panic mode`,
          );
          events.record('panic_ended', service, `${service} left panic mode`, { eligible: counts.eligible });
        }
      }
      healthChecker?.sync(
        service,
        pipeline.serviceAssignment(service).endpoints.map((e) => e.endpoint),
      );
    },
    republished: () => prober.check(),
    holding: (service, held) => {
      const message = 'mass removal held: publishing the last endpoints while registrars re-register';
      logger.warn(
        { event: 'self_preservation_hold', service, held: held.count, untilMs: held.untilMs },
        message,
      );
      events.record('self_preservation_hold', service, message, { held: held.count, untilMs: held.untilMs });
    },
    expired: (services) => {
      logger.info({ event: 'self_preservation_expired', services }, 'held removals applied after the grace');
      for (const service of services) {
        events.record('self_preservation_expired', service, 'held removals applied after the grace');
      }
    },
    // A vanished service leaves nothing behind here either (names may come and go by the thousand).
    forgotten: (service) => {
      inPanic.delete(service);
      plans?.forget(service);
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
  // What the admin service and the console show: the same views of the same objects.
  const overrideViews = {
    store: overrideStore,
    rejected: (service: string) => overrideWatcher.state.rejected(service),
  };
  const viewDeps = {
    state,
    pipeline,
    clients,
    health: healthChecker,
    outliers,
    loads,
    overrideViews,
    population,
    serviceConfig,
    plans,
    status: () => {
      const s = watcher.current();
      return { synced: s.synced, etcdConnected: s.connected };
    },
  };
  server.addService(
    protos.admin.Admin.service,
    createAdminHandlers({ ...viewDeps, adminToken: resolved.adminToken }),
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
      if (resolved.console) {
        consoleHandler = new ConsoleHttpHandler({
          api: createConsoleApi({
            ...viewDeps,
            events,
            eventSink: events,
            overrides: config.consoleOverrides ?? overrideStore,
            adminToken: resolved.adminToken,
            replica: formatAddress(host, port),
            logger,
          }),
          adminToken: resolved.adminToken,
          tls: certificates !== undefined,
          allowInsecureActions: resolved.consoleAllowInsecureActions,
          logger,
        });
      }
      // Without the console the port stays plain HTTP: /metrics needs no TLS.
      const provider = consoleHandler ? certificates : undefined;
      metricsServer = await startMetricsHttpServer(resolved.metricsListen, metrics.registry, {
        onError: (err) =>
          logger.warn({ event: 'metrics_server_error', err: err.message }, 'metrics server error'),
        ui: consoleHandler,
        // With TLS the console is HTTPS, with the gRPC port's certificate (rotations included).
        tls: provider && {
          ...provider.currentIdentity(),
          onChange: (listener) => {
            const onIdentity = (update: grpc.experimental.IdentityCertificateUpdate | null): void => {
              if (update) listener(update.certificate, update.privateKey);
            };
            provider.addIdentityCertificateListener(onIdentity);
            return () => provider.removeIdentityCertificateListener(onIdentity);
          },
        },
      });
    }
  } catch (err) {
    consoleHandler?.close();
    pipeline.close();
    healthChecker?.close();
    outliers.close();
    loads.close();
    await population.close();
    await serviceConfig.close();
    closeEtcd();
    certificates?.close();
    server.forceShutdown();
    healthServer?.forceShutdown();
    throw err;
  }
  const address = formatAddress(host, port);
  const consoleUrl =
    metricsServer && consoleHandler
      ? `${metricsServer.https ? 'https' : 'http'}://${metricsServer.address}/ui/`
      : undefined;
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
      console: consoleUrl,
      consoleActions: true,
      consoleAllowInsecureActions: resolved.consoleAllowInsecureActions,
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
  if (resolved.adminToken === undefined) {
    logger.warn(
      { event: 'admin_token_unset' },
      'no admin token: anyone who reaches the gRPC port can set operator overrides (drain, weight) through the Admin API, and the console on a loopback address or over TLS can too; set --admin-token in production',
    );
  }
  watcher.start();
  overrideWatcher.start();
  serviceConfig.start();
  population.start();

  let rejectSynced: ((err: Error) => void) | undefined;
  const syncedOrClosed = new Promise<void>((resolve, reject) => {
    rejectSynced = reject;
    // Every initial read (registry, overrides, population, settings): health SERVING comes with it.
    void Promise.all([
      watcher.synced(),
      overrideWatcher.synced(),
      serviceConfig.synced(),
      population.synced(),
    ]).then(() => {
      populationRead = true;
      markReadyIfSynced();
      resolve();
    });
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
      await Promise.all([watcher.close(), overrideWatcher.close()]);
      await populationClosed;
      await serviceConfig.close();
      closeEtcd();
      certificates?.close();
      consoleHandler?.close();
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
    consoleUrl,
    healthAddress,
    synced: () => syncedOrClosed,
    orcaOf: (key) => healthChecker?.orcaOf(key),
    overrides: overrideStore,
    population,
    serviceConfig,
    close,
  };
}
