import type { experimental } from '@grpc/grpc-js';
import { parseAddress } from '../common/host-port';
import { validateServiceName } from '../common/service-name';

/** The scheme the resolver is registered under: `lookaside://<lb:port[,lb:port…]>/<service>`. */
export const LOOKASIDE_SCHEME = 'lookaside';

/** A parsed `lookaside://` target. */
export interface LookasideTarget {
  /** LB server replicas, "host:port", in the order given (the resolver rotates through them). */
  readonly lbServers: readonly string[];
  /** The service name: the `:authority` of every call and the name sent to the LB server. */
  readonly service: string;
}

/** A `lookaside://` target that cannot be used; the message names the target and what is wrong. */
export class LookasideTargetError extends Error {
  override readonly name = 'LookasideTargetError';
  constructor(
    readonly target: string,
    readonly reason: string,
  ) {
    super(`invalid lookaside target "${target}": ${reason}`);
  }
}

/** What to write instead, for the error messages. */
const EXPECTED = 'expected lookaside://<lb-host:port>/<service>';

/**
 * The target as the user wrote it. grpc-js's parser reads an authority only when a "/" follows
 * it, so "lookaside://lb:7000" (no service) arrives as path "//lb:7000" with no authority at all.
 */
function show(uri: experimental.GrpcUri): string {
  const scheme = uri.scheme !== undefined ? `${uri.scheme}:` : '';
  const authority = uri.authority !== undefined ? `//${uri.authority}/` : '';
  return `${scheme}${authority}${uri.path}`;
}

/**
 * Parses the target grpc-js hands the resolver. Called by the resolver's constructor and by
 * getDefaultAuthority (so that a bad target fails the client's construction). Pure; throws a
 * LookasideTargetError quoting the target as written and naming what is missing or wrong.
 */
export function parseLookasideTarget(uri: experimental.GrpcUri): LookasideTarget {
  const text = show(uri);
  if (uri.authority === undefined) {
    // "lookaside://lb:7000" or "lookaside://lb:7000/": an LB server, but nothing after it.
    const reason = uri.path.startsWith('//') ? 'no service name' : 'no LB server';
    throw new LookasideTargetError(text, `${reason} (${EXPECTED})`);
  }
  const authority = uri.authority;
  if (authority.trim() === '') {
    throw new LookasideTargetError(text, `no LB server (${EXPECTED})`);
  }
  const lbServers: string[] = [];
  for (const raw of authority.split(',')) {
    const address = raw.trim();
    if (address === '') continue;
    const parsed = parseAddress(address);
    if (!parsed.ok) throw new LookasideTargetError(text, `LB server "${address}": ${parsed.reason}`);
    if (!lbServers.includes(address)) lbServers.push(address);
  }
  if (lbServers.length === 0) throw new LookasideTargetError(text, 'no LB server in the authority');
  const service = uri.path.replace(/^\/+/, '').replace(/\/+$/, '');
  const valid = validateServiceName(service);
  if (!valid.ok) throw new LookasideTargetError(text, valid.reason);
  return { lbServers, service };
}
