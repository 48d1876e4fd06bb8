import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import type { experimental } from '@grpc/grpc-js';
import {
  ReloadingCertificateProvider,
  TlsFilesError,
} from '../../../lb-server/io/reloading-certificate-provider';
import { TestCerts } from '../../support/test-certs';
import { waitFor } from '../../support/wait-for';

/** The provider over real PEM files from openssl (files on disk: an integration test). */
describe('ReloadingCertificateProvider', () => {
  let certs: TestCerts;
  const providers: ReloadingCertificateProvider[] = [];

  beforeAll(() => {
    certs = TestCerts.create();
  });
  afterEach(() => {
    for (const p of providers.splice(0)) p.close();
  });
  afterAll(() => certs.cleanup());

  function provider(onReload: (e: { ok: boolean }) => void = () => undefined): ReloadingCertificateProvider {
    const files = {
      certFile: `${certs.dir}/srv.pem`,
      keyFile: `${certs.dir}/srv-key.pem`,
      clientCaFile: certs.ca.certFile,
    };
    const p = new ReloadingCertificateProvider(files, 60_000, onReload);
    providers.push(p);
    return p;
  }

  it('hands grpc-js the identity and the client CA, on the next tick', async () => {
    const first = certs.server('srv');
    const p = provider();
    const identities: Array<experimental.IdentityCertificateUpdate | null> = [];
    const cas: Array<experimental.CaCertificateUpdate | null> = [];
    p.addIdentityCertificateListener((u) => identities.push(u));
    p.addCaCertificateListener((u) => cas.push(u));
    expect(identities).toEqual([]);
    await waitFor('both listeners called', () => identities.length === 1 && cas.length === 1);
    expect(identities[0]?.certificate.equals(first.cert)).toBe(true);
    expect(cas[0]?.caCertificate.equals(certs.ca.cert)).toBe(true);
  });

  it('pushes a changed pair, ignores an unchanged one, and keeps the last good pair while the files do not fit', async () => {
    certs.server('srv');
    const events: Array<{ ok: boolean }> = [];
    const p = provider((e) => events.push(e));
    const identities: Array<experimental.IdentityCertificateUpdate | null> = [];
    p.addIdentityCertificateListener((u) => identities.push(u));
    await waitFor('the first identity', () => identities.length === 1);

    p.reload();
    expect(identities).toHaveLength(1); // nothing changed

    const other = certs.server('other');
    copyFileSync(other.certFile, `${certs.dir}/srv.pem`); // half of a rotation: new cert, old key
    p.reload();
    p.reload();
    expect(identities).toHaveLength(1);
    expect(events).toEqual([{ ok: false, error: expect.stringContaining('does not fit') as unknown }]);

    copyFileSync(other.keyFile, `${certs.dir}/srv-key.pem`); // the rotation completes
    p.reload();
    expect(identities).toHaveLength(2);
    expect(identities[1]?.certificate.equals(other.cert)).toBe(true);
    expect(events[events.length - 1]).toEqual({ ok: true });
  });

  it('keeps the last good client CA while the CA file is empty or half-written', async () => {
    const srv = certs.server('ca-rotation');
    const caFile = `${certs.dir}/client-ca-copy.pem`;
    copyFileSync(certs.ca.certFile, caFile);
    const events: Array<{ ok: boolean; error?: string }> = [];
    const p = new ReloadingCertificateProvider(
      { certFile: srv.certFile, keyFile: srv.keyFile, clientCaFile: caFile },
      60_000,
      (e) => events.push(e),
    );
    providers.push(p);
    const cas: Array<experimental.CaCertificateUpdate | null> = [];
    p.addCaCertificateListener((u) => cas.push(u));
    await waitFor('the first CA', () => cas.length === 1);
    const pem = readFileSync(caFile, 'latin1');
    for (const partial of ['', pem.slice(0, Math.floor(pem.length / 2)), 'garbage']) {
      writeFileSync(caFile, partial);
      p.reload();
      expect(cas).toHaveLength(1);
      expect(events[events.length - 1]).toEqual({
        ok: false,
        error: expect.stringContaining('tlsClientCaFile') as unknown,
      });
    }
  });

  it('rejects unreadable or mismatched files at construction, naming the option', () => {
    const a = certs.server('a');
    const b = certs.server('b');
    const build = (certFile: string, keyFile: string, clientCaFile?: string) => () =>
      new ReloadingCertificateProvider({ certFile, keyFile, clientCaFile }, 60_000);
    expect(build('/nonexistent.pem', a.keyFile)).toThrow(TlsFilesError);
    expect(build(a.certFile, b.keyFile)).toThrow(/tlsKeyFile/);
    expect(build(a.certFile, a.keyFile, '/nonexistent-ca.pem')).toThrow(/tlsClientCaFile/);
  });
});
