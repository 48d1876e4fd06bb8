import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createSecureContext } from 'node:tls';
import * as grpc from '@grpc/grpc-js';

/** How the health checker reaches TLS backends, as the LB server's config names the files. */
export interface HealthCheckTls {
  /** PEM CA bundle that signed the backends' certificates. */
  readonly caFile: string;
  /** PEM client certificate for backends that require one (mTLS); needs keyFile. */
  readonly certFile: string | undefined;
  /** PEM private key of certFile. */
  readonly keyFile: string | undefined;
  /** The name to verify in every backend's certificate; default: the endpoint's service name. */
  readonly serverName: string | undefined;
}

/** A health-check TLS file that cannot be read or used; `field` names the config option. */
export class HealthCheckTlsError extends Error {
  constructor(
    readonly field: 'healthCheckCaFile' | 'healthCheckCertFile' | 'healthCheckKeyFile',
    readonly reason: string,
  ) {
    super(`invalid health check TLS option ${field}: ${reason}`);
    this.name = 'HealthCheckTlsError';
  }
}

const PEM_CERT_RE = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g;

function read(field: HealthCheckTlsError['field'], file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    throw new HealthCheckTlsError(field, `cannot read ${file}: ${(err as Error).message}`);
  }
}

/** Every certificate of a PEM file must parse, and there must be at least one. */
function checkCertificates(field: HealthCheckTlsError['field'], file: string, pem: Buffer): void {
  const blocks = pem.toString('latin1').match(PEM_CERT_RE) ?? [];
  if (blocks.length === 0) throw new HealthCheckTlsError(field, `${file}: expected PEM certificates`);
  for (const block of blocks) {
    try {
      new X509Certificate(block);
    } catch (err) {
      throw new HealthCheckTlsError(field, `${file}: ${(err as Error).message}`);
    }
  }
}

/**
 * The channel credentials of the health checker's connections to TLS backends: reads the PEM
 * files once (called by startLbServer; rotate them with a restart), checks that the CA bundle
 * parses and that the key fits the certificate, and returns `grpc.credentials.createSsl`.
 * Throws HealthCheckTlsError naming the option.
 */
export function healthCheckCredentials(tls: HealthCheckTls): grpc.ChannelCredentials {
  const ca = read('healthCheckCaFile', tls.caFile);
  checkCertificates('healthCheckCaFile', tls.caFile, ca);
  if (tls.certFile === undefined || tls.keyFile === undefined) return grpc.credentials.createSsl(ca);
  const cert = read('healthCheckCertFile', tls.certFile);
  checkCertificates('healthCheckCertFile', tls.certFile, cert);
  const key = read('healthCheckKeyFile', tls.keyFile);
  try {
    createSecureContext({ cert, key });
  } catch (err) {
    throw new HealthCheckTlsError(
      'healthCheckKeyFile',
      `${tls.keyFile} does not fit ${tls.certFile}: ${(err as Error).message}`,
    );
  }
  return grpc.credentials.createSsl(ca, key, cert);
}
