// Original file: proto/lookaside/v1/admin.proto

import type { Override as _lookaside_v1_Override, Override__Output as _lookaside_v1_Override__Output } from '../../lookaside/v1/Override';
import type { Long } from '@grpc/proto-loader';

export interface Endpoint {
  'instanceId'?: (string);
  'key'?: (string);
  'address'?: (string);
  /**
   * The weight configured in the record.
   */
  'weight'?: (number);
  /**
   * The weight clients use for new calls: 0 while draining.
   */
  'effectiveWeight'?: (number);
  'zone'?: (string);
  'metadata'?: ({[key: string]: string});
  'draining'?: (boolean);
  /**
   * "lookaside" for our record format, "etcd-naming" for etcd's Go naming format.
   */
  'format'?: (string);
  'modRevision'?: (number | string | Long);
  /**
   * Self-preservation: etcd removed this record, but its removal is held until held_until_ms.
   */
  'held'?: (boolean);
  'heldUntilMs'?: (number | string | Long);
  /**
   * The assignment stage's verdict: whether new calls may go here, and why not or why the weight
   * differs from the record ("draining", "weight-0", "held", "unhealthy", "ejected", "overridden",
   * "load", "duplicate").
   */
  'eligible'?: (boolean);
  'reasons'?: (string)[];
  /**
   * What this LB replica's health check says: "serving", "not-serving", "unknown" (no answer
   * yet), "no-health-service" (UNIMPLEMENTED: healthy), "unreachable" (not a verdict), or ""
   * when health checks are off.
   */
  'health'?: (string);
  /**
   * Outlier ejection (gRFC A50 rules over every client's reports): the rule that ejected it
   * ("success-rate", "failure-percentage"; "" when not ejected), since when, until when (it returns
   * at the detector's first interval after), and how many times in a row.
   */
  'ejectionRule'?: (string);
  'ejectedSinceMs'?: (number | string | Long);
  'ejectedUntilMs'?: (number | string | Long);
  'consecutiveEjections'?: (number);
  /**
   * What this replica's clients reported over the last outlier interval: finished calls per second,
   * and the share of them that failed with a status that points at the backend (UNAVAILABLE,
   * INTERNAL, UNKNOWN, DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED, DATA_LOSS).
   */
  'callsPerSecond'?: (number | string);
  'failureRate'?: (number | string);
  /**
   * Load-aware weights: where this service's load factors come from ("orca", "clients", or ""
   * when none: registered weights), this endpoint's factor (effective = weight x factor, before
   * the other reasons), its estimated capacity, and the inputs (ORCA utilization, qps, eps; the
   * client-reported latency: the fastest successful call, the median over clients, or the mean
   * of clients that do not report their fastest call).
   */
  'loadSource'?: (string);
  'loadFactor'?: (number | string);
  'capacity'?: (number | string);
  'utilization'?: (number | string);
  'qps'?: (number | string);
  'eps'?: (number | string);
  'latencyMs'?: (number | string);
  /**
   * The record's etcd lease id in decimal, exact ("0": no lease), as `etcdctl lease timetolive`
   * takes it.
   */
  'lease'?: (string);
  /**
   * Reason "duplicate": another record of this service names the same address and is the one
   * clients use (ours over etcd's Go format, then the newest mod revision); this is its instance
   * id. This record gets no calls (effective weight 0). "" when not a duplicate.
   */
  'duplicateOf'?: (string);
  /**
   * The operator override applied to this endpoint, if any (the result is effective_weight and
   * reasons, which then include "overridden"; `weight` stays the registered one).
   */
  'override'?: (_lookaside_v1_Override | null);
  /**
   * Subsetting (per-client assignments): how many clients' subsets hold this endpoint, over every
   * LB replica's clients (every replica computes the same subsets). 0 when subsetting and
   * zone-aware routing are off for the service.
   */
  'assignedClients'?: (number);
}

export interface Endpoint__Output {
  'instanceId': (string);
  'key': (string);
  'address': (string);
  /**
   * The weight configured in the record.
   */
  'weight': (number);
  /**
   * The weight clients use for new calls: 0 while draining.
   */
  'effectiveWeight': (number);
  'zone': (string);
  'metadata': ({[key: string]: string});
  'draining': (boolean);
  /**
   * "lookaside" for our record format, "etcd-naming" for etcd's Go naming format.
   */
  'format': (string);
  'modRevision': (number);
  /**
   * Self-preservation: etcd removed this record, but its removal is held until held_until_ms.
   */
  'held': (boolean);
  'heldUntilMs': (number);
  /**
   * The assignment stage's verdict: whether new calls may go here, and why not or why the weight
   * differs from the record ("draining", "weight-0", "held", "unhealthy", "ejected", "overridden",
   * "load", "duplicate").
   */
  'eligible': (boolean);
  'reasons': (string)[];
  /**
   * What this LB replica's health check says: "serving", "not-serving", "unknown" (no answer
   * yet), "no-health-service" (UNIMPLEMENTED: healthy), "unreachable" (not a verdict), or ""
   * when health checks are off.
   */
  'health': (string);
  /**
   * Outlier ejection (gRFC A50 rules over every client's reports): the rule that ejected it
   * ("success-rate", "failure-percentage"; "" when not ejected), since when, until when (it returns
   * at the detector's first interval after), and how many times in a row.
   */
  'ejectionRule': (string);
  'ejectedSinceMs': (number);
  'ejectedUntilMs': (number);
  'consecutiveEjections': (number);
  /**
   * What this replica's clients reported over the last outlier interval: finished calls per second,
   * and the share of them that failed with a status that points at the backend (UNAVAILABLE,
   * INTERNAL, UNKNOWN, DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED, DATA_LOSS).
   */
  'callsPerSecond': (number);
  'failureRate': (number);
  /**
   * Load-aware weights: where this service's load factors come from ("orca", "clients", or ""
   * when none: registered weights), this endpoint's factor (effective = weight x factor, before
   * the other reasons), its estimated capacity, and the inputs (ORCA utilization, qps, eps; the
   * client-reported latency: the fastest successful call, the median over clients, or the mean
   * of clients that do not report their fastest call).
   */
  'loadSource': (string);
  'loadFactor': (number);
  'capacity': (number);
  'utilization': (number);
  'qps': (number);
  'eps': (number);
  'latencyMs': (number);
  /**
   * The record's etcd lease id in decimal, exact ("0": no lease), as `etcdctl lease timetolive`
   * takes it.
   */
  'lease': (string);
  /**
   * Reason "duplicate": another record of this service names the same address and is the one
   * clients use (ours over etcd's Go format, then the newest mod revision); this is its instance
   * id. This record gets no calls (effective weight 0). "" when not a duplicate.
   */
  'duplicateOf': (string);
  /**
   * The operator override applied to this endpoint, if any (the result is effective_weight and
   * reasons, which then include "overridden"; `weight` stays the registered one).
   */
  'override': (_lookaside_v1_Override__Output | null);
  /**
   * Subsetting (per-client assignments): how many clients' subsets hold this endpoint, over every
   * LB replica's clients (every replica computes the same subsets). 0 when subsetting and
   * zone-aware routing are off for the service.
   */
  'assignedClients': (number);
}
