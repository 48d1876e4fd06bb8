import type { ParseResult } from './parse-result';

/**
 * "host:port" addresses: the one parser and formatter of the project (registry records, LB
 * targets, listen flags, fallback addresses). Pure.
 */

/** DNS hostname (labels of letters, digits and '-'), or dotted IPv4. */
const HOSTNAME_RE =
  /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;
const IPV4_RE = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;
const IPV6_BODY_RE = /^[0-9A-Fa-f:.]+(%[A-Za-z0-9._-]+)?$/;

/** A host and port split out of a "host:port" address. IPv6 hosts are kept without brackets. */
export interface HostPort {
  readonly host: string;
  readonly port: number;
}

/**
 * Parses "host:port". The host is a DNS name, an IPv4 address, or an IPv6 address in brackets;
 * the port is 1..65535.
 */
export function parseAddress(address: string): ParseResult<HostPort> {
  if (address.length === 0) return { ok: false, reason: 'address is empty' };
  if (address.length > 300) return { ok: false, reason: 'address is longer than 300 characters' };
  let host: string;
  let portText: string;
  if (address.startsWith('[')) {
    const close = address.indexOf(']');
    if (close < 0) return { ok: false, reason: `address "${address}" has "[" without "]"` };
    host = address.slice(1, close);
    if (address[close + 1] !== ':') {
      return { ok: false, reason: `address "${address}" has no port (expected "[v6]:port")` };
    }
    portText = address.slice(close + 2);
    if (!host.includes(':') || !IPV6_BODY_RE.test(host)) {
      return { ok: false, reason: `address "${address}" has an invalid IPv6 host` };
    }
  } else {
    const colon = address.lastIndexOf(':');
    if (colon < 0) return { ok: false, reason: `address "${address}" has no port (expected "host:port")` };
    host = address.slice(0, colon);
    portText = address.slice(colon + 1);
    if (host.includes(':')) {
      return { ok: false, reason: `address "${address}": an IPv6 host must be in brackets ("[v6]:port")` };
    }
    if (host.length === 0) return { ok: false, reason: `address "${address}" has an empty host` };
    const v4 = IPV4_RE.exec(host);
    if (v4) {
      if (v4.slice(1).some((octet) => Number(octet) > 255)) {
        return { ok: false, reason: `address "${address}" has an invalid IPv4 host` };
      }
    } else if (!HOSTNAME_RE.test(host)) {
      return { ok: false, reason: `address "${address}" has an invalid host name` };
    }
  }
  if (!/^\d{1,5}$/.test(portText)) {
    return { ok: false, reason: `address "${address}" has an invalid port "${portText}"` };
  }
  const port = Number(portText);
  if (port < 1 || port > 65535) {
    return { ok: false, reason: `address "${address}" has port ${port} outside 1..65535` };
  }
  return { ok: true, value: { host, port } };
}

/**
 * Parses an address to listen on: like parseAddress, but port 0 ("pick a free one") is allowed.
 */
export function parseListenAddress(listen: string): ParseResult<HostPort> {
  if (!listen.endsWith(':0')) return parseAddress(listen);
  const parsed = parseAddress(`${listen.slice(0, -2)}:1`);
  if (!parsed.ok) return { ok: false, reason: parsed.reason.replace(/:1"/, ':0"') };
  return { ok: true, value: { host: parsed.value.host, port: 0 } };
}

/** Formats a host and port as an address, bracketing IPv6 hosts. */
export function formatAddress(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}
