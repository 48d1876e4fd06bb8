import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

/** A key and certificate pair on disk, with their PEM contents. */
export interface CertFiles {
  readonly certFile: string;
  readonly keyFile: string;
  readonly cert: Buffer;
  readonly key: Buffer;
}

/**
 * A throwaway PKI made with `openssl` in a temp dir: a self-signed CA, and certificates it signs
 * (servers with SAN IP:127.0.0.1 + DNS:localhost + any extra names, clients with a CN). Tests
 * create one per file and cleanup() it in afterAll.
 */
export class TestCerts {
  readonly ca: CertFiles;
  private serial = 1;

  private constructor(
    readonly dir: string,
    caName: string,
  ) {
    const keyFile = path.join(dir, `${caName}-key.pem`);
    const certFile = path.join(dir, `${caName}.pem`);
    this.openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', keyFile]);
    this.openssl([
      'req',
      '-x509',
      '-new',
      '-key',
      keyFile,
      '-subj',
      `/CN=${caName}`,
      '-days',
      '2',
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign,cRLSign',
      '-out',
      certFile,
    ]);
    this.ca = TestCerts.files(certFile, keyFile);
  }

  /** A new CA in a new temp dir. */
  static create(caName = 'lookaside-test-ca'): TestCerts {
    return new TestCerts(mkdtempSync(path.join(os.tmpdir(), 'lookaside-certs-')), caName);
  }

  /** A server certificate for 127.0.0.1, localhost and `dnsNames`, written as <name>.pem / <name>-key.pem. */
  server(name: string, dnsNames: readonly string[] = []): CertFiles {
    const san = ['IP:127.0.0.1', 'DNS:localhost', ...dnsNames.map((d) => `DNS:${d}`)].join(',');
    return this.issue(name, name, `subjectAltName=${san}\nextendedKeyUsage=serverAuth,clientAuth\n`);
  }

  /** A client certificate with CN `commonName`. */
  client(name: string, commonName = name): CertFiles {
    return this.issue(name, commonName, 'extendedKeyUsage=clientAuth\n');
  }

  /** Removes every file. Idempotent. */
  cleanup(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }

  private issue(name: string, commonName: string, extensions: string): CertFiles {
    const keyFile = path.join(this.dir, `${name}-key.pem`);
    const certFile = path.join(this.dir, `${name}.pem`);
    const csr = path.join(this.dir, `${name}.csr`);
    const ext = path.join(this.dir, `${name}.ext`);
    writeFileSync(ext, extensions);
    this.openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', keyFile]);
    this.openssl(['req', '-new', '-key', keyFile, '-subj', `/CN=${commonName}`, '-out', csr]);
    this.openssl([
      'x509',
      '-req',
      '-in',
      csr,
      '-CA',
      this.ca.certFile,
      '-CAkey',
      this.ca.keyFile,
      '-set_serial',
      String(Date.now() * 100 + this.serial++),
      '-days',
      '2',
      '-extfile',
      ext,
      '-out',
      certFile,
    ]);
    return TestCerts.files(certFile, keyFile);
  }

  private openssl(args: string[]): void {
    execFileSync('openssl', args, { cwd: this.dir, stdio: ['ignore', 'ignore', 'pipe'], timeout: 10_000 });
  }

  private static files(certFile: string, keyFile: string): CertFiles {
    return { certFile, keyFile, cert: readFileSync(certFile), key: readFileSync(keyFile) };
  }
}
