import {
  DEFAULT_WEIGHT,
  encodeRecordValue,
  parseKey,
  parseRecord,
  recordKey,
  servicePrefix,
} from '../../../common/registry-record';
import { parseAddress } from '../../../common/host-port';

const P = '/lookaside/services';
const KEY = `${P}/greeter/i-1`;

describe('registry record', () => {
  it('parses a full record in our format', () => {
    const r = parseRecord(
      P,
      KEY,
      JSON.stringify({
        address: '10.0.0.1:8181',
        weight: 30,
        zone: 'z1',
        metadata: { v: '2' },
        draining: true,
        healthService: 'helloworld.Greeter',
      }),
    );
    expect(r).toEqual({
      ok: true,
      value: {
        service: 'greeter',
        instanceId: 'i-1',
        address: '10.0.0.1:8181',
        host: '10.0.0.1',
        port: 8181,
        weight: 30,
        zone: 'z1',
        metadata: { v: '2' },
        draining: true,
        healthService: 'helloworld.Greeter',
        format: 'lookaside',
      },
    });
  });

  it('fills in defaults for weight, zone, metadata and draining', () => {
    const r = parseRecord(P, KEY, Buffer.from('{"address":"svc.example.com:80"}'));
    expect(r.ok && r.value).toMatchObject({
      weight: DEFAULT_WEIGHT,
      zone: '',
      metadata: {},
      draining: false,
    });
  });

  it('keeps weight 0 (take no new calls)', () => {
    const r = parseRecord(P, KEY, '{"address":"127.0.0.1:1","weight":0}');
    expect(r.ok && r.value.weight).toBe(0);
  });

  it('accepts bracketed IPv6 and normalises the address', () => {
    const r = parseRecord(P, KEY, '{"address":"[::1]:8181"}');
    expect(r.ok && r.value).toMatchObject({ host: '::1', port: 8181, address: '[::1]:8181' });
  });

  it("reads etcd's Go naming format (go.etcd.io/etcd/client/v3/naming/endpoints)", () => {
    const r = parseRecord(
      P,
      `${P}/greeter/10.0.0.2:9000`,
      JSON.stringify({ Op: 0, Addr: '10.0.0.2:9000', Metadata: { region: 'eu', n: 3 } }),
    );
    expect(r).toEqual({
      ok: true,
      value: expect.objectContaining({
        service: 'greeter',
        instanceId: '10.0.0.2:9000',
        address: '10.0.0.2:9000',
        weight: DEFAULT_WEIGHT,
        metadata: { region: 'eu', n: '3' },
        format: 'etcd-naming',
      }),
    });
  });

  it('reads Go naming values without Op or Metadata', () => {
    const r = parseRecord(P, `${P}/greeter/a`, '{"Addr":"h:1"}');
    expect(r.ok && r.value).toMatchObject({ address: 'h:1', metadata: {}, format: 'etcd-naming' });
  });

  it('accepts a prefix written with a trailing slash', () => {
    expect(parseRecord(`${P}/`, KEY, '{"address":"h:1"}').ok).toBe(true);
  });

  const big = 'x'.repeat(70 * 1024);
  const manyMeta = Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`k${i}`, 'v']));
  const malformed: Array<[string, string, string | Buffer, RegExp]> = [
    ['not JSON', KEY, 'address=1.2.3.4:80', /not JSON/],
    ['empty value', KEY, '', /empty/],
    ['JSON null', KEY, 'null', /not a JSON object/],
    ['JSON array', KEY, '[{"address":"h:1"}]', /not a JSON object/],
    ['JSON string', KEY, '"h:1"', /not a JSON object/],
    ['missing address', KEY, '{"weight":5}', /address/],
    ['address is a number', KEY, '{"address":8181}', /address/],
    ['address without port', KEY, '{"address":"10.0.0.1"}', /no port/],
    ['port 0', KEY, '{"address":"10.0.0.1:0"}', /outside 1\.\.65535/],
    ['port 70000', KEY, '{"address":"10.0.0.1:70000"}', /outside 1\.\.65535/],
    ['port not a number', KEY, '{"address":"10.0.0.1:http"}', /invalid port/],
    ['IPv6 without brackets', KEY, '{"address":"::1:8181"}', /brackets/],
    ['IPv6 bracket not closed', KEY, '{"address":"[::1:8181"}', /without "\]"/],
    ['IPv4 octet over 255', KEY, '{"address":"10.0.0.300:80"}', /invalid IPv4/],
    ['host with a space', KEY, '{"address":"my host:80"}', /invalid host/],
    ['empty host', KEY, '{"address":":80"}', /empty host/],
    ['negative weight', KEY, '{"address":"h:1","weight":-1}', /weight/],
    ['fractional weight', KEY, '{"address":"h:1","weight":1.5}', /weight/],
    ['huge weight', KEY, '{"address":"h:1","weight":1e12}', /weight/],
    ['weight is a string', KEY, '{"address":"h:1","weight":"10"}', /weight/],
    ['draining is a string', KEY, '{"address":"h:1","draining":"yes"}', /draining/],
    ['metadata value not a string', KEY, '{"address":"h:1","metadata":{"a":1}}', /metadata/],
    ['metadata is an array', KEY, '{"address":"h:1","metadata":["a"]}', /metadata/],
    [
      'too many metadata entries',
      KEY,
      JSON.stringify({ address: 'h:1', metadata: manyMeta }),
      /more than 64/,
    ],
    [
      'oversized metadata value',
      KEY,
      JSON.stringify({ address: 'h:1', metadata: { a: 'x'.repeat(2000) } }),
      /metadata/,
    ],
    ['oversized value', KEY, JSON.stringify({ address: 'h:1', pad: big }), /bytes, more than/],
    ['zone not a string', KEY, '{"address":"h:1","zone":7}', /zone/],
    ['key with an empty service name', `${P}//i-1`, '{"address":"h:1"}', /service name is empty/],
    ['key without instance id', `${P}/greeter`, '{"address":"h:1"}', /no instance id/],
    ['key with empty instance id', `${P}/greeter/`, '{"address":"h:1"}', /instance id is empty/],
    ['key with a nested path', `${P}/greeter/a/b`, '{"address":"h:1"}', /instance id/],
    ['key outside the prefix', '/other/greeter/i-1', '{"address":"h:1"}', /not under the prefix/],
    ['service name with bad characters', `${P}/gr eeter/i`, '{"address":"h:1"}', /service name/],
    ['Go naming with a delete op', KEY, '{"Op":1,"Addr":"h:1"}', /Op/],
    ['Go naming with a bad address', KEY, '{"Op":0,"Addr":"h"}', /no port/],
    ['invalid UTF-8 bytes', KEY, Buffer.from([0xff, 0xfe, 0x7b]), /not JSON/],
  ];

  it.each(malformed)('rejects %s with a reason and does not throw', (_name, key, value, reason) => {
    let result: ReturnType<typeof parseRecord> | undefined;
    expect(() => (result = parseRecord(P, key, value))).not.toThrow();
    expect(result?.ok).toBe(false);
    if (result && !result.ok) {
      expect(result.reason).toMatch(reason);
    }
  });

  it('builds keys under the prefix and refuses invalid parts', () => {
    expect(recordKey(P, 'greeter', 'i-1')).toBe(KEY);
    expect(recordKey(`${P}/`, 'greeter', 'i-1')).toBe(KEY);
    expect(servicePrefix(P, 'greeter')).toBe(`${P}/greeter/`);
    expect(() => recordKey(P, '', 'i')).toThrow(/service name/);
    expect(() => recordKey(P, 'greeter', 'a/b')).toThrow(/instance id/);
    expect(parseKey(P, KEY)).toEqual({ ok: true, value: { service: 'greeter', instanceId: 'i-1' } });
  });

  it('refuses a health service name with spaces, naming the field', () => {
    const r = parseRecord(P, KEY, JSON.stringify({ address: '10.0.0.1:1', healthService: 'a b' }));
    expect(r.ok).toBe(false);
    expect(r.ok ? '' : r.reason).toMatch(/^healthService: expected a gRPC service name/);
    expect(encodeRecordValue({ address: '10.0.0.1:1', healthService: 'svc.V1' })).toContain(
      '"healthService":"svc.V1"',
    );
  });

  it('encodes only valid values, filling defaults', () => {
    expect(JSON.parse(encodeRecordValue({ address: '127.0.0.1:8181' }))).toEqual({
      address: '127.0.0.1:8181',
      weight: 100,
      zone: '',
      metadata: {},
      draining: false,
    });
    expect(() => encodeRecordValue({ address: '127.0.0.1:0' })).toThrow(/address/);
    expect(() => encodeRecordValue({ address: 'h:1', weight: -3 })).toThrow(/weight/);
  });

  it('parses host:port forms', () => {
    expect(parseAddress('localhost:7000')).toEqual({ ok: true, value: { host: 'localhost', port: 7000 } });
    expect(parseAddress('[fe80::1%eth0]:1')).toEqual({ ok: true, value: { host: 'fe80::1%eth0', port: 1 } });
    expect(parseAddress('[::1]8181').ok).toBe(false);
  });
});
