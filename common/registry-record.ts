import { z } from 'zod';
import { formatAddress, parseAddress, type HostPort } from './host-port';
import type { ParseResult } from './parse-result';
import { validateServiceName } from './service-name';

/**
 * The registry record: the contract between services (through the registrar) and the LB server.
 *
 * key:   `<prefix>/<service>/<instance-id>`
 * value: JSON `{ address, weight?, zone?, metadata?, draining?, healthService? }` (our format), or etcd's Go
 *        naming format `{ "Op": 0, "Addr": "host:port", "Metadata": … }` under the same layout.
 *
 * This module owns both; everything else imports it. Pure: no I/O, never throws on bad input.
 */

export const DEFAULT_PREFIX = '/lookaside/services';
export const DEFAULT_WEIGHT = 100;
export const MAX_WEIGHT = 10_000;
export const MAX_VALUE_BYTES = 64 * 1024;
export const MAX_METADATA_ENTRIES = 64;
export const MAX_METADATA_KEY_LENGTH = 128;
export const MAX_METADATA_VALUE_LENGTH = 1024;
export const MAX_ZONE_LENGTH = 128;
export const MAX_INSTANCE_ID_LENGTH = 256;
export const MAX_HEALTH_SERVICE_LENGTH = 256;

/** Instance ids: printable ASCII except '/', no spaces. */
const INSTANCE_ID_RE = /^[!-.0-~]+$/;

export type RecordFormat = 'lookaside' | 'etcd-naming';

/** One valid, parsed registration. */
export interface RegistryRecord {
  readonly service: string;
  readonly instanceId: string;
  /** Normalised "host:port" ("[v6]:port" for IPv6). */
  readonly address: string;
  readonly host: string;
  readonly port: number;
  /** 0..MAX_WEIGHT; 0 means take no new calls. */
  readonly weight: number;
  readonly zone: string;
  readonly metadata: Readonly<Record<string, string>>;
  readonly draining: boolean;
  /**
   * The `grpc.health.v1` service name the LB server watches for this instance; "" (the default)
   * is the server's overall health.
   */
  readonly healthService: string;
  readonly format: RecordFormat;
}

/** The parts of a key under a prefix. */
export interface RecordKey {
  readonly service: string;
  readonly instanceId: string;
}

/** Removes trailing slashes so that `/a/` and `/a` name the same prefix ("" stays ""). */
export function normalizePrefix(prefix: string): string {
  return prefix.replace(/\/+$/, '');
}

/** The key prefix under which all instances of `service` live (ends with '/'). */
export function servicePrefix(prefix: string, service: string): string {
  return `${normalizePrefix(prefix)}/${service}/`;
}

/** The key of one instance. Throws if the service name or instance id is invalid. */
export function recordKey(prefix: string, service: string, instanceId: string): string {
  const s = validateServiceName(service);
  if (!s.ok) throw new RangeError(`invalid service name ${JSON.stringify(service)}: ${s.reason}`);
  const i = validateInstanceId(instanceId);
  if (!i.ok) throw new RangeError(`invalid instance id ${JSON.stringify(instanceId)}: ${i.reason}`);
  return `${servicePrefix(prefix, service)}${instanceId}`;
}

export function validateInstanceId(id: string): ParseResult<string> {
  if (id.length === 0) return { ok: false, reason: 'instance id is empty' };
  if (id.length > MAX_INSTANCE_ID_LENGTH) {
    return { ok: false, reason: `instance id is longer than ${MAX_INSTANCE_ID_LENGTH} characters` };
  }
  if (!INSTANCE_ID_RE.test(id)) {
    return { ok: false, reason: 'instance id must be printable ASCII without "/" or spaces' };
  }
  return { ok: true, value: id };
}

/** Splits `<prefix>/<service>/<instance-id>`; the instance id is everything after the service. */
export function parseKey(prefix: string, key: string): ParseResult<RecordKey> {
  const base = `${normalizePrefix(prefix)}/`;
  if (!key.startsWith(base)) return { ok: false, reason: `key is not under the prefix "${base}"` };
  const rest = key.slice(base.length);
  const slash = rest.indexOf('/');
  if (slash < 0)
    return { ok: false, reason: 'key has no instance id (expected <prefix>/<service>/<instance-id>)' };
  const service = rest.slice(0, slash);
  const instanceId = rest.slice(slash + 1);
  const s = validateServiceName(service);
  if (!s.ok) return s;
  // etcd's Go naming keys end in the address ("<target>/10.0.0.1:8080"); ids may hold ':' and '.'.
  const i = validateInstanceId(instanceId);
  if (!i.ok) return i;
  return { ok: true, value: { service, instanceId } };
}

const addressSchema = z.string().superRefine((value, ctx) => {
  const parsed = parseAddress(value);
  if (!parsed.ok) ctx.addIssue({ code: 'custom', message: parsed.reason });
});

const metadataSchema = z
  .record(z.string().min(1).max(MAX_METADATA_KEY_LENGTH), z.string().max(MAX_METADATA_VALUE_LENGTH))
  .refine((m) => Object.keys(m).length <= MAX_METADATA_ENTRIES, {
    message: `metadata has more than ${MAX_METADATA_ENTRIES} entries`,
  });

/** The JSON value of a record in our format, as the registrar writes it. */
export const RecordValueSchema = z.object({
  address: addressSchema,
  weight: z.number().int().min(0).max(MAX_WEIGHT).default(DEFAULT_WEIGHT),
  zone: z.string().max(MAX_ZONE_LENGTH).default(''),
  metadata: metadataSchema.default({}),
  draining: z.boolean().default(false),
  healthService: z
    .string()
    .max(MAX_HEALTH_SERVICE_LENGTH)
    .regex(/^[A-Za-z0-9._/-]*$/, 'expected a gRPC service name (letters, digits, ".", "_", "-", "/")')
    .default(''),
});

/** What a registrar may write; defaults fill in what it leaves out. */
export type RecordValueInput = z.input<typeof RecordValueSchema>;
export type RecordValue = z.output<typeof RecordValueSchema>;

/** etcd's `go.etcd.io/etcd/client/v3/naming/endpoints` value: `Op` 0 is Add, `Metadata` any JSON. */
const GoNamingValueSchema = z.object({
  Op: z.literal(0).optional(),
  Addr: addressSchema,
  Metadata: z.unknown().optional(),
});

/** One line naming each zod issue's field and message (`weight: Too big…; who: Required`). */
export function describeZodError(error: z.ZodError): string {
  return error.issues
    .map((issue) => {
      const where = issue.path.length > 0 ? issue.path.join('.') : 'value';
      return `${where}: ${issue.message}`;
    })
    .join('; ');
}

/** Go metadata is any JSON: keep an object's string values, stringify the rest. */
function goMetadata(metadata: unknown): Record<string, string> {
  if (metadata === undefined || metadata === null) return {};
  if (typeof metadata !== 'object' || Array.isArray(metadata)) return { metadata: JSON.stringify(metadata) };
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(metadata as Record<string, unknown>)) {
    out[k] = typeof v === 'string' ? v : JSON.stringify(v);
  }
  return out;
}

/**
 * An etcd value as JSON, or why it is not: empty, larger than MAX_VALUE_BYTES, or not JSON (the
 * checks every value the LB server reads goes through first). Never throws.
 */
export function parseJsonValue(value: string | Buffer): ParseResult<unknown> {
  const size = typeof value === 'string' ? Buffer.byteLength(value) : value.length;
  if (size === 0) return { ok: false, reason: 'value is empty' };
  if (size > MAX_VALUE_BYTES)
    return { ok: false, reason: `value is ${size} bytes, more than ${MAX_VALUE_BYTES}` };
  try {
    return {
      ok: true,
      value: JSON.parse(typeof value === 'string' ? value : value.toString('utf8')) as unknown,
    };
  } catch (err) {
    return { ok: false, reason: `value is not JSON: ${(err as Error).message}` };
  }
}

/**
 * Parses one etcd key and value under `prefix` into a record, or says why it is not one.
 * Reads our format and etcd's Go naming format (told apart by the `Addr` field). Never throws.
 */
export function parseRecord(
  prefix: string,
  key: string,
  value: string | Buffer,
): ParseResult<RegistryRecord> {
  const k = parseKey(prefix, key);
  if (!k.ok) return k;
  const read = parseJsonValue(value);
  if (!read.ok) return read;
  const json = read.value;
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    return { ok: false, reason: 'value is not a JSON object' };
  }
  if ('Addr' in json && !('address' in json)) {
    const go = GoNamingValueSchema.safeParse(json);
    if (!go.success) return { ok: false, reason: `etcd naming value: ${describeZodError(go.error)}` };
    const metadata = goMetadata(go.data.Metadata);
    const checked = metadataSchema.safeParse(metadata);
    if (!checked.success)
      return { ok: false, reason: `etcd naming value: ${describeZodError(checked.error)}` };
    return {
      ok: true,
      value: build(k.value, go.data.Addr, DEFAULT_WEIGHT, '', metadata, false, '', 'etcd-naming'),
    };
  }
  const parsed = RecordValueSchema.safeParse(json);
  if (!parsed.success) return { ok: false, reason: describeZodError(parsed.error) };
  const v = parsed.data;
  return {
    ok: true,
    value: build(k.value, v.address, v.weight, v.zone, v.metadata, v.draining, v.healthService, 'lookaside'),
  };
}

function build(
  key: RecordKey,
  address: string,
  weight: number,
  zone: string,
  metadata: Record<string, string>,
  draining: boolean,
  healthService: string,
  format: RecordFormat,
): RegistryRecord {
  // The address was validated by the schema.
  const hp = parseAddress(address) as { ok: true; value: HostPort };
  return {
    service: key.service,
    instanceId: key.instanceId,
    address: formatAddress(hp.value.host, hp.value.port),
    host: hp.value.host,
    port: hp.value.port,
    weight,
    zone,
    metadata,
    draining,
    healthService,
    format,
  };
}

/**
 * Serialises a record value for etcd after validating it; the registrar's only way to write one.
 * Throws a RangeError naming the bad field.
 */
export function encodeRecordValue(value: RecordValueInput): string {
  const parsed = RecordValueSchema.safeParse(value);
  if (!parsed.success) throw new RangeError(`invalid registry record: ${describeZodError(parsed.error)}`);
  // The default health service ("") is left out, so records read the same as before the field.
  const { healthService, ...rest } = parsed.data;
  return JSON.stringify(healthService === '' ? rest : parsed.data);
}
