import { MAX_WEIGHT } from '../../common/registry-record';
import type { AssignedEndpoint, Assignment, EndpointReason } from './assignment';
import { WHOLE_SERVICE_GROUP } from './assignment';
import type { AssignmentClient, AssignmentPolicy } from './assignment-stage';
import { assignSubsets, fnv1a32, pairHash, type SubsetClient } from './subset-core';
import { planZones, type ZoneInput, type ZonePlan } from './zone-shares';

/** One client of a service as every LB replica knows it (the client population in etcd). */
export interface PopulationMember {
  readonly clientId: string;
  readonly zone: string;
  /** The subset last assigned to it (instance ids), as stored in its etcd record; the stage's hint. */
  readonly subset: readonly string[];
  /** True when this replica serves it (only those are written back). */
  readonly local: boolean;
  readonly replica: string;
}

/** Where the policy reads the population and writes back its local clients' subsets. */
export interface PopulationSource {
  /** Every client of `service` known to this replica (etcd records and its own), sorted by id. */
  clients(service: string): readonly PopulationMember[];
  /** The subset assigned to a local client; writes its record only when it changed. */
  setSubset(service: string, clientId: string, subset: readonly string[]): void;
}

/** The per-service settings the policy follows (flags as defaults, `/lookaside/config/<service>`). */
export interface PolicySettings {
  /** Endpoints per client; 0: no subsetting. */
  readonly subsetSize: number;
  readonly zoneAware: boolean;
  /** Zone-aware routing is off for services with fewer endpoints than this. */
  readonly zoneMinEndpoints: number;
}

export interface SettingsSource {
  configOf(service: string): PolicySettings;
}

/** The overprovisioning factor of zone-aware routing (Envoy's default, 1.4). */
export const ZONE_OVERPROVISIONING = 1.4;

/** The pool of all endpoints, when zones play no part. */
const ALL_ZONES = '*';

/** One part of a client's list: endpoints of one zone (or all), and the share of its calls they get. */
export interface ClientPart {
  /** The endpoints' zone; '*' for every zone. */
  readonly zone: string;
  /** Fraction (0..1] of the client's calls this part gets. */
  readonly share: number;
  /** The instance ids of the part's subset, sorted. */
  readonly ids: readonly string[];
}

/** What the policy decided for one client, and why; the admin's `assignment SERVICE CLIENT_ID`. */
export interface ClientPlan {
  readonly clientId: string;
  readonly zone: string;
  /** The client's position among the clients of its pool (sorted by id); -1 when assigned on arrival. */
  readonly index: number;
  readonly parts: readonly ClientPart[];
  /** The group: clients with the same zone and parts share one assignment (and one message). */
  readonly group: string;
  /** How its zone is routed: 'zone-unaware', 'local', 'spill', 'spread-all'. */
  readonly zoneMode: string;
}

/** What the policy decided for one service at its last publish. */
export interface ServicePlan {
  readonly service: string;
  readonly settings: PolicySettings;
  /** Zone-aware routing: its plan, or why it is off. */
  readonly zones: ZonePlan | undefined;
  readonly zoneOff: string | undefined;
  readonly clients: ReadonlyMap<string, ClientPlan>;
  /** Instance id → clients whose subset holds it (over every pool). */
  readonly assignedClients: ReadonlyMap<string, number>;
}

interface Pool {
  readonly zone: string;
  /** Instance ids of the pool's endpoints, sorted. */
  readonly ids: readonly string[];
  readonly size: number;
  /** Instance id → clients holding it (kept up to date as clients arrive between publishes). */
  readonly load: Map<string, number>;
}

interface MutablePlan extends ServicePlan {
  readonly clients: Map<string, ClientPlan>;
  readonly assignedClients: Map<string, number>;
  readonly groups: Map<string, ClientPlan>;
  readonly pools: Map<string, Pool>;
  /** Endpoint zone → share, per client zone (absent: spread over all). */
  readonly sharesOf: (zone: string) => { parts: readonly { zone: string; share: number }[]; mode: string };
  /** What the plan was computed from: the same inputs again keep it (see prepare). */
  readonly inputs: PlanInputs;
}

/**
 * The inputs of a plan, compared at each publish: the population list (the population hands out
 * the same frozen array until a client of the service changes), the settings, the endpoints'
 * ids and zones, and the zone shares (they follow this replica's view of capacity).
 */
interface PlanInputs {
  readonly members: readonly PopulationMember[];
  readonly settings: string;
  readonly endpoints: string;
  readonly zones: string;
}

function sameInputs(a: PlanInputs, b: PlanInputs): boolean {
  return (
    a.members === b.members && a.settings === b.settings && a.endpoints === b.endpoints && a.zones === b.zones
  );
}

function zonesKey(zones: ZonePlan | undefined, zoneOff: string | undefined): string {
  if (!zones) return `off:${zoneOff ?? ''}`;
  return JSON.stringify(
    [...zones.shares].map(([z, m]) => [
      z,
      zones.zoneModes.get(z),
      [...m].map(([w, f]) => [w, roundShare(f)]),
    ]),
  );
}

/** Per population list (frozen, handed out until it changes): client id → member. */
const memberIndexes = new WeakMap<readonly PopulationMember[], Map<string, PopulationMember>>();

function memberOf(members: readonly PopulationMember[], clientId: string): PopulationMember | undefined {
  let index = memberIndexes.get(members);
  if (!index) {
    index = new Map(members.map((m) => [m.clientId, m]));
    memberIndexes.set(members, index);
  }
  return index.get(clientId);
}

/** Shares are rounded to this precision, so that replicas and groups agree on them. */
const SHARE_PRECISION = 10_000;

function roundShare(share: number): number {
  return Math.round(share * SHARE_PRECISION) / SHARE_PRECISION;
}

function groupKey(zone: string, parts: readonly ClientPart[]): string {
  return `${zone}\u0001${parts.map((p) => `${p.zone}\u0002${p.share}\u0002${p.ids.join(',')}`).join('\u0001')}`;
}

/**
 * Per-client assignments (issue 15): deterministic subsetting and zone-aware routing with
 * spill-over, computed from what every replica sees alike (the endpoints' records and the client
 * population in etcd, each client's stored subset as the hint), so every replica gives a client
 * the same subset. What a replica observes itself (health, ejections, load) only changes weights
 * and eligibility inside the subset; a subset whose endpoints are all ineligible is refilled.
 *
 * Pools: without zones one pool of every endpoint; with zone-aware routing on, one pool per
 * endpoint zone, holding the clients that send calls there (their own zone's, and other zones'
 * spilling into it). A client's list has one part per pool it uses, each with the share of its
 * calls that zone gets (planZones); the weights inside a part keep their ratios. Clients with
 * the same zone and parts form one group and share one assignment.
 */
export class PopulationPolicy implements AssignmentPolicy {
  private readonly plans = new Map<string, MutablePlan>();

  /**
   * @param onPlanned told after each recomputation that changed something (a client's subset, a
   *   zone's routing mode), for the logs; must not throw.
   */
  constructor(
    private readonly population: PopulationSource,
    private readonly settings: SettingsSource,
    private readonly onPlanned: (change: PlanChange) => void = () => undefined,
  ) {}

  prepare(base: Assignment): boolean {
    const service = base.service;
    const settings = this.settings.configOf(service);
    if (settings.subsetSize <= 0 && !settings.zoneAware) return this.plans.delete(service);
    const candidates = base.endpoints.filter((e) => e.duplicateOf === undefined);
    if (candidates.length === 0) return this.plans.delete(service);
    const members = this.population.clients(service);
    const { zones, zoneOff } = this.zonePlan(settings, candidates, members);
    const inputs: PlanInputs = {
      members,
      settings: `${settings.subsetSize}|${settings.zoneAware}|${settings.zoneMinEndpoints}`,
      endpoints: candidates.map((e) => `${e.endpoint.instanceId}\u0000${e.endpoint.zone}`).join('\u0001'),
      zones: zonesKey(zones, zoneOff),
    };
    // A publish for a signal (a load tick, a health verdict) that changes none of these keeps the
    // plan: recomputing 10,000 clients' subsets costs tens of milliseconds.
    const kept = this.plans.get(service);
    if (kept && sameInputs(kept.inputs, inputs)) return false;
    const byZone = new Map<string, string[]>();
    for (const e of candidates) {
      const zone = zones ? e.endpoint.zone : ALL_ZONES;
      let ids = byZone.get(zone);
      if (!ids) byZone.set(zone, (ids = []));
      ids.push(e.endpoint.instanceId);
    }
    const pools = new Map<string, Pool>();
    for (const [zone, ids] of byZone) {
      ids.sort();
      const size = settings.subsetSize > 0 ? Math.min(settings.subsetSize, ids.length) : ids.length;
      pools.set(zone, { zone, ids, size, load: new Map(ids.map((id) => [id, 0])) });
    }
    const sharesOf = (zone: string): { parts: { zone: string; share: number }[]; mode: string } => {
      if (!zones) return { parts: [{ zone: ALL_ZONES, share: 1 }], mode: 'zone-unaware' };
      const mode = zones.zoneModes.get(zone);
      const shares = zones.shares.get(zone);
      const parts = [...(shares ?? [])]
        .map(([w, share]) => ({ zone: w, share: roundShare(share) }))
        .filter((p) => p.share > 0 && pools.has(p.zone))
        .sort((a, b) => (a.zone < b.zone ? -1 : a.zone > b.zone ? 1 : 0));
      // A zone the plan has no shares for (none of its clients known yet) spreads by capacity.
      return parts.length > 0 && mode !== undefined
        ? { parts, mode }
        : { parts: capacityShares(candidates, pools), mode: 'spread-all' };
    };

    // The clients of each pool, and the parts each client uses.
    const poolClients = new Map<string, SubsetClient[]>();
    const clientParts = new Map<
      string,
      { zone: string; parts: { zone: string; share: number }[]; mode: string }
    >();
    for (const m of members) {
      const { parts, mode } = sharesOf(m.zone);
      clientParts.set(m.clientId, { zone: m.zone, parts, mode });
      for (const p of parts) {
        let list = poolClients.get(p.zone);
        if (!list) poolClients.set(p.zone, (list = []));
        list.push({ id: m.clientId, hint: m.subset });
      }
    }
    const subsets = new Map<string, ReadonlyMap<string, readonly string[]>>();
    const indexOf = new Map<string, number>();
    for (const [zone, list] of poolClients) {
      const pool = pools.get(zone);
      if (!pool) continue;
      const result = assignSubsets(list, pool.ids, pool.size);
      subsets.set(zone, result.subsets);
      for (const [id, n] of result.clientsPerEndpoint) pool.load.set(id, n);
      [...list]
        .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
        .forEach((c, i) => {
          if (!indexOf.has(c.id)) indexOf.set(c.id, i);
        });
    }

    const plan: MutablePlan = {
      service,
      settings,
      zones,
      zoneOff,
      clients: new Map(),
      assignedClients: new Map(),
      groups: new Map(),
      pools,
      sharesOf,
      inputs,
    };
    for (const m of members) {
      const cp = clientParts.get(m.clientId);
      if (!cp) continue;
      const parts: ClientPart[] = cp.parts.map((p) => ({
        zone: p.zone,
        share: p.share,
        ids: subsets.get(p.zone)?.get(m.clientId) ?? [],
      }));
      this.record(plan, m.clientId, cp.zone, indexOf.get(m.clientId) ?? -1, parts, cp.mode);
      if (m.local) this.writeBack(service, m, parts);
    }
    for (const pool of pools.values()) {
      for (const [id, n] of pool.load) plan.assignedClients.set(id, (plan.assignedClients.get(id) ?? 0) + n);
    }
    const previous = this.plans.get(service);
    this.plans.set(service, plan);
    const change = planChange(previous, plan);
    if (change) this.onPlanned(change);
    return true;
  }

  groupOf(client: AssignmentClient): string {
    const plan = this.plans.get(client.service);
    if (!plan) return WHOLE_SERVICE_GROUP;
    const known = plan.clients.get(client.clientId);
    if (known) return known.group;
    return this.arrive(plan, client).group;
  }

  select(entries: readonly AssignedEndpoint[], group: string, service: string): readonly AssignedEndpoint[] {
    const plan = this.plans.get(service);
    const client = plan?.groups.get(group);
    if (!plan || !client) return entries;
    return listFor(entries, client, plan.pools);
  }

  /** The plan of `service` at its last publish (undefined: subsetting and zones are off for it). */
  planOf(service: string): ServicePlan | undefined {
    return this.plans.get(service);
  }

  /** Forgets a vanished service. */
  forget(service: string): void {
    this.plans.delete(service);
  }

  /**
   * A client the plan does not know yet (it connected since the last publish): each part takes
   * the pool's least-assigned endpoints (ties by hash of client and endpoint), which is what the
   * next recomputation keeps (its hint, written back for a local client).
   */
  private arrive(plan: MutablePlan, client: AssignmentClient): ClientPlan {
    const { parts: shares, mode } = plan.sharesOf(client.zone);
    const parts: ClientPart[] = shares.map((p) => {
      const pool = plan.pools.get(p.zone);
      if (!pool) return { zone: p.zone, share: p.share, ids: [] };
      const clientHash = fnv1a32(client.clientId);
      const ranked = [...pool.ids].sort((a, b) => {
        const d = (pool.load.get(a) ?? 0) - (pool.load.get(b) ?? 0);
        // Ties as the core's fill breaks them: the lower pair hash of client and endpoint.
        return d !== 0 ? d : pairHash(clientHash, fnv1a32(a)) - pairHash(clientHash, fnv1a32(b));
      });
      const ids = ranked.slice(0, pool.size).sort();
      for (const id of ids) {
        pool.load.set(id, (pool.load.get(id) ?? 0) + 1);
        plan.assignedClients.set(id, (plan.assignedClients.get(id) ?? 0) + 1);
      }
      return { zone: p.zone, share: p.share, ids };
    });
    const planned = this.record(plan, client.clientId, client.zone, -1, parts, mode);
    const member = memberOf(this.population.clients(plan.service), client.clientId);
    if (member?.local) this.writeBack(plan.service, member, parts);
    return planned;
  }

  private record(
    plan: MutablePlan,
    clientId: string,
    zone: string,
    index: number,
    parts: readonly ClientPart[],
    zoneMode: string,
  ): ClientPlan {
    const group = groupKey(zone, parts);
    const planned: ClientPlan = Object.freeze({ clientId, zone, index, parts, group, zoneMode });
    plan.clients.set(clientId, planned);
    if (!plan.groups.has(group)) plan.groups.set(group, planned);
    return planned;
  }

  private writeBack(service: string, member: PopulationMember, parts: readonly ClientPart[]): void {
    // Without subsetting a part holds its whole zone: nothing to keep stable, nothing to write.
    const settings = this.plans.get(service)?.settings ?? this.settings.configOf(service);
    if (settings.subsetSize <= 0) return;
    const subset = [...new Set(parts.flatMap((p) => p.ids))].sort();
    const same = subset.length === member.subset.length && subset.every((id, i) => member.subset[i] === id);
    if (!same) this.population.setSubset(service, member.clientId, subset);
  }

  private zonePlan(
    settings: PolicySettings,
    candidates: readonly AssignedEndpoint[],
    members: readonly PopulationMember[],
  ): { zones: ZonePlan | undefined; zoneOff: string | undefined } {
    if (!settings.zoneAware) return { zones: undefined, zoneOff: 'off' };
    const inputs = new Map<string, { clients: number; capacity: number; endpoints: number }>();
    const slot = (zone: string): { clients: number; capacity: number; endpoints: number } => {
      let s = inputs.get(zone);
      if (!s) inputs.set(zone, (s = { clients: 0, capacity: 0, endpoints: 0 }));
      return s;
    };
    // Capacity from what every replica reads alike: the records' weights (an override's weight
    // instead), draining and weight-0 records left out. Health, ejections and load are what one
    // replica observes: they move weights inside a client's parts (and refill), never which zones'
    // pools a client is in, so replicas agree and a load tick rewrites no subset.
    for (const e of candidates) {
      const s = slot(e.endpoint.zone);
      s.endpoints += 1;
      s.capacity += plannedWeight(e);
    }
    for (const m of members) slot(m.zone).clients += 1;
    const zoneInputs: ZoneInput[] = [...inputs]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([zone, s]) => ({ zone, ...s }));
    const plan = planZones(zoneInputs, {
      overprovisioning: ZONE_OVERPROVISIONING,
      minEndpoints: settings.zoneMinEndpoints,
    });
    if (plan.mode !== 'zone-aware') return { zones: undefined, zoneOff: plan.mode };
    return { zones: plan, zoneOff: undefined };
  }
}

/** What one recomputation of a service's plan changed (for the logs). */
export interface PlanChange {
  readonly service: string;
  /** Clients known before and after whose subset changed, and by how many entries in all. */
  readonly changedClients: number;
  readonly changedEntries: number;
  readonly clients: number;
  /** Zones whose routing mode changed: zone → [before, after] ('' when it was not planned). */
  readonly zoneModes: ReadonlyMap<string, readonly [string, string]>;
}

function planChange(previous: ServicePlan | undefined, plan: ServicePlan): PlanChange | undefined {
  let changedClients = 0;
  let changedEntries = 0;
  for (const [id, now] of plan.clients) {
    const was = previous?.clients.get(id);
    if (!was) continue;
    const before = new Set(was.parts.flatMap((p) => p.ids));
    const after = now.parts.flatMap((p) => p.ids);
    const added = after.filter((x) => !before.has(x)).length;
    if (added > 0 || after.length !== before.size) {
      changedClients += 1;
      changedEntries += Math.max(added, before.size - after.length + added);
    }
  }
  const zoneModes = new Map<string, readonly [string, string]>();
  const modes = (p: ServicePlan | undefined) => p?.zones?.zoneModes ?? new Map<string, string>();
  for (const zone of new Set([...modes(previous).keys(), ...modes(plan).keys()])) {
    const before = modes(previous).get(zone) ?? '';
    const after = modes(plan).get(zone) ?? '';
    if (before !== after) zoneModes.set(zone, [before, after]);
  }
  if (changedClients === 0 && zoneModes.size === 0) return undefined;
  return { service: plan.service, changedClients, changedEntries, clients: plan.clients.size, zoneModes };
}

/**
 * An endpoint's weight as far as etcd says (the record's, or an operator override's): what zone
 * capacity is planned from. 0 for a draining, weight-0, overridden-out or duplicate record.
 */
function plannedWeight(e: AssignedEndpoint): number {
  if (e.duplicateOf !== undefined) return 0;
  return e.configuredWeight ?? (e.endpoint.draining ? 0 : e.endpoint.weight);
}

/** Every zone's share of calls in proportion to its eligible weight (zone-unaware spreading). */
function capacityShares(
  candidates: readonly AssignedEndpoint[],
  pools: ReadonlyMap<string, Pool>,
): { zone: string; share: number }[] {
  const capacity = new Map<string, number>();
  for (const e of candidates) {
    if (pools.has(e.endpoint.zone)) {
      capacity.set(e.endpoint.zone, (capacity.get(e.endpoint.zone) ?? 0) + plannedWeight(e));
    }
  }
  const total = [...capacity.values()].reduce((s, c) => s + c, 0);
  const zones = [...pools.keys()].sort();
  if (total === 0) return zones.map((zone) => ({ zone, share: roundShare(1 / zones.length) }));
  return zones
    .map((zone) => ({ zone, share: roundShare((capacity.get(zone) ?? 0) / total) }))
    .filter((p) => p.share > 0);
}

/**
 * The list a client with `client`'s parts is sent: each part's subset (refilled with the pool's
 * eligible endpoints when none of it is eligible), weights scaled so each part gets its share of
 * the calls (their ratios inside a part kept), in the service's order.
 */
/** Per service-wide entry list: instance id → [entry, its position], built once per assignment. */
const entryIndexes = new WeakMap<readonly AssignedEndpoint[], Map<string, [AssignedEndpoint, number]>>();

function indexOf(entries: readonly AssignedEndpoint[]): Map<string, [AssignedEndpoint, number]> {
  let index = entryIndexes.get(entries);
  if (!index) {
    index = new Map(entries.map((e, i) => [e.endpoint.instanceId, [e, i] as [AssignedEndpoint, number]]));
    entryIndexes.set(entries, index);
  }
  return index;
}

function listFor(
  entries: readonly AssignedEndpoint[],
  client: ClientPlan,
  pools: ReadonlyMap<string, Pool>,
): readonly AssignedEndpoint[] {
  // O(k) per group (plus a refill's pool scan): the service-wide list is indexed once.
  const byId = indexOf(entries);
  const chosen = new Map<
    string,
    { part: ClientPart; refill: boolean; entry: AssignedEndpoint; at: number }
  >();
  for (const part of client.parts) {
    let eligible = false;
    for (const id of part.ids) {
      const found = byId.get(id);
      if (!found) continue;
      chosen.set(id, { part, refill: false, entry: found[0], at: found[1] });
      eligible ||= found[0].eligible;
    }
    if (eligible) continue;
    // Nothing of this part may take calls here: the pool's eligible endpoints nearest the group.
    const pool = pools.get(part.zone);
    const refill = (pool?.ids ?? [])
      .map((id) => byId.get(id))
      .filter(
        (f): f is [AssignedEndpoint, number] =>
          f !== undefined && f[0].eligible && !chosen.has(f[0].endpoint.instanceId),
      )
      .sort(
        (a, b) =>
          fnv1a32(`${client.group}\u0000${a[0].endpoint.instanceId}`) -
          fnv1a32(`${client.group}\u0000${b[0].endpoint.instanceId}`),
      )
      .slice(0, Math.max(1, pool?.size ?? 1));
    for (const [entry, at] of refill)
      chosen.set(entry.endpoint.instanceId, { part, refill: true, entry, at });
  }
  const picked = [...chosen.values()].sort((a, b) => a.at - b.at);
  const weighted = client.parts.length > 1 || (client.parts[0]?.share ?? 1) !== 1;
  const partWeight = new Map<ClientPart, number>();
  for (const c of picked) {
    if (c.entry.eligible) partWeight.set(c.part, (partWeight.get(c.part) ?? 0) + c.entry.weight);
  }
  const raw = new Map<string, number>();
  let max = 0;
  if (weighted) {
    for (const c of picked) {
      if (!c.entry.eligible) continue;
      const total = partWeight.get(c.part) ?? 0;
      const w = total > 0 ? (c.part.share * c.entry.weight) / total : 0;
      raw.set(c.entry.endpoint.instanceId, w);
      max = Math.max(max, w);
    }
  }
  return picked.map((c) => {
    const e = c.entry;
    const reasons: EndpointReason[] = [...e.reasons];
    let weight = e.weight;
    if (c.refill) reasons.push('refill');
    if (weighted && e.eligible && max > 0) {
      weight = Math.min(
        MAX_WEIGHT,
        Math.max(1, Math.round(((raw.get(e.endpoint.instanceId) ?? 0) * MAX_WEIGHT) / max)),
      );
      reasons.push('zone');
    }
    return reasons.length === e.reasons.length && weight === e.weight
      ? e
      : Object.freeze({ ...e, weight, reasons: Object.freeze(reasons) });
  });
}
