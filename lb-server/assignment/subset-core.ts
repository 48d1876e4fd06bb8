/**
 * Deterministic subsetting (issue 15): which `k` endpoints of a service each client is sent, as a
 * pure function of etcd state. The inputs are the service's endpoints, its client population and,
 * per client, the subset it was given last time (its "hint", stored with the client in etcd).
 *
 * Why hints: a function of (clients, endpoints) alone cannot be both balanced (max − min ≤ 1
 * clients per endpoint) and stable (an endpoint leaving changes only the clients that had it).
 * With the previous subsets among the inputs, every LB replica computes the same result from the
 * same etcd state, and the result is a fixed point: fed its own output as hints it returns the
 * same output, so once written back nothing moves until the fleet does.
 *
 * No I/O, no clock, no randomness; the assignment stage calls {@link assignSubsets} once per
 * service recomputation. {@link rendezvousSubsets} is gRFC A68's stateless random subsetting, the
 * baseline of `bench/subsetting.bench.ts`.
 */

/** One client of a service as the population in etcd knows it. */
export interface SubsetClient {
  readonly id: string;
  /** Previous subset (endpoint ids); may be empty, stale, or hold unknown ids or duplicates. */
  readonly hint: readonly string[];
}

/** What {@link assignSubsets} and {@link rendezvousSubsets} return. */
export interface SubsetResult {
  /**
   * Client id → its subset: exactly min(subsetSize, endpoints) distinct endpoint ids, sorted
   * (JavaScript string order). Keys in sorted client-id order; duplicate client ids appear once.
   */
  readonly subsets: ReadonlyMap<string, readonly string[]>;
  /** Endpoint id → number of clients assigned it; every (distinct) endpoint, in sorted-id order. */
  readonly clientsPerEndpoint: ReadonlyMap<string, number>;
  /**
   * The clients whose subset is not exactly their hint taken as a set (order and duplicates
   * aside): the records to write back. Empty at a fixed point. Sorted-id order.
   */
  readonly changed: ReadonlySet<string>;
}

/** A subset size that is not a positive integer. */
export class SubsetSizeError extends RangeError {
  constructor(readonly subsetSize: number) {
    super(`subset size must be a positive integer, got ${String(subsetSize)}`);
    this.name = 'SubsetSizeError';
  }
}

/** FNV-1a, 32 bits, over the UTF-16 code units of `s`. The one string hash of this module. */
export function fnv1a32(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/**
 * The tie-break hash of a (client, endpoint) pair from their FNV-1a hashes: MurmurHash3's 32-bit
 * finaliser over clientHash XOR (endpointHash × 0x9e3779b1). Unsigned 32 bits.
 */
export function pairHash(clientHash: number, endpointHash: number): number {
  let h = (clientHash ^ Math.imul(endpointHash, 0x9e3779b1)) >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Min and max of endpoint loads over endpoint indices, with "first index ≥ from" searches. */
class LoadTree {
  private readonly size: number;
  private readonly mn: Int32Array;
  private readonly mx: Int32Array;

  constructor(loads: Int32Array) {
    let size = 1;
    while (size < loads.length) size <<= 1;
    this.size = size;
    this.mn = new Int32Array(2 * size).fill(0x7fffffff);
    this.mx = new Int32Array(2 * size).fill(-1);
    for (let i = 0; i < loads.length; i++) this.mn[size + i] = this.mx[size + i] = loads[i];
    for (let n = size - 1; n >= 1; n--) this.pull(n);
  }

  private pull(n: number): void {
    this.mn[n] = Math.min(this.mn[2 * n], this.mn[2 * n + 1]);
    this.mx[n] = Math.max(this.mx[2 * n], this.mx[2 * n + 1]);
  }

  set(i: number, load: number): void {
    let n = this.size + i;
    this.mn[n] = this.mx[n] = load;
    for (n >>= 1; n >= 1; n >>= 1) this.pull(n);
  }

  min(): number {
    return this.mn[1];
  }

  max(): number {
    return this.mx[1];
  }

  /** The first index ≥ from whose load is ≤ t, or -1. */
  firstAtMost(from: number, t: number): number {
    return this.findAtMost(1, 0, this.size, from, t);
  }

  /** The first index ≥ from whose load is ≥ t, or -1. */
  firstAtLeast(from: number, t: number): number {
    return this.findAtLeast(1, 0, this.size, from, t);
  }

  private findAtMost(n: number, lo: number, hi: number, from: number, t: number): number {
    if (hi <= from || this.mn[n] > t) return -1;
    if (hi - lo === 1) return lo;
    const mid = (lo + hi) >> 1;
    const left = this.findAtMost(2 * n, lo, mid, from, t);
    return left !== -1 ? left : this.findAtMost(2 * n + 1, mid, hi, from, t);
  }

  private findAtLeast(n: number, lo: number, hi: number, from: number, t: number): number {
    if (hi <= from || this.mx[n] < t) return -1;
    if (hi - lo === 1) return lo;
    const mid = (lo + hi) >> 1;
    const left = this.findAtLeast(2 * n, lo, mid, from, t);
    return left !== -1 ? left : this.findAtLeast(2 * n + 1, mid, hi, from, t);
  }
}

/** Sorted distinct ids; the index of an id in it is its number inside this module. */
function sortedDistinct(ids: Iterable<string>): string[] {
  return [...new Set(ids)].sort();
}

function validSubsetSize(subsetSize: number): void {
  if (!Number.isSafeInteger(subsetSize) || subsetSize < 1) throw new SubsetSizeError(subsetSize);
}

/** Client id → the union of its hints (a client id given twice is one client). */
/**
 * Both algorithms' inputs in their canonical form: the size checked, endpoints sorted and
 * distinct, clients merged by id (hints united) and sorted, k = min(subset size, endpoints).
 */
function normalized(
  clients: readonly SubsetClient[],
  endpoints: readonly string[],
  subsetSize: number,
): { endpointIds: string[]; merged: Map<string, string[]>; clientIds: string[]; M: number; k: number } {
  validSubsetSize(subsetSize);
  const endpointIds = sortedDistinct(endpoints);
  const merged = mergeClients(clients);
  const clientIds = [...merged.keys()].sort();
  const M = endpointIds.length;
  return { endpointIds, merged, clientIds, M, k: Math.min(subsetSize, M) };
}

function mergeClients(clients: readonly SubsetClient[]): Map<string, string[]> {
  const byId = new Map<string, string[]>();
  for (const c of clients) {
    const hint = byId.get(c.id);
    if (hint === undefined) byId.set(c.id, [...c.hint]);
    else hint.push(...c.hint);
  }
  return byId;
}

/** True when `hint`, as a set, is exactly `subset` (distinct ids). */
function sameAsHint(subset: readonly string[], hint: readonly string[]): boolean {
  if (hint.length < subset.length) return false;
  const ids = new Set(hint);
  if (ids.size !== subset.length) return false;
  for (const e of subset) if (!ids.has(e)) return false;
  return true;
}

function result(
  clientIds: readonly string[],
  hints: ReadonlyMap<string, readonly string[]>,
  endpointIds: readonly string[],
  slots: Int32Array,
  k: number,
  loads: Int32Array,
): SubsetResult {
  const subsets = new Map<string, readonly string[]>();
  const changed = new Set<string>();
  const own = new Int32Array(k);
  for (let c = 0; c < clientIds.length; c++) {
    for (let j = 0; j < k; j++) own[j] = slots[c * k + j];
    // Endpoint indices follow sorted-id order, so sorting indices sorts the ids.
    own.sort();
    const subset = Array.from(own, (e) => endpointIds[e]);
    subsets.set(clientIds[c], subset);
    if (!sameAsHint(subset, hints.get(clientIds[c]) ?? [])) changed.add(clientIds[c]);
  }
  const clientsPerEndpoint = new Map<string, number>();
  for (let e = 0; e < endpointIds.length; e++) clientsPerEndpoint.set(endpointIds[e], loads[e]);
  return { subsets, clientsPerEndpoint, changed };
}

/**
 * Deterministic subsets of `endpoints` for `clients`, `k` = min(subsetSize, distinct endpoints)
 * each. Pure: the same clients (with the same hints), endpoints and size, in any order, give the
 * same result on every LB replica. Throws {@link SubsetSizeError} when `subsetSize` is not a
 * positive integer. No endpoints: every client gets an empty subset.
 *
 * Clients and endpoints are sorted by id first (JavaScript string order); duplicate endpoint ids
 * count once; a client id given twice is one client whose hint is the union of both. Every hash
 * is {@link fnv1a32} of an id; `rank(c, e)` = {@link pairHash}(hash(c), hash(e)); a client's
 * "start" is hash(c) mod M, M the number of endpoints.
 *
 * A client is "changed" once its subset differs from what it keeps of its hint; moves of kept
 * slots prefer clients not changed yet, so that a change touches each client by one replacement.
 *
 * 1. Keep: from each client's hint, the ids that are still endpoints, each once; when more than
 *    k remain (the subset size shrank), the k of lowest rank(c, e).
 * 2. Cap: with T = clients × k slots, no endpoint keeps more than ceil(T / M) clients; overfull
 *    endpoints, in sorted-id order, drop their surplus: unchanged clients first, then highest
 *    rank(c, e), then higher client id.
 * 3. Fill: clients in sorted-id order, each empty slot gets the least-loaded endpoint the client
 *    does not hold yet; among equally loaded ones, the first in sorted-id order at or after the
 *    client's start, cyclically (so ties spread over the ring, rendezvous-style).
 * 4. Rebalance, while max − min > 1 clients per endpoint: one move takes one slot off a
 *    most-loaded endpoint and gives one to a least-loaded one, possibly through a chain of slots
 *    (each moves to the next endpoint of the chain, which its client lacks; the endpoints inside
 *    the chain keep their load). The chain is found breadth-first from the most-loaded endpoints
 *    (sorted-id order) in three layers, the first to reach a least-loaded endpoint wins:
 *    (a) slots filled in this computation only (no further client changes); (b) plus one kept
 *    slot of an unchanged client, from an endpoint reached in (a); (c) plus kept slots of changed
 *    clients. Within a layer: endpoints in the order reached, an endpoint's filled slots in client
 *    order and kept slots by descending rank(c, e) (then descending client id), and the endpoints
 *    a client lacks in sorted-id order. A direct move always exists (a most-loaded endpoint has
 *    more holders than a least-loaded one, so one of them lacks it), so (c) never fails. Every
 *    move lowers Σ max(0, load − ceil(T/M)) + max(0, floor(T/M) − load) by at least one, so the
 *    moves are bounded by its value after step 3 and the loop always ends balanced.
 *
 * Promises (property tests over random fleets and churn sequences):
 * - max − min ≤ 1 clients per endpoint for every input: a balanced assignment always exists when
 *   k ≤ M, and step 4 always reaches one; every subset has k distinct endpoints; a fixed point;
 * - a client joining changes no other client (it takes the k least-loaded endpoints);
 * - a client leaving replaces at most k entries of other clients in all (not always one per
 *   client: two clients sharing three endpoints, with three endpoints free, cannot both change by
 *   one);
 * - an endpoint joining changes exactly the clients that get it, each by one replacement;
 * - an endpoint leaving changes each of its clients by one replacement (none when k was M: the
 *   subset shrinks). Other clients move only when balance forces it: when the endpoints that
 *   must grow are already held by the leaving endpoint's clients (small, dense fleets, a few
 *   percent of random removals there); then each moves by one replacement and they are never more
 *   than the leaving endpoint's clients. Zero in large fleets (k ≪ M).
 * Cost: O(T log M) for the usual recomputation, plus O(M + moved slots × k) per rebalancing move.
 */
export function assignSubsets(
  clients: readonly SubsetClient[],
  endpoints: readonly string[],
  subsetSize: number,
): SubsetResult {
  const { endpointIds, merged, clientIds, M, k } = normalized(clients, endpoints, subsetSize);
  const N = clientIds.length;
  const loads = new Int32Array(M);
  const slots = new Int32Array(N * k).fill(-1);
  if (k === 0) return result(clientIds, merged, endpointIds, slots, 0, loads);

  const indexOf = new Map<string, number>();
  const eh = new Uint32Array(M);
  for (let e = 0; e < M; e++) {
    indexOf.set(endpointIds[e], e);
    eh[e] = fnv1a32(endpointIds[e]);
  }
  const ch = new Uint32Array(N);
  for (let c = 0; c < N; c++) ch[c] = fnv1a32(clientIds[c]);

  // Stamps mark the endpoints one client holds: held(e) ⇔ mark[e] === stamp.
  const mark = new Int32Array(M);
  let stamp = 0;
  const markClient = (c: number): void => {
    stamp++;
    for (let j = c * k; j < c * k + k; j++) if (slots[j] >= 0) mark[slots[j]] = stamp;
  };

  // 1. Keep. A client is "changed" once its subset differs from its hint's valid part.
  const changed = new Uint8Array(N);
  const kept: number[] = [];
  for (let c = 0; c < N; c++) {
    stamp++;
    kept.length = 0;
    for (const id of merged.get(clientIds[c]) ?? []) {
      const e = indexOf.get(id);
      if (e === undefined || mark[e] === stamp) continue;
      mark[e] = stamp;
      kept.push(e);
    }
    if (kept.length > k) {
      const hc = ch[c];
      kept.sort((a, b) => pairHash(hc, eh[a]) - pairHash(hc, eh[b]) || a - b);
    }
    if (kept.length !== k) changed[c] = 1;
    const n = Math.min(k, kept.length);
    for (let j = 0; j < n; j++) {
      slots[c * k + j] = kept[j];
      loads[kept[j]]++;
    }
  }

  // 2. Cap.
  const total = N * k;
  const cap = Math.ceil(total / M);
  let overfull = false;
  for (let e = 0; e < M && !overfull; e++) overfull = loads[e] > cap;
  if (overfull) {
    const holders = new Map<number, number[]>();
    for (let s = 0; s < total; s++) {
      const e = slots[s];
      if (e >= 0 && loads[e] > cap) {
        const list = holders.get(e);
        if (list === undefined) holders.set(e, [s]);
        else list.push(s);
      }
    }
    for (const e of [...holders.keys()].sort((a, b) => a - b)) {
      const list = holders.get(e) ?? [];
      const he = eh[e];
      const client = (s: number): number => (s / k) | 0;
      const rank = (s: number): number => pairHash(ch[client(s)], he);
      list.sort((a, b) => changed[client(a)] - changed[client(b)] || rank(b) - rank(a) || b - a);
      for (let i = 0; i < loads[e] - cap; i++) {
        slots[list[i]] = -1;
        changed[client(list[i])] = 1;
      }
      loads[e] = cap;
    }
  }

  // 3. Fill.
  const tree = new LoadTree(loads);
  const fresh = new Uint8Array(total);
  /** The least-loaded endpoint not marked, ties the first at or after `start` cyclically. */
  const leastLoadedUnheld = (start: number): number => {
    const top = tree.max();
    for (let t = tree.min(); t <= top; t++) {
      // Every endpoint below level t is held (else an earlier level returned it).
      for (let i = tree.firstAtMost(start, t); i !== -1; i = tree.firstAtMost(i + 1, t))
        if (mark[i] !== stamp) return i;
      for (let i = tree.firstAtMost(0, t); i !== -1 && i < start; i = tree.firstAtMost(i + 1, t))
        if (mark[i] !== stamp) return i;
    }
    return -1;
  };
  for (let c = 0; c < N; c++) {
    let marked = false;
    for (let s = c * k; s < c * k + k; s++) {
      if (slots[s] >= 0) continue;
      if (!marked) {
        markClient(c);
        marked = true;
      }
      const e = leastLoadedUnheld(ch[c] % M);
      // A client holds fewer than k ≤ M endpoints here, so one is always free.
      if (e < 0) throw new Error(`subset invariant: no endpoint left for client ${clientIds[c]}`);
      slots[s] = e;
      fresh[s] = 1;
      mark[e] = stamp;
      tree.set(e, ++loads[e]);
    }
  }

  // 4. Rebalance.
  if (tree.max() - tree.min() > 1) rebalance();
  return result(clientIds, merged, endpointIds, slots, k, loads);

  function rebalance(): void {
    /** Per endpoint, the slots holding it, ascending (so in client order). */
    const holders: number[][] = Array.from({ length: M }, () => []);
    const freshHolders = new Int32Array(M);
    /** The endpoints with a fresh holder (order unused: only asked whether one is most-loaded). */
    const withFresh = new Set<number>();
    /** Per endpoint, its holders that are unchanged clients (their slots are all kept). */
    const unchangedHolders = new Int32Array(M);
    for (let s = 0; s < total; s++) {
      holders[slots[s]].push(s);
      if (fresh[s] === 1) {
        freshHolders[slots[s]]++;
        withFresh.add(slots[s]);
      } else if (changed[(s / k) | 0] === 0) unchangedHolders[slots[s]]++;
    }
    const lo = Math.floor(total / M);
    let bound = 0;
    for (let e = 0; e < M; e++) bound += Math.max(0, loads[e] - cap) + Math.max(0, lo - loads[e]);
    const move = (s: number, h: number, l: number): void => {
      const from = holders[h];
      from.splice(from.indexOf(s), 1);
      const to = holders[l];
      let at = to.length;
      while (at > 0 && to[at - 1] > s) at--;
      to.splice(at, 0, s);
      if (fresh[s] === 1 && --freshHolders[h] === 0) withFresh.delete(h);
      fresh[s] = 1;
      freshHolders[l]++;
      withFresh.add(l);
      const c = (s / k) | 0;
      if (changed[c] === 0) for (let j = c * k; j < c * k + k; j++) unchangedHolders[slots[j]]--;
      changed[c] = 1;
      slots[s] = l;
      tree.set(h, --loads[h]);
      tree.set(l, ++loads[l]);
    };

    // Search state, reused across moves.
    const parentSlot = new Int32Array(M);
    const parentEndpoint = new Int32Array(M);
    const queue = new Int32Array(M);
    const next = new Int32Array(M);
    const prev = new Int32Array(M);
    const FRESH = 0;
    const KEPT_UNCHANGED = 1;
    const KEPT_CHANGED = 2;
    /**
     * One move: a chain of slots from a most-loaded endpoint to a least-loaded one, each slot
     * moving to the next endpoint of the chain (which its client lacks), so that only the ends
     * change load. Found breadth-first in three layers, the first that reaches a least-loaded
     * endpoint wins: (0) fresh slots only; (1) plus one kept slot of a client not changed yet,
     * taken from an endpoint reached in (0); (2) plus a kept slot of a changed client. A direct
     * move always exists (a most-loaded endpoint has more holders than a least-loaded one), so
     * layer 2 never fails.
     */
    /** `list` (slots on endpoint `e`) by descending rank(c, e), then descending slot. */
    const byRank = (list: number[], e: number): number[] => {
      const he = eh[e];
      const ranks = new Map<number, number>();
      for (const s of list) ranks.set(s, pairHash(ch[(s / k) | 0], he));
      return list.sort((x, y) => (ranks.get(y) ?? 0) - (ranks.get(x) ?? 0) || y - x);
    };
    /**
     * What the search below finds when no most-loaded endpoint has a fresh holder and a
     * direct move of a kept slot of an unchanged client exists (layer (a) is then empty and
     * layer (b) stops at the first such move): the most-loaded endpoints in sorted-id order,
     * their unchanged holders by rank, the first lacking a least-loaded endpoint, to the first
     * such endpoint in sorted-id order. The common move (an endpoint joined, a client left)
     * without the search's O(M) set-up.
     */
    const directKeptMove = (max: number, min: number): boolean => {
      for (const e of withFresh) if (loads[e] === max) return false;
      for (let h = tree.firstAtLeast(0, max); h !== -1; h = tree.firstAtLeast(h + 1, max)) {
        if (unchangedHolders[h] === 0) continue;
        const he = eh[h];
        const candidates = holders[h].filter((s) => fresh[s] === 0 && changed[(s / k) | 0] === 0);
        const ranks = candidates.map((s) => pairHash(ch[(s / k) | 0], he));
        // Best first by (rank, slot) descending, picked one at a time: the first usually moves.
        for (let left = candidates.length; left > 0; left--) {
          let best = 0;
          for (let i = 1; i < left; i++)
            if (ranks[i] > ranks[best] || (ranks[i] === ranks[best] && candidates[i] > candidates[best]))
              best = i;
          const s = candidates[best];
          markClient((s / k) | 0);
          for (let l = tree.firstAtMost(0, min); l !== -1; l = tree.firstAtMost(l + 1, min)) {
            if (mark[l] === stamp) continue;
            move(s, h, l);
            return true;
          }
          candidates[best] = candidates[left - 1];
          ranks[best] = ranks[left - 1];
        }
      }
      return false;
    };
    const moveOnce = (max: number, min: number): void => {
      if (directKeptMove(max, min)) return;
      for (let e = 0; e < M; e++) {
        next[e] = e + 1 < M ? e + 1 : -1;
        prev[e] = e - 1;
      }
      let head = 0;
      const unlink = (e: number): void => {
        if (prev[e] === -1) head = next[e];
        else next[prev[e]] = next[e];
        if (next[e] !== -1) prev[next[e]] = prev[e];
      };
      let qTail = 0;
      for (let h = tree.firstAtLeast(0, max); h !== -1; h = tree.firstAtLeast(h + 1, max)) {
        unlink(h);
        parentEndpoint[h] = -1;
        queue[qTail++] = h;
      }
      /** Follows the slots of endpoint `a` of one kind; the least-loaded endpoint reached, or -1. */
      const expand = (a: number, kind: number): number => {
        let slotsOfKind: number[];
        if (kind === FRESH) {
          if (freshHolders[a] === 0) return -1;
          slotsOfKind = holders[a].filter((s) => fresh[s] === 1);
        } else {
          const flag = kind === KEPT_UNCHANGED ? 0 : 1;
          if (flag === 0 && unchangedHolders[a] === 0) return -1;
          if (flag === 1 && holders[a].length - freshHolders[a] - unchangedHolders[a] === 0) return -1;
          slotsOfKind = holders[a].filter((s) => fresh[s] === 0 && changed[(s / k) | 0] === flag);
          slotsOfKind = byRank(slotsOfKind, a);
        }
        for (const s of slotsOfKind) {
          markClient((s / k) | 0);
          for (let b = head; b !== -1; b = next[b]) {
            if (mark[b] === stamp) continue;
            unlink(b);
            parentSlot[b] = s;
            parentEndpoint[b] = a;
            if (loads[b] === min) return b;
            queue[qTail++] = b;
          }
        }
        return -1;
      };
      let found = -1;
      let closed = 0;
      const freshClosure = (): void => {
        for (; closed < qTail && found === -1; closed++) found = expand(queue[closed], FRESH);
      };
      freshClosure();
      for (const kind of [KEPT_UNCHANGED, KEPT_CHANGED]) {
        const reached = qTail;
        for (let i = 0; i < reached && found === -1; i++) found = expand(queue[i], kind);
        freshClosure();
      }
      if (found === -1) throw new Error('subset invariant: no slot can move to a least-loaded endpoint');
      for (let to = found; parentEndpoint[to] !== -1;) {
        const from = parentEndpoint[to];
        move(parentSlot[to], from, to);
        to = from;
      }
    };

    for (let moves = 0; moves < bound && tree.max() - tree.min() > 1; moves++)
      moveOnce(tree.max(), tree.min());
    if (tree.max() - tree.min() > 1) throw new Error('subset invariant: rebalancing did not converge');
  }
}

/**
 * gRFC A68-style random subsetting, the baseline: each client takes the k = min(subsetSize,
 * endpoints) endpoints of lowest rank(c, e) (the pair hash of {@link assignSubsets}; equal ranks:
 * lower endpoint id). Stateless: hints are ignored (but for `changed`). One endpoint change moves at most one entry
 * per client, and a client change moves nobody else, but the number of clients per endpoint is
 * only balanced on average. Pure; O(clients × endpoints).
 */
export function rendezvousSubsets(
  clients: readonly SubsetClient[],
  endpoints: readonly string[],
  subsetSize: number,
): SubsetResult {
  const { endpointIds, merged, clientIds, M, k } = normalized(clients, endpoints, subsetSize);
  const eh = Uint32Array.from(endpointIds, fnv1a32);
  const loads = new Int32Array(M);
  const slots = new Int32Array(clientIds.length * k);
  // The k best so far, ascending by (rank, index); a candidate is compared with the worst first.
  const bestRank = new Float64Array(k);
  const bestIndex = new Int32Array(k);
  for (let c = 0; c < clientIds.length; c++) {
    const hc = fnv1a32(clientIds[c]);
    let n = 0;
    for (let e = 0; e < M; e++) {
      const r = pairHash(hc, eh[e]);
      if (n === k && r >= bestRank[k - 1]) continue;
      let at = n < k ? n++ : k - 1;
      while (at > 0 && bestRank[at - 1] > r) {
        bestRank[at] = bestRank[at - 1];
        bestIndex[at] = bestIndex[at - 1];
        at--;
      }
      bestRank[at] = r;
      bestIndex[at] = e;
    }
    for (let j = 0; j < k; j++) {
      slots[c * k + j] = bestIndex[j];
      loads[bestIndex[j]]++;
    }
  }
  return result(clientIds, merged, endpointIds, slots, k, loads);
}
