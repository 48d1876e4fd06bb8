import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  describeEtcdSecurity,
  etcdClientOptions,
  EtcdSecurityError,
} from '../../../etcd/etcd-client-options';

describe('etcdClientOptions', () => {
  let dir: string;
  let pem: string;
  beforeAll(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'lookaside-etcd-opts-'));
    pem = path.join(dir, 'ca.pem');
    writeFileSync(pem, '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n');
    writeFileSync(path.join(dir, 'not.pem'), 'hello');
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('passes plain endpoints through, adds auth and reads the TLS files', () => {
    expect(etcdClientOptions(['http://e:1'])).toEqual({ hosts: ['http://e:1'] });
    expect(etcdClientOptions(['http://e:1'], { etcdUser: 'u', etcdPassword: 'p' }).auth).toEqual({
      username: 'u',
      password: 'p',
    });
    const tls = etcdClientOptions(['https://e:1', 'https://f:1'], { etcdCaFile: pem });
    expect(tls.credentials?.rootCertificate.toString()).toContain('BEGIN CERTIFICATE');
  });

  it.each([
    [{ etcdUser: 'u' }, ['http://e:1'], 'etcdPassword'],
    [{ etcdPassword: 'p' }, ['http://e:1'], 'etcdUser'],
    [{ etcdUser: '', etcdPassword: 'p' }, ['http://e:1'], 'etcdUser'],
    [{ etcdCertFile: 'c' }, ['https://e:1'], 'etcdKeyFile'],
    [{}, ['http://e:1', 'https://f:1'], 'etcd'],
    [{ etcdCaFile: 'x' }, ['http://e:1'], 'etcdCaFile'],
    [{ etcdCaFile: '/nonexistent/ca.pem' }, ['https://e:1'], 'etcdCaFile'],
    [{ etcdCaFile: 'NOT_PEM' }, ['https://e:1'], 'etcdCaFile'],
  ])('rejects %j with %j naming %s', (security, endpoints, field) => {
    const s = { ...security } as Record<string, string>;
    if (s.etcdCaFile === 'NOT_PEM') s.etcdCaFile = path.join(dir, 'not.pem');
    let error: unknown;
    try {
      etcdClientOptions(endpoints, s);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(EtcdSecurityError);
    expect((error as EtcdSecurityError).field).toBe(field);
  });

  it('describes the settings without the password', () => {
    const d = describeEtcdSecurity({ etcdUser: 'u', etcdPassword: 'secret', etcdCaFile: pem });
    expect(d).toEqual({ etcdAuth: true, etcdUser: 'u', etcdTls: true, etcdClientCert: false });
    expect(JSON.stringify(d)).not.toContain('secret');
  });
});
