// Original file: proto/lookaside/v1/admin.proto

import type { Long } from '@grpc/proto-loader';

/**
 * One operator override as the LB server holds it.
 */
export interface Override {
  'service'?: (string);
  'instanceId'?: (string);
  /**
   * Its etcd key, <root>/overrides/<service>/<instance-id>.
   */
  'key'?: (string);
  /**
   * Replaces the registered weight (0..10000) when set.
   */
  'weight'?: (number);
  /**
   * Takes the instance out of rotation (weight 0; clients keep it connected for in-flight calls).
   */
  'draining'?: (boolean);
  /**
   * Who set it and why.
   */
  'who'?: (string);
  'reason'?: (string);
  /**
   * Unix ms when it was set, and when it stops applying (0: never).
   */
  'atMs'?: (number | string | Long);
  'expiresAtMs'?: (number | string | Long);
  /**
   * No record of this instance exists (yet).
   */
  'dangling'?: (boolean);
  'modRevision'?: (number | string | Long);
  '_weight'?: "weight";
}

/**
 * One operator override as the LB server holds it.
 */
export interface Override__Output {
  'service': (string);
  'instanceId': (string);
  /**
   * Its etcd key, <root>/overrides/<service>/<instance-id>.
   */
  'key': (string);
  /**
   * Replaces the registered weight (0..10000) when set.
   */
  'weight'?: (number);
  /**
   * Takes the instance out of rotation (weight 0; clients keep it connected for in-flight calls).
   */
  'draining': (boolean);
  /**
   * Who set it and why.
   */
  'who': (string);
  'reason': (string);
  /**
   * Unix ms when it was set, and when it stops applying (0: never).
   */
  'atMs': (number);
  'expiresAtMs': (number);
  /**
   * No record of this instance exists (yet).
   */
  'dangling': (boolean);
  'modRevision': (number);
  '_weight'?: "weight";
}
