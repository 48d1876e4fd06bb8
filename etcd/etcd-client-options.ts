import { readFileSync } from 'node:fs';
import type { IOptions } from 'etcd3';

/**
 * How a client reaches a secured etcd: user/password auth and TLS (a CA to verify etcd's
 * certificate, and a client certificate when etcd runs with --client-cert-auth). Shared by the LB
 * server and the registrar, which take these as options and flags of the same names.
 */
export interface EtcdSecurity {
  /** etcd user for password auth (etcd's `auth enable`); needs etcdPassword. */
  readonly etcdUser?: string;
  /** Password of etcdUser. Never logged. */
  readonly etcdPassword?: string;
  /** PEM file of the CA that signed etcd's certificates; needs https:// endpoints. */
  readonly etcdCaFile?: string;
  /** PEM client certificate for etcd's --client-cert-auth; needs etcdKeyFile and https://. */
  readonly etcdCertFile?: string;
  /** PEM private key of etcdCertFile. */
  readonly etcdKeyFile?: string;
}

/** A bad or unreadable etcd security setting; `field` names the option (e.g. "etcdCaFile"). */
export class EtcdSecurityError extends Error {
  constructor(
    readonly field: keyof EtcdSecurity | 'etcd',
    readonly reason: string,
  ) {
    super(`invalid etcd security option ${field}: ${reason}`);
    this.name = 'EtcdSecurityError';
  }
}

function readPem(field: keyof EtcdSecurity, file: string): Buffer {
  let data: Buffer;
  try {
    data = readFileSync(file);
  } catch (err) {
    throw new EtcdSecurityError(field, `cannot read ${file}: ${(err as Error).message}`);
  }
  if (!data.toString('latin1').includes('-----BEGIN ')) {
    throw new EtcdSecurityError(field, `${file} is not a PEM file`);
  }
  return data;
}

/**
 * Builds the etcd3 client options for `endpoints` and `security`: checks that the settings go
 * together (user with password, certificate with key, TLS files only with https:// endpoints, no
 * mix of http:// and https://) and reads the PEM files once. Throws EtcdSecurityError naming the
 * option. Called when the LB server or a registration starts; the caller adds its own options
 * (timeouts, gRPC options) to the result.
 */
export function etcdClientOptions(endpoints: readonly string[], security: EtcdSecurity = {}): IOptions {
  const { etcdUser, etcdPassword, etcdCaFile, etcdCertFile, etcdKeyFile } = security;
  if ((etcdUser === undefined) !== (etcdPassword === undefined)) {
    throw new EtcdSecurityError(
      etcdUser === undefined ? 'etcdUser' : 'etcdPassword',
      'etcdUser and etcdPassword go together',
    );
  }
  if (etcdUser !== undefined && etcdUser.length === 0) {
    throw new EtcdSecurityError('etcdUser', 'must not be empty');
  }
  if ((etcdCertFile === undefined) !== (etcdKeyFile === undefined)) {
    throw new EtcdSecurityError(
      etcdCertFile === undefined ? 'etcdCertFile' : 'etcdKeyFile',
      'etcdCertFile and etcdKeyFile go together',
    );
  }
  const secure = endpoints.filter((e) => e.startsWith('https://')).length;
  if (secure > 0 && secure < endpoints.length) {
    throw new EtcdSecurityError('etcd', 'endpoints mix http:// and https://; use one scheme for all');
  }
  const tlsFile =
    etcdCaFile !== undefined ? 'etcdCaFile' : etcdCertFile !== undefined ? 'etcdCertFile' : null;
  if (tlsFile !== null && secure === 0) {
    throw new EtcdSecurityError(tlsFile, 'TLS files need https:// etcd endpoints');
  }
  const options: IOptions = { hosts: [...endpoints] };
  if (etcdUser !== undefined && etcdPassword !== undefined) {
    options.auth = { username: etcdUser, password: etcdPassword };
  }
  if (tlsFile !== null) {
    // Without a CA file, verify etcd against the system's roots (etcd3 passes null through).
    const rootCertificate = etcdCaFile !== undefined ? readPem('etcdCaFile', etcdCaFile) : undefined;
    options.credentials = {
      rootCertificate: rootCertificate as Buffer,
      privateKey: etcdKeyFile !== undefined ? readPem('etcdKeyFile', etcdKeyFile) : undefined,
      certChain: etcdCertFile !== undefined ? readPem('etcdCertFile', etcdCertFile) : undefined,
    };
  }
  return options;
}

/** The settings of `security` that are safe to log: which are set, never their values. */
export function describeEtcdSecurity(security: EtcdSecurity): Record<string, boolean | string> {
  return {
    etcdAuth: security.etcdUser !== undefined,
    ...(security.etcdUser !== undefined ? { etcdUser: security.etcdUser } : {}),
    etcdTls: security.etcdCaFile !== undefined || security.etcdCertFile !== undefined,
    etcdClientCert: security.etcdCertFile !== undefined,
  };
}
