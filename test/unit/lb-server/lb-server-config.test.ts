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
      selfPreservationGraceMs: 15_000,
      selfPreservationThreshold: 0.5,
    });
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
    [{ etcd: ['http://e:1'], prefix: 'no-slash' }, 'prefix'],
    [{ etcd: ['http://e:1'], listen: 'host' }, 'listen'],
    [{ etcd: ['http://e:1'], adminToken: '' }, 'adminToken'],
    [{ etcd: ['http://e:1'], clientStatsIntervalMs: 1.5 }, 'clientStatsIntervalMs'],
    [{ etcd: ['http://e:1'], coalesceMs: -1 }, 'coalesceMs'],
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
