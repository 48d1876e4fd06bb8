// TEMPORARY stand-in (integrator's): replaced by the subset branch's implementation at merge.
export interface ZoneInput {
  readonly zone: string;
  readonly clients: number;
  readonly capacity: number;
  readonly endpoints: number;
}
export interface ZonePlan {
  readonly shares: ReadonlyMap<string, ReadonlyMap<string, number>>;
  readonly mode: 'off-too-small' | 'off-no-zones' | 'zone-aware';
  readonly zoneModes: ReadonlyMap<string, 'local' | 'spill' | 'spread-all'>;
}
export function planZones(
  zones: readonly ZoneInput[],
  options: { overprovisioning: number; minEndpoints: number },
): ZonePlan {
  const endpoints = zones.reduce((s, z) => s + z.endpoints, 0);
  const empty = { shares: new Map(), zoneModes: new Map() };
  if (endpoints < options.minEndpoints) return { ...empty, mode: 'off-too-small' };
  if (zones.some((z) => z.zone === '')) return { ...empty, mode: 'off-no-zones' };
  const clients = zones.reduce((s, z) => s + z.clients, 0) || 1;
  const capacity = zones.reduce((s, z) => s + z.capacity, 0) || 1;
  const d = new Map(zones.map((z) => [z.zone, z.clients / clients]));
  const c = new Map(zones.map((z) => [z.zone, z.capacity / capacity]));
  const spare = zones.map((z) => [z.zone, Math.max(0, (c.get(z.zone) ?? 0) - (d.get(z.zone) ?? 0))] as const);
  const totalSpare = spare.reduce((s, [, x]) => s + x, 0);
  const shares = new Map<string, Map<string, number>>();
  const zoneModes = new Map<string, 'local' | 'spill' | 'spread-all'>();
  for (const z of zones) {
    const dz = d.get(z.zone) ?? 0;
    const cz = c.get(z.zone) ?? 0;
    const m = new Map<string, number>();
    if (cz >= dz) {
      m.set(z.zone, 1);
      zoneModes.set(z.zone, 'local');
    } else if (cz < dz / options.overprovisioning) {
      for (const w of zones) m.set(w.zone, c.get(w.zone) ?? 0);
      zoneModes.set(z.zone, 'spread-all');
    } else {
      m.set(z.zone, cz / dz);
      for (const [w, x] of spare) if (x > 0 && totalSpare > 0) m.set(w, (1 - cz / dz) * (x / totalSpare));
      zoneModes.set(z.zone, 'spill');
    }
    shares.set(z.zone, m);
  }
  return { shares, zoneModes, mode: 'zone-aware' };
}
