import { isIP } from 'node:net';
import type { Server } from '../../../proto/gen/grpc/lb/v1/Server';
import type { ServerList } from '../../../proto/gen/grpc/lb/v1/ServerList';
import {
  exclusionReason,
  type AssignedEndpoint,
  type Assignment,
  type ExclusionReason,
} from '../../assignment/assignment';

/** The longest server list the grpclb frontend sends: weights are scaled down to fit. */
export const MAX_GRPCLB_LIST_LENGTH = 1000;

/** An IPv4 or IPv6 address in network byte order; undefined for anything else (a host name). */
export function ipBytes(host: string): Buffer | undefined {
  const family = isIP(host);
  if (family === 4) return Buffer.from(host.split('.').map(Number));
  if (family !== 6) return undefined;
  let text = host;
  const out = Buffer.alloc(16);
  // An embedded IPv4 tail ("::ffff:1.2.3.4") becomes two hex groups.
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4) {
    const b = v4[1].split('.').map(Number);
    text =
      text.slice(0, v4.index) + `${((b[0] << 8) | b[1]).toString(16)}:${((b[2] << 8) | b[3]).toString(16)}`;
  }
  const [head, tail] = text.includes('::') ? text.split('::') : [text, undefined];
  const headGroups = head ? head.split(':') : [];
  const tailGroups = tail ? tail.split(':') : [];
  const groups = [
    ...headGroups,
    ...Array(8 - headGroups.length - tailGroups.length).fill('0'),
    ...tailGroups,
  ];
  groups.forEach((g: string, i) => out.writeUInt16BE(parseInt(g, 16), i * 2));
  return out;
}

function gcd(a: number, b: number): number {
  return b === 0 ? a : gcd(b, a % b);
}

/**
 * How many entries each weight gets in a list of at most `maxLength`: the weights divided by
 * their greatest common divisor, and if their sum is still too long, scaled down (largest
 * remainder) with at least one entry each. With more endpoints than `maxLength`, each gets one.
 */
export function repetitions(weights: readonly number[], maxLength = MAX_GRPCLB_LIST_LENGTH): number[] {
  if (weights.length === 0) return [];
  const divisor = weights.reduce((g, w) => gcd(g, w), 0) || 1;
  const reduced = weights.map((w) => w / divisor);
  const total = reduced.reduce((s, w) => s + w, 0);
  if (total <= maxLength) return reduced;
  if (weights.length >= maxLength) return weights.map(() => 1);
  // Each endpoint keeps one entry; the rest of the list is shared in proportion.
  const spare = maxLength - weights.length;
  const exact = reduced.map((w) => ((w - 1) * spare) / (total - weights.length));
  const counts = exact.map((x) => 1 + Math.floor(x));
  let left = maxLength - counts.reduce((s, c) => s + c, 0);
  const byRemainder = exact.map((x, i) => [x - Math.floor(x), i] as const).sort((a, b) => b[0] - a[0]);
  for (const [, i] of byRemainder) {
    if (left <= 0) break;
    counts[i] += 1;
    left -= 1;
  }
  return counts;
}

/**
 * Interleaves `counts` (entries per item) into one sequence by smooth weighted round robin, so a
 * client that walks the list in order spreads its calls evenly instead of in runs.
 */
export function interleave(counts: readonly number[]): number[] {
  const total = counts.reduce((s, c) => s + c, 0);
  const current = counts.map(() => 0);
  const out: number[] = [];
  for (let n = 0; n < total; n++) {
    let best = -1;
    for (let i = 0; i < counts.length; i++) {
      current[i] += counts[i];
      if (counts[i] > 0 && (best < 0 || current[i] > current[best])) best = i;
    }
    current[best] -= total;
    out.push(best);
  }
  return out;
}

/** Why an endpoint of an assignment is not in a grpclb list. */
export type GrpclbSkipReason = ExclusionReason | 'not-an-ip';

/** A grpclb list and the endpoints left out of it, for the frontend to log. */
export interface GrpclbList {
  readonly serverList: ServerList;
  readonly skipped: readonly { readonly key: string; readonly reason: GrpclbSkipReason }[];
}

/**
 * Translates an assignment into the grpclb v1 ServerList a stock client receives. grpclb has no
 * weights: a client walks the list in order, repeated entries included, so each eligible
 * endpoint appears in proportion to its weight (see repetitions(); at most `maxLength` entries),
 * interleaved. Each entry carries the instance id as `load_balance_token`. Entries the stage
 * made ineligible are left out (no new calls), and so are host names (the wire carries IP bytes).
 * Pure; called by the grpclb frontend for each push.
 */
export function toGrpclbServerList(assignment: Assignment, maxLength = MAX_GRPCLB_LIST_LENGTH): GrpclbList {
  const skipped: { key: string; reason: GrpclbSkipReason }[] = [];
  const usable: { entry: AssignedEndpoint; ip: Buffer }[] = [];
  for (const entry of assignment.endpoints) {
    const excluded = exclusionReason(entry);
    if (excluded !== undefined) {
      skipped.push({ key: entry.endpoint.key, reason: excluded });
      continue;
    }
    const ip = ipBytes(entry.endpoint.host);
    if (ip) usable.push({ entry, ip });
    else skipped.push({ key: entry.endpoint.key, reason: 'not-an-ip' });
  }
  const counts = repetitions(
    usable.map((u) => u.entry.weight),
    maxLength,
  );
  const servers: Server[] = interleave(counts).map((i) => ({
    ipAddress: usable[i].ip,
    port: usable[i].entry.endpoint.port,
    loadBalanceToken: usable[i].entry.endpoint.loadBalanceToken,
    drop: false,
  }));
  return { serverList: { servers }, skipped };
}
