import fc from 'fast-check';
import {
  assignSubsets,
  fnv1a32,
  rendezvousSubsets,
  SubsetSizeError,
  type SubsetClient,
  type SubsetResult,
} from '../../../../lb-server/assignment/subset-core';

// Property runs: small fleets, bounded runs, so that the file stays well under 20 s.
const RUNS = 200;

interface Fleet {
  readonly clients: SubsetClient[];
  readonly endpoints: string[];
  readonly size: number;
}

/** Endpoint ids of varied shapes (so sorting is by string, not by number). */
const endpointId = (i: number): string =>
  i % 3 === 0 ? `10.0.0.${i}:80` : i % 3 === 1 ? `ep-${i}` : `Z${i}`;

/**
 * A random fleet: up to 24 endpoints, 40 clients, subset size 1..8 (sometimes above the endpoint
 * count); hints drawn from the endpoints, unknown ids and duplicates.
 */
const fleetArb: fc.Arbitrary<Fleet> = fc
  .record({
    m: fc.integer({ min: 0, max: 24 }),
    size: fc.integer({ min: 1, max: 8 }),
    hints: fc.array(fc.array(fc.nat({ max: 30 }), { maxLength: 10 }), { maxLength: 40 }),
  })
  .map(({ m, size, hints }) => ({
    endpoints: Array.from({ length: m }, (_, i) => endpointId(i)),
    size,
    clients: hints.map((h, c) => ({
      id: `client-${c}`,
      hint: h.map((i) => (i < m ? endpointId(i) : `unknown-${i}`)),
    })),
  }));

/** The same fleet with every client's hint its subset in `r` (what the LB writes back to etcd). */
function hintsFrom(r: SubsetResult): SubsetClient[] {
  return [...r.subsets].map(([id, subset]) => ({ id, hint: [...subset] }));
}

/** A stable fleet: random hints resolved once; its result is the state written back. */
function settled(f: Fleet): { hints: SubsetClient[]; result: SubsetResult } {
  const result = assignSubsets(f.clients, f.endpoints, f.size);
  return { hints: hintsFrom(result), result };
}

/** Deterministic Fisher–Yates from a seed (an LCG), for "the same inputs in another order". */
function shuffled<T>(items: readonly T[], seed: number): T[] {
  const out = [...items];
  let s = seed >>> 0;
  for (let i = out.length - 1; i > 0; i--) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    const j = (s >>> 8) % (i + 1);
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

function asPlain(r: SubsetResult): { subsets: [string, readonly string[]][]; counts: [string, number][] } {
  return { subsets: [...r.subsets], counts: [...r.clientsPerEndpoint] };
}

/** Asserts every promise on the shape of a result; returns max − min clients per endpoint. */
function expectValid(r: SubsetResult, f: Fleet): number {
  const endpoints = [...new Set(f.endpoints)].sort();
  const k = Math.min(f.size, endpoints.length);
  expect([...r.subsets.keys()]).toEqual([...new Set(f.clients.map((c) => c.id))].sort());
  expect([...r.clientsPerEndpoint.keys()]).toEqual(endpoints);
  const known = new Set(endpoints);
  const counts = new Map(endpoints.map((e) => [e, 0]));
  for (const subset of r.subsets.values()) {
    expect(subset).toHaveLength(k);
    expect(new Set(subset).size).toBe(k);
    expect([...subset].sort()).toEqual(subset);
    for (const e of subset) {
      expect(known.has(e)).toBe(true);
      counts.set(e, (counts.get(e) ?? 0) + 1);
    }
  }
  expect([...r.clientsPerEndpoint]).toEqual([...counts]);
  const loads = [...counts.values()];
  return loads.length === 0 ? 0 : Math.max(...loads) - Math.min(...loads);
}

/** Per client of `before`: entries of its new subset that were not in its old one. */
function replacements(before: SubsetClient[], after: SubsetResult): Map<string, number> {
  const out = new Map<string, number>();
  for (const c of before) {
    const now = after.subsets.get(c.id);
    if (now === undefined) continue;
    const old = new Set(c.hint);
    out.set(c.id, now.filter((e) => !old.has(e)).length);
  }
  return out;
}

describe('assignSubsets', () => {
  test('every subset holds k = min(size, endpoints) distinct known endpoints, sorted, and clients per endpoint differ by at most 1', () => {
    fc.assert(
      fc.property(fleetArb, (f) => {
        const r = assignSubsets(f.clients, f.endpoints, f.size);
        expect(expectValid(r, f)).toBeLessThanOrEqual(1);
        // `changed`: exactly the clients whose subset is not their hint as a set.
        const hintOf = new Map<string, string[]>();
        for (const c of f.clients) hintOf.set(c.id, [...(hintOf.get(c.id) ?? []), ...c.hint]);
        const differs = [...r.subsets]
          .filter(([id, subset]) => {
            const hint = new Set(hintOf.get(id));
            return hint.size !== subset.length || subset.some((e) => !hint.has(e));
          })
          .map(([id]) => id);
        expect([...r.changed]).toEqual(differs);
      }),
      { numRuns: RUNS },
    );
  });

  test('the same clients, endpoints and hints in any order give the identical result', () => {
    fc.assert(
      fc.property(fleetArb, fc.integer(), (f, seed) => {
        const a = assignSubsets(f.clients, f.endpoints, f.size);
        const reordered = shuffled(f.clients, seed).map((c, i) => ({
          id: c.id,
          hint: shuffled(c.hint, seed + i),
        }));
        // Duplicate endpoint ids count once.
        const endpoints = shuffled([...f.endpoints, ...f.endpoints.slice(0, 2)], seed ^ 0x5bd1e995);
        const b = assignSubsets(reordered, endpoints, f.size);
        expect(asPlain(b)).toEqual(asPlain(a));
        expect([...b.changed]).toEqual([...a.changed]);
      }),
      { numRuns: RUNS },
    );
  });

  test('fed its own result as hints, it returns the same result (a fixed point)', () => {
    fc.assert(
      fc.property(fleetArb, (f) => {
        const { hints, result } = settled(f);
        const again = assignSubsets(hints, f.endpoints, f.size);
        expect(asPlain(again)).toEqual(asPlain(result));
        expect(again.changed.size).toBe(0);
      }),
      { numRuns: RUNS },
    );
  });

  test('an endpoint leaving changes its clients by exactly one replacement each; others move only when balance needs it, by one each, never more than the leaving endpoint had', () => {
    let removals = 0;
    let withExtra = 0;
    fc.assert(
      fc.property(fleetArb, fc.nat(), (f, pick) => {
        fc.pre(f.endpoints.length > f.size);
        const { hints, result } = settled(f);
        const gone = f.endpoints[pick % f.endpoints.length];
        const had = result.clientsPerEndpoint.get(gone) ?? 0;
        const endpoints = f.endpoints.filter((e) => e !== gone);
        const after = assignSubsets(hints, endpoints, f.size);
        expect(expectValid(after, { ...f, endpoints })).toBeLessThanOrEqual(1);
        let extra = 0;
        for (const c of hints) {
          const now = after.subsets.get(c.id) ?? [];
          const lost = c.hint.filter((e) => !now.includes(e));
          const gained = now.filter((e) => !c.hint.includes(e));
          if (c.hint.includes(gone)) {
            expect(lost).toContain(gone);
            expect(lost).toHaveLength(1);
            expect(gained).toHaveLength(1);
          } else if (gained.length > 0) {
            extra++;
            expect(lost).toHaveLength(1);
            expect(gained).toHaveLength(1);
          }
        }
        expect(extra).toBeLessThanOrEqual(had);
        removals++;
        if (extra > 0) withExtra++;
      }),
      { numRuns: RUNS },
    );
    // Extra moves are the exception (small, dense fleets where the leaving endpoint's clients
    // already hold the endpoints that must grow); in these runs they were a few percent.
    expect(withExtra).toBeLessThan(removals * 0.25);
  });

  test('an endpoint leaving a subset size ≥ endpoints takes it out of every subset and replaces nothing', () => {
    const endpoints = ['a', 'b', 'c', 'd'];
    const { hints } = settled({
      clients: [
        { id: 'x', hint: [] },
        { id: 'y', hint: [] },
      ],
      endpoints,
      size: 4,
    });
    const after = assignSubsets(hints, ['a', 'b', 'd'], 4);
    expect([...after.subsets.values()]).toEqual([
      ['a', 'b', 'd'],
      ['a', 'b', 'd'],
    ]);
  });

  test('in a large fleet an endpoint leaving changes only its own clients', () => {
    const endpoints = Array.from({ length: 200 }, (_, i) => endpointId(i));
    const clients = Array.from({ length: 2000 }, (_, i) => ({ id: `c${i}`, hint: [] }));
    const { hints, result } = settled({ clients, endpoints, size: 10 });
    for (const gone of [endpoints[0], endpoints[77], endpoints[199]]) {
      const after = assignSubsets(
        hints,
        endpoints.filter((e) => e !== gone),
        10,
      );
      const changed = [...replacements(hints, after)].filter(([, n]) => n > 0);
      expect(changed.length).toBe(result.clientsPerEndpoint.get(gone));
      for (const [id, n] of changed) {
        expect(n).toBe(1);
        expect(hints.find((c) => c.id === id)?.hint).toContain(gone);
      }
    }
  });

  test("an endpoint joining changes exactly the clients that get it (the new endpoint's share), each by one replacement", () => {
    fc.assert(
      fc.property(fleetArb, (f) => {
        const { hints } = settled(f);
        const endpoints = [...f.endpoints, 'joined'];
        const after = assignSubsets(hints, endpoints, f.size);
        expect(expectValid(after, { ...f, endpoints })).toBeLessThanOrEqual(1);
        const changed = [...replacements(hints, after)].filter(([, n]) => n > 0);
        expect(changed.length).toBe(after.clientsPerEndpoint.get('joined'));
        for (const [id, n] of changed) {
          expect(n).toBe(1);
          expect(after.subsets.get(id)).toContain('joined');
        }
      }),
      { numRuns: RUNS },
    );
  });

  test('a client joining changes no other client', () => {
    fc.assert(
      fc.property(fleetArb, (f) => {
        const { hints } = settled(f);
        const after = assignSubsets([...hints, { id: 'joined', hint: [] }], f.endpoints, f.size);
        expect(
          expectValid(after, { ...f, clients: [...hints, { id: 'joined', hint: [] }] }),
        ).toBeLessThanOrEqual(1);
        expect([...replacements(hints, after).values()].filter((n) => n > 0)).toEqual([]);
      }),
      { numRuns: RUNS },
    );
  });

  // Not "each by one": two clients left sharing three endpoints, with three free ones, cannot
  // both change by one. The k slots the client frees bound the entries that move.
  test('a client leaving replaces at most k entries of other clients in all', () => {
    fc.assert(
      fc.property(fleetArb, fc.nat(), (f, pick) => {
        fc.pre(f.clients.length > 0);
        const { hints } = settled(f);
        const gone = hints[pick % hints.length].id;
        const rest = hints.filter((c) => c.id !== gone);
        const after = assignSubsets(rest, f.endpoints, f.size);
        expect(expectValid(after, { ...f, clients: rest })).toBeLessThanOrEqual(1);
        const entries = [...replacements(rest, after).values()].reduce((a, b) => a + b, 0);
        expect(entries).toBeLessThanOrEqual(Math.min(f.size, f.endpoints.length));
      }),
      { numRuns: RUNS },
    );
  });

  type Step =
    | {
        readonly op: 'add-endpoint' | 'remove-endpoint' | 'add-client' | 'remove-client';
        readonly at: number;
      }
    | { readonly op: 'resize'; readonly size: number };
  const stepArb: fc.Arbitrary<Step> = fc.oneof(
    fc.record({
      op: fc.constantFrom(
        'add-endpoint' as const,
        'remove-endpoint' as const,
        'add-client' as const,
        'remove-client' as const,
      ),
      at: fc.nat(),
    }),
    fc.record({ op: fc.constant('resize' as const), size: fc.integer({ min: 1, max: 8 }) }),
  );

  test('along churn sequences (hints = the previous result) every step is valid, balanced and a fixed point', () => {
    fc.assert(
      fc.property(fleetArb, fc.array(stepArb, { minLength: 1, maxLength: 12 }), (f, steps) => {
        let { hints } = settled(f);
        let endpoints = [...f.endpoints];
        let size = f.size;
        let serial = 0;
        for (const step of steps) {
          if (step.op === 'add-endpoint') endpoints.push(`new-ep-${serial++}`);
          else if (step.op === 'remove-endpoint' && endpoints.length > 0)
            endpoints = endpoints.filter((_, i) => i !== step.at % endpoints.length);
          else if (step.op === 'add-client') hints = [...hints, { id: `new-client-${serial++}`, hint: [] }];
          else if (step.op === 'remove-client' && hints.length > 0)
            hints = hints.filter((_, i) => i !== step.at % hints.length);
          else if (step.op === 'resize') size = step.size;
          const r = assignSubsets(hints, endpoints, size);
          expect(expectValid(r, { clients: hints, endpoints, size })).toBeLessThanOrEqual(1);
          hints = hintsFrom(r);
          expect(asPlain(assignSubsets(hints, endpoints, size))).toEqual(asPlain(r));
        }
      }),
      { numRuns: 100 },
    );
  });

  test('1 % client churn (leavers and joiners at once) in a 2,000 × 100 × 10 fleet moves no remaining client', () => {
    const endpoints = Array.from({ length: 100 }, (_, i) => endpointId(i));
    const clients = Array.from({ length: 2000 }, (_, i) => ({ id: `c${i}`, hint: [] }));
    const { hints } = settled({ clients, endpoints, size: 10 });
    // Every 100th client leaves, 20 new ones arrive.
    const rest = hints.filter((_, i) => i % 100 !== 0);
    const joined = Array.from({ length: 20 }, (_, i) => ({ id: `joined-${i}`, hint: [] }));
    const after = assignSubsets([...rest, ...joined], endpoints, 10);
    expect(expectValid(after, { clients: [...rest, ...joined], endpoints, size: 10 })).toBeLessThanOrEqual(1);
    expect([...replacements(rest, after).values()].filter((n) => n > 0)).toEqual([]);
  });

  test('hints are sets: unknown ids and duplicates are ignored, a surplus (the size shrank) keeps a deterministic k', () => {
    const endpoints = ['a', 'b', 'c', 'd'];
    const r = assignSubsets([{ id: 'x', hint: ['b', 'b', 'gone', 'c'] }], endpoints, 2);
    expect(r.subsets.get('x')).toEqual(['b', 'c']);
    const shrunk = assignSubsets([{ id: 'x', hint: ['a', 'b', 'c', 'd'] }], endpoints, 2);
    const again = assignSubsets([{ id: 'x', hint: ['d', 'c', 'b', 'a'] }], endpoints, 2);
    expect(shrunk.subsets.get('x')).toHaveLength(2);
    expect(again.subsets.get('x')).toEqual(shrunk.subsets.get('x'));
  });

  test('a client id given twice is one client whose hint is the union of both', () => {
    const endpoints = ['a', 'b', 'c', 'd', 'e', 'f'];
    const r = assignSubsets(
      [
        { id: 'x', hint: ['a'] },
        { id: 'y', hint: [] },
        { id: 'x', hint: ['b'] },
      ],
      endpoints,
      2,
    );
    expect([...r.subsets.keys()]).toEqual(['x', 'y']);
    expect(r.subsets.get('x')).toEqual(['a', 'b']);
  });

  test('edge fleets: no endpoints gives empty subsets, no clients zero counts, a size ≥ endpoints every endpoint', () => {
    expect(asPlain(assignSubsets([{ id: 'x', hint: ['a'] }], [], 3))).toEqual({
      subsets: [['x', []]],
      counts: [],
    });
    expect(asPlain(assignSubsets([], ['b', 'a'], 3))).toEqual({
      subsets: [],
      counts: [
        ['a', 0],
        ['b', 0],
      ],
    });
    const all = assignSubsets(
      [
        { id: 'x', hint: [] },
        { id: 'y', hint: [] },
      ],
      ['b', 'a'],
      5,
    );
    expect([...all.subsets.values()]).toEqual([
      ['a', 'b'],
      ['a', 'b'],
    ]);
  });

  test.each([0, -1, 2.5, Number.NaN, Number.POSITIVE_INFINITY])(
    'a subset size of %p is rejected with a SubsetSizeError naming it',
    (size) => {
      expect(() => assignSubsets([], ['a'], size)).toThrow(SubsetSizeError);
      expect(() => assignSubsets([], ['a'], size)).toThrow(
        `subset size must be a positive integer, got ${size}`,
      );
      expect(() => rendezvousSubsets([], ['a'], size)).toThrow(SubsetSizeError);
    },
  );

  test('the string hash is FNV-1a 32 (the published test vectors)', () => {
    expect(fnv1a32('')).toBe(0x811c9dc5);
    expect(fnv1a32('a')).toBe(0xe40c292c);
    expect(fnv1a32('foobar')).toBe(0xbf9cf968);
  });
});

describe('rendezvousSubsets (the A68 baseline)', () => {
  test('every subset holds k distinct known endpoints, whatever the input order', () => {
    fc.assert(
      fc.property(fleetArb, fc.integer(), (f, seed) => {
        const r = rendezvousSubsets(f.clients, f.endpoints, f.size);
        expectValid(r, f);
        expect(
          asPlain(rendezvousSubsets(shuffled(f.clients, seed), shuffled(f.endpoints, ~seed), f.size)),
        ).toEqual(asPlain(r));
      }),
      { numRuns: RUNS },
    );
  });

  test('is stateless: an endpoint leaving replaces one entry of its clients only, a client changes nobody else', () => {
    fc.assert(
      fc.property(fleetArb, fc.nat(), (f, pick) => {
        fc.pre(f.endpoints.length > f.size && f.clients.length > 1);
        const before = hintsFrom(rendezvousSubsets(f.clients, f.endpoints, f.size));
        const gone = f.endpoints[pick % f.endpoints.length];
        const after = rendezvousSubsets(
          before,
          f.endpoints.filter((e) => e !== gone),
          f.size,
        );
        for (const c of before)
          expect(replacements([c], after).get(c.id)).toBe(c.hint.includes(gone) ? 1 : 0);
        const fewer = rendezvousSubsets(before.slice(1), f.endpoints, f.size);
        expect([...replacements(before.slice(1), fewer).values()].every((n) => n === 0)).toBe(true);
      }),
      { numRuns: RUNS },
    );
  });

  test('spreads clients unevenly where ours is balanced (2,000 clients × 100 endpoints × 10)', () => {
    const endpoints = Array.from({ length: 100 }, (_, i) => endpointId(i));
    const clients = Array.from({ length: 2000 }, (_, i) => ({ id: `c${i}`, hint: [] }));
    const spread = (r: SubsetResult): number =>
      Math.max(...r.clientsPerEndpoint.values()) - Math.min(...r.clientsPerEndpoint.values());
    expect(spread(assignSubsets(clients, endpoints, 10))).toBeLessThanOrEqual(1);
    // Binomial(2000, 0.1) per endpoint: a standard deviation of about 13 clients.
    expect(spread(rendezvousSubsets(clients, endpoints, 10))).toBeGreaterThan(20);
  });
});
