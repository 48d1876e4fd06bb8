// Original file: proto/lookaside/v1/admin.proto

import type { Long } from '@grpc/proto-loader';

export interface SetOverrideRequest {
  'service'?: (string);
  'instanceId'?: (string);
  /**
   * At least one of a weight and draining = true.
   */
  'weight'?: (number);
  'draining'?: (boolean);
  /**
   * Why (at most 512 characters).
   */
  'reason'?: (string);
  /**
   * How long it applies; 0: until cleared.
   */
  'forMs'?: (number | string | Long);
  /**
   * Who sets it (at most 128 characters); empty: the caller's peer address.
   */
  'who'?: (string);
  '_weight'?: "weight";
  '_draining'?: "draining";
}

export interface SetOverrideRequest__Output {
  'service': (string);
  'instanceId': (string);
  /**
   * At least one of a weight and draining = true.
   */
  'weight'?: (number);
  'draining'?: (boolean);
  /**
   * Why (at most 512 characters).
   */
  'reason': (string);
  /**
   * How long it applies; 0: until cleared.
   */
  'forMs': (number);
  /**
   * Who sets it (at most 128 characters); empty: the caller's peer address.
   */
  'who': (string);
  '_weight'?: "weight";
  '_draining'?: "draining";
}
