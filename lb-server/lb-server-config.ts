import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { Logger } from 'pino';
import { z } from 'zod';
import { layoutProblem } from '../common/key-layout';
import {
  DEFAULT_SERVICE_CONFIG,
  MAX_SUBSET_SIZE,
  MAX_ZONE_MIN_ENDPOINTS,
  type ServiceConfigValues,
} from './core/service-config-state';
import type { EtcdSecurity } from '../etcd/etcd-client-options';
import type { HealthCheckTls } from './io/health-check-credentials';
import { DEFAULT_PANIC_THRESHOLD, type AssignmentPolicy } from './assignment/assignment-stage';
import { DEFAULT_PREFIX } from '../common/registry-record';
import type { ConsoleOverrides } from './frontends/console/console-actions';
import { parseListenAddress } from '../common/host-port';
import { DEFAULT_LOAD_WEIGHTS, type ClientLatency, type LoadWeightsOptions } from './core/load-weights';
import {
  DEFAULT_OUTLIER_DETECTION,
  DEFAULT_OUTLIER_MIN_HOSTS,
  type OutlierDetectionOptions,
} from './core/outlier-detector';
import {
  DEFAULT_SELF_PRESERVATION_GRACE_MS,
  DEFAULT_SELF_PRESERVATION_THRESHOLD,
} from './core/self-preservation';

/**
 * Configuration of one LB server; see startLbServer. Only `etcd` is required. The etcd security
 * fields (etcdUser, etcdPassword, etcdCaFile, etcdCertFile, etcdKeyFile) come from EtcdSecurity.
 */
export interface LbServerConfig extends EtcdSecurity {
  /** etcd endpoint URLs, e.g. ['http://127.0.0.1:2379']. */
  etcd: string[];
  /** Key prefix of the registry; default '/lookaside/services'. */
  prefix?: string;
  /** "host:port" to listen on; default '127.0.0.1:7000'; port 0 picks a free one. */
  listen?: string;
  /** When set, Admin calls need `authorization: Bearer <token>`. */
  adminToken?: string;
  /** How often clients should send ClientStats; default 10000 ms (0: never). */
  clientStatsIntervalMs?: number;
  /** At most one push per this window under churn (a lone change goes out at once); default 5 ms. */
  coalesceMs?: number;
  /**
   * Self-preservation (see self-preservation.ts): how long a mass removal of endpoints is held
   * while registrars re-register; default 15000 ms, 0 disables.
   */
  selfPreservationGraceMs?: number;
  /** Fraction (0..1] of a service's endpoints whose unexpected removal is held; default 0.5. */
  selfPreservationThreshold?: number;
  /**
   * Active health checking: one grpc.health.v1 Watch stream per endpoint from this LB server;
   * NOT_SERVING takes an endpoint out of every assignment. Default true.
   */
  healthChecks?: boolean;
  /**
   * PEM CA bundle of the backends' certificates: the health checker connects over TLS
   * (grpc.credentials.createSsl) and verifies them. Default: plaintext (TLS backends then show
   * as `unreachable`, which ejects nothing).
   */
  healthCheckCaFile?: string;
  /** PEM client certificate for backends that require one (mTLS); needs healthCheckKeyFile and healthCheckCaFile. */
  healthCheckCertFile?: string;
  /** PEM private key of healthCheckCertFile. */
  healthCheckKeyFile?: string;
  /**
   * The name to verify in every backend's certificate, as the SDK's `grpc.ssl_target_name_override`;
   * default: the endpoint's service name (the name the SDK verifies). Needs healthCheckCaFile.
   */
  healthCheckServerName?: string;
  /**
   * Out-of-band ORCA load reports (gRFC A51): the `report_interval` the health checker asks of
   * every endpoint on its health check's connection, ms; default 1000, 0 off (100..3600000
   * otherwise). Off whenever healthChecks is false (ORCA rides the health check's connection).
   */
  orcaIntervalMs?: number;
  /**
   * When health verdicts would leave fewer than this fraction of a service's endpoints that
   * would serve without them, they are ignored for the service (panic mode). Default 0.5; 0 off.
   */
  panicThreshold?: number;
  /**
   * Outlier ejection from clients' reports (gRFC A50 rules, see outlier-detector.ts). Default true;
   * false still adds the reports up (admin shows the rates) but ejects nothing.
   */
  outlierDetection?: boolean;
  /** How often the A50 checks run over the last interval's reports; default 10000 ms. */
  outlierIntervalMs?: number;
  /** An ejection lasts this times its consecutive count; default 30000 ms. */
  outlierBaseEjectionMs?: number;
  /** ... but at most max(this, the base); default 300000 ms. */
  outlierMaxEjectionMs?: number;
  /** At most this percentage of a service's endpoints ejected at once (rounded down, at least one); default 50. */
  maxEjectionPercent?: number;
  /** Both rules need at least this many endpoints with enough calls; default 5 (A50). */
  outlierMinimumHosts?: number;
  /**
   * Load-aware weights (see load-weights.ts): registered weight × a load factor from ORCA or
   * client reports. Default true; a service whose endpoints report nothing keeps its weights.
   */
  loadAware?: boolean;
  /** How often load factors are recomputed, and at most how often a service is pushed; default 1000 ms. */
  loadUpdateMs?: number;
  /** A service is pushed when some factor moved by more than this share; default 0.1. */
  loadPushThreshold?: number;
  /** A new endpoint's load estimate is used after this long; default 2000 ms. */
  loadBlackoutMs?: number;
  /** The clients source's latency: each client's fastest successful call (default) or its mean. */
  loadClientLatency?: ClientLatency;
  /** Default: pino JSON to stderr at the level from LOG_LEVEL, or 'info'. */
  logger?: Logger;
  /**
   * How the assignment stage groups a service's clients and what each group is sent; default:
   * every client gets the whole service. For embedders and tests; no flag sets it.
   */
  assignmentPolicy?: AssignmentPolicy;
  /** PEM certificate (chain) to serve TLS with; needs tlsKeyFile. Default: plaintext. */
  tlsCertFile?: string;
  /** PEM private key of tlsCertFile. */
  tlsKeyFile?: string;
  /** PEM CA bundle: when set, clients must present a certificate it signed (mTLS). */
  tlsClientCaFile?: string;
  /** How often the TLS files are re-read for rotation; default 10000 ms. */
  tlsReloadIntervalMs?: number;
  /** "host:port" for the Prometheus endpoint (GET /metrics over HTTP); default: none. */
  metricsListen?: string;
  /**
   * "host:port" for a second, always plaintext gRPC listener that serves only grpc.health.v1
   * (the same statuses as the main port): for probes that cannot speak TLS or present a client
   * certificate, such as the kubelet's gRPC probes. Default: none.
   */
  healthListen?: string;
  /**
   * Serve the web console at /ui/ on metricsListen (nothing without metricsListen). Default true;
   * false leaves the port to /metrics alone.
   */
  console?: boolean;
  /**
   * The web console (served on metricsListen at /ui/): allow its actions (drain, undrain,
   * weight) over plain HTTP to a non-loopback address. Default false: such actions get 403
   * (over TLS, or to a loopback address, they are allowed).
   */
  consoleAllowInsecureActions?: boolean;
  /**
   * The operator overrides store the console's actions go through. Default: the LB server's own
   * (etcd, <root>/overrides/). For embedders and tests; no flag sets it.
   */
  consoleOverrides?: ConsoleOverrides;
  /**
   * This replica's id in the client population (`replica` of its client records); default
   * `<hostname>-<pid>-<4 random hex>`. Non-empty, at most 128 characters, no "/".
   */
  replicaId?: string;
  /** TTL of the lease this replica writes its client records under, seconds; default 10 (2..3600). */
  replicaLeaseTtlSeconds?: number;
  /** How often the client population's changed records are written to etcd; default 500 ms (10..60000). */
  clientFlushMs?: number;
  /** Default subset size of a service without its own setting in etcd; 0 (the default) is off. */
  subsetSize?: number;
  /** Default zone-aware routing of a service without its own setting; default false. */
  zoneAware?: boolean;
  /** Zone-aware routing needs at least this many endpoints (default 6). */
  zoneMinEndpoints?: number;
}

export const DEFAULT_LISTEN = '127.0.0.1:7000';
export const DEFAULT_CLIENT_STATS_INTERVAL_MS = 10_000;
export const DEFAULT_COALESCE_MS = 5;
export const DEFAULT_TLS_RELOAD_INTERVAL_MS = 10_000;
export const DEFAULT_ORCA_INTERVAL_MS = 1000;
export const DEFAULT_REPLICA_LEASE_TTL_SECONDS = 10;
export const DEFAULT_CLIENT_FLUSH_MS = 500;
export const MAX_REPLICA_ID_LENGTH = 128;

/** The default replica id: `<hostname>-<pid>-<4 random hex>` (unique per process, readable). */
export function defaultReplicaId(): string {
  const host = hostname().replace(/\//g, '_').slice(0, 100) || 'host';
  return `${host}-${process.pid}-${randomBytes(2).toString('hex')}`;
}

/** The configuration after validation, defaults filled in. */
export interface ResolvedLbServerConfig {
  readonly etcd: string[];
  readonly prefix: string;
  readonly listen: string;
  readonly adminToken: string | undefined;
  readonly clientStatsIntervalMs: number;
  readonly coalesceMs: number;
  /** TLS files, when TLS is on. */
  readonly tls: { certFile: string; keyFile: string; clientCaFile: string | undefined } | undefined;
  readonly tlsReloadIntervalMs: number;
  readonly metricsListen: string | undefined;
  readonly healthListen: string | undefined;
  readonly console: boolean;
  readonly consoleAllowInsecureActions: boolean;
  readonly etcdSecurity: EtcdSecurity;
  readonly selfPreservationGraceMs: number;
  readonly selfPreservationThreshold: number;
  readonly healthChecks: boolean;
  /** How the health checker reaches TLS backends; undefined: plaintext. */
  readonly healthCheckTls: HealthCheckTls | undefined;
  /** The ORCA report interval; 0: off (always 0 without health checks). */
  readonly orcaIntervalMs: number;
  readonly panicThreshold: number;
  readonly outlierDetection: OutlierDetectionOptions;
  readonly loadWeights: LoadWeightsOptions;
  readonly replicaId: string;
  readonly replicaLeaseTtlSeconds: number;
  readonly clientFlushMs: number;
  /** What a service without its own setting in etcd gets. */
  readonly serviceConfigDefaults: ServiceConfigValues;
}

/** Raised by startLbServer for an invalid configuration; names the field. */
export class LbServerConfigError extends Error {
  constructor(
    readonly field: string,
    reason: string,
  ) {
    super(`invalid LB server config: ${field}: ${reason}`);
    this.name = 'LbServerConfigError';
  }
}

const etcdUrl = z.string().refine(
  (s) => {
    try {
      const u = new URL(s);
      return (u.protocol === 'http:' || u.protocol === 'https:') && u.host !== '';
    } catch {
      return false;
    }
  },
  { message: 'expected an http:// or https:// URL' },
);

const listenSchema = z.string().superRefine((value, ctx) => {
  const parsed = parseListenAddress(value);
  if (!parsed.ok) ctx.addIssue({ code: 'custom', message: parsed.reason });
});

const schema = z.object({
  etcd: z.array(etcdUrl).min(1, 'expected at least one etcd endpoint URL'),
  prefix: z
    .string()
    .regex(/^\/\S*$/, 'expected a key prefix starting with "/" without spaces')
    .default(DEFAULT_PREFIX),
  listen: listenSchema.default(DEFAULT_LISTEN),
  adminToken: z.string().min(1, 'must not be empty when given').optional(),
  clientStatsIntervalMs: z.number().int().min(0).max(86_400_000).default(DEFAULT_CLIENT_STATS_INTERVAL_MS),
  coalesceMs: z.number().int().min(0).max(10_000).default(DEFAULT_COALESCE_MS),
  tlsCertFile: z.string().min(1, 'must not be empty when given').optional(),
  tlsKeyFile: z.string().min(1, 'must not be empty when given').optional(),
  tlsClientCaFile: z.string().min(1, 'must not be empty when given').optional(),
  tlsReloadIntervalMs: z.number().int().min(100).max(86_400_000).default(DEFAULT_TLS_RELOAD_INTERVAL_MS),
  metricsListen: listenSchema.optional(),
  healthListen: listenSchema.optional(),
  console: z.boolean().default(true),
  consoleAllowInsecureActions: z.boolean().default(false),
  etcdUser: z.string().min(1, 'must not be empty when given').optional(),
  etcdPassword: z.string().optional(),
  etcdCaFile: z.string().min(1, 'must not be empty when given').optional(),
  etcdCertFile: z.string().min(1, 'must not be empty when given').optional(),
  etcdKeyFile: z.string().min(1, 'must not be empty when given').optional(),
  selfPreservationGraceMs: z.number().int().min(0).max(3_600_000).default(DEFAULT_SELF_PRESERVATION_GRACE_MS),
  healthChecks: z.boolean().default(true),
  healthCheckCaFile: z.string().min(1, 'must not be empty when given').optional(),
  healthCheckCertFile: z.string().min(1, 'must not be empty when given').optional(),
  healthCheckKeyFile: z.string().min(1, 'must not be empty when given').optional(),
  healthCheckServerName: z
    .string()
    .regex(/^[A-Za-z0-9]([A-Za-z0-9.-]{0,252})$/, 'expected a DNS name or an IPv4 address')
    .optional(),
  orcaIntervalMs: z
    .number()
    .int()
    .max(3_600_000)
    .refine((ms) => ms === 0 || ms >= 100, 'expected 0 (off) or 100..3600000 ms')
    .default(DEFAULT_ORCA_INTERVAL_MS),
  panicThreshold: z
    .number()
    .min(0, 'expected a fraction in [0, 1]')
    .max(1, 'expected a fraction in [0, 1]')
    .default(DEFAULT_PANIC_THRESHOLD),
  loadAware: z.boolean().default(DEFAULT_LOAD_WEIGHTS.enabled),
  loadUpdateMs: z.number().int().min(100).max(3_600_000).default(DEFAULT_LOAD_WEIGHTS.updateMs),
  loadPushThreshold: z
    .number()
    .min(0, 'expected a fraction in [0, 10]')
    .max(10, 'expected a fraction in [0, 10]')
    .default(DEFAULT_LOAD_WEIGHTS.pushThreshold),
  loadBlackoutMs: z.number().int().min(0).max(3_600_000).default(DEFAULT_LOAD_WEIGHTS.blackoutMs),
  loadClientLatency: z.enum(['fastest', 'mean']).default(DEFAULT_LOAD_WEIGHTS.clientLatency),
  outlierDetection: z.boolean().default(true),
  outlierIntervalMs: z.number().int().min(100).max(3_600_000).default(DEFAULT_OUTLIER_DETECTION.intervalMs),
  outlierBaseEjectionMs: z
    .number()
    .int()
    .min(100)
    .max(86_400_000)
    .default(DEFAULT_OUTLIER_DETECTION.baseEjectionMs),
  outlierMaxEjectionMs: z
    .number()
    .int()
    .min(100)
    .max(86_400_000)
    .default(DEFAULT_OUTLIER_DETECTION.maxEjectionMs),
  maxEjectionPercent: z
    .number()
    .min(0, 'expected a percentage in [0, 100]')
    .max(100, 'expected a percentage in [0, 100]')
    .default(DEFAULT_OUTLIER_DETECTION.maxEjectionPercent),
  outlierMinimumHosts: z.number().int().min(1).max(100_000).default(DEFAULT_OUTLIER_MIN_HOSTS),
  selfPreservationThreshold: z
    .number()
    .gt(0, 'expected a fraction in (0, 1]')
    .max(1, 'expected a fraction in (0, 1]')
    .default(DEFAULT_SELF_PRESERVATION_THRESHOLD),
  replicaId: z
    .string()
    .min(1, 'must not be empty')
    .max(MAX_REPLICA_ID_LENGTH, `expected at most ${MAX_REPLICA_ID_LENGTH} characters`)
    .regex(/^[^/]*$/, 'must not contain "/"')
    .optional(),
  replicaLeaseTtlSeconds: z.number().int().min(2).max(3600).default(DEFAULT_REPLICA_LEASE_TTL_SECONDS),
  clientFlushMs: z.number().int().min(10).max(60_000).default(DEFAULT_CLIENT_FLUSH_MS),
  subsetSize: z.number().int().min(0).max(MAX_SUBSET_SIZE).default(DEFAULT_SERVICE_CONFIG.subsetSize),
  zoneAware: z.boolean().default(DEFAULT_SERVICE_CONFIG.zoneAware),
  zoneMinEndpoints: z
    .number()
    .int()
    .min(1)
    .max(MAX_ZONE_MIN_ENDPOINTS)
    .default(DEFAULT_SERVICE_CONFIG.zoneMinEndpoints),
});

/** Validates `config` (without its logger, policy and overrides store) and fills in defaults; throws LbServerConfigError. */
export function resolveLbServerConfig(config: LbServerConfig): ResolvedLbServerConfig {
  const { logger: _logger, assignmentPolicy: _policy, consoleOverrides: _overrides, ...rest } = config;
  const parsed = schema.safeParse(rest);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new LbServerConfigError(issue.path.length ? issue.path.join('.') : 'config', issue.message);
  }
  const d = parsed.data;
  const layout = layoutProblem(d.prefix);
  if (layout !== undefined) throw new LbServerConfigError('prefix', layout);
  if ((d.tlsCertFile === undefined) !== (d.tlsKeyFile === undefined)) {
    throw new LbServerConfigError(
      d.tlsCertFile === undefined ? 'tlsCertFile' : 'tlsKeyFile',
      'tlsCertFile and tlsKeyFile go together',
    );
  }
  if (d.tlsClientCaFile !== undefined && d.tlsCertFile === undefined) {
    throw new LbServerConfigError(
      'tlsClientCaFile',
      'client certificates need TLS: set tlsCertFile and tlsKeyFile',
    );
  }
  if ((d.healthCheckCertFile === undefined) !== (d.healthCheckKeyFile === undefined)) {
    throw new LbServerConfigError(
      d.healthCheckCertFile === undefined ? 'healthCheckCertFile' : 'healthCheckKeyFile',
      'healthCheckCertFile and healthCheckKeyFile go together',
    );
  }
  const checkTlsField =
    d.healthCheckCertFile !== undefined
      ? 'healthCheckCertFile'
      : d.healthCheckServerName !== undefined
        ? 'healthCheckServerName'
        : undefined;
  if (d.healthCheckCaFile === undefined && checkTlsField !== undefined) {
    throw new LbServerConfigError(checkTlsField, 'health checks over TLS need healthCheckCaFile');
  }
  return {
    etcd: d.etcd,
    prefix: d.prefix,
    listen: d.listen,
    adminToken: d.adminToken,
    clientStatsIntervalMs: d.clientStatsIntervalMs,
    coalesceMs: d.coalesceMs,
    tls:
      d.tlsCertFile !== undefined && d.tlsKeyFile !== undefined
        ? { certFile: d.tlsCertFile, keyFile: d.tlsKeyFile, clientCaFile: d.tlsClientCaFile }
        : undefined,
    tlsReloadIntervalMs: d.tlsReloadIntervalMs,
    metricsListen: d.metricsListen,
    healthListen: d.healthListen,
    console: d.console,
    consoleAllowInsecureActions: d.consoleAllowInsecureActions,
    selfPreservationGraceMs: d.selfPreservationGraceMs,
    selfPreservationThreshold: d.selfPreservationThreshold,
    healthChecks: d.healthChecks,
    healthCheckTls:
      d.healthCheckCaFile !== undefined
        ? {
            caFile: d.healthCheckCaFile,
            certFile: d.healthCheckCertFile,
            keyFile: d.healthCheckKeyFile,
            serverName: d.healthCheckServerName,
          }
        : undefined,
    orcaIntervalMs: d.healthChecks ? d.orcaIntervalMs : 0,
    panicThreshold: d.panicThreshold,
    loadWeights: {
      ...DEFAULT_LOAD_WEIGHTS,
      enabled: d.loadAware,
      updateMs: d.loadUpdateMs,
      pushThreshold: d.loadPushThreshold,
      blackoutMs: d.loadBlackoutMs,
      clientLatency: d.loadClientLatency,
      // Three report intervals: every client that reports takes part in the median.
      clientFigureTtlMs: Math.max(3 * d.clientStatsIntervalMs, 3000),
    },
    outlierDetection: {
      enabled: d.outlierDetection,
      intervalMs: d.outlierIntervalMs,
      baseEjectionMs: d.outlierBaseEjectionMs,
      maxEjectionMs: d.outlierMaxEjectionMs,
      maxEjectionPercent: d.maxEjectionPercent,
      successRate: DEFAULT_OUTLIER_DETECTION.successRate && {
        ...DEFAULT_OUTLIER_DETECTION.successRate,
        minimumHosts: d.outlierMinimumHosts,
      },
      failurePercentage: DEFAULT_OUTLIER_DETECTION.failurePercentage && {
        ...DEFAULT_OUTLIER_DETECTION.failurePercentage,
        minimumHosts: d.outlierMinimumHosts,
      },
    },
    replicaId: d.replicaId ?? defaultReplicaId(),
    replicaLeaseTtlSeconds: d.replicaLeaseTtlSeconds,
    clientFlushMs: d.clientFlushMs,
    serviceConfigDefaults: {
      subsetSize: d.subsetSize,
      zoneAware: d.zoneAware,
      zoneMinEndpoints: d.zoneMinEndpoints,
    },
    etcdSecurity: {
      etcdUser: d.etcdUser,
      etcdPassword: d.etcdPassword,
      etcdCaFile: d.etcdCaFile,
      etcdCertFile: d.etcdCertFile,
      etcdKeyFile: d.etcdKeyFile,
    },
  };
}
