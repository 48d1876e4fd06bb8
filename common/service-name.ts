import type { ParseResult } from './parse-result';

/**
 * The rules for a service name, shared by the registry record, the LB server's frontends (a
 * client names the service it wants), the SDK's target parser and the CLI. Pure.
 */

export const MAX_SERVICE_NAME_LENGTH = 253;

/** Service names: letters, digits, '.', '_', '-'; start with a letter or digit. */
const SERVICE_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

export function validateServiceName(name: string): ParseResult<string> {
  if (name.length === 0) return { ok: false, reason: 'service name is empty' };
  if (name.length > MAX_SERVICE_NAME_LENGTH) {
    return { ok: false, reason: `service name is longer than ${MAX_SERVICE_NAME_LENGTH} characters` };
  }
  if (!SERVICE_NAME_RE.test(name)) {
    return {
      ok: false,
      reason: 'service name must start with a letter or digit and hold only letters, digits, ".", "_", "-"',
    };
  }
  return { ok: true, value: name };
}

/**
 * The service a client's target or resource name stands for: the name itself, or without a
 * trailing ":<port>" (`xds:///greeter:443` asks for `greeter:443`, a grpclb client names
 * `greeter:443`: both mean service `greeter`). Undefined when what remains is not a valid
 * service name.
 */
export function serviceOfTargetName(name: string): string | undefined {
  const service = name.replace(/:\d{1,5}$/, '');
  return validateServiceName(service).ok ? service : undefined;
}
