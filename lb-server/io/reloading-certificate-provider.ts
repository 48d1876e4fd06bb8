import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createSecureContext } from 'node:tls';
import { experimental } from '@grpc/grpc-js';

type CaListener = experimental.CaCertificateUpdateListener;
type IdentityListener = experimental.IdentityCertificateUpdateListener;

/** The PEM files of a TLS server, as the LB server's config names them. */
export interface TlsFiles {
  readonly certFile: string;
  readonly keyFile: string;
  /** When set, clients must present a certificate signed by this CA (mTLS). */
  readonly clientCaFile?: string;
}

/** A TLS file that cannot be read or does not make a usable certificate; `field` names the option. */
export class TlsFilesError extends Error {
  constructor(
    readonly field: 'tlsCertFile' | 'tlsKeyFile' | 'tlsClientCaFile',
    readonly reason: string,
  ) {
    super(`invalid TLS option ${field}: ${reason}`);
    this.name = 'TlsFilesError';
  }
}

interface LoadedFiles {
  readonly cert: Buffer;
  readonly key: Buffer;
  readonly ca: Buffer | undefined;
}

function read(field: TlsFilesError['field'], file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    throw new TlsFilesError(field, `cannot read ${file}: ${(err as Error).message}`);
  }
}

/** Reads the files and checks that they make a secure context (key matches cert, PEM parses). */
function load(files: TlsFiles): LoadedFiles {
  const cert = read('tlsCertFile', files.certFile);
  const key = read('tlsKeyFile', files.keyFile);
  const ca = files.clientCaFile !== undefined ? read('tlsClientCaFile', files.clientCaFile) : undefined;
  try {
    createSecureContext({ cert, key });
  } catch (err) {
    throw new TlsFilesError(
      'tlsKeyFile',
      `${files.keyFile} does not fit ${files.certFile}: ${(err as Error).message}`,
    );
  }
  if (ca !== undefined) checkCaBundle(ca, files.clientCaFile ?? '');
  return { cert, key, ca };
}

const PEM_CERT_RE = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g;

/**
 * A CA bundle must hold at least one certificate, every BEGIN must have its END, and each must
 * parse. createSecureContext accepts an empty or truncated bundle, which would lock every mTLS
 * client out until the next good read (a CA file read while it is being rewritten).
 */
function checkCaBundle(ca: Buffer, file: string): void {
  const text = ca.toString('latin1');
  const blocks = text.match(PEM_CERT_RE) ?? [];
  const begins = text.split('-----BEGIN CERTIFICATE-----').length - 1;
  if (blocks.length === 0 || blocks.length !== begins) {
    throw new TlsFilesError(
      'tlsClientCaFile',
      `${file}: expected complete PEM certificates (found ${blocks.length} of ${begins} begun)`,
    );
  }
  for (const block of blocks) {
    try {
      new X509Certificate(block);
    } catch (err) {
      throw new TlsFilesError('tlsClientCaFile', `${file}: ${(err as Error).message}`);
    }
  }
}

function same(a: LoadedFiles, b: LoadedFiles): boolean {
  const eq = (x: Buffer | undefined, y: Buffer | undefined): boolean =>
    x === undefined || y === undefined ? x === y : x.equals(y);
  return eq(a.cert, b.cert) && eq(a.key, b.key) && eq(a.ca, b.ca);
}

/**
 * A grpc-js certificate provider over the LB server's PEM files that re-reads them every
 * `intervalMs` and hands grpc-js the new certificate (and client CA) when they changed: rotation
 * without restart, for connections opened afterwards. Unlike grpc-js's FileWatcherCertificateProvider
 * it never withdraws a working certificate: a half-written or mismatched pair during rotation is
 * reported to `onReloadError` and the last good one stays in use until the next good read.
 * The constructor reads the files once and throws TlsFilesError naming the bad one. One object
 * serves both roles (identity and CA) for createCertificateProviderServerCredentials.
 * Owned by startLbServer, which close()s it (idempotent; stops the timer).
 */
export class ReloadingCertificateProvider implements experimental.CertificateProvider {
  private current: LoadedFiles;
  private readonly caListeners = new Set<CaListener>();
  private readonly identityListeners = new Set<IdentityListener>();
  private readonly timer: NodeJS.Timeout;
  private lastError: string | undefined;

  constructor(
    private readonly files: TlsFiles,
    intervalMs: number,
    private readonly onReload: (event: { ok: true } | { ok: false; error: string }) => void = () => undefined,
  ) {
    this.current = load(files);
    this.timer = setInterval(() => this.reload(), intervalMs);
    this.timer.unref();
  }

  /** Re-reads the files now; pushes them to grpc-js if they changed and are usable. */
  reload(): void {
    let next: LoadedFiles;
    try {
      next = load(this.files);
    } catch (err) {
      const error = (err as Error).message;
      if (error !== this.lastError) this.onReload({ ok: false, error });
      this.lastError = error;
      return;
    }
    this.lastError = undefined;
    if (same(next, this.current)) return;
    this.current = next;
    for (const l of this.identityListeners) l(this.identity());
    for (const l of this.caListeners) l(this.caUpdate());
    this.onReload({ ok: true });
  }

  /** The certificate and key in use now (the console's HTTPS listener starts with them). */
  currentIdentity(): { cert: Buffer; key: Buffer } {
    return { cert: this.current.cert, key: this.current.key };
  }

  /** Stops re-reading. Idempotent. */
  close(): void {
    clearInterval(this.timer);
  }

  private identity(): experimental.IdentityCertificateUpdate {
    return { certificate: this.current.cert, privateKey: this.current.key };
  }

  private caUpdate(): experimental.CaCertificateUpdate | null {
    return this.current.ca !== undefined ? { caCertificate: this.current.ca } : null;
  }

  // grpc-js adds its listeners while creating the server and reads the result through a watcher it
  // registers right after: answer on the next tick, as its own file watcher does.
  addCaCertificateListener(listener: CaListener): void {
    this.caListeners.add(listener);
    process.nextTick(() => {
      if (this.caListeners.has(listener)) listener(this.caUpdate());
    });
  }

  removeCaCertificateListener(listener: CaListener): void {
    this.caListeners.delete(listener);
  }

  addIdentityCertificateListener(listener: IdentityListener): void {
    this.identityListeners.add(listener);
    process.nextTick(() => {
      if (this.identityListeners.has(listener)) listener(this.identity());
    });
  }

  removeIdentityCertificateListener(listener: IdentityListener): void {
    this.identityListeners.delete(listener);
  }
}
