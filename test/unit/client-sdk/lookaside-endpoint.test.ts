import { fallbackEndpoints, serverListToEndpoints } from '../../../client-sdk/lookaside-endpoint';
import type { Server__Output } from '../../../proto/gen/lookaside/v1/Server';

function server(address: string, extra: Partial<Server__Output> = {}): Server__Output {
  return { address, weight: 100, zone: '', metadata: {}, loadBalanceToken: '', draining: false, ...extra };
}

describe('serverListToEndpoints', () => {
  test('carries address, weight, draining and zone on each endpoint', () => {
    const { endpoints, rejected } = serverListToEndpoints([
      server('127.0.0.1:8181', { weight: 3, zone: 'z' }),
      server('[::1]:8282', { draining: true }),
    ]);
    expect(rejected).toEqual([]);
    expect(endpoints).toEqual([
      {
        addresses: [{ host: '127.0.0.1', port: 8181 }],
        address: '127.0.0.1:8181',
        weight: 3,
        draining: false,
        zone: 'z',
      },
      {
        addresses: [{ host: '::1', port: 8282 }],
        address: '[::1]:8282',
        weight: 100,
        draining: true,
        zone: '',
      },
    ]);
  });

  test('skips bad and duplicate addresses, saying why', () => {
    const { endpoints, rejected } = serverListToEndpoints([
      server('nohost'),
      server('127.0.0.1:1'),
      server('127.0.0.1:1'),
    ]);
    expect(endpoints.map((e) => e.address)).toEqual(['127.0.0.1:1']);
    expect(rejected).toEqual([
      { address: 'nohost', reason: expect.stringContaining('no port') },
      { address: '127.0.0.1:1', reason: 'duplicate address in the server list' },
    ]);
  });

  test('an address listed twice (an older LB server) is one backend with the higher weight, not the sum', () => {
    const { endpoints, rejected } = serverListToEndpoints([
      server('10.0.0.1:1', { weight: 0, draining: true }),
      server('10.0.0.2:1', { weight: 50 }),
      server('10.0.0.1:1', { weight: 300 }),
      server('10.0.0.1:1', { weight: 300, zone: 'later' }),
    ]);
    expect(endpoints.map((e) => [e.address, e.weight, e.draining, e.zone])).toEqual([
      ['10.0.0.1:1', 300, false, ''],
      ['10.0.0.2:1', 50, false, ''],
    ]);
    expect(rejected).toEqual([
      { address: '10.0.0.1:1', reason: 'duplicate address in the server list' },
      { address: '10.0.0.1:1', reason: 'duplicate address in the server list' },
    ]);
  });

  test('clamps weights into 0..10000', () => {
    const { endpoints } = serverListToEndpoints([server('a:1', { weight: 50_000 })]);
    expect(endpoints[0].weight).toBe(10_000);
  });
});

describe('fallbackEndpoints', () => {
  test('gives equal weights and no draining', () => {
    expect(fallbackEndpoints(['a:1', 'b:2']).map((e) => [e.address, e.weight, e.draining])).toEqual([
      ['a:1', 100, false],
      ['b:2', 100, false],
    ]);
  });

  test('throws a RangeError naming a bad address', () => {
    expect(() => fallbackEndpoints(['a:1', 'b'])).toThrow(/fallback address "b"/);
  });
});
