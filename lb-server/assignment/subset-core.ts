// TEMPORARY stand-in (integrator's): replaced by the subset branch's implementation at merge.
export interface SubsetClient {
  readonly id: string;
  readonly hint: readonly string[];
}
export interface SubsetResult {
  readonly subsets: ReadonlyMap<string, readonly string[]>;
  readonly clientsPerEndpoint: ReadonlyMap<string, number>;
}
export function assignSubsets(
  clients: readonly SubsetClient[],
  endpoints: readonly string[],
  subsetSize: number,
): SubsetResult {
  const ids = [...new Set(endpoints)].sort();
  const k = Math.min(subsetSize, ids.length);
  const load = new Map(ids.map((id) => [id, 0]));
  const subsets = new Map<string, readonly string[]>();
  const sorted = [...clients].sort((a, b) => (a.id < b.id ? -1 : 1));
  const cap = Math.ceil((sorted.length * k) / Math.max(1, ids.length));
  const kept = new Map<string, string[]>();
  for (const c of sorted) {
    const mine: string[] = [];
    for (const id of c.hint) {
      if (mine.length < k && load.has(id) && !mine.includes(id) && (load.get(id) ?? 0) < cap) {
        mine.push(id);
        load.set(id, (load.get(id) ?? 0) + 1);
      }
    }
    kept.set(c.id, mine);
  }
  for (const c of sorted) {
    const mine = kept.get(c.id) ?? [];
    while (mine.length < k) {
      const next = ids
        .filter((id) => !mine.includes(id))
        .sort((a, b) => (load.get(a) ?? 0) - (load.get(b) ?? 0) || (a < b ? -1 : 1))[0];
      mine.push(next);
      load.set(next, (load.get(next) ?? 0) + 1);
    }
    subsets.set(c.id, [...mine].sort());
  }
  return { subsets, clientsPerEndpoint: load };
}
