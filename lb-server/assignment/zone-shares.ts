/**
 * Zone-aware routing shares (issue 15): for each client zone, which fraction of its clients'
 * calls goes to each endpoint zone, from exact global counts (every client and endpoint of the
 * service across all LB replicas), by Envoy's zone-aware rule. Pure; the assignment stage calls
 * {@link planZones} per service recomputation and turns the shares into per-zone weights.
 */

/** One zone's demand and supply. The empty zone name stands for "no zone". */
export interface ZoneInput {
  readonly zone: string;
  /** Demand: the number of clients in this zone (or their reported load). */
  readonly clients: number;
  /** Sum of the eligible weights of the zone's endpoints. */
  readonly capacity: number;
  /** Number of the zone's endpoints (eligible or not). */
  readonly endpoints: number;
}

/** How a client zone's calls are routed. */
export type ZoneMode = 'local' | 'spill' | 'spread-all';

/** Why the plan is, or is not, zone-aware. */
export type ZonePlanMode = 'off-too-small' | 'off-no-zones' | 'off-no-capacity' | 'zone-aware';

/** What {@link planZones} returns. */
export interface ZonePlan {
  /**
   * Client zone → (endpoint zone → fraction of that zone's clients' calls). Every input zone is a
   * key (the empty name for zoneless clients); only positive fractions are listed, and they sum
   * to 1, except when there is no endpoint at all (every map empty).
   */
  readonly shares: ReadonlyMap<string, ReadonlyMap<string, number>>;
  readonly mode: ZonePlanMode;
  /** Per client zone (same keys as `shares`). */
  readonly zoneModes: ReadonlyMap<string, ZoneMode>;
}

/** Options of {@link planZones}. */
export interface ZonePlanOptions {
  /** Envoy's overprovisioning factor, ≥ 1 (default in the LB server: 1.4). */
  readonly overprovisioning: number;
  /** Zone-aware only from this many endpoints in total (default in the LB server: 6). */
  readonly minEndpoints: number;
}

/** An input that is not a finite non-negative number, or an option out of range. */
export class ZonePlanInputError extends RangeError {
  constructor(
    readonly field: string,
    readonly value: unknown,
    expected: string,
  ) {
    super(`zone plan: ${field} must be ${expected}, got ${String(value)}`);
    this.name = 'ZonePlanInputError';
  }
}

/** Relative slack of the threshold comparison, so that 70/30 over 50/50 at 1.4 is exactly "spill". */
const THRESHOLD_SLACK = 1e-9;

interface Zone {
  readonly zone: string;
  clients: number;
  capacity: number;
  endpoints: number;
}

function checkCount(value: number, field: string): void {
  if (!Number.isFinite(value) || value < 0) throw new ZonePlanInputError(field, value, 'a finite number ≥ 0');
}

/** Zones in sorted name order, a name given twice summed into one. */
function mergeZones(zones: readonly ZoneInput[]): Zone[] {
  const byName = new Map<string, Zone>();
  for (const z of zones) {
    checkCount(z.clients, `zone "${z.zone}" clients`);
    checkCount(z.capacity, `zone "${z.zone}" capacity`);
    checkCount(z.endpoints, `zone "${z.zone}" endpoints`);
    const m = byName.get(z.zone);
    if (m === undefined)
      byName.set(z.zone, { zone: z.zone, clients: z.clients, capacity: z.capacity, endpoints: z.endpoints });
    else {
      m.clients += z.clients;
      m.capacity += z.capacity;
      m.endpoints += z.endpoints;
    }
  }
  return [...byName.values()].sort((a, b) => (a.zone < b.zone ? -1 : a.zone > b.zone ? 1 : 0));
}

/** Endpoint zone → weight / Σweight over positive weights; empty when Σ is 0. */
function proportional(zones: readonly Zone[], weight: (z: Zone) => number): Map<string, number> {
  let sum = 0;
  for (const z of zones) sum += Math.max(0, weight(z));
  const out = new Map<string, number>();
  if (sum <= 0) return out;
  for (const z of zones) {
    const w = Math.max(0, weight(z));
    if (w > 0) out.set(z.zone, w / sum);
  }
  return out;
}

/** A share map of `scale` × each of `parts`, added into `into`. */
function addScaled(into: Map<string, number>, parts: ReadonlyMap<string, number>, scale: number): void {
  if (scale <= 0) return;
  for (const [zone, f] of parts) into.set(zone, (into.get(zone) ?? 0) + scale * f);
}

function offPlan(zones: readonly Zone[], mode: ZonePlanMode): ZonePlan {
  const totalCapacity = zones.reduce((s, z) => s + z.capacity, 0);
  const spread = proportional(zones, totalCapacity > 0 ? (z) => z.capacity : (z) => z.endpoints);
  const shares = new Map<string, ReadonlyMap<string, number>>();
  const zoneModes = new Map<string, ZoneMode>();
  for (const z of zones) {
    shares.set(z.zone, new Map(spread));
    zoneModes.set(z.zone, 'spread-all');
  }
  return { shares, mode, zoneModes };
}

/**
 * The zone plan of one service. Pure and deterministic (zones are taken in sorted name order; a
 * zone named twice is summed). Throws {@link ZonePlanInputError} for a count that is negative or
 * not finite, an overprovisioning factor below 1 or a negative minEndpoints.
 *
 * Shares: demand d_z = clients_z / Σclients, capacity c_z = capacity_z / Σcapacity.
 *
 * Off, every zone spread over all endpoint zones in proportion to capacity (mode of every zone
 * 'spread-all'): 'off-too-small' when Σendpoints < minEndpoints; 'off-no-zones' when no named
 * zone has clients or no named zone has endpoints; 'off-no-capacity' when Σcapacity is 0 (then
 * the spread is by endpoint count, and with no endpoint at all every share map is empty).
 *
 * Zone-aware (Envoy's rule, from the exact global counts):
 * - zoneless clients (the empty zone name) and every zone z with 0 < c_z < d_z / overprovisioning
 *   (its healthy capacity fell below its demand over the factor) are 'spread-all': their calls go
 *   to every endpoint zone in proportion to c_w, zone-unaware. Together they take the demand share
 *   D, which consumes D × c_w of every zone w;
 * - what remains is r_w = c_w × (1 − D) of capacity for the other zones' demand e_z = d_z
 *   (Σr = Σe). A zone with r_z ≥ e_z keeps all its calls local ('local'). A zone with r_z < e_z
 *   keeps r_z / e_z of them local and sends the excess (e_z − r_z) / e_z to the zones with spare
 *   capacity (r_w − e_w > 0) in proportion to that spare ('spill'). A zone with no capacity at all
 *   (no endpoints, or none eligible) spills everything: spreading by capacity would keep nothing
 *   local either, and spilling to spare leaves the other zones' local calls alone. So a zone
 *   with c_z ≥ d_z can still spill when spread-all calls take part of its capacity: it then
 *   sends its excess to whatever capacity the spreading zones left.
 * - zoneless endpoints (the empty zone name) are capacity no client is local to: pure spare.
 * - a zone with no clients keeps its calls local when it has capacity (as a first client would
 *   see it), else is sent by spare capacity, or by capacity when no zone has spare.
 * - at the threshold exactly (within a relative 1e-9) a zone spills rather than spreads.
 * The result conserves capacity: for every endpoint zone w, Σ_z d_z × share(z → w) = c_w, so no
 * zone receives more than its capacity share.
 */
export function planZones(zones: readonly ZoneInput[], options: ZonePlanOptions): ZonePlan {
  const { overprovisioning, minEndpoints } = options;
  if (!Number.isFinite(overprovisioning) || overprovisioning < 1)
    throw new ZonePlanInputError('overprovisioning', overprovisioning, 'a finite number ≥ 1');
  if (!Number.isFinite(minEndpoints) || minEndpoints < 0)
    throw new ZonePlanInputError('minEndpoints', minEndpoints, 'a finite number ≥ 0');
  const all = mergeZones(zones);
  let totalClients = 0;
  let totalCapacity = 0;
  let totalEndpoints = 0;
  let namedDemand = false;
  let namedSupply = false;
  for (const z of all) {
    totalClients += z.clients;
    totalCapacity += z.capacity;
    totalEndpoints += z.endpoints;
    if (z.zone !== '' && z.clients > 0) namedDemand = true;
    if (z.zone !== '' && z.endpoints > 0) namedSupply = true;
  }
  if (totalEndpoints < minEndpoints) return offPlan(all, 'off-too-small');
  if (!namedDemand || !namedSupply) return offPlan(all, 'off-no-zones');
  if (totalCapacity <= 0) return offPlan(all, 'off-no-capacity');

  const d = (z: Zone): number => (totalClients > 0 ? z.clients / totalClients : 0);
  const c = (z: Zone): number => z.capacity / totalCapacity;
  const spreads = (z: Zone): boolean =>
    z.zone === '' || (z.capacity > 0 && c(z) * overprovisioning < d(z) * (1 - THRESHOLD_SLACK));

  let spreadDemand = 0;
  for (const z of all) if (spreads(z)) spreadDemand += d(z);
  const residual = (z: Zone): number => c(z) * (1 - spreadDemand);
  const demand = (z: Zone): number => (spreads(z) ? 0 : d(z));
  const bySpare = proportional(all, (z) => residual(z) - demand(z));
  const byCapacity = proportional(all, c);

  const shares = new Map<string, ReadonlyMap<string, number>>();
  const zoneModes = new Map<string, ZoneMode>();
  for (const z of all) {
    const share = new Map<string, number>();
    if (spreads(z)) {
      addScaled(share, byCapacity, 1);
      zoneModes.set(z.zone, 'spread-all');
    } else if (z.capacity > 0 && (demand(z) === 0 || residual(z) >= demand(z))) {
      share.set(z.zone, 1);
      zoneModes.set(z.zone, 'local');
    } else {
      const local = demand(z) > 0 ? residual(z) / demand(z) : 0;
      if (local > 0) share.set(z.zone, local);
      addScaled(share, bySpare.size > 0 ? bySpare : byCapacity, 1 - local);
      zoneModes.set(z.zone, 'spill');
    }
    shares.set(z.zone, share);
  }
  return { shares, mode: 'zone-aware', zoneModes };
}
