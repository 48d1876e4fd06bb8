import { Command, Option } from 'commander';
import pino from 'pino';
import { LbServerConfigError, startLbServer, type LbServer } from '../lb-server';
import {
  DEFAULT_CLIENT_FLUSH_MS,
  DEFAULT_CLIENT_STATS_INTERVAL_MS,
  DEFAULT_COALESCE_MS,
  DEFAULT_REPLICA_LEASE_TTL_SECONDS,
  MAX_REPLICA_ID_LENGTH,
  DEFAULT_LISTEN,
  DEFAULT_ORCA_INTERVAL_MS,
  DEFAULT_TLS_RELOAD_INTERVAL_MS,
} from '../lb-server/lb-server-config';
import { DEFAULT_PREFIX } from '../common/registry-record';
import { addEtcdSecurityOptions, etcdSecurityOptions, type EtcdSecurityFlags } from './etcd-security-options';
import {
  DEFAULT_SELF_PRESERVATION_GRACE_MS,
  DEFAULT_SELF_PRESERVATION_THRESHOLD,
} from '../lb-server/core/self-preservation';
import { DEFAULT_PANIC_THRESHOLD } from '../lb-server/assignment/assignment-stage';
import { DEFAULT_LOAD_WEIGHTS, type ClientLatency } from '../lb-server/core/load-weights';
import { DEFAULT_OUTLIER_DETECTION, DEFAULT_OUTLIER_MIN_HOSTS } from '../lb-server/core/outlier-detector';
import {
  DEFAULT_SERVICE_CONFIG,
  MAX_SUBSET_SIZE,
  MAX_ZONE_MIN_ENDPOINTS,
} from '../lb-server/core/service-config-state';
import {
  fraction,
  onOff,
  panicFraction,
  integerIn,
  keyPrefix,
  listenAddress,
  nonEmpty,
  readableFile,
  replicaId,
  urlList,
} from './flag-parsers';

interface LbServerFlags extends EtcdSecurityFlags {
  etcd: string[];
  prefix: string;
  listen: string;
  adminToken?: string;
  clientStatsIntervalMs: number;
  coalesceMs: number;
  selfPreservationGraceMs: number;
  selfPreservationThreshold: number;
  healthChecks: boolean;
  healthCheckCa?: string;
  healthCheckCert?: string;
  healthCheckKey?: string;
  healthCheckServerName?: string;
  orcaIntervalMs: number;
  panicThreshold: number;
  loadAware: boolean;
  loadUpdateMs: number;
  loadPushThreshold: number;
  loadBlackoutMs: number;
  loadClientLatency: ClientLatency;
  outlierDetection: boolean;
  outlierIntervalMs: number;
  outlierBaseEjectionMs: number;
  outlierMaxEjectionMs: number;
  maxEjectionPercent: number;
  outlierMinHosts: number;
  logLevel: string;
  tlsCert?: string;
  tlsKey?: string;
  tlsClientCa?: string;
  tlsReloadIntervalMs: number;
  metricsListen?: string;
  healthListen?: string;
  console: boolean;
  consoleAllowInsecureActions: boolean;
  replicaId?: string;
  replicaLeaseTtl: number;
  clientFlushMs: number;
  subsetSize: number;
  zoneAware: boolean;
  zoneMinEndpoints: number;
}

/** Config fields as the flags that set them, so that a config error names the flag. */
const FLAG_OF_FIELD: Record<string, string> = {
  tlsCertFile: '--tls-cert',
  tlsKeyFile: '--tls-key',
  tlsClientCaFile: '--tls-client-ca',
  metricsListen: '--metrics-listen',
  healthListen: '--health-listen',
  console: '--console',
  consoleAllowInsecureActions: '--console-allow-insecure-actions',
  selfPreservationGraceMs: '--self-preservation-grace-ms',
  selfPreservationThreshold: '--self-preservation-threshold',
  healthChecks: '--health-checks',
  healthCheckCaFile: '--health-check-ca',
  healthCheckCertFile: '--health-check-cert',
  healthCheckKeyFile: '--health-check-key',
  healthCheckServerName: '--health-check-server-name',
  orcaIntervalMs: '--orca-interval-ms',
  panicThreshold: '--panic-threshold',
  loadAware: '--load-aware',
  loadUpdateMs: '--load-update-ms',
  loadPushThreshold: '--load-push-threshold',
  loadBlackoutMs: '--load-blackout-ms',
  loadClientLatency: '--load-client-latency',
  outlierDetection: '--outlier-detection',
  outlierIntervalMs: '--outlier-interval-ms',
  outlierBaseEjectionMs: '--outlier-base-ejection-ms',
  outlierMaxEjectionMs: '--outlier-max-ejection-ms',
  maxEjectionPercent: '--max-ejection-percent',
  outlierMinimumHosts: '--outlier-min-hosts',
  replicaId: '--replica-id',
  replicaLeaseTtlSeconds: '--replica-lease-ttl',
  clientFlushMs: '--client-flush-ms',
  subsetSize: '--subset-size',
  zoneAware: '--zone-aware',
  zoneMinEndpoints: '--zone-min-endpoints',
  prefix: '--prefix',
  etcd: '--etcd',
  etcdUser: '--etcd-user',
  etcdPassword: '--etcd-password',
  etcdCaFile: '--etcd-ca',
  etcdCertFile: '--etcd-cert',
  etcdKeyFile: '--etcd-key',
};

/** How long a signal-triggered shutdown may take before the process exits anyway. */
export const SHUTDOWN_BOUND_MS = 5000;

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

/**
 * `lookaside lb-server`: runs an LB server until SIGTERM or SIGINT. Every flag also reads an
 * environment variable; a bad value exits non-zero naming the flag. Logs are pino JSON on stderr
 * (the admin token is never logged). On a signal: health NOT_SERVING, BalanceLoad streams end
 * with UNAVAILABLE, exit 0 within SHUTDOWN_BOUND_MS (exit 1 if shutdown overran it).
 */
export function registerLbServerCommand(program: Command): void {
  const command = program.command('lb-server');
  command
    .description(
      'run the lookaside LB server: watch etcd, push server lists to clients (lookaside.v1, xDS, grpclb), serve the admin API',
    )
    .addOption(
      new Option('--etcd <urls>', 'etcd endpoint URLs, comma-separated')
        .env('ETCD_ENDPOINTS')
        .argParser(urlList)
        .makeOptionMandatory(),
    )
    .addOption(
      new Option('--prefix <prefix>', 'etcd key prefix of the registry')
        .env('LOOKASIDE_PREFIX')
        .argParser(keyPrefix)
        .default(DEFAULT_PREFIX),
    )
    .addOption(
      new Option('--listen <host:port>', 'address to serve gRPC on (port 0: pick a free one)')
        .env('LOOKASIDE_LISTEN')
        .argParser(listenAddress)
        .default(DEFAULT_LISTEN),
    )
    .addOption(
      new Option('--admin-token <token>', 'require "authorization: Bearer <token>" on Admin calls')
        .env('LOOKASIDE_ADMIN_TOKEN')
        .argParser(nonEmpty),
    )
    .addOption(
      new Option('--client-stats-interval-ms <ms>', 'how often clients report call stats (0: never)')
        .env('LOOKASIDE_CLIENT_STATS_INTERVAL_MS')
        .argParser(integerIn(0, 86_400_000))
        .default(DEFAULT_CLIENT_STATS_INTERVAL_MS),
    )
    .addOption(
      new Option(
        '--coalesce-ms <ms>',
        'under churn, push at most once per this window (a lone change goes out at once)',
      )
        .env('LOOKASIDE_COALESCE_MS')
        .argParser(integerIn(0, 10_000))
        .default(DEFAULT_COALESCE_MS),
    )
    .addOption(
      new Option(
        '--self-preservation-grace-ms <ms>',
        'hold a mass removal of endpoints (etcd hiccup) this long while registrars re-register (0: off)',
      )
        .env('LOOKASIDE_SELF_PRESERVATION_GRACE_MS')
        .argParser(integerIn(0, 3_600_000))
        .default(DEFAULT_SELF_PRESERVATION_GRACE_MS),
    )
    .addOption(
      new Option(
        '--self-preservation-threshold <fraction>',
        "a removal of more than this fraction of a service's endpoints at once is held",
      )
        .env('LOOKASIDE_SELF_PRESERVATION_THRESHOLD')
        .argParser(fraction)
        .default(DEFAULT_SELF_PRESERVATION_THRESHOLD),
    )
    .addOption(
      new Option(
        '--health-checks <on|off>',
        "watch each endpoint's grpc.health.v1 status; NOT_SERVING takes it out of every assignment",
      )
        .env('LOOKASIDE_HEALTH_CHECKS')
        .argParser(onOff)
        .default(true),
    )
    .addOption(
      new Option('--health-check-ca <file>', "PEM CA of the backends' certificates: health checks over TLS")
        .env('LOOKASIDE_HEALTH_CHECK_CA')
        .argParser(readableFile),
    )
    .addOption(
      new Option('--health-check-cert <file>', 'PEM client certificate for backends that require one (mTLS)')
        .env('LOOKASIDE_HEALTH_CHECK_CERT')
        .argParser(readableFile),
    )
    .addOption(
      new Option('--health-check-key <file>', 'PEM private key of --health-check-cert')
        .env('LOOKASIDE_HEALTH_CHECK_KEY')
        .argParser(readableFile),
    )
    .addOption(
      new Option(
        '--health-check-server-name <name>',
        "name to verify in backends' certificates (default: the service name, as the SDK does)",
      )
        .env('LOOKASIDE_HEALTH_CHECK_SERVER_NAME')
        .argParser(nonEmpty),
    )
    .addOption(
      new Option(
        '--orca-interval-ms <ms>',
        "ORCA load report interval asked of each endpoint on its health check's connection (0: off; off with --health-checks off)",
      )
        .env('LOOKASIDE_ORCA_INTERVAL_MS')
        .argParser(integerIn(0, 3_600_000))
        .default(DEFAULT_ORCA_INTERVAL_MS),
    )
    .addOption(
      new Option(
        '--panic-threshold <fraction>',
        'ignore health verdicts for a service when they would leave less than this fraction serving (0: never)',
      )
        .env('LOOKASIDE_PANIC_THRESHOLD')
        .argParser(panicFraction)
        .default(DEFAULT_PANIC_THRESHOLD),
    )
    .addOption(
      new Option(
        '--load-aware <on|off>',
        'scale registered weights by load (ORCA reports, else client-reported latency)',
      )
        .env('LOOKASIDE_LOAD_AWARE')
        .argParser(onOff)
        .default(DEFAULT_LOAD_WEIGHTS.enabled),
    )
    .addOption(
      new Option('--load-update-ms <ms>', 'how often load factors are recomputed (and at most pushed)')
        .env('LOOKASIDE_LOAD_UPDATE_MS')
        .argParser(integerIn(100, 3_600_000))
        .default(DEFAULT_LOAD_WEIGHTS.updateMs),
    )
    .addOption(
      new Option(
        '--load-push-threshold <fraction>',
        'push a service when some load factor moved by more than this share',
      )
        .env('LOOKASIDE_LOAD_PUSH_THRESHOLD')
        .argParser(panicFraction)
        .default(DEFAULT_LOAD_WEIGHTS.pushThreshold),
    )
    .addOption(
      new Option('--load-blackout-ms <ms>', "a new endpoint's load estimate is used after this long")
        .env('LOOKASIDE_LOAD_BLACKOUT_MS')
        .argParser(integerIn(0, 3_600_000))
        .default(DEFAULT_LOAD_WEIGHTS.blackoutMs),
    )
    .addOption(
      new Option(
        '--load-client-latency <fastest|mean>',
        "without ORCA: estimate capacity from each client's fastest successful call, or its mean latency",
      )
        .env('LOOKASIDE_LOAD_CLIENT_LATENCY')
        .choices(['fastest', 'mean'])
        .default(DEFAULT_LOAD_WEIGHTS.clientLatency),
    )
    .addOption(
      new Option(
        '--outlier-detection <on|off>',
        "eject endpoints whose failure rate in every client's reports is abnormal (gRFC A50 rules)",
      )
        .env('LOOKASIDE_OUTLIER_DETECTION')
        .argParser(onOff)
        .default(true),
    )
    .addOption(
      new Option('--outlier-interval-ms <ms>', 'how often the outlier checks run over the last reports')
        .env('LOOKASIDE_OUTLIER_INTERVAL_MS')
        .argParser(integerIn(100, 3_600_000))
        .default(DEFAULT_OUTLIER_DETECTION.intervalMs),
    )
    .addOption(
      new Option('--outlier-base-ejection-ms <ms>', 'an ejection lasts this times its consecutive count')
        .env('LOOKASIDE_OUTLIER_BASE_EJECTION_MS')
        .argParser(integerIn(100, 86_400_000))
        .default(DEFAULT_OUTLIER_DETECTION.baseEjectionMs),
    )
    .addOption(
      new Option('--outlier-max-ejection-ms <ms>', 'the longest an ejection lasts')
        .env('LOOKASIDE_OUTLIER_MAX_EJECTION_MS')
        .argParser(integerIn(100, 86_400_000))
        .default(DEFAULT_OUTLIER_DETECTION.maxEjectionMs),
    )
    .addOption(
      new Option(
        '--max-ejection-percent <percent>',
        "at most this share of a service's endpoints ejected at once (rounded down, at least one; 0: none)",
      )
        .env('LOOKASIDE_MAX_EJECTION_PERCENT')
        .argParser(integerIn(0, 100))
        .default(DEFAULT_OUTLIER_DETECTION.maxEjectionPercent),
    )
    .addOption(
      new Option(
        '--outlier-min-hosts <n>',
        'the outlier rules need at least this many endpoints with enough reported calls',
      )
        .env('LOOKASIDE_OUTLIER_MIN_HOSTS')
        .argParser(integerIn(1, 100_000))
        .default(DEFAULT_OUTLIER_MIN_HOSTS),
    )
    .addOption(
      new Option('--tls-cert <file>', 'PEM certificate chain: serve TLS (re-read when it changes)')
        .env('LOOKASIDE_TLS_CERT')
        .argParser(readableFile),
    )
    .addOption(
      new Option('--tls-key <file>', 'PEM private key of --tls-cert')
        .env('LOOKASIDE_TLS_KEY')
        .argParser(readableFile),
    )
    .addOption(
      new Option('--tls-client-ca <file>', 'PEM CA bundle: require client certificates it signed (mTLS)')
        .env('LOOKASIDE_TLS_CLIENT_CA')
        .argParser(readableFile),
    )
    .addOption(
      new Option('--tls-reload-interval-ms <ms>', 'how often the TLS files are checked for rotation')
        .env('LOOKASIDE_TLS_RELOAD_INTERVAL_MS')
        .argParser(integerIn(100, 86_400_000))
        .default(DEFAULT_TLS_RELOAD_INTERVAL_MS),
    )
    .addOption(
      new Option(
        '--metrics-listen <host:port>',
        'serve Prometheus metrics (GET /metrics, plain HTTP) and the web console (/ui/; HTTPS with --tls-cert) here',
      )
        .env('LOOKASIDE_METRICS_LISTEN')
        .argParser(listenAddress),
    )
    .addOption(
      new Option(
        '--health-listen <host:port>',
        'also serve grpc.health.v1 alone, plaintext, here (for probes that cannot do TLS, e.g. the kubelet)',
      )
        .env('LOOKASIDE_HEALTH_LISTEN')
        .argParser(listenAddress),
    )
    .addOption(
      new Option('--console <on|off>', 'serve the web console at /ui/ on --metrics-listen')
        .env('LOOKASIDE_CONSOLE')
        .argParser(onOff)
        .default(true),
    )
    .addOption(
      new Option(
        '--console-allow-insecure-actions [on|off]',
        'let the web console drain/undrain/reweigh over plain HTTP to a non-loopback address (default: refused with 403)',
      )
        .env('LOOKASIDE_CONSOLE_ALLOW_INSECURE_ACTIONS')
        .argParser(onOff)
        .preset('on')
        .default(false),
    )
    .addOption(
      new Option(
        '--replica-id <id>',
        `this replica's id in the client population (default <hostname>-<pid>-<4 hex>; at most ${MAX_REPLICA_ID_LENGTH} characters, no "/")`,
      )
        .env('LOOKASIDE_REPLICA_ID')
        .argParser(replicaId(MAX_REPLICA_ID_LENGTH)),
    )
    .addOption(
      new Option(
        '--replica-lease-ttl <seconds>',
        "TTL of this replica's lease: a dead replica's clients leave the population this long after",
      )
        .env('LOOKASIDE_REPLICA_LEASE_TTL')
        .argParser(integerIn(2, 3600))
        .default(DEFAULT_REPLICA_LEASE_TTL_SECONDS),
    )
    .addOption(
      new Option(
        '--client-flush-ms <ms>',
        "how often this replica's changed client records are written to etcd",
      )
        .env('LOOKASIDE_CLIENT_FLUSH_MS')
        .argParser(integerIn(10, 60_000))
        .default(DEFAULT_CLIENT_FLUSH_MS),
    )
    .addOption(
      new Option(
        '--subset-size <n>',
        'default endpoints per client for services without their own setting in etcd (0: subsetting off)',
      )
        .env('LOOKASIDE_SUBSET_SIZE')
        .argParser(integerIn(0, MAX_SUBSET_SIZE))
        .default(DEFAULT_SERVICE_CONFIG.subsetSize),
    )
    .addOption(
      new Option(
        '--zone-aware [on|off]',
        'default zone-aware routing with spill-over for services without their own setting (bare flag: on)',
      )
        .env('LOOKASIDE_ZONE_AWARE')
        .preset('on')
        .argParser(onOff)
        .default(DEFAULT_SERVICE_CONFIG.zoneAware),
    )
    .addOption(
      new Option('--zone-min-endpoints <n>', 'zone-aware routing needs at least this many endpoints')
        .env('LOOKASIDE_ZONE_MIN_ENDPOINTS')
        .argParser(integerIn(1, MAX_ZONE_MIN_ENDPOINTS))
        .default(DEFAULT_SERVICE_CONFIG.zoneMinEndpoints),
    );
  addEtcdSecurityOptions(command);
  command
    .addOption(
      new Option('--log-level <level>', 'log level').env('LOG_LEVEL').choices(LOG_LEVELS).default('info'),
    )
    .addHelpText(
      'after',
      `
Examples:
  lookaside lb-server --etcd http://127.0.0.1:2379
  lookaside lb-server --etcd http://10.0.0.1:2379,http://10.0.0.2:2379 --listen 0.0.0.0:7000
  ETCD_ENDPOINTS=http://127.0.0.1:2379 LOOKASIDE_ADMIN_TOKEN=s3cret lookaside lb-server
  ETCD_PASSWORD=... lookaside lb-server --etcd https://10.0.0.1:2379 --etcd-ca ca.pem --etcd-user lb \\
    --tls-cert lb.pem --tls-key lb-key.pem --tls-client-ca ca.pem --metrics-listen 0.0.0.0:9100`,
    )
    .action(async (flags: LbServerFlags) => runLbServer(flags));
}

async function runLbServer(flags: LbServerFlags): Promise<void> {
  const logger = pino({ level: flags.logLevel, base: { component: 'lb-server' } }, pino.destination(2));
  let server: LbServer;
  try {
    server = await startLbServer({
      etcd: flags.etcd,
      prefix: flags.prefix,
      listen: flags.listen,
      adminToken: flags.adminToken,
      clientStatsIntervalMs: flags.clientStatsIntervalMs,
      coalesceMs: flags.coalesceMs,
      selfPreservationGraceMs: flags.selfPreservationGraceMs,
      selfPreservationThreshold: flags.selfPreservationThreshold,
      healthChecks: flags.healthChecks,
      healthCheckCaFile: flags.healthCheckCa,
      healthCheckCertFile: flags.healthCheckCert,
      healthCheckKeyFile: flags.healthCheckKey,
      healthCheckServerName: flags.healthCheckServerName,
      orcaIntervalMs: flags.orcaIntervalMs,
      panicThreshold: flags.panicThreshold,
      loadAware: flags.loadAware,
      loadUpdateMs: flags.loadUpdateMs,
      loadPushThreshold: flags.loadPushThreshold,
      loadBlackoutMs: flags.loadBlackoutMs,
      loadClientLatency: flags.loadClientLatency,
      outlierDetection: flags.outlierDetection,
      outlierIntervalMs: flags.outlierIntervalMs,
      outlierBaseEjectionMs: flags.outlierBaseEjectionMs,
      outlierMaxEjectionMs: flags.outlierMaxEjectionMs,
      maxEjectionPercent: flags.maxEjectionPercent,
      outlierMinimumHosts: flags.outlierMinHosts,
      tlsCertFile: flags.tlsCert,
      tlsKeyFile: flags.tlsKey,
      tlsClientCaFile: flags.tlsClientCa,
      tlsReloadIntervalMs: flags.tlsReloadIntervalMs,
      metricsListen: flags.metricsListen,
      healthListen: flags.healthListen,
      console: flags.console,
      consoleAllowInsecureActions: flags.consoleAllowInsecureActions,
      replicaId: flags.replicaId,
      replicaLeaseTtlSeconds: flags.replicaLeaseTtl,
      clientFlushMs: flags.clientFlushMs,
      subsetSize: flags.subsetSize,
      zoneAware: flags.zoneAware,
      zoneMinEndpoints: flags.zoneMinEndpoints,
      ...etcdSecurityOptions(flags),
      logger,
    });
  } catch (err) {
    if (err instanceof LbServerConfigError && FLAG_OF_FIELD[err.field] !== undefined) {
      throw new Error(`invalid ${FLAG_OF_FIELD[err.field]}: ${err.message}`);
    }
    throw err;
  }
  await new Promise<void>((resolve) => {
    let stopping = false;
    const onSignal = (signal: NodeJS.Signals): void => {
      if (stopping) {
        logger.warn({ event: 'lb_server_forced_exit', signal }, 'second signal: exiting now');
        process.exit(1);
      }
      stopping = true;
      logger.info({ event: 'lb_server_stopping', signal, boundMs: SHUTDOWN_BOUND_MS }, 'shutting down');
      const bound = setTimeout(() => {
        logger.error({ event: 'lb_server_shutdown_overran', boundMs: SHUTDOWN_BOUND_MS }, 'shutdown overran');
        process.exit(1);
      }, SHUTDOWN_BOUND_MS);
      bound.unref();
      void server.close().then(() => {
        clearTimeout(bound);
        logger.flush();
        resolve();
      });
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });
  process.exit(0);
}
