import { performance } from 'node:perf_hooks';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type {
  BackendCallCounts,
  ClientActivityObserver,
  ClientIdentity,
  ClientRegistry,
} from '../../core/client-registry';
import {
  countAssignment,
  type AssignedEndpoint,
  type Assignment,
  type ExclusionReason,
} from '../../assignment/assignment';
import type { ServicePlan } from '../../assignment/population-policy';
import type { RegistryState } from '../../core/registry-state';
import type { EndpointHealth } from '../../io/health-checker';

/**
 * The metric names, a contract: dashboards and alerts depend on them. Never rename; add.
 */
export const METRIC_NAMES = {
  streams: 'lookaside_streams',
  pushes: 'lookaside_pushes_total',
  pushLatency: 'lookaside_push_latency_seconds',
  endpoints: 'lookaside_endpoints',
  rejectedRecords: 'lookaside_rejected_records',
  etcdConnected: 'lookaside_etcd_connected',
  clientCalls: 'lookaside_client_calls_total',
  endpointHealth: 'lookaside_endpoint_health',
  panic: 'lookaside_panic',
  ejections: 'lookaside_ejections_total',
  ejected: 'lookaside_ejected_endpoints',
  effectiveWeight: 'lookaside_endpoint_effective_weight',
  utilization: 'lookaside_endpoint_utilization',
  orcaRejected: 'lookaside_orca_rejected_reports_total',
  duplicateEndpoints: 'lookaside_duplicate_endpoints',
  assignedClients: 'lookaside_endpoint_assigned_clients',
  zoneLocalShare: 'lookaside_zone_local_share',
  overrides: 'lookaside_overrides',
  overridesRejected: 'lookaside_overrides_rejected_total',
  populationWrites: 'lookaside_client_population_writes_total',
  populationPending: 'lookaside_client_population_pending',
  populationClients: 'lookaside_client_population_clients',
  populationRejected: 'lookaside_client_population_rejected_records',
  serviceConfigRejected: 'lookaside_service_config_rejected',
} as const;

/** What the metrics read at scrape time. */
export interface LbServerMetricsSources {
  /** The registry: which services exist, how many records were rejected. */
  readonly state: RegistryState;
  /** The service-wide assignment of a service (the assignment pipeline's). */
  readonly assignments: { serviceAssignment(name: string): Assignment };
  readonly clients: ClientRegistry;
  /** This replica's health checks, when on (endpoints by health state). */
  readonly health?: { healthOf(key: string): EndpointHealth | undefined };
  /** The outlier detector (endpoints ejected now, per service). */
  readonly outliers?: { ejectedCount(service: string): number };
  /** Load-aware weights (each endpoint's ORCA utilization). */
  readonly loads?: {
    loadOf(service: string, key: string): { source: string | undefined; utilization: number };
  };
  /** ORCA reports ignored as nonsense (NaN, negative, absurd) so far. */
  readonly orcaRejected?: () => number;
  readonly etcdConnected: () => boolean;
  /** Per-client assignments: subsets and zone shares (absent: every client gets the whole service). */
  readonly plans?: { planOf(service: string): ServicePlan | undefined };
  /** Operator overrides: unexpired ones per service, and malformed values seen so far. */
  readonly overrides?: {
    activeCounts(): ReadonlyMap<string, number>;
    readonly rejectionsTotal: number;
  };
  /** The client population across replicas: writes, pending writes, clients, rejected records. */
  readonly population?: {
    writeCounts(): { put: number; delete: number };
    pending(): number;
    services(): string[];
    clients(service: string): readonly { local: boolean }[];
    rejectedRecords(): readonly unknown[];
  };
  /** Per-service configuration: how many config keys hold a rejected value. */
  readonly serviceConfig?: { rejectedCount(): number };
  /**
   * Also collect prom-client's default process metrics (default true). They install an event-loop
   * monitor and a GC observer that live as long as the process, so a server without a metrics
   * endpoint leaves them off.
   */
  readonly processMetrics?: boolean;
}

/** Label for reported backends that are not in the service's current list (bounds cardinality). */
export const OTHER_BACKEND = 'other';
/** Label for services that are not registered (names clients asked for: bounds cardinality). */
export const OTHER_SERVICE = 'other';

/**
 * Calls `fn` for each endpoint of each registered service that clients use: one per address (the
 * record clients use, not its duplicates), for the per-address gauges.
 */
function forEachAddress(
  sources: LbServerMetricsSources,
  fn: (service: string, entry: AssignedEndpoint) => void,
): void {
  for (const name of sources.state.serviceNames()) {
    for (const e of sources.assignments.serviceAssignment(name).endpoints) {
      if (e.duplicateOf === undefined) fn(name, e);
    }
  }
}

const backendSets = new WeakMap<Assignment, Set<string>>();
function backendsOf(assignment: Assignment): Set<string> {
  let s = backendSets.get(assignment);
  if (!s) {
    s = new Set(assignment.endpoints.map((e) => e.endpoint.address));
    backendSets.set(assignment, s);
  }
  return s;
}

/**
 * The `state` label values of lookaside_endpoints: `serving` (eligible for new calls, the
 * assignment stage's definition) and one per reason an endpoint is out (each endpoint counted once).
 */
const ENDPOINT_STATES: readonly ('serving' | ExclusionReason)[] = [
  'serving',
  'draining',
  'weight-0',
  'unhealthy',
  'ejected',
  'overridden',
  'duplicate',
];

/**
 * The Prometheus metrics of one LB server, in a registry of its own (never prom-client's global
 * one, so several servers in one process do not collide), plus the default process metrics.
 * Gauges are computed from the server's state at scrape time; counters and the push-latency
 * histogram are fed by the server: changed() when the etcd adapter applies a change, published()
 * after the hub has woken (and written to) every stream of a service, and the ClientRegistry's
 * observer (this object) for each list sent and each ClientStats report. Single-threaded.
 */
export class LbServerMetrics implements ClientActivityObserver {
  /** The registry to expose on /metrics. */
  readonly registry = new Registry();
  private readonly pushes: Counter<'service'>;
  private readonly pushLatency: Histogram;
  private readonly clientCalls: Counter<'service' | 'backend' | 'result'>;
  private readonly ejections: Counter<'service' | 'rule'>;
  /** When the oldest unpublished change of each service was received from etcd (performance.now()). */
  private readonly changedAt = new Map<string, number>();

  constructor(private readonly sources: LbServerMetricsSources) {
    const registers = [this.registry];
    if (sources.processMetrics ?? true) collectDefaultMetrics({ register: this.registry });
    new Gauge({
      name: METRIC_NAMES.streams,
      help: 'Open client streams that subscribed to a service (all protocols)',
      labelNames: ['service'],
      registers,
      collect() {
        this.reset();
        const counts = new Map<string, number>();
        for (const c of sources.clients.list()) counts.set(c.service, (counts.get(c.service) ?? 0) + 1);
        for (const [service, n] of counts) this.set({ service }, n);
      },
    });
    this.pushes = new Counter({
      name: METRIC_NAMES.pushes,
      help: 'Server lists written to client streams',
      labelNames: ['service'],
      registers,
    });
    this.pushLatency = new Histogram({
      name: METRIC_NAMES.pushLatency,
      help: 'Seconds from an etcd change received to the new list written to every stream of its service',
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    });
    new Gauge({
      name: METRIC_NAMES.endpoints,
      help:
        'Endpoints clients are sent per service: serving (eligible for new calls, held ones included), ' +
        'or out for a reason (draining, weight-0, unhealthy, ejected, overridden, duplicate)',
      labelNames: ['service', 'state'],
      registers,
      collect() {
        this.reset();
        for (const name of sources.state.serviceNames()) {
          const counts = countAssignment(sources.assignments.serviceAssignment(name));
          for (const state of ENDPOINT_STATES) {
            const n = state === 'serving' ? counts.eligible : counts.excluded[state];
            // serving and draining always (dashboards expect them); the rest when non-zero.
            if (n > 0 || state === 'serving' || state === 'draining') this.set({ service: name, state }, n);
          }
        }
      },
    });
    new Gauge({
      name: METRIC_NAMES.endpointHealth,
      help: "Endpoints by what this LB replica's grpc.health.v1 check says (serving, not-serving, unknown, no-health-service, unreachable)",
      labelNames: ['service', 'health'],
      registers,
      collect() {
        this.reset();
        const health = sources.health;
        if (!health) return;
        for (const name of sources.state.serviceNames()) {
          const counts = new Map<string, number>();
          for (const e of sources.assignments.serviceAssignment(name).endpoints) {
            const h = health.healthOf(e.endpoint.key);
            if (h !== undefined) counts.set(h, (counts.get(h) ?? 0) + 1);
          }
          for (const [h, n] of counts) this.set({ service: name, health: h }, n);
        }
      },
    });
    new Gauge({
      name: METRIC_NAMES.panic,
      help: '1 while health verdicts and ejections are ignored for a service because they would leave too few endpoints',
      labelNames: ['service'],
      registers,
      collect() {
        this.reset();
        for (const name of sources.state.serviceNames()) {
          if (sources.assignments.serviceAssignment(name).panic) this.set({ service: name }, 1);
        }
      },
    });
    new Gauge({
      name: METRIC_NAMES.duplicateEndpoints,
      help:
        'Records that name the address of another record of their service, which clients use instead ' +
        '(share 0; 0 when every address is registered once)',
      labelNames: ['service'],
      registers,
      collect() {
        this.reset();
        for (const name of sources.state.serviceNames()) {
          const counts = countAssignment(sources.assignments.serviceAssignment(name));
          this.set({ service: name }, counts.byReason.duplicate);
        }
      },
    });
    this.ejections = new Counter({
      name: METRIC_NAMES.ejections,
      help: 'Outlier ejections of endpoints, by the gRFC A50 rule that ejected them (success-rate, failure-percentage)',
      labelNames: ['service', 'rule'],
      registers,
    });
    new Gauge({
      name: METRIC_NAMES.ejected,
      help: 'Endpoints outlier detection ejects now (also while the panic threshold ignores the ejections)',
      labelNames: ['service'],
      registers,
      collect() {
        this.reset();
        const outliers = sources.outliers;
        if (!outliers) return;
        for (const name of sources.state.serviceNames()) {
          const n = outliers.ejectedCount(name);
          if (n > 0) this.set({ service: name }, n);
        }
      },
    });
    new Gauge({
      name: METRIC_NAMES.effectiveWeight,
      help: 'The weight clients use for new calls per endpoint (registered x load factor; 0 when out)',
      labelNames: ['service', 'address'],
      registers,
      collect() {
        this.reset();
        forEachAddress(sources, (name, e) =>
          this.set({ service: name, address: e.endpoint.address }, e.weight),
        );
      },
    });
    new Gauge({
      name: METRIC_NAMES.assignedClients,
      help: 'Clients (of every LB replica) whose subset holds the endpoint, when subsetting or zone-aware routing is on for its service',
      labelNames: ['service', 'address'],
      registers,
      collect() {
        this.reset();
        const plans = sources.plans;
        if (!plans) return;
        forEachAddress(sources, (name, e) => {
          const plan = plans.planOf(name);
          if (plan) {
            const n = plan.assignedClients.get(e.endpoint.instanceId) ?? 0;
            this.set({ service: name, address: e.endpoint.address }, n);
          }
        });
      },
    });
    new Gauge({
      name: METRIC_NAMES.zoneLocalShare,
      help: "The share of a zone's clients' calls that zone-aware routing keeps in their zone (1: all local; the rest spills over)",
      labelNames: ['service', 'zone'],
      registers,
      collect() {
        this.reset();
        const plans = sources.plans;
        if (!plans) return;
        for (const name of sources.state.serviceNames()) {
          const zones = plans.planOf(name)?.zones;
          if (!zones) continue;
          for (const [zone, shares] of zones.shares) this.set({ service: name, zone }, shares.get(zone) ?? 0);
        }
      },
    });
    new Gauge({
      name: METRIC_NAMES.utilization,
      help: "An endpoint's utilization from its ORCA reports (application_utilization, else cpu_utilization)",
      labelNames: ['service', 'address'],
      registers,
      collect() {
        this.reset();
        const loads = sources.loads;
        if (!loads) return;
        for (const name of sources.state.serviceNames()) {
          for (const e of sources.assignments.serviceAssignment(name).endpoints) {
            if (e.duplicateOf !== undefined) continue;
            const l = loads.loadOf(name, e.endpoint.key);
            if (l.source === 'orca') this.set({ service: name, address: e.endpoint.address }, l.utilization);
          }
        }
      },
    });
    new Counter({
      name: METRIC_NAMES.orcaRejected,
      help: 'ORCA load reports ignored as nonsense (NaN, negative or absurd values)',
      registers,
      collect() {
        this.reset();
        this.inc(sources.orcaRejected?.() ?? 0);
      },
    });
    new Gauge({
      name: METRIC_NAMES.rejectedRecords,
      help: 'Registry records under the prefix that failed validation and are skipped',
      registers,
      collect() {
        this.set(sources.state.rejectedCount());
      },
    });
    new Gauge({
      name: METRIC_NAMES.overrides,
      help: 'Operator overrides in force per service (unexpired; dangling ones, whose instance has no record, included)',
      labelNames: ['service'],
      registers,
      collect() {
        this.reset();
        for (const [service, n] of sources.overrides?.activeCounts() ?? []) this.set({ service }, n);
      },
    });
    new Counter({
      name: METRIC_NAMES.overridesRejected,
      help: 'Malformed operator override values seen in etcd (each put once; skipped and ignored)',
      registers,
      collect() {
        this.reset();
        this.inc(sources.overrides?.rejectionsTotal ?? 0);
      },
    });
    new Gauge({
      name: METRIC_NAMES.etcdConnected,
      help: '1 while the etcd watch is established, else 0',
      registers,
      collect() {
        this.set(sources.etcdConnected() ? 1 : 0);
      },
    });
    new Counter({
      name: METRIC_NAMES.populationWrites,
      help: 'Client records this replica wrote to etcd (op: put, delete), coalesced per flush',
      labelNames: ['op'],
      registers,
      collect() {
        this.reset();
        const population = sources.population;
        if (!population) return;
        const w = population.writeCounts();
        this.inc({ op: 'put' }, w.put);
        this.inc({ op: 'delete' }, w.delete);
      },
    });
    new Gauge({
      name: METRIC_NAMES.populationPending,
      help: 'Client record writes owed to etcd, waiting for a flush or in flight',
      registers,
      collect() {
        this.set(sources.population?.pending() ?? 0);
      },
    });
    new Gauge({
      name: METRIC_NAMES.populationClients,
      help: 'Clients of each service across all LB replicas (served: "local" by this replica, or "remote")',
      labelNames: ['service', 'served'],
      registers,
      collect() {
        this.reset();
        const population = sources.population;
        if (!population) return;
        for (const service of population.services()) {
          const all = population.clients(service);
          const local = all.filter((c) => c.local).length;
          // Unregistered names get one series: clients may ask for any name.
          const label = sources.state.has(service) ? service : OTHER_SERVICE;
          this.inc({ service: label, served: 'local' }, local);
          this.inc({ service: label, served: 'remote' }, all.length - local);
        }
      },
    });
    new Gauge({
      name: METRIC_NAMES.populationRejected,
      help: 'Client records under the clients prefix that failed validation and are skipped',
      registers,
      collect() {
        this.set(sources.population?.rejectedRecords().length ?? 0);
      },
    });
    new Gauge({
      name: METRIC_NAMES.serviceConfigRejected,
      help: 'Per-service config keys whose value is rejected (the last valid one, or the default, stays in force)',
      registers,
      collect() {
        this.set(sources.serviceConfig?.rejectedCount() ?? 0);
      },
    });
    this.clientCalls = new Counter({
      name: METRIC_NAMES.clientCalls,
      help: `Calls finished by clients, from their ClientStats reports (backend "${OTHER_BACKEND}": not in the current list)`,
      labelNames: ['service', 'backend', 'result'],
      registers,
    });
  }

  /** Outlier detection ejected an endpoint of `service` by `rule`. */
  ejected(service: string, rule: string): void {
    this.ejections.inc({ service: this.sources.state.has(service) ? service : OTHER_SERVICE, rule });
  }

  /** The etcd adapter applied a change to `services` (called at once, before coalescing). */
  changed(services: readonly string[]): void {
    const now = performance.now();
    for (const s of services) if (!this.changedAt.has(s)) this.changedAt.set(s, now);
  }

  /** `service` is gone from the LB server: its pending change time, if any, goes too. */
  forget(service: string): void {
    this.changedAt.delete(service);
  }

  /** The hub published `service` and woke its `streams` subscribers (each wrote what it could). */
  published(service: string, streams: number): void {
    const at = this.changedAt.get(service);
    this.changedAt.delete(service);
    if (at !== undefined && streams > 0) this.pushLatency.observe((performance.now() - at) / 1000);
  }

  assigned(identity: ClientIdentity): void {
    this.pushes.inc({ service: this.serviceLabel(identity.service) });
  }

  /**
   * A registered service's name, else "other": clients may ask for any number of names, and each
   * label set lives as long as the process.
   */
  private serviceLabel(service: string): string {
    return this.sources.state.service(service).version > 0 ? service : OTHER_SERVICE;
  }

  reported(identity: ClientIdentity, deltas: readonly BackendCallCounts[]): void {
    const known = backendsOf(this.sources.assignments.serviceAssignment(identity.service));
    for (const d of deltas) {
      const backend = known.has(d.address) ? d.address : OTHER_BACKEND;
      const labels = { service: this.serviceLabel(identity.service), backend };
      if (Number.isFinite(d.callsSucceeded) && d.callsSucceeded > 0)
        this.clientCalls.inc({ ...labels, result: 'succeeded' }, d.callsSucceeded);
      if (Number.isFinite(d.callsFailed) && d.callsFailed > 0)
        this.clientCalls.inc({ ...labels, result: 'failed' }, d.callsFailed);
    }
  }
}
