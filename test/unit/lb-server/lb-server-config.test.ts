import { LbServerConfigError, resolveLbServerConfig } from '../../../lb-server/lb-server-config';

describe('LB server config', () => {
  it('fills in the documented defaults', () => {
    expect(resolveLbServerConfig({ etcd: ['http://127.0.0.1:2379'] })).toEqual({
      etcd: ['http://127.0.0.1:2379'],
      prefix: '/lookaside/services',
      listen: '127.0.0.1:7000',
      adminToken: undefined,
      clientStatsIntervalMs: 10_000,
      coalesceMs: 5,
      console: true,
      consoleAllowInsecureActions: false,
      selfPreservationGraceMs: 15_000,
      healthChecks: true,
      healthCheckTls: undefined,
      orcaIntervalMs: 1000,
      panicThreshold: 0.5,
      loadWeights: {
        enabled: true,
        updateMs: 1000,
        pushThreshold: 0.1,
        blackoutMs: 2000,
        expiryMs: 60_000,
        floor: 0.1,
        smoothing: 0.75,
        errorPenalty: 1,
        clientLatency: 'fastest',
        clientFigureTtlMs: 30_000,
      },
      // gRFC A50's defaults, at most half a service ejected.
      outlierDetection: {
        enabled: true,
        intervalMs: 10_000,
        baseEjectionMs: 30_000,
        maxEjectionMs: 300_000,
        maxEjectionPercent: 50,
        successRate: { stdevFactor: 1.9, minimumHosts: 5, requestVolume: 100 },
        failurePercentage: { threshold: 85, minimumHosts: 5, requestVolume: 50 },
      },
      selfPreservationThreshold: 0.5,
      tls: undefined,
      tlsReloadIntervalMs: 10_000,
      metricsListen: undefined,
      etcdSecurity: {
        etcdUser: undefined,
        etcdPassword: undefined,
        etcdCaFile: undefined,
        etcdCertFile: undefined,
        etcdKeyFile: undefined,
      },
      replicaId: expect.stringMatching(/^.+-\d+-[0-9a-f]{4}$/),
      replicaLeaseTtlSeconds: 10,
      clientFlushMs: 500,
      serviceConfigDefaults: { subsetSize: 0, zoneAware: false, zoneMinEndpoints: 6 },
    });
  });

  it('gives every server a replica id of its own by default, and keeps a valid one given', () => {
    const etcd = ['http://127.0.0.1:2379'];
    const a = resolveLbServerConfig({ etcd }).replicaId;
    expect(a).toContain(`-${process.pid}-`);
    expect(a).not.toContain('/');
    expect(resolveLbServerConfig({ etcd, replicaId: 'lb-a' }).replicaId).toBe('lb-a');
  });

  it('takes the subsetting and zone defaults for services without a setting in etcd', () => {
    const r = resolveLbServerConfig({
      etcd: ['http://e:1'],
      subsetSize: 3,
      zoneAware: true,
      zoneMinEndpoints: 2,
    });
    expect(r.serviceConfigDefaults).toEqual({ subsetSize: 3, zoneAware: true, zoneMinEndpoints: 2 });
  });

  it('takes an ORCA interval of 0 (off) or 100..3600000 ms, and turns ORCA off without health checks', () => {
    const etcd = ['http://127.0.0.1:2379'];
    expect(resolveLbServerConfig({ etcd, orcaIntervalMs: 0 }).orcaIntervalMs).toBe(0);
    expect(resolveLbServerConfig({ etcd, orcaIntervalMs: 250 }).orcaIntervalMs).toBe(250);
    expect(resolveLbServerConfig({ etcd, orcaIntervalMs: 250, healthChecks: false }).orcaIntervalMs).toBe(0);
    for (const bad of [50, -1, 1.5, 4_000_000]) {
      expect(() => resolveLbServerConfig({ etcd, orcaIntervalMs: bad })).toThrow(LbServerConfigError);
    }
    try {
      resolveLbServerConfig({ etcd, orcaIntervalMs: 50 });
    } catch (err) {
      expect((err as LbServerConfigError).field).toBe('orcaIntervalMs');
    }
  });

  it('groups the TLS files and the etcd security settings', () => {
    const r = resolveLbServerConfig({
      etcd: ['https://e:2379'],
      tlsCertFile: 'c.pem',
      tlsKeyFile: 'k.pem',
      tlsClientCaFile: 'ca.pem',
      metricsListen: '127.0.0.1:0',
      etcdUser: 'lb',
      etcdPassword: 'pw',
    });
    expect(r.tls).toEqual({ certFile: 'c.pem', keyFile: 'k.pem', clientCaFile: 'ca.pem' });
    expect(r.metricsListen).toBe('127.0.0.1:0');
    expect(r.etcdSecurity).toMatchObject({ etcdUser: 'lb', etcdPassword: 'pw' });
  });

  it('groups the health-check TLS files; the server name is optional', () => {
    const r = resolveLbServerConfig({
      etcd: ['http://e:2379'],
      healthCheckCaFile: 'ca.pem',
      healthCheckCertFile: 'c.pem',
      healthCheckKeyFile: 'k.pem',
    });
    expect(r.healthCheckTls).toEqual({
      caFile: 'ca.pem',
      certFile: 'c.pem',
      keyFile: 'k.pem',
      serverName: undefined,
    });
    expect(
      resolveLbServerConfig({
        etcd: ['http://e:2379'],
        healthCheckCaFile: 'ca.pem',
        healthCheckServerName: 'greeter.internal',
      }).healthCheckTls,
    ).toEqual({ caFile: 'ca.pem', certFile: undefined, keyFile: undefined, serverName: 'greeter.internal' });
  });

  it('rejects a self-preservation threshold outside (0, 1], naming it', () => {
    expect(() => resolveLbServerConfig({ etcd: ['http://e:2379'], selfPreservationThreshold: 0 })).toThrow(
      /selfPreservationThreshold/,
    );
    expect(() => resolveLbServerConfig({ etcd: ['http://e:2379'], selfPreservationGraceMs: -1 })).toThrow(
      /selfPreservationGraceMs/,
    );
  });

  it('accepts port 0 and IPv6 listen addresses', () => {
    expect(resolveLbServerConfig({ etcd: ['https://e:2379'], listen: '[::1]:0' }).listen).toBe('[::1]:0');
  });

  it.each([
    [{ etcd: [] }, 'etcd'],
    [{ etcd: ['127.0.0.1:2379'] }, 'etcd.0'],
    [{ etcd: ['ftp://x'] }, 'etcd.0'],
    [{ etcd: ['http://e:1'], prefix: 'no-slash' }, 'prefix'],
    // No parent to keep the clients and config folders beside the registry.
    [{ etcd: ['http://e:1'], prefix: '/' }, 'prefix'],
    [{ etcd: ['http://e:1'], prefix: '/clients' }, 'prefix'],
    [{ etcd: ['http://e:1'], replicaId: '' }, 'replicaId'],
    [{ etcd: ['http://e:1'], replicaId: 'a/b' }, 'replicaId'],
    [{ etcd: ['http://e:1'], replicaId: 'x'.repeat(129) }, 'replicaId'],
    [{ etcd: ['http://e:1'], replicaLeaseTtlSeconds: 1 }, 'replicaLeaseTtlSeconds'],
    [{ etcd: ['http://e:1'], clientFlushMs: 5 }, 'clientFlushMs'],
    [{ etcd: ['http://e:1'], subsetSize: -1 }, 'subsetSize'],
    [{ etcd: ['http://e:1'], subsetSize: 2.5 }, 'subsetSize'],
    [{ etcd: ['http://e:1'], zoneMinEndpoints: 0 }, 'zoneMinEndpoints'],
    [{ etcd: ['http://e:1'], listen: 'host' }, 'listen'],
    [{ etcd: ['http://e:1'], adminToken: '' }, 'adminToken'],
    [{ etcd: ['http://e:1'], clientStatsIntervalMs: 1.5 }, 'clientStatsIntervalMs'],
    [{ etcd: ['http://e:1'], coalesceMs: -1 }, 'coalesceMs'],
    [{ etcd: ['http://e:1'], maxEjectionPercent: 101 }, 'maxEjectionPercent'],
    [{ etcd: ['http://e:1'], outlierIntervalMs: 10 }, 'outlierIntervalMs'],
    [{ etcd: ['http://e:1'], outlierMinimumHosts: 0 }, 'outlierMinimumHosts'],
    [{ etcd: ['http://e:1'], tlsCertFile: 'c.pem' }, 'tlsKeyFile'],
    [{ etcd: ['http://e:1'], tlsKeyFile: 'k.pem' }, 'tlsCertFile'],
    [{ etcd: ['http://e:1'], tlsClientCaFile: 'ca.pem' }, 'tlsClientCaFile'],
    [{ etcd: ['http://e:1'], metricsListen: 'nohost' }, 'metricsListen'],
    [{ etcd: ['http://e:1'], etcdUser: '' }, 'etcdUser'],
    [
      { etcd: ['http://e:1'], healthCheckCaFile: 'ca.pem', healthCheckCertFile: 'c.pem' },
      'healthCheckKeyFile',
    ],
    [
      { etcd: ['http://e:1'], healthCheckCaFile: 'ca.pem', healthCheckKeyFile: 'k.pem' },
      'healthCheckCertFile',
    ],
    [
      { etcd: ['http://e:1'], healthCheckCertFile: 'c.pem', healthCheckKeyFile: 'k.pem' },
      'healthCheckCertFile',
    ],
    [{ etcd: ['http://e:1'], healthCheckServerName: 'greeter' }, 'healthCheckServerName'],
    [
      { etcd: ['http://e:1'], healthCheckCaFile: 'ca.pem', healthCheckServerName: 'a b' },
      'healthCheckServerName',
    ],
    [{ etcd: ['http://e:1'], healthCheckCaFile: '' }, 'healthCheckCaFile'],
    [
      { etcd: ['http://e:1'], consoleAllowInsecureActions: 'yes' as unknown as boolean },
      'consoleAllowInsecureActions',
    ],
  ])('rejects %j naming %s', (config, field) => {
    let error: unknown;
    try {
      resolveLbServerConfig(config);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(LbServerConfigError);
    expect((error as LbServerConfigError).field).toBe(field);
    expect((error as Error).message).toContain(field);
  });
});
