import { readFileSync } from 'node:fs';
import { ServerCredentials } from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { z } from 'zod';
import { registerService, type Registration } from '../registrar';
import type { EtcdSecurity } from '../etcd/etcd-client-options';
import { DEFAULT_PREFIX } from '../common/registry-record';
import { validateServiceName } from '../common/service-name';
import { startGreeterServer, type GreeterServer } from './greeter-server';

/**
 * Options of a demo service: a greeter that registers itself in etcd through the registrar. The
 * EtcdSecurity fields (etcdUser, etcdPassword, etcdCaFile, etcdCertFile, etcdKeyFile) go to the
 * registrar unchanged.
 */
export interface DemoServiceOptions extends EtcdSecurity {
  /** etcd endpoint URLs. */
  readonly etcd: readonly string[];
  /** Port to bind; 0 picks a free one. */
  readonly port: number;
  /** Interface to bind and the host registered in etcd; default 127.0.0.1. */
  readonly host?: string;
  /** Service name to register under; default "greeter". */
  readonly service?: string;
  /** Relative share of calls; default 100. */
  readonly weight?: number;
  readonly zone?: string;
  /** Lease TTL in seconds; default 10. */
  readonly ttlSeconds?: number;
  readonly prefix?: string;
  /** How long `close()` waits for in-flight calls after publishing "draining"; default 5 s. */
  readonly drainTimeoutMs?: number;
  readonly logger?: Logger;
  /**
   * PEM certificate (chain) to serve TLS with; needs tlsKeyFile. Clients reach the greeter as
   * `lookaside://…/<service>`, so the certificate must name the service (SAN DNS:<service>) or
   * clients must set `grpc.ssl_target_name_override`.
   */
  readonly tlsCertFile?: string;
  /** PEM private key of tlsCertFile. */
  readonly tlsKeyFile?: string;
  /** Share of calls (0..1) answered with INTERNAL; default 0. */
  readonly failureRate?: number;
  /** Capacity model (see GreeterServerOptions): at most this many calls served at once; default unbounded. */
  readonly maxConcurrent?: number;
  /** Fixed time per served call, ms; default 0. */
  readonly serviceTimeMs?: number;
}

/** A running demo service. The owner calls close() (graceful) or kill() (abrupt). */
export interface DemoService {
  /** The bound and registered "host:port". */
  readonly address: string;
  readonly port: number;
  readonly service: string;
  readonly registration: Registration;
  /** Calls answered so far. */
  served(): number;
  /**
   * What its grpc.health.v1 service reports (SERVING or NOT_SERVING): an LB server with health
   * checks sends it no new calls while NOT_SERVING. The process stays registered.
   */
  setServing(serving: boolean): void;
  serving(): boolean;
  /** Changes the share of calls answered with INTERNAL (0..1). */
  setFailureRate(rate: number): void;
  /** Changes the service time of calls served from now on (ms >= 0). */
  setServiceTimeMs(ms: number): void;
  /**
   * Graceful stop, in the order a rolling restart needs: publish draining, wait for in-flight
   * calls (bounded by drainTimeoutMs), revoke the lease, then shut the server down. Idempotent.
   */
  close(): Promise<void>;
}

export const DEFAULT_DEMO_SERVICE = 'greeter';

const OptionsSchema = z.object({
  etcd: z.array(z.string().min(1)).min(1, 'at least one etcd endpoint is required'),
  port: z.number().int().min(0).max(65535),
  host: z.string().min(1).default('127.0.0.1'),
  service: z
    .string()
    .default(DEFAULT_DEMO_SERVICE)
    .superRefine((name, ctx) => {
      const v = validateServiceName(name);
      if (!v.ok) ctx.addIssue({ code: 'custom', message: v.reason });
    }),
  weight: z.number().int().min(0).max(10_000).default(100),
  zone: z.string().default(''),
  ttlSeconds: z.number().int().min(1).max(3600).default(10),
  prefix: z.string().default(DEFAULT_PREFIX),
  drainTimeoutMs: z.number().int().min(0).default(5000),
  tlsCertFile: z.string().min(1).optional(),
  tlsKeyFile: z.string().min(1).optional(),
  failureRate: z.number().min(0).max(1).default(0),
  maxConcurrent: z.number().int().min(1).optional(),
  serviceTimeMs: z.number().min(0).max(3_600_000).default(0),
});

/** TLS credentials from the option files; a RangeError names an unreadable or mismatched one. */
function serverCredentials(certFile: string | undefined, keyFile: string | undefined): ServerCredentials {
  if (certFile === undefined && keyFile === undefined) return ServerCredentials.createInsecure();
  if (certFile === undefined || keyFile === undefined) {
    throw new RangeError(
      `invalid demo service option ${certFile === undefined ? 'tlsCertFile' : 'tlsKeyFile'}: tlsCertFile and tlsKeyFile go together`,
    );
  }
  const read = (field: string, file: string): Buffer => {
    try {
      return readFileSync(file);
    } catch (err) {
      throw new RangeError(
        `invalid demo service option ${field}: cannot read ${file}: ${(err as Error).message}`,
      );
    }
  };
  const pair = { cert_chain: read('tlsCertFile', certFile), private_key: read('tlsKeyFile', keyFile) };
  return ServerCredentials.createSsl(null, [pair], false);
}

/**
 * Starts the helloworld greeter and registers it (lease + keepalive) so that the LB server hands
 * it to clients. Used by `lookaside demo-service`, `lookaside demo` and the tests. Resolves once
 * the server listens and its record is in etcd; throws a RangeError naming a bad option.
 */
export async function startDemoService(options: DemoServiceOptions): Promise<DemoService> {
  const parsed = OptionsSchema.safeParse(options);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new RangeError(`invalid demo service option ${issue?.path.join('.') ?? ''}: ${issue?.message}`);
  }
  const o = parsed.data;
  const credentials = serverCredentials(o.tlsCertFile, o.tlsKeyFile);
  const greeter: GreeterServer = await startGreeterServer({
    host: o.host,
    port: o.port,
    credentials,
    failureRate: o.failureRate,
    maxConcurrent: o.maxConcurrent,
    serviceTimeMs: o.serviceTimeMs,
  });
  let registration: Registration;
  try {
    registration = await registerService({
      etcd: [...o.etcd],
      service: o.service,
      address: greeter.address,
      weight: o.weight,
      zone: o.zone,
      ttlSeconds: o.ttlSeconds,
      prefix: o.prefix,
      logger: options.logger,
      etcdUser: options.etcdUser,
      etcdPassword: options.etcdPassword,
      etcdCaFile: options.etcdCaFile,
      etcdCertFile: options.etcdCertFile,
      etcdKeyFile: options.etcdKeyFile,
    });
  } catch (err) {
    greeter.forceClose();
    throw err;
  }
  let closing: Promise<void> | undefined;
  return {
    address: greeter.address,
    port: greeter.port,
    service: o.service,
    registration,
    served: () => greeter.served(),
    setServing: (serving) => greeter.setServing(serving),
    serving: () => greeter.serving(),
    setFailureRate: (rate) => greeter.setFailureRate(rate),
    setServiceTimeMs: (ms) => greeter.setServiceTimeMs(ms),
    close: () =>
      (closing ??= (async () => {
        try {
          await registration.drain({
            inFlight: () => greeter.inFlight(),
            served: () => greeter.served(),
            timeoutMs: o.drainTimeoutMs,
          });
        } finally {
          await registration.close();
          await greeter.close();
        }
      })()),
  };
}
