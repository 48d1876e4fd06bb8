import type { RegistryEndpoint } from '../core/registry-state';

/**
 * What the assignment stage decides for one group of clients of one service: the endpoints they
 * are sent, each with the weight for new calls and, when that differs from the record, why. The
 * frontends translate it (lookaside.v1 sends every entry but duplicates, weight 0 included, so
 * clients keep the connection for in-flight calls; grpclb and xDS send the eligible ones: each
 * address at most once, since duplicates are never eligible); the admin views and the
 * metrics read the same objects. Immutable: a change makes a new Assignment with a higher version.
 */

/**
 * Why an endpoint takes no new calls, or why its weight is not the registered one.
 * - `draining`: its record says draining (no new calls; kept connected for in-flight calls);
 * - `weight-0`: its registered weight is 0;
 * - `held`: etcd removed it, self-preservation still publishes it (it serves);
 * - `unhealthy`: the health signal says it does not serve;
 * - `ejected`: outlier detection ejected it (clients' reports say it fails abnormally often);
 * - `overridden`: an operator override set its weight or drained it;
 * - `load`: its weight was scaled by the load signal;
 * - `zone`: zone-aware routing set its weight (its zone's share of the client's calls);
 * - `refill`: sent although outside the client's subset, because no endpoint of the subset may
 *   take calls here;
 * - `duplicate`: another record of the service names the same address and is the one clients use
 *   (`duplicateOf`; the rule is in duplicate-addresses.ts): clients connect to the address once.
 */
export type EndpointReason =
  | 'draining'
  | 'weight-0'
  | 'held'
  | 'unhealthy'
  | 'ejected'
  | 'overridden'
  | 'load'
  | 'zone'
  | 'refill'
  | 'duplicate';

/** One endpoint as a group of clients is sent it. */
export interface AssignedEndpoint {
  readonly endpoint: RegistryEndpoint;
  /** The weight for new calls; 0 means none. */
  readonly weight: number;
  /**
   * weight > 0. The project's only definition of "may take new calls": every frontend, the admin
   * views and the metrics read this field.
   */
  readonly eligible: boolean;
  /**
   * The weight as etcd alone says (the record's, an operator override's; 0 when draining or
   * weight 0), before what this replica observes (health, ejections, load): the same on every
   * replica, so what per-client plans are computed from. Absent: the record's weight.
   */
  readonly configuredWeight?: number;
  /** Why the endpoint is out or its weight changed, in the order applied; empty when as registered. */
  readonly reasons: readonly EndpointReason[];
  /**
   * Set when this record is a duplicate (reason `duplicate`, weight 0): the instance id of the
   * record of the same address that clients use.
   */
  readonly duplicateOf?: string;
}

/** Why an entry is not eligible: the last reason that took its weight to 0. */
export type ExclusionReason = Exclude<EndpointReason, 'held' | 'load' | 'zone' | 'refill'>;

/**
 * Why `entry` takes no new calls, for frontends that leave such entries out and log why (every
 * ineligible entry carries at least one reason that zeroed its weight).
 */
export function exclusionReason(entry: AssignedEndpoint): ExclusionReason | undefined {
  if (entry.eligible) return undefined;
  for (let i = entry.reasons.length - 1; i >= 0; i--) {
    const r = entry.reasons[i];
    if (r !== 'held' && r !== 'load' && r !== 'zone' && r !== 'refill') return r;
  }
  return 'weight-0';
}

/** The group every client belongs to under a policy that sends all clients the same list. */
export const WHOLE_SERVICE_GROUP = '';

/** What one group of one service's clients is sent. */
export interface Assignment {
  readonly service: string;
  /** The group within the service (WHOLE_SERVICE_GROUP when all clients share one list). */
  readonly group: string;
  /** Grows with every change of the service's inputs; 0 for a service never published. */
  readonly version: number;
  /** What the group is sent, sorted by registry key. */
  readonly endpoints: readonly AssignedEndpoint[];
  /** The eligible entries of `endpoints`, in the same order. */
  readonly eligible: readonly AssignedEndpoint[];
  /**
   * True when the panic threshold held: health verdicts and ejections would have left too few
   * endpoints, so they are ignored for this service and calls spread over all (Envoy's panic mode).
   */
  readonly panic: boolean;
}

/** The assignment of a service nothing was published for (version 0, no endpoints). */
export function emptyAssignment(service: string, group: string = WHOLE_SERVICE_GROUP): Assignment {
  return Object.freeze({ service, group, version: 0, endpoints: [], eligible: [], panic: false });
}

/** How many entries of an assignment are eligible, carry each reason, and are out for each reason. */
export interface AssignmentCounts {
  readonly endpoints: number;
  readonly eligible: number;
  /** Entries carrying each reason (an entry may carry several). */
  readonly byReason: Readonly<Record<EndpointReason, number>>;
  /** Ineligible entries by exclusionReason(): each counted once, so they add up to endpoints - eligible. */
  readonly excluded: Readonly<Record<ExclusionReason, number>>;
}

/** Counts the entries of `assignment` (admin summaries and metrics use the same numbers). */
export function countAssignment(assignment: Assignment): AssignmentCounts {
  const byReason: Record<EndpointReason, number> = {
    draining: 0,
    'weight-0': 0,
    held: 0,
    unhealthy: 0,
    ejected: 0,
    overridden: 0,
    load: 0,
    zone: 0,
    refill: 0,
    duplicate: 0,
  };
  const excluded: Record<ExclusionReason, number> = {
    draining: 0,
    'weight-0': 0,
    unhealthy: 0,
    ejected: 0,
    overridden: 0,
    duplicate: 0,
  };
  for (const e of assignment.endpoints) {
    for (const r of e.reasons) byReason[r] += 1;
    const out = exclusionReason(e);
    if (out !== undefined) excluded[out] += 1;
  }
  return { endpoints: assignment.endpoints.length, eligible: assignment.eligible.length, byReason, excluded };
}
