import { z } from 'zod';
import { parseJsonValue } from '../../common/registry-record';
import { validateServiceName } from '../../common/service-name';
import type { RegistryKeyValue, RejectedRecordInfo } from './registry-state';
import { MAX_FRESH_REJECTIONS } from './registry-state';

/**
 * Per-service configuration, as operators write it to etcd under `<root>/config/<service>`
 * (`/lookaside/config/greeter`): JSON `{ subsetSize?, zoneAware?, zoneMinEndpoints? }`, strict
 * (an unknown key is an error, so a typo never passes silently). A field left out takes the LB
 * server's default (its flags). Pure: no I/O; the ServiceConfigWatcher feeds it.
 */

/** The settings the assignment policy reads for one service. */
export interface ServiceConfigValues {
  /** Endpoints per client; 0: subsetting off (every client gets every endpoint). */
  readonly subsetSize: number;
  /** Zone-aware routing with spill-over. */
  readonly zoneAware: boolean;
  /** Zone-aware routing needs at least this many endpoints. */
  readonly zoneMinEndpoints: number;
}

/** A service's effective configuration and where it comes from. */
export interface ServiceConfig extends ServiceConfigValues {
  /** 'etcd' when a valid setting is in force (its absent fields from the defaults), else 'default'. */
  readonly source: 'default' | 'etcd';
}

export const MAX_SUBSET_SIZE = 10_000;
export const MAX_ZONE_MIN_ENDPOINTS = 10_000;

export const DEFAULT_SERVICE_CONFIG: ServiceConfigValues = Object.freeze({
  subsetSize: 0,
  zoneAware: false,
  zoneMinEndpoints: 6,
});

/** The JSON value of `<root>/config/<service>`. */
export const ServiceConfigValueSchema = z
  .object({
    subsetSize: z
      .number()
      .int('expected an integer')
      .min(0, 'expected an integer >= 0 (0: off)')
      .max(MAX_SUBSET_SIZE, `expected at most ${MAX_SUBSET_SIZE}`)
      .optional(),
    zoneAware: z.boolean('expected true or false').optional(),
    zoneMinEndpoints: z
      .number()
      .int('expected an integer')
      .min(1, 'expected an integer >= 1')
      .max(MAX_ZONE_MIN_ENDPOINTS, `expected at most ${MAX_ZONE_MIN_ENDPOINTS}`)
      .optional(),
  })
  .strict();

export type ServiceConfigValue = z.infer<typeof ServiceConfigValueSchema>;

function describeIssues(error: z.ZodError): string {
  return error.issues
    .map((issue) => {
      if (issue.code === 'unrecognized_keys') {
        return `unknown key${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => JSON.stringify(k)).join(', ')} (expected subsetSize, zoneAware, zoneMinEndpoints)`;
      }
      const where = issue.path.length > 0 ? issue.path.join('.') : 'value';
      return `${where}: ${issue.message}`;
    })
    .join('; ');
}

/** Parses one setting's value, or says why it is not one. Never throws. */
export function parseServiceConfigValue(
  value: string | Buffer,
): { ok: true; value: ServiceConfigValue } | { ok: false; reason: string } {
  const read = parseJsonValue(value);
  if (!read.ok) return read;
  const json = read.value;
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    return { ok: false, reason: 'value is not a JSON object' };
  }
  const parsed = ServiceConfigValueSchema.safeParse(json);
  if (!parsed.success) return { ok: false, reason: describeIssues(parsed.error) };
  return { ok: true, value: parsed.data };
}

interface Slot {
  /** The last valid setting seen (in force), if any. */
  valid: ServiceConfigValue | undefined;
  /** The latest value, when it was rejected (the valid one, or the default, stays in force). */
  rejected: RejectedRecordInfo | undefined;
}

function sameConfig(a: ServiceConfig, b: ServiceConfig): boolean {
  return (
    a.subsetSize === b.subsetSize &&
    a.zoneAware === b.zoneAware &&
    a.zoneMinEndpoints === b.zoneMinEndpoints &&
    a.source === b.source
  );
}

/**
 * Every service's configuration from etcd. put/delete/replaceAll return the services whose
 * effective configuration changed (a rejected value changes nothing: the last valid one, or the
 * default, stays in force, and the rejection is kept for the admin view). A deleted key returns
 * the service to the defaults. Keys that name no valid service are rejected too.
 */
export class ServiceConfigState {
  private readonly slots = new Map<string, Slot>();
  /** Rejected keys that name no valid service, by key. */
  private readonly orphans = new Map<string, RejectedRecordInfo>();
  private fresh: RejectedRecordInfo[] = [];
  private freshDropped = 0;
  private rev = 0;

  /**
   * @param folder the config folder, ending with '/' (`configPrefix(prefix)`)
   * @param defaults what a service without a valid setting gets (the LB server's flags)
   */
  constructor(
    readonly folder: string,
    readonly defaults: ServiceConfigValues = DEFAULT_SERVICE_CONFIG,
  ) {}

  get revision(): number {
    return this.rev;
  }

  /** The effective configuration of `service` (defaults for any service without a valid setting). */
  configOf(service: string): ServiceConfig {
    const valid = this.slots.get(service)?.valid;
    if (valid === undefined) return { ...this.defaults, source: 'default' };
    return {
      subsetSize: valid.subsetSize ?? this.defaults.subsetSize,
      zoneAware: valid.zoneAware ?? this.defaults.zoneAware,
      zoneMinEndpoints: valid.zoneMinEndpoints ?? this.defaults.zoneMinEndpoints,
      source: 'etcd',
    };
  }

  /** The latest value of `service`'s key when it was rejected (with key and reason), else undefined. */
  rejectionOf(service: string): RejectedRecordInfo | undefined {
    return this.slots.get(service)?.rejected;
  }

  /** How many keys hold a rejected value now (attributed to a service or not). */
  rejectedCount(): number {
    let n = this.orphans.size;
    for (const s of this.slots.values()) if (s.rejected !== undefined) n += 1;
    return n;
  }

  /** Services with a key in etcd (valid or rejected), sorted. */
  services(): string[] {
    return [...this.slots.keys()].sort();
  }

  replaceAll(kvs: readonly RegistryKeyValue[], revision: number): string[] {
    const before = new Map([...this.slots.keys()].map((s) => [s, this.configOf(s)]));
    // A full read after an outage: what etcd holds now, except that a service whose value is
    // rejected keeps the last valid one seen before.
    const old = new Map(this.slots);
    const known = new Map<string, number>();
    for (const slot of old.values())
      if (slot.rejected) known.set(slot.rejected.key, slot.rejected.modRevision);
    for (const r of this.orphans.values()) known.set(r.key, r.modRevision);
    this.slots.clear();
    this.orphans.clear();
    for (const kv of kvs) this.apply(kv, known.get(kv.key) === kv.modRevision);
    for (const [s, slot] of this.slots) {
      if (slot.valid === undefined && slot.rejected !== undefined) slot.valid = old.get(s)?.valid;
    }
    this.rev = Math.max(this.rev, revision);
    const changed = new Set<string>();
    for (const s of new Set([...before.keys(), ...this.slots.keys()])) {
      const was = before.get(s) ?? { ...this.defaults, source: 'default' as const };
      if (!sameConfig(was, this.configOf(s))) changed.add(s);
    }
    return [...changed].sort();
  }

  put(kv: RegistryKeyValue): string[] {
    this.rev = Math.max(this.rev, kv.modRevision);
    const service = this.serviceOfKey(kv.key);
    const before = service === undefined ? undefined : this.configOf(service);
    this.apply(kv);
    if (service === undefined || before === undefined) return [];
    return sameConfig(before, this.configOf(service)) ? [] : [service];
  }

  delete(key: string, revision: number): string[] {
    this.rev = Math.max(this.rev, revision);
    this.orphans.delete(key);
    const service = this.serviceOfKey(key);
    if (service === undefined || !this.slots.has(service)) return [];
    const before = this.configOf(service);
    this.slots.delete(service);
    return sameConfig(before, this.configOf(service)) ? [] : [service];
  }

  takeNewRejections(): { rejected: RejectedRecordInfo[]; dropped: number } {
    const out = { rejected: this.fresh, dropped: this.freshDropped };
    this.fresh = [];
    this.freshDropped = 0;
    return out;
  }

  /** Applies one key; `seen`: its rejection was logged already (a full read after an outage). */
  private apply(kv: RegistryKeyValue, seen = false): void {
    const service = this.serviceOfKey(kv.key);
    if (service === undefined) {
      const name = kv.key.startsWith(this.folder) ? kv.key.slice(this.folder.length) : kv.key;
      const valid = validateServiceName(name);
      const reason = valid.ok
        ? `key is not under ${this.folder}`
        : `key does not name a service (expected ${this.folder}<service>): ${valid.reason}`;
      if (!seen) this.reject({ key: kv.key, reason, modRevision: kv.modRevision });
      this.orphans.set(kv.key, { key: kv.key, reason, modRevision: kv.modRevision });
      return;
    }
    const slot = this.slots.get(service) ?? { valid: undefined, rejected: undefined };
    this.slots.set(service, slot);
    const parsed = parseServiceConfigValue(kv.value);
    if (parsed.ok) {
      slot.valid = parsed.value;
      slot.rejected = undefined;
    } else {
      slot.rejected = { key: kv.key, reason: parsed.reason, modRevision: kv.modRevision };
      if (!seen) this.reject(slot.rejected);
    }
  }

  private reject(r: RejectedRecordInfo): void {
    if (this.fresh.length < MAX_FRESH_REJECTIONS) this.fresh.push(r);
    else this.freshDropped += 1;
  }

  private serviceOfKey(key: string): string | undefined {
    if (!key.startsWith(this.folder)) return undefined;
    const name = key.slice(this.folder.length);
    return validateServiceName(name).ok ? name : undefined;
  }
}
