import { systemClock } from '../common/clock';
import { AssignmentPipeline } from '../lb-server/assignment/assignment-pipeline';
import type { LoadSignal } from '../lb-server/assignment/assignment-signals';
import {
  PopulationPolicy,
  type PolicySettings,
  type PopulationMember,
  type PopulationSource,
} from '../lb-server/assignment/population-policy';
import { RegistryState } from '../lb-server/core/registry-state';
import { loadAverage1m, ratio, writeBenchResult, type Figure } from './bench-result';
import { median } from './sample-stats';

/**
 * The assignment pipeline with per-client subsets at the scale (10,000 clients × 1,000
 * endpoints, subset 20, every client subscribed): the time one republish of the service takes in
 * the LB server's event loop (assess, plan, regroup, select every group's list, publish), for
 * what happens all the time, against the same republish with subsetting off (one list for all).
 * - nothing changed (a signal's shell republishing with the same result);
 * - a load tick that moves one endpoint's weight (every group holding it gets a new list);
 * - a client joining (the population changed: a new plan, the newcomer placed, nobody moved).
 * No I/O: the population is a frozen list as ClientPopulation hands out, the subsets it stores
 * fed back as hints (the steady state).
 */

const CLIENTS = 10_000;
const ENDPOINTS = 1_000;
const SUBSET = 20;
const WARMUP = 2;
const RUNS = 9;
const SERVICE = 'bench';
const P = '/lookaside/services';

class Population implements PopulationSource {
  members: readonly PopulationMember[] = [];
  private readonly subsets = new Map<string, readonly string[]>();

  constructor(ids: readonly string[]) {
    this.set(ids);
  }

  set(ids: readonly string[]): void {
    this.members = Object.freeze(
      [...ids].sort().map((clientId) => ({
        clientId,
        zone: '',
        subset: this.subsets.get(clientId) ?? [],
        local: true,
        replica: 'r1',
      })),
    );
  }

  clients(): readonly PopulationMember[] {
    return this.members;
  }

  setSubset(_service: string, clientId: string, subset: readonly string[]): void {
    this.subsets.set(clientId, subset);
  }
}

interface Arm {
  readonly pipeline: AssignmentPipeline;
  readonly population: Population;
  readonly ids: string[];
  readonly factors: Map<string, LoadSignal>;
}

function arm(subsetSize: number): Arm {
  const state = new RegistryState(P);
  const ids = Array.from({ length: CLIENTS }, (_, i) => `client-${String(i).padStart(5, '0')}`);
  const population = new Population(ids);
  const settings: PolicySettings = { subsetSize, zoneAware: false, zoneMinEndpoints: 6 };
  const policy = new PopulationPolicy(population, { configOf: () => settings });
  const pipeline = new AssignmentPipeline(state, systemClock, {
    coalesceMs: 0,
    selfPreservation: { graceMs: 0, threshold: 0.5 },
    policy,
  });
  const factors = new Map<string, LoadSignal>();
  pipeline.useLoad({ load: (_service, key) => factors.get(key) });
  pipeline.ready();
  // The endpoints arrive as one etcd read (the LB server's start): one publish.
  const changed = new Set<string>();
  for (let i = 0; i < ENDPOINTS; i++) {
    const services = state.put({
      key: `${P}/${SERVICE}/e${String(i).padStart(4, '0')}`,
      value: JSON.stringify({ address: `10.${i >> 8}.${i & 255}.1:8080` }),
      modRevision: i + 2,
      lease: '0',
    });
    for (const s of services) changed.add(s);
  }
  pipeline.changed([...changed]);
  for (const clientId of ids) pipeline.subscribe({ service: SERVICE, clientId, zone: '' }, () => undefined);
  // The stored subsets become the hints (as the population's records would), then steady state.
  population.set(ids);
  pipeline.republish([SERVICE]);
  return { pipeline, population, ids, factors };
}

function timed(fn: () => void): number {
  const t0 = performance.now();
  fn();
  return performance.now() - t0;
}

function measure(a: Arm): Record<string, number[]> {
  const out: Record<string, number[]> = { unchanged: [], loadTick: [], clientJoins: [] };
  const key = `${P}/${SERVICE}/e0007`;
  for (let r = 0; r < WARMUP + RUNS; r++) {
    const keep = r >= WARMUP;
    const unchanged = timed(() => a.pipeline.republish([SERVICE]));
    a.factors.set(key, { factor: r % 2 === 0 ? 0.5 : 2 });
    const loadTick = timed(() => a.pipeline.republish([SERVICE]));
    const id = `late-${r}`;
    a.ids.push(id);
    a.population.set(a.ids);
    const clientJoins = timed(() => {
      a.pipeline.subscribe({ service: SERVICE, clientId: id, zone: '' }, () => undefined);
      a.pipeline.republish([SERVICE]);
    });
    if (keep) {
      out.unchanged.push(unchanged);
      out.loadTick.push(loadTick);
      out.clientJoins.push(clientJoins);
    }
  }
  return out;
}

function main(): void {
  const startedAt = new Date();
  const loadAtStart = loadAverage1m();
  const setupStarted = performance.now();
  const subsetted = arm(SUBSET);
  const setupMs = performance.now() - setupStarted;
  const whole = arm(0);
  const ours = measure(subsetted);
  const base = measure(whole);
  const figures: Figure[] = (
    [
      ['unchanged', 'republish that changes nothing'],
      ['loadTick', "load tick moving one endpoint's weight"],
      ['clientJoins', 'one client joins (new plan, newcomer placed)'],
    ] as const
  ).map(([k, label]) => ({
    label: `ms per republish, ${label}`,
    unit: 'ms',
    value: median(ours[k]),
    baseline: median(base[k]),
    ratio: ratio(median(ours[k]), median(base[k])),
  }));
  const file = writeBenchResult({
    name: 'assignment-pipeline',
    title: `Assignment pipeline with subsets: one republish at ${CLIENTS.toLocaleString('en')} clients × ${ENDPOINTS.toLocaleString('en')} endpoints, subset ${SUBSET}`,
    subject: `AssignmentPipeline + PopulationPolicy, subset ${SUBSET}, every client subscribed (${CLIENTS.toLocaleString('en')} groups)`,
    baseline: 'the same pipeline and clients with subsetting off (one list for every client)',
    startedAt: startedAt.toISOString(),
    durationMs: Date.now() - startedAt.getTime(),
    loadAverage: { start: loadAtStart, end: loadAverage1m() },
    settings: { clients: CLIENTS, endpoints: ENDPOINTS, subsetSize: SUBSET, warmup: WARMUP, runs: RUNS },
    figures,
    notes: [
      `Medians of ${RUNS} runs after ${WARMUP} warm-ups, one thread, in this process; each is the time republish() ` +
        'blocks the event loop (the frontends then write the lists that changed to their streams).',
      `Setting up (first plan of every client from scratch, then the hints fed back): ${Math.round(setupMs)} ms.`,
      'A load tick re-selects every group (each client its own group here) from an index of the service-wide list, ' +
        `O(k) each; a republish with the same records, signals and plan re-selects nothing.`,
    ],
    runs: { ours, base },
  });
  console.log(`assignment-pipeline: wrote ${file}`);
  subsetted.pipeline.close();
  whole.pipeline.close();
}

main();
