import fc from 'fast-check';
import {
  planZones,
  ZonePlanInputError,
  type ZoneInput,
  type ZonePlan,
} from '../../../../lb-server/assignment/zone-shares';

const OPTIONS = { overprovisioning: 1.4, minEndpoints: 6 };
const EPS = 1e-9;

function zone(name: string, clients: number, capacity: number, endpoints = capacity > 0 ? 3 : 0): ZoneInput {
  return { zone: name, clients, capacity, endpoints };
}

function shareOf(plan: ZonePlan, from: string): Record<string, number> {
  return Object.fromEntries(plan.shares.get(from) ?? []);
}

/** Σ over client zones of d_z × share(z → w): the load each endpoint zone receives. */
function received(plan: ZonePlan, zones: readonly ZoneInput[]): Map<string, number> {
  const totalClients = zones.reduce((s, z) => s + z.clients, 0);
  const out = new Map<string, number>();
  for (const z of zones) {
    for (const [w, f] of plan.shares.get(z.zone) ?? []) {
      out.set(w, (out.get(w) ?? 0) + (z.clients / totalClients) * f);
    }
  }
  return out;
}

/** Up to 5 zones (one of them possibly zoneless), each with random demand and capacity. */
const zonesArb: fc.Arbitrary<ZoneInput[]> = fc
  .uniqueArray(fc.constantFrom('', 'a', 'b', 'c', 'd', 'e'), { minLength: 1, maxLength: 5 })
  .chain((names) =>
    fc.tuple(
      ...names.map((name) =>
        fc.record({
          zone: fc.constant(name),
          clients: fc.integer({ min: 0, max: 1000 }),
          endpoints: fc.integer({ min: 0, max: 20 }),
          weightEach: fc.integer({ min: 0, max: 100 }),
        }),
      ),
    ),
  )
  .map((zs) =>
    zs.map((z) => ({
      zone: z.zone,
      clients: z.clients,
      endpoints: z.endpoints,
      capacity: z.endpoints * z.weightEach,
    })),
  );

describe('planZones', () => {
  test('70/30 clients over 50/50 capacity: the smaller zone stays local, the larger keeps 50/70 local and spills 20/70', () => {
    const plan = planZones([zone('a', 70, 300), zone('b', 30, 300)], OPTIONS);
    expect(plan.mode).toBe('zone-aware');
    expect(plan.zoneModes.get('a')).toBe('spill');
    expect(plan.zoneModes.get('b')).toBe('local');
    expect(shareOf(plan, 'b')).toEqual({ b: 1 });
    expect(shareOf(plan, 'a').a).toBeCloseTo(50 / 70, 12);
    expect(shareOf(plan, 'a').b).toBeCloseTo(20 / 70, 12);
    // Each zone receives exactly its capacity share, half the calls.
    const load = received(plan, [zone('a', 70, 300), zone('b', 30, 300)]);
    expect(load.get('a')).toBeCloseTo(0.5, 12);
    expect(load.get('b')).toBeCloseTo(0.5, 12);
  });

  test('the excess of a zone goes to the zones with spare capacity in proportion to their spare', () => {
    // d = 0.6 / 0.2 / 0.2, c = 0.5 / 0.2 / 0.3: a spills 0.1 of the calls, all to c (b has none spare).
    const plan = planZones([zone('a', 60, 50), zone('b', 20, 20), zone('c', 20, 30)], OPTIONS);
    expect(plan.zoneModes.get('a')).toBe('spill');
    expect(shareOf(plan, 'a').a).toBeCloseTo(5 / 6, 12);
    expect(shareOf(plan, 'a').c).toBeCloseTo(1 / 6, 12);
    expect(shareOf(plan, 'a').b).toBeUndefined();
    expect(shareOf(plan, 'b')).toEqual({ b: 1 });
    expect(shareOf(plan, 'c')).toEqual({ c: 1 });
  });

  test('a zone whose capacity share falls below its demand share / 1.4 spreads over all zones by capacity; the others share what is left', () => {
    // a: d = 0.5, c = 0.1 < 0.5 / 1.4 — most of its endpoints are gone.
    const zones = [zone('a', 50, 10), zone('b', 50, 90)];
    const plan = planZones(zones, OPTIONS);
    expect(plan.zoneModes.get('a')).toBe('spread-all');
    expect(shareOf(plan, 'a').a).toBeCloseTo(0.1, 12);
    expect(shareOf(plan, 'a').b).toBeCloseTo(0.9, 12);
    // a's calls take half of b's capacity (0.45 of 0.9): b keeps 0.9 of its own calls local and
    // sends 0.1 to what is left of a, so that neither zone gets more than its capacity share.
    expect(plan.zoneModes.get('b')).toBe('spill');
    expect(shareOf(plan, 'b').b).toBeCloseTo(0.9, 12);
    expect(shareOf(plan, 'b').a).toBeCloseTo(0.1, 12);
    const load = received(plan, zones);
    expect(load.get('a')).toBeCloseTo(0.1, 12);
    expect(load.get('b')).toBeCloseTo(0.9, 12);
  });

  test('a zone with clients and no endpoints spills everything to the zones with spare capacity', () => {
    const plan = planZones([zone('a', 40, 50), zone('b', 40, 50), zone('c', 20, 0)], OPTIONS);
    expect(plan.zoneModes.get('c')).toBe('spill');
    expect(shareOf(plan, 'c').c).toBeUndefined();
    expect(shareOf(plan, 'c').a).toBeCloseTo(0.5, 12);
    expect(shareOf(plan, 'c').b).toBeCloseTo(0.5, 12);
    expect(shareOf(plan, 'a')).toEqual({ a: 1 });
  });

  test('zoneless clients spread over every zone by capacity; zoneless endpoints take spill as spare capacity', () => {
    // d = 0.55 / 0.25 / 0.2 (zoneless), c = 0.4 / 0.4 / 0.2 (zoneless).
    const zones = [zone('a', 55, 40), zone('b', 25, 40), zone('', 20, 20)];
    const plan = planZones(zones, OPTIONS);
    expect(plan.mode).toBe('zone-aware');
    expect(plan.zoneModes.get('')).toBe('spread-all');
    const spread = shareOf(plan, '');
    expect(Object.keys(spread).sort()).toEqual(['', 'a', 'b']);
    expect(spread['']).toBeCloseTo(0.2, 12);
    expect(spread.a).toBeCloseTo(0.4, 12);
    // The rest of the capacity (0.8 of each zone) serves the zoned clients: a keeps 0.32 of 0.55.
    expect(shareOf(plan, 'a').a).toBeCloseTo(0.32 / 0.55, 12);
    expect(plan.zoneModes.get('a')).toBe('spill');
    expect(Object.keys(shareOf(plan, 'a')).sort()).toEqual(['', 'a', 'b']);
    const load = received(plan, zones);
    for (const [w, c] of [
      ['a', 0.4],
      ['b', 0.4],
      ['', 0.2],
    ] as const)
      expect(load.get(w)).toBeCloseTo(c, 12);
  });

  test('off with fewer than minEndpoints endpoints in total: every zone spreads by capacity', () => {
    const plan = planZones([zone('a', 70, 30, 3), zone('b', 30, 10, 2)], OPTIONS);
    expect(plan.mode).toBe('off-too-small');
    for (const z of ['a', 'b']) {
      expect(plan.zoneModes.get(z)).toBe('spread-all');
      expect(shareOf(plan, z)).toEqual({ a: 0.75, b: 0.25 });
    }
    expect(
      planZones([zone('a', 70, 30, 3), zone('b', 30, 10, 2)], { ...OPTIONS, minEndpoints: 5 }).mode,
    ).toBe('zone-aware');
  });

  test('off when no client or no endpoint carries a zone', () => {
    expect(planZones([zone('', 10, 100, 10)], OPTIONS).mode).toBe('off-no-zones');
    // Clients in zones, every endpoint zoneless.
    const plan = planZones([zone('a', 10, 0), zone('b', 10, 0), zone('', 0, 100, 10)], OPTIONS);
    expect(plan.mode).toBe('off-no-zones');
    expect(shareOf(plan, 'a')).toEqual({ '': 1 });
    // Endpoints in zones, every client zoneless.
    expect(planZones([zone('a', 0, 50), zone('b', 0, 50), zone('', 10, 0)], OPTIONS).mode).toBe(
      'off-no-zones',
    );
  });

  test('off when no endpoint has capacity: spread by endpoint count; with no endpoint at all, empty shares', () => {
    const plan = planZones([zone('a', 10, 0, 6), zone('b', 10, 0, 2)], OPTIONS);
    expect(plan.mode).toBe('off-no-capacity');
    expect(shareOf(plan, 'a')).toEqual({ a: 0.75, b: 0.25 });
    const none = planZones([zone('a', 10, 0, 0)], { ...OPTIONS, minEndpoints: 0 });
    expect(none.mode).toBe('off-no-zones');
    expect(shareOf(none, 'a')).toEqual({});
  });

  test('a zone with no clients is local when it has capacity, else sent by spare capacity (as a first client would be)', () => {
    const plan = planZones([zone('a', 10, 80), zone('b', 0, 20), zone('c', 0, 0)], OPTIONS);
    expect(plan.mode).toBe('zone-aware');
    expect(shareOf(plan, 'b')).toEqual({ b: 1 });
    expect(plan.zoneModes.get('c')).toBe('spill');
    expect(shareOf(plan, 'c')).toEqual({ b: 1 });
    expect(planZones([zone('a', 0, 10), zone('b', 0, 90)], OPTIONS).mode).toBe('off-no-zones');
  });

  test('is deterministic: input order does not matter, a zone named twice is summed', () => {
    const zones = [zone('b', 30, 300), zone('a', 40, 100), zone('a', 30, 200)];
    const plan = planZones(zones, OPTIONS);
    const again = planZones([zone('a', 70, 300), zone('b', 30, 300)], OPTIONS);
    expect([...plan.shares].map(([z, m]) => [z, [...m]])).toEqual(
      [...again.shares].map(([z, m]) => [z, [...m]]),
    );
    expect([...plan.zoneModes]).toEqual([...again.zoneModes]);
  });

  test.each([
    { field: 'zone "a" clients', zones: [zone('a', -1, 10)], options: OPTIONS },
    { field: 'zone "a" capacity', zones: [zone('a', 1, Number.NaN)], options: OPTIONS },
    { field: 'zone "a" endpoints', zones: [zone('a', 1, 10, Number.POSITIVE_INFINITY)], options: OPTIONS },
    {
      field: 'overprovisioning',
      zones: [zone('a', 1, 10)],
      options: { overprovisioning: 0.9, minEndpoints: 6 },
    },
    {
      field: 'minEndpoints',
      zones: [zone('a', 1, 10)],
      options: { overprovisioning: 1.4, minEndpoints: -1 },
    },
  ])('bad input is a ZonePlanInputError naming $field', ({ field, zones, options }) => {
    expect(() => planZones(zones, options)).toThrow(ZonePlanInputError);
    expect(() => planZones(zones, options)).toThrow(`zone plan: ${field} must be`);
  });

  test('property: shares are non-negative and sum to 1 for every zone, and no endpoint zone receives more than its capacity share', () => {
    fc.assert(
      fc.property(zonesArb, (zones) => {
        const plan = planZones(zones, OPTIONS);
        const totalEndpoints = zones.reduce((s, z) => s + z.endpoints, 0);
        const totalCapacity = zones.reduce((s, z) => s + z.capacity, 0);
        const totalClients = zones.reduce((s, z) => s + z.clients, 0);
        expect([...plan.shares.keys()]).toEqual([...plan.zoneModes.keys()]);
        expect([...plan.shares.keys()].sort()).toEqual(zones.map((z) => z.zone).sort());
        for (const share of plan.shares.values()) {
          let sum = 0;
          for (const f of share.values()) {
            expect(f).toBeGreaterThan(0);
            sum += f;
          }
          if (totalEndpoints > 0) expect(sum).toBeCloseTo(1, 9);
          else expect(share.size).toBe(0);
        }
        if (plan.mode === 'zone-aware' && totalClients > 0) {
          // Conservation: Σ_z d_z × share(z → w) is what w receives; never above its capacity share.
          for (const [w, load] of received(plan, zones)) {
            const c = (zones.find((z) => z.zone === w)?.capacity ?? 0) / totalCapacity;
            expect(load).toBeLessThanOrEqual(c + EPS);
          }
        }
      }),
      { numRuns: 300 },
    );
  });

  test('property: a zone whose capacity share covers its demand share keeps every call local', () => {
    fc.assert(
      fc.property(zonesArb, (zones) => {
        const plan = planZones(zones, OPTIONS);
        fc.pre(plan.mode === 'zone-aware');
        const totalCapacity = zones.reduce((s, z) => s + z.capacity, 0);
        const totalClients = zones.reduce((s, z) => s + z.clients, 0);
        const spreadDemand = zones
          .filter((z) => plan.zoneModes.get(z.zone) === 'spread-all')
          .reduce((s, z) => s + z.clients / totalClients, 0);
        for (const z of zones) {
          if (z.zone === '' || z.capacity === 0) continue;
          const c = z.capacity / totalCapacity;
          const d = totalClients > 0 ? z.clients / totalClients : 0;
          if (c * (1 - spreadDemand) >= d && plan.zoneModes.get(z.zone) !== 'spread-all')
            expect(shareOf(plan, z.zone)).toEqual({ [z.zone]: 1 });
          if (c * 1.4 < d * (1 - 1e-6)) expect(plan.zoneModes.get(z.zone)).toBe('spread-all');
        }
      }),
      { numRuns: 300 },
    );
  });
});
