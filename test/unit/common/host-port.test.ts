import { formatAddress, parseAddress, parseListenAddress } from '../../../common/host-port';

describe('host:port addresses', () => {
  test('a listen address may use port 0 and keeps IPv6 hosts without brackets', () => {
    expect(parseListenAddress('127.0.0.1:0')).toEqual({ ok: true, value: { host: '127.0.0.1', port: 0 } });
    expect(parseListenAddress('[::1]:7000')).toEqual({ ok: true, value: { host: '::1', port: 7000 } });
    expect(parseAddress('127.0.0.1:0').ok).toBe(false);
  });

  test('a bad listen address names itself with the port it was given', () => {
    const r = parseListenAddress('bad host:0');
    expect(r.ok).toBe(false);
    expect(r.ok ? '' : r.reason).toContain('"bad host:0"');
  });

  test('formatting brackets IPv6 hosts and round-trips through the parser', () => {
    expect(formatAddress('::1', 8181)).toBe('[::1]:8181');
    expect(formatAddress('10.0.0.1', 80)).toBe('10.0.0.1:80');
    const parsed = parseAddress(formatAddress('fe80::1', 9));
    expect(parsed).toEqual({ ok: true, value: { host: 'fe80::1', port: 9 } });
  });
});
