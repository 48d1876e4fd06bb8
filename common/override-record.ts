import { prefixRoot } from './key-layout';
import { z } from 'zod';
import type { ParseResult } from './parse-result';
import { describeZodError, MAX_WEIGHT, parseJsonValue, parseKey, recordKey } from './registry-record';

/**
 * The operator override record: the contract between whoever steers an instance (the LB server's
 * Admin API, the console, an operator with etcdctl) and every LB replica.
 *
 * key:   `<root>/overrides/<service>/<instance-id>`, root = prefixRoot(registry prefix) (common/key-layout.ts), so with
 *        the default prefix `/lookaside/overrides/<service>/<instance-id>`.
 * value: JSON `{ weight?, draining?, who, why, atMs, expiresAtMs? }` (strict: unknown fields are
 *        refused), with a weight or `draining: true`.
 *
 * "Out of rotation" is `draining: true`: the instance gets weight 0, so no new calls, while clients
 * keep their connection for the calls in flight, as a registrar's own drain does. There is no
 * separate field: one that also cut connections would fail in-flight calls, which no operator
 * action needs. Pure: no I/O, never throws on bad input.
 */

export const MAX_WHO_LENGTH = 128;
export const MAX_WHY_LENGTH = 512;

/** The JSON value of an override, as the LB server writes it. */
export const OverrideValueSchema = z
  .strictObject({
    weight: z.number().int().min(0).max(MAX_WEIGHT).optional(),
    draining: z.boolean().optional(),
    who: z.string().min(1).max(MAX_WHO_LENGTH),
    why: z.string().max(MAX_WHY_LENGTH),
    atMs: z.number().int().nonnegative(),
    expiresAtMs: z.number().int().positive().optional(),
  })
  .refine((v) => v.weight !== undefined || v.draining === true, {
    message: 'an override needs a weight or "draining": true',
  })
  .refine((v) => v.expiresAtMs === undefined || v.expiresAtMs > v.atMs, {
    message: 'must be after atMs',
    path: ['expiresAtMs'],
  });

export type OverrideValue = z.output<typeof OverrideValueSchema>;

/** One valid override, with the instance it names. */
export interface OverrideRecord extends OverrideValue {
  readonly service: string;
  readonly instanceId: string;
}

/** The prefix of every override key for a registry prefix (no trailing '/'). */
export function overridesPrefix(registryPrefix: string): string {
  return `${prefixRoot(registryPrefix)}/overrides`;
}

/** The key of one instance's override. Throws a RangeError if the service or instance id is invalid. */
export function overrideKey(registryPrefix: string, service: string, instanceId: string): string {
  return recordKey(overridesPrefix(registryPrefix), service, instanceId);
}

/**
 * Parses one etcd key and value under `overridePrefix` (see overridesPrefix) into an override, or
 * says why it is not one. Never throws.
 */
export function parseOverride(
  overridePrefix: string,
  key: string,
  value: string | Buffer,
): ParseResult<OverrideRecord> {
  const k = parseKey(overridePrefix, key);
  if (!k.ok) return k;
  const read = parseJsonValue(value);
  if (!read.ok) return read;
  const json = read.value;
  const parsed = OverrideValueSchema.safeParse(json);
  if (!parsed.success) return { ok: false, reason: describeZodError(parsed.error) };
  return { ok: true, value: { ...parsed.data, service: k.value.service, instanceId: k.value.instanceId } };
}

/** Serialises an override value after validating it. Throws a RangeError naming the bad field. */
export function encodeOverrideValue(value: OverrideValue): string {
  const parsed = OverrideValueSchema.safeParse(value);
  if (!parsed.success) throw new RangeError(`invalid override: ${describeZodError(parsed.error)}`);
  return JSON.stringify(parsed.data);
}
