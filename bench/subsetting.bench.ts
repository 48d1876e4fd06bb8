import {
  assignSubsets,
  rendezvousSubsets,
  type SubsetClient,
  type SubsetResult,
} from '../lb-server/assignment/subset-core';
import { loadAverage1m, ratio, writeBenchResult, type Figure } from './bench-result';
import { median } from './sample-stats';

/**
 * Subsetting core (issue 15): lookaside's deterministic subsetting (assignSubsets, fed the
 * previous subsets as hints, as the LB server does from etcd) against gRFC A68's random
 * subsetting (rendezvous hashing, stateless) computed in the same run over the same fleet:
 * 10,000 clients × 1,000 endpoints, subset 20. Spread of clients per endpoint; churn on one
 * endpoint leaving, one joining and 1 % client churn (clients whose subset changed, entries
 * changed); time per recomputation. Pure computation, no I/O; one process.
 */

const CLIENTS = 10_000;
const ENDPOINTS = 1_000;
const SUBSET = 20;
/** Churn scenarios are run this many times (different endpoints / clients), medians reported. */
const CHURN_TRIALS = 5;
const CLIENT_CHURN = 0.01;
const WARMUP_RUNS = 2;
const TIMED_RUNS = 7;
const TIME_TARGET_MS = 500;

/** Client ids as the SDK makes them (random-looking hex), deterministic here. */
function clientId(i: number): string {
  let h = (i + 1) * 0x9e3779b1;
  const parts: string[] = [];
  for (let j = 0; j < 4; j++) {
    h = Math.imul(h ^ (h >>> 15), 0x2c1b3c6d) >>> 0;
    parts.push(h.toString(16).padStart(8, '0'));
  }
  return parts.join('-');
}

interface Spread {
  readonly max: number;
  readonly min: number;
  readonly stddev: number;
}

function spread(r: SubsetResult): Spread {
  const loads = [...r.clientsPerEndpoint.values()];
  const mean = loads.reduce((a, b) => a + b, 0) / loads.length;
  const variance = loads.reduce((a, b) => a + (b - mean) ** 2, 0) / loads.length;
  return { max: Math.max(...loads), min: Math.min(...loads), stddev: Math.sqrt(variance) };
}

interface Churn {
  /** Clients present before and after whose subset changed. */
  readonly clientsChanged: number;
  /** Entries replaced over those clients. */
  readonly entriesChanged: number;
}

function churn(before: SubsetResult, after: SubsetResult): Churn {
  let clientsChanged = 0;
  let entriesChanged = 0;
  for (const [id, old] of before.subsets) {
    const now = after.subsets.get(id);
    if (now === undefined) continue;
    const had = new Set(old);
    let n = 0;
    for (const e of now) if (!had.has(e)) n++;
    if (n > 0) clientsChanged++;
    entriesChanged += n;
  }
  return { clientsChanged, entriesChanged };
}

const hintsOf = (r: SubsetResult): SubsetClient[] =>
  [...r.subsets].map(([id, hint]) => ({ id, hint: [...hint] }));
const fresh = (ids: readonly string[]): SubsetClient[] => ids.map((id) => ({ id, hint: [] }));

type Arm = 'ours' | 'rendezvous';
type Scenario = 'endpoint-removed' | 'endpoint-added' | 'client-churn' | 'client-churn-stepwise';

function recompute(arm: Arm, clients: readonly SubsetClient[], endpoints: readonly string[]): SubsetResult {
  return arm === 'ours'
    ? assignSubsets(clients, endpoints, SUBSET)
    : rendezvousSubsets(clients, endpoints, SUBSET);
}

function timeMs(fn: () => unknown): number {
  const start = process.hrtime.bigint();
  fn();
  return Number(process.hrtime.bigint() - start) / 1e6;
}

interface Fleet {
  readonly clients: number;
  readonly endpoints: number;
}

/** The fleet, where 200,000 slots divide evenly, and one where nothing divides. */
const FLEETS: readonly Fleet[] = [
  { clients: CLIENTS, endpoints: ENDPOINTS },
  { clients: 9_973, endpoints: 1_009 },
];

const endpointIdsOf = (n: number): string[] =>
  Array.from({ length: n }, (_, i) => `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}:8080`);

interface FleetRun {
  readonly figures: Figure[];
  readonly runs: unknown;
  readonly extraOnRemoval: number[];
}

/** Spread and churn of both arms over one fleet; labels prefixed with `prefix`. */
function measureFleet(fleet: Fleet, prefix: string): FleetRun & { hints: Record<Arm, SubsetClient[]> } {
  const ids = Array.from({ length: fleet.clients }, (_, i) => clientId(i));
  const endpointIds = endpointIdsOf(fleet.endpoints);
  // Steady state: ours as the LB server holds it (its own previous output as hints, a fixed
  // point); rendezvous needs no state.
  const oursBase = assignSubsets(
    hintsOf(assignSubsets(fresh(ids), endpointIds, SUBSET)),
    endpointIds,
    SUBSET,
  );
  const rdvBase = rendezvousSubsets(fresh(ids), endpointIds, SUBSET);
  const base: Record<Arm, SubsetResult> = { ours: oursBase, rendezvous: rdvBase };
  const hints: Record<Arm, SubsetClient[]> = { ours: hintsOf(oursBase), rendezvous: hintsOf(rdvBase) };
  const spreads: Record<Arm, Spread> = { ours: spread(oursBase), rendezvous: spread(rdvBase) };

  const scenarios: Record<Scenario, Record<Arm, Churn[]>> = {
    'endpoint-removed': { ours: [], rendezvous: [] },
    'endpoint-added': { ours: [], rendezvous: [] },
    'client-churn': { ours: [], rendezvous: [] },
    'client-churn-stepwise': { ours: [], rendezvous: [] },
  };
  /** Ours only: clients that changed although they did not hold the removed endpoint. */
  const extraOnRemoval: number[] = [];
  const churnCount = Math.round(fleet.clients * CLIENT_CHURN);
  const goneAt = (t: number): string => endpointIds[(t * 397 + 11) % fleet.endpoints];
  for (let t = 0; t < CHURN_TRIALS; t++) {
    const gone = goneAt(t);
    const without = endpointIds.filter((e) => e !== gone);
    const withNew = [...endpointIds, `10.255.255.${t}:8080`];
    const stride = Math.floor(fleet.clients / churnCount);
    for (const arm of ['ours', 'rendezvous'] as const) {
      const removed = recompute(arm, hints[arm], without);
      scenarios['endpoint-removed'][arm].push(churn(base[arm], removed));
      if (arm === 'ours') {
        let extra = 0;
        for (const [id, old] of base.ours.subsets)
          if (!old.includes(gone) && (removed.subsets.get(id) ?? []).join() !== old.join()) extra++;
        extraOnRemoval.push(extra);
      }
      scenarios['endpoint-added'][arm].push(churn(base[arm], recompute(arm, hints[arm], withNew)));
      // 1 %: every stride-th client (shifted per trial) leaves, as many new ones join.
      const staying = hints[arm].filter((_, i) => (i + t) % stride !== 0);
      const joining = fresh(
        Array.from({ length: hints[arm].length - staying.length }, (_, i) => `joined-${t}-${i}`),
      );
      scenarios['client-churn'][arm].push(
        churn(base[arm], recompute(arm, [...staying, ...joining], endpointIds)),
      );
      // The same churn in two recomputations: the leavers go first, the joiners come after.
      const afterLeave = recompute(arm, staying, endpointIds);
      scenarios['client-churn-stepwise'][arm].push(
        churn(base[arm], recompute(arm, [...hintsOf(afterLeave), ...joining], endpointIds)),
      );
    }
  }

  const figures: Figure[] = [];
  const vs = (label: string, unit: string, ours: number, rdv: number, target?: Figure['target']): void => {
    figures.push({
      label: prefix + label,
      unit,
      value: ours,
      baseline: rdv,
      ratio: ratio(ours, rdv),
      ...(target ? { target } : {}),
    });
  };
  const o = spreads.ours;
  const b = spreads.rendezvous;
  const total = fleet.clients * SUBSET;
  const mean = total / fleet.endpoints;
  vs('clients per endpoint: max − min', 'clients', o.max - o.min, b.max - b.min, {
    text: '≤ 1',
    met: o.max - o.min <= 1,
  });
  vs('clients per endpoint: max', 'clients', o.max, b.max);
  vs('clients per endpoint: min', 'clients', o.min, b.min);
  vs('clients per endpoint: standard deviation', 'clients', o.stddev, b.stddev);
  vs('most-loaded endpoint ÷ mean', '×', o.max / mean, b.max / mean);
  const churnFigure = (
    scenario: Scenario,
    what: keyof Churn,
    label: string,
    target?: Figure['target'],
  ): void => {
    const values = (arm: Arm) => scenarios[scenario][arm].map((c) => c[what]);
    vs(
      label,
      what === 'clientsChanged' ? 'clients' : 'entries',
      median(values('ours')),
      median(values('rendezvous')),
      target,
    );
  };
  const removedShare = median(
    Array.from({ length: CHURN_TRIALS }, (_, t) => oursBase.clientsPerEndpoint.get(goneAt(t)) ?? 0),
  );
  churnFigure('endpoint-removed', 'clientsChanged', 'one endpoint leaves: clients changed', {
    text: `= its clients (${removedShare}), no others`,
    met: Math.max(...extraOnRemoval) === 0,
  });
  churnFigure('endpoint-removed', 'entriesChanged', 'one endpoint leaves: entries changed');
  const joinShare = total / (fleet.endpoints + 1);
  churnFigure('endpoint-added', 'clientsChanged', 'one endpoint joins: clients changed', {
    text: `≈ its share (${Math.floor(joinShare)}–${Math.ceil(joinShare)})`,
    met: scenarios['endpoint-added'].ours.every((c) => c.clientsChanged <= Math.ceil(joinShare)),
  });
  churnFigure('endpoint-added', 'entriesChanged', 'one endpoint joins: entries changed');
  churnFigure(
    'client-churn',
    'clientsChanged',
    `1 % client churn (${churnCount} leave, ${churnCount} join): staying clients changed`,
    {
      text: `≤ ${churnCount * SUBSET} (k per leaver)`,
      met: scenarios['client-churn'].ours.every((c) => c.clientsChanged <= churnCount * SUBSET),
    },
  );
  churnFigure('client-churn', 'entriesChanged', '1 % client churn: entries of staying clients changed');
  churnFigure(
    'client-churn-stepwise',
    'clientsChanged',
    '1 % client churn, leavers first, joiners in the next recomputation: staying clients changed',
    {
      text: `≤ ${churnCount * SUBSET} (k per leaver)`,
      met: scenarios['client-churn-stepwise'].ours.every((c) => c.clientsChanged <= churnCount * SUBSET),
    },
  );
  churnFigure(
    'client-churn-stepwise',
    'entriesChanged',
    '1 % client churn, leavers first: entries of staying clients changed',
  );
  return { figures, runs: { fleet, spreads, scenarios, extraOnRemoval }, extraOnRemoval, hints };
}

function main(): void {
  const startedAt = new Date();
  const loadAtStart = loadAverage1m();
  const even = measureFleet(FLEETS[0], '');
  const uneven = measureFleet(
    FLEETS[1],
    `${FLEETS[1].clients.toLocaleString('en-US')} × ${FLEETS[1].endpoints.toLocaleString('en-US')}: `,
  );
  const ids = Array.from({ length: CLIENTS }, (_, i) => clientId(i));
  const endpointIds = endpointIdsOf(ENDPOINTS);
  const hints = even.hints;

  // Time per recomputation, interleaved: ours in steady state (hints = its output), after an
  // endpoint left, and from nothing (no hints: a service turning subsetting on); rendezvous once.
  const without = endpointIds.slice(1);
  const tenMore = [...endpointIds, ...Array.from({ length: 10 }, (_, i) => `10.254.254.${i}:8080`)];
  const timed: Record<string, () => unknown> = {
    'ours-steady': () => assignSubsets(hints.ours, endpointIds, SUBSET),
    'ours-endpoint-removed': () => assignSubsets(hints.ours, without, SUBSET),
    'ours-from-scratch': () => assignSubsets(fresh(ids), endpointIds, SUBSET),
    'ours-ten-endpoints-joined': () => assignSubsets(hints.ours, tenMore, SUBSET),
    rendezvous: () => rendezvousSubsets(hints.rendezvous, endpointIds, SUBSET),
  };
  const times: Record<string, number[]> = Object.fromEntries(Object.keys(timed).map((k) => [k, []]));
  for (let r = 0; r < WARMUP_RUNS + TIMED_RUNS; r++) {
    for (const [name, fn] of Object.entries(timed)) {
      const ms = timeMs(fn);
      if (r >= WARMUP_RUNS) times[name].push(ms);
    }
  }
  const med = (name: string): number => median(times[name]);
  const figures: Figure[] = [...even.figures];
  const timeFigure = (label: string, name: string): void => {
    figures.push({
      label: `ms per recomputation, ${label}`,
      unit: 'ms',
      value: med(name),
      baseline: med('rendezvous'),
      ratio: ratio(med(name), med('rendezvous')),
      target: { text: `< ${TIME_TARGET_MS} ms`, met: med(name) < TIME_TARGET_MS },
    });
  };
  timeFigure('steady state (hints = last result)', 'ours-steady');
  timeFigure('one endpoint left', 'ours-endpoint-removed');
  timeFigure('from scratch (no hints)', 'ours-from-scratch');
  timeFigure('ten endpoints joined at once (about 2,000 moves)', 'ours-ten-endpoints-joined');
  figures.push(...uneven.figures);

  const file = writeBenchResult({
    name: 'subsetting',
    title: 'Subsetting core: balance, churn and cost at 10,000 clients × 1,000 endpoints, subset 20',
    subject:
      'lookaside deterministic subsetting (lb-server/assignment/subset-core.ts assignSubsets), fed its previous ' +
      'result as hints as the LB server is from etcd',
    baseline:
      'gRFC A68 random subsetting (rendezvousSubsets: each client its 20 lowest hash(client, endpoint)), same fleet',
    startedAt: startedAt.toISOString(),
    durationMs: Date.now() - startedAt.getTime(),
    loadAverage: { start: loadAtStart, end: loadAverage1m() },
    settings: {
      clients: CLIENTS,
      endpoints: ENDPOINTS,
      unevenFleet: `${FLEETS[1].clients} clients × ${FLEETS[1].endpoints} endpoints`,
      subsetSize: SUBSET,
      churnTrials: CHURN_TRIALS,
      clientChurn: `${CLIENT_CHURN * 100} %`,
      warmupRuns: WARMUP_RUNS,
      timedRuns: TIMED_RUNS,
    },
    figures,
    notes: [
      `Churn figures are medians over ${CHURN_TRIALS} trials (a different endpoint removed, a new endpoint added, a ` +
        'different 1 % of clients replaced by new ones each time), counted over the clients present before and after; ' +
        'ours: clients changed that did not hold the removed endpoint, per trial: ' +
        `${even.extraOnRemoval.join(', ')} (${uneven.extraOnRemoval.join(', ')} in the uneven fleet).`,
      'Rendezvous is stateless, so client churn never moves another client; its price is the spread (a binomial ' +
        `count per endpoint around the mean of ${(CLIENTS * SUBSET) / ENDPOINTS}). Ours keeps max − min ≤ 1 and still moves no staying client ` +
        'when leavers and joiners arrive together: the joiners take the slots the leavers freed.',
      'Leavers first, joiners in the next recomputation: strict balance (max − min ≤ 1) makes the first ' +
        'recomputation move slots onto the endpoints the leavers emptied most, and the second spread the joiners; ' +
        'each move changes one staying client by one entry (bounded by k per leaver). Churn that reaches one ' +
        'recomputation together (population changes coalesced) moves no staying client.',
      'Times: median of the interleaved timed runs after warm-up, one thread, including sorting the inputs and ' +
        'building the result maps; rendezvous computes 10 M pair hashes. "From scratch" is a service turning ' +
        'subsetting on (no client has a stored subset yet).',
      'The time target is the LB server’s budget for one service’s recomputation on a change; it is measured here, ' +
        'never asserted in tests.',
    ],
    runs: { fleets: [even.runs, uneven.runs], times },
  });
  console.log(`subsetting: wrote ${file}`);
}

main();
