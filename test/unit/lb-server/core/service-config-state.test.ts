import { ServiceConfigState, parseServiceConfigValue } from '../../../../lb-server/core/service-config-state';
import type { RegistryKeyValue } from '../../../../lb-server/core/registry-state';

const FOLDER = '/lookaside/config/';
const DEFAULTS = { subsetSize: 0, zoneAware: false, zoneMinEndpoints: 6 };

let rev = 0;
function kv(service: string, value: unknown, key = `${FOLDER}${service}`): RegistryKeyValue {
  rev += 1;
  return {
    key,
    value: typeof value === 'string' ? value : JSON.stringify(value),
    modRevision: rev,
    lease: '0',
  };
}

describe('ServiceConfigState', () => {
  it('gives a service without a setting the defaults, source "default"', () => {
    const s = new ServiceConfigState(FOLDER, DEFAULTS);
    expect(s.configOf('greeter')).toEqual({ ...DEFAULTS, source: 'default' });
    expect(s.rejectionOf('greeter')).toBeUndefined();
  });

  it('applies a valid setting over the defaults (absent fields from the defaults), source "etcd"', () => {
    const s = new ServiceConfigState(FOLDER, { subsetSize: 4, zoneAware: true, zoneMinEndpoints: 6 });
    expect(s.put(kv('greeter', { subsetSize: 3 }))).toEqual(['greeter']);
    expect(s.configOf('greeter')).toEqual({
      subsetSize: 3,
      zoneAware: true,
      zoneMinEndpoints: 6,
      source: 'etcd',
    });
    expect(s.put(kv('greeter', { subsetSize: 0, zoneAware: false, zoneMinEndpoints: 2 }))).toEqual([
      'greeter',
    ]);
    expect(s.configOf('greeter')).toEqual({
      subsetSize: 0,
      zoneAware: false,
      zoneMinEndpoints: 2,
      source: 'etcd',
    });
    // The same value again changes nothing.
    expect(s.put(kv('greeter', { subsetSize: 0, zoneAware: false, zoneMinEndpoints: 2 }))).toEqual([]);
    expect(s.configOf('other').source).toBe('default');
  });

  it.each([
    ['a negative subset size', { subsetSize: -1 }, 'subsetSize: expected an integer >= 0 (0: off)'],
    ['a fractional subset size', { subsetSize: 2.5 }, 'subsetSize: expected an integer'],
    ['a subset size as a string', { subsetSize: '3' }, 'subsetSize:'],
    ['zoneAware not a boolean', { zoneAware: 'yes' }, 'zoneAware: expected true or false'],
    ['zoneMinEndpoints 0', { zoneMinEndpoints: 0 }, 'zoneMinEndpoints: expected an integer >= 1'],
    [
      'an unknown key',
      { subsetsize: 3 },
      'unknown key "subsetsize" (expected subsetSize, zoneAware, zoneMinEndpoints)',
    ],
    ['not JSON', '{subsetSize: 3', 'value is not JSON'],
    ['a JSON array', '[3]', 'value is not a JSON object'],
    ['an empty value', '', 'value is empty'],
  ])(
    'rejects %s with its key and reason, keeping the last valid setting in force',
    (_what, value, reason) => {
      const s = new ServiceConfigState(FOLDER, DEFAULTS);
      s.put(kv('greeter', { subsetSize: 3 }));
      s.takeNewRejections();
      expect(s.put(kv('greeter', value))).toEqual([]);
      expect(s.configOf('greeter')).toEqual({ ...DEFAULTS, subsetSize: 3, source: 'etcd' });
      const rejected = s.rejectionOf('greeter');
      expect(rejected?.key).toBe(`${FOLDER}greeter`);
      expect(rejected?.reason).toContain(reason);
      expect(s.rejectedCount()).toBe(1);
      expect(s.takeNewRejections().rejected).toEqual([rejected]);
      expect(s.takeNewRejections().rejected).toEqual([]);
      // A valid value clears the rejection.
      expect(s.put(kv('greeter', { subsetSize: 5 }))).toEqual(['greeter']);
      expect(s.rejectionOf('greeter')).toBeUndefined();
      expect(s.configOf('greeter').subsetSize).toBe(5);
    },
  );

  it('a rejected first setting leaves the defaults in force', () => {
    const s = new ServiceConfigState(FOLDER, DEFAULTS);
    expect(s.put(kv('greeter', { subsetSize: -3 }))).toEqual([]);
    expect(s.configOf('greeter')).toEqual({ ...DEFAULTS, source: 'default' });
    expect(s.rejectionOf('greeter')?.reason).toMatch(/subsetSize/);
  });

  it('a deleted key returns the service to the defaults and forgets its rejection', () => {
    const s = new ServiceConfigState(FOLDER, DEFAULTS);
    s.put(kv('greeter', { subsetSize: 3 }));
    s.put(kv('greeter', { subsetSize: -1 }));
    expect(s.delete(`${FOLDER}greeter`, 99)).toEqual(['greeter']);
    expect(s.configOf('greeter')).toEqual({ ...DEFAULTS, source: 'default' });
    expect(s.rejectionOf('greeter')).toBeUndefined();
    expect(s.rejectedCount()).toBe(0);
    expect(s.delete(`${FOLDER}greeter`, 100)).toEqual([]);
  });

  it('a full read reports what changed, and keeps the last valid setting of a service now rejected', () => {
    const s = new ServiceConfigState(FOLDER, DEFAULTS);
    s.put(kv('a', { subsetSize: 3 }));
    s.put(kv('b', { zoneAware: true }));
    s.put(kv('c', { subsetSize: 1 }));
    const changed = s.replaceAll(
      [kv('a', { subsetSize: -1 }), kv('b', { zoneAware: true }), kv('d', { subsetSize: 2 })],
      50,
    );
    // a: rejected, 3 stays; b: same; c: deleted → defaults; d: new.
    expect(changed).toEqual(['c', 'd']);
    expect(s.configOf('a')).toMatchObject({ subsetSize: 3, source: 'etcd' });
    expect(s.rejectionOf('a')?.reason).toMatch(/subsetSize/);
    expect(s.configOf('c').source).toBe('default');
    expect(s.revision).toBe(50);
  });

  it('rejects a key that names no valid service, attributed to no service', () => {
    const s = new ServiceConfigState(FOLDER, DEFAULTS);
    expect(s.put(kv('', { subsetSize: 3 }, `${FOLDER}bad/name`))).toEqual([]);
    expect(s.rejectedCount()).toBe(1);
    const [r] = s.takeNewRejections().rejected;
    expect(r.key).toBe(`${FOLDER}bad/name`);
    expect(r.reason).toMatch(/key does not name a service/);
    s.delete(`${FOLDER}bad/name`, 1000);
    expect(s.rejectedCount()).toBe(0);
  });

  it('parses values without throwing on anything', () => {
    for (const v of ['null', '1', '"x"', '{"subsetSize":1e400}', Buffer.from([0xff, 0xfe])]) {
      expect(parseServiceConfigValue(v).ok).toBe(false);
    }
    expect(parseServiceConfigValue('{}')).toEqual({ ok: true, value: {} });
  });
});

describe('ServiceConfigState rejections', () => {
  it('a full read after an outage does not report the same rejected value again; a new one it does', () => {
    const s = new ServiceConfigState(FOLDER, DEFAULTS);
    const bad = kv('greeter', { subsetSize: -1 });
    s.put(bad);
    expect(s.takeNewRejections().rejected).toHaveLength(1);
    s.replaceAll([bad], 100);
    expect(s.takeNewRejections().rejected).toEqual([]);
    expect(s.rejectionOf('greeter')?.key).toBe(bad.key);
    s.replaceAll([kv('greeter', { subsetSize: -2 })], 101);
    expect(s.takeNewRejections().rejected).toHaveLength(1);
  });
});
