// Original file: proto/lookaside/v1/admin.proto

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
  'lease'?: (number | string | Long);
  'modRevision'?: (number | string | Long);
  /**
   * Self-preservation: etcd removed this record, but its removal is held until held_until_ms.
   */
  'held'?: (boolean);
  'heldUntilMs'?: (number | string | Long);
  /**
   * The assignment stage's verdict: whether new calls may go here, and why not or why the weight
   * differs from the record ("draining", "weight-0", "held", "unhealthy", "overridden", "load").
   */
  'eligible'?: (boolean);
  'reasons'?: (string)[];
  /**
   * What this LB replica's health check says: "serving", "not-serving", "unknown" (no answer
   * yet), "no-health-service" (UNIMPLEMENTED: healthy), "unreachable" (not a verdict), or ""
   * when health checks are off.
   */
  'health'?: (string);
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
  'lease': (number);
  'modRevision': (number);
  /**
   * Self-preservation: etcd removed this record, but its removal is held until held_until_ms.
   */
  'held': (boolean);
  'heldUntilMs': (number);
  /**
   * The assignment stage's verdict: whether new calls may go here, and why not or why the weight
   * differs from the record ("draining", "weight-0", "held", "unhealthy", "overridden", "load").
   */
  'eligible': (boolean);
  'reasons': (string)[];
  /**
   * What this LB replica's health check says: "serving", "not-serving", "unknown" (no answer
   * yet), "no-health-service" (UNIMPLEMENTED: healthy), "unreachable" (not a verdict), or ""
   * when health checks are off.
   */
  'health': (string);
}
