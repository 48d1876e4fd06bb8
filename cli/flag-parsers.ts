import { accessSync, constants, statSync } from 'node:fs';
import { InvalidArgumentError } from 'commander';
import { z } from 'zod';
import { parseAddress, parseListenAddress } from '../common/host-port';
import { validateServiceName } from '../common/service-name';
import { validateInstanceId } from '../common/registry-record';

/**
 * Argument parsers for commander options, one per kind of value. Each validates with zod (or the
 * registry record's own validators) and throws InvalidArgumentError, so commander reports the
 * flag (or the environment variable it came from) by name and exits non-zero.
 */

function fromSchema<T>(schema: z.ZodType<T>): (value: string) => T {
  return (value: string): T => {
    const parsed = schema.safeParse(value);
    if (!parsed.success) throw new InvalidArgumentError(parsed.error.issues.map((i) => i.message).join('; '));
    return parsed.data;
  };
}

/** An integer in [min, max]. */
export function integerIn(min: number, max: number): (value: string) => number {
  return fromSchema(
    z
      .string()
      .regex(/^-?\d+$/, `expected an integer in ${min}..${max}`)
      .transform(Number)
      .pipe(z.number().int().min(min, `expected at least ${min}`).max(max, `expected at most ${max}`)),
  );
}

/** A replica id: non-empty, at most `max` characters, no "/". */
export function replicaId(max: number): (value: string) => string {
  return fromSchema(
    z
      .string()
      .min(1, 'must not be empty')
      .max(max, `expected at most ${max} characters`)
      .regex(/^[^/]*$/, 'must not contain "/"'),
  );
}

/** A fraction in (0, 1], e.g. "0.5". */
/** "on" or "off" (also true/false, 1/0, yes/no). */
export function onOff(value: string): boolean {
  const v = value.trim().toLowerCase();
  if (['on', 'true', '1', 'yes'].includes(v)) return true;
  if (['off', 'false', '0', 'no'].includes(v)) return false;
  throw new InvalidArgumentError('expected "on" or "off"');
}

export function fraction(value: string): number {
  return fromSchema(
    z
      .string()
      .regex(/^(0?\.\d+|1(\.0*)?|0)$/, 'expected a fraction in (0, 1], e.g. 0.5')
      .transform(Number)
      .pipe(z.number().gt(0, 'expected a fraction in (0, 1], e.g. 0.5').max(1)),
  )(value);
}

/** A TCP port, 1..65535 (0 allowed when `allowZero`, meaning "pick a free one"). */
/** A fraction in [0, 1] where 0 means "off", e.g. 0.5. */
export function panicFraction(value: string): number {
  return fromSchema(
    z
      .string()
      .regex(/^(0?\.\d+|1(\.0*)?|0)$/, 'expected a fraction in [0, 1], e.g. 0.5')
      .transform(Number)
      .pipe(z.number().min(0).max(1)),
  )(value);
}

export function port(allowZero = false): (value: string) => number {
  return integerIn(allowZero ? 0 : 1, 65535);
}

/** "host:port" to connect to (IPv6 in brackets). */
export function hostPort(value: string): string {
  const parsed = parseAddress(value);
  if (!parsed.ok) throw new InvalidArgumentError(parsed.reason);
  return value;
}

/** "host:port" to listen on; port 0 means "pick a free one". */
export function listenAddress(value: string): string {
  const parsed = parseListenAddress(value);
  if (!parsed.ok) throw new InvalidArgumentError(parsed.reason);
  return value;
}

/** A comma-separated list of "host:port" (e.g. several LB replicas). */
export function hostPortList(value: string): string[] {
  const parts = value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (parts.length === 0) throw new InvalidArgumentError('expected at least one host:port');
  return parts.map(hostPort);
}

/** A comma-separated list of etcd endpoint URLs (http:// or https://). */
export function urlList(value: string): string[] {
  const parts = value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (parts.length === 0) throw new InvalidArgumentError('expected at least one URL');
  for (const p of parts) {
    let url: URL;
    try {
      url = new URL(p);
    } catch {
      throw new InvalidArgumentError(`"${p}" is not a URL (expected http://host:port)`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new InvalidArgumentError(`"${p}" must start with http:// or https://`);
    }
  }
  return parts;
}

const DURATION_UNITS_MS: Readonly<Record<string, number>> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
};

/**
 * A duration such as "30s", "10m", "2h", "1d", "500ms" or "1h30m", in milliseconds: more than 0
 * and at most `maxMs`.
 */
export function duration(maxMs: number): (value: string) => number {
  return (value: string): number => {
    const v = value.trim();
    if (!/^(\d+(ms|s|m|h|d))+$/.test(v)) {
      throw new InvalidArgumentError('expected a duration such as 30s, 10m, 2h or 1h30m');
    }
    let ms = 0;
    for (const [, n, unit] of v.matchAll(/(\d+)(ms|s|m|h|d)/g)) ms += Number(n) * DURATION_UNITS_MS[unit];
    if (ms <= 0) throw new InvalidArgumentError('expected a duration longer than 0');
    if (ms > maxMs) throw new InvalidArgumentError(`expected at most ${maxMs / 86_400_000} days`);
    return ms;
  };
}

/** An instance id as the registry accepts it. */
export function instanceId(value: string): string {
  const v = validateInstanceId(value);
  if (!v.ok) throw new InvalidArgumentError(v.reason);
  return value;
}

/** A service name as the registry accepts it. */
export function serviceName(value: string): string {
  const v = validateServiceName(value);
  if (!v.ok) throw new InvalidArgumentError(v.reason);
  return value;
}

/** A non-empty string. */
export function nonEmpty(value: string): string {
  if (value.trim().length === 0) throw new InvalidArgumentError('must not be empty');
  return value;
}

/** An etcd key prefix: starts with "/", no whitespace. */
export function keyPrefix(value: string): string {
  if (!/^\/\S*$/.test(value))
    throw new InvalidArgumentError('expected a key prefix starting with "/" without spaces');
  return value;
}

/** A path to a readable regular file (a certificate, a key); the program reads it later. */
export function readableFile(value: string): string {
  if (value.trim().length === 0) throw new InvalidArgumentError('expected a file path');
  try {
    if (!statSync(value).isFile()) throw new InvalidArgumentError(`${value} is not a regular file`);
    accessSync(value, constants.R_OK);
  } catch (err) {
    if (err instanceof InvalidArgumentError) throw err;
    throw new InvalidArgumentError(`cannot read ${value}: ${(err as Error).message}`);
  }
  return value;
}
