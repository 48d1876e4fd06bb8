import {
  encodeOverrideValue,
  overrideKey,
  overridesPrefix,
  parseOverride,
} from '../../../common/override-record';
import { DEFAULT_PREFIX } from '../../../common/registry-record';
import { prefixRoot } from '../../../common/key-layout';

const OP = '/lookaside/overrides';
const KEY = `${OP}/greeter/i-1`;
const ok = { who: 'alice', why: 'disk', atMs: 1000 };

describe('the overrides folder', () => {
  it('is the parent of the registry prefix, trailing slashes ignored', () => {
    expect(prefixRoot(DEFAULT_PREFIX)).toBe('/lookaside');
    expect(prefixRoot('/lookaside/services/')).toBe('/lookaside');
    expect(prefixRoot('/prod/lookaside/services')).toBe('/prod/lookaside');
    expect(prefixRoot('/services')).toBe('');
    expect(prefixRoot('')).toBe('');
  });

  it('places overrides under <root>/overrides', () => {
    expect(overridesPrefix(DEFAULT_PREFIX)).toBe(OP);
    expect(overridesPrefix('/services')).toBe('/overrides');
    expect(overrideKey(DEFAULT_PREFIX, 'greeter', 'i-1')).toBe(KEY);
    expect(() => overrideKey(DEFAULT_PREFIX, 'bad name', 'i-1')).toThrow(RangeError);
  });
});

describe('override record', () => {
  it('parses a drain, a weight, both, and an expiry', () => {
    expect(parseOverride(OP, KEY, JSON.stringify({ ...ok, draining: true }))).toEqual({
      ok: true,
      value: { ...ok, draining: true, service: 'greeter', instanceId: 'i-1' },
    });
    const w = parseOverride(OP, KEY, JSON.stringify({ ...ok, weight: 0, expiresAtMs: 2000 }));
    expect(w).toEqual({
      ok: true,
      value: { ...ok, weight: 0, expiresAtMs: 2000, service: 'greeter', instanceId: 'i-1' },
    });
    expect(parseOverride(OP, KEY, Buffer.from(JSON.stringify({ ...ok, weight: 5, draining: true }))).ok).toBe(
      true,
    );
  });

  it.each([
    [
      'a key outside the prefix',
      '/lookaside/services/greeter/i-1',
      { ...ok, draining: true },
      /not under the prefix/,
    ],
    ['a key without an instance', `${OP}/greeter`, { ...ok, draining: true }, /no instance id/],
    ['a bad service in the key', `${OP}/bad name/i-1`, { ...ok, draining: true }, /service name/],
    ['neither weight nor drain', KEY, ok, /needs a weight or "draining": true/],
    ['draining false alone', KEY, { ...ok, draining: false }, /needs a weight/],
    ['a negative weight', KEY, { ...ok, weight: -1 }, /^weight: /],
    ['a weight above the maximum', KEY, { ...ok, weight: 10_001 }, /^weight: /],
    ['a fractional weight', KEY, { ...ok, weight: 1.5 }, /^weight: /],
    ['a string draining', KEY, { ...ok, draining: 'yes' }, /^draining: /],
    ['no who', KEY, { why: '', atMs: 1, draining: true }, /^who: /],
    ['an empty who', KEY, { ...ok, who: '', draining: true }, /^who: /],
    ['a long who', KEY, { ...ok, who: 'w'.repeat(129), draining: true }, /^who: /],
    ['a long why', KEY, { ...ok, why: 'y'.repeat(513), draining: true }, /^why: /],
    ['no atMs', KEY, { who: 'a', why: '', draining: true }, /^atMs: /],
    [
      'an expiry before atMs',
      KEY,
      { ...ok, draining: true, expiresAtMs: 500 },
      /^expiresAtMs: must be after atMs/,
    ],
    ['an unknown field', KEY, { ...ok, draining: true, outOfRotation: true }, /outOfRotation/],
  ])('rejects %s, naming the reason', (_name, key, value, reason) => {
    const r = parseOverride(OP, key, JSON.stringify(value));
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.reason).toMatch(reason);
  });

  it('rejects values that are not JSON objects, empty or too large', () => {
    const reasons = ['', 'not json', '[]', '7', 'x'.repeat(70_000)].map((v) => {
      const r = parseOverride(OP, KEY, v);
      return r.ok ? 'ok' : r.reason;
    });
    expect(reasons[0]).toMatch(/empty/);
    expect(reasons[1]).toMatch(/not JSON/);
    expect(reasons[2]).toMatch(/expected object/i);
    expect(reasons[3]).toMatch(/expected object/i);
    expect(reasons[4]).toMatch(/bytes, more than/);
  });

  it('encodes only valid values', () => {
    expect(JSON.parse(encodeOverrideValue({ ...ok, weight: 3 }))).toEqual({ ...ok, weight: 3 });
    expect(() => encodeOverrideValue({ ...ok })).toThrow(/invalid override: .*needs a weight/);
  });
});
