import type { experimental } from '@grpc/grpc-js';
import type { Server__Output } from '../proto/gen/lookaside/v1/Server';
import { DEFAULT_WEIGHT, MAX_WEIGHT } from '../common/registry-record';
import { formatAddress, parseAddress } from '../common/host-port';

/**
 * The endpoint the resolver hands the `lookaside_wrr` policy: grpc-js passes extra fields on an
 * Endpoint through to `updateAddressList` untouched (as grpc-js-xds does with locality weights).
 */
export interface LookasideEndpoint extends experimental.Endpoint {
  /** Normalised "host:port" of the single address; the key of the backend in the policy. */
  readonly address: string;
  /** Relative share of new calls; 0 takes none. */
  readonly weight: number;
  /** Shutting down: keep the connection, send no new calls. */
  readonly draining: boolean;
  readonly zone: string;
}

/** Whether an Endpoint handed to the policy carries lookaside fields. */
export function isLookasideEndpoint(endpoint: experimental.Endpoint): endpoint is LookasideEndpoint {
  const e = endpoint as Partial<LookasideEndpoint>;
  return typeof e.address === 'string' && typeof e.weight === 'number' && typeof e.draining === 'boolean';
}

/** An entry of a server list that was left out, and why. */
export interface RejectedServer {
  readonly address: string;
  readonly reason: string;
}

/**
 * Turns the servers of a ServerList into endpoints. Called by the resolver for every list it
 * accepts. Pure; skips (and returns) entries with a bad address, clamps weights to 0..MAX_WEIGHT.
 * An address listed more than once is one backend (one connection): an LB server of this version
 * sends each address once (its assignment stage picks the record clients use), an older one may
 * repeat it. Then the entry with the highest weight is used (the first of them on a tie), at the
 * place of the address's first entry; weights are not summed, and the others are returned as
 * rejected. The highest weight, because a list cannot say which record is newer, and the usual
 * duplicate is an instance restarted on the same port whose old record still lingers: its calls
 * must not stop because one of its entries says weight 0.
 */
export function serverListToEndpoints(servers: readonly Server__Output[]): {
  endpoints: LookasideEndpoint[];
  rejected: RejectedServer[];
} {
  const endpoints: LookasideEndpoint[] = [];
  const rejected: RejectedServer[] = [];
  const indexOf = new Map<string, number>();
  for (const s of servers) {
    const parsed = parseAddress(s.address);
    if (!parsed.ok) {
      rejected.push({ address: s.address, reason: parsed.reason });
      continue;
    }
    const { host, port } = parsed.value;
    const address = formatAddress(host, port);
    const endpoint: LookasideEndpoint = {
      addresses: [{ host, port }],
      address,
      weight: Math.min(MAX_WEIGHT, Math.max(0, Math.floor(s.weight))),
      draining: s.draining,
      zone: s.zone,
    };
    const at = indexOf.get(address);
    if (at === undefined) {
      indexOf.set(address, endpoints.length);
      endpoints.push(endpoint);
      continue;
    }
    rejected.push({ address, reason: 'duplicate address in the server list' });
    if (endpoint.weight > endpoints[at].weight) endpoints[at] = endpoint;
  }
  return { endpoints, rejected };
}

/**
 * Endpoints for fallback addresses (equal weights, not draining). Called by the resolver when no LB
 * server has answered in time. Throws a RangeError naming a bad address.
 */
export function fallbackEndpoints(addresses: readonly string[]): LookasideEndpoint[] {
  const { endpoints, rejected } = serverListToEndpoints(
    addresses.map((address) => ({
      address,
      weight: DEFAULT_WEIGHT,
      zone: '',
      metadata: {},
      loadBalanceToken: '',
      draining: false,
    })),
  );
  if (rejected.length > 0) {
    throw new RangeError(`invalid fallback address "${rejected[0].address}": ${rejected[0].reason}`);
  }
  return endpoints;
}
