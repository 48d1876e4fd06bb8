// Original file: proto/lookaside/v1/load_balancer.proto

import type { Long } from '@grpc/proto-loader';

export interface BackendStats {
  /**
   * "host:port", as in Server.address.
   */
  'address'?: (string);
  'callsStarted'?: (number | string | Long);
  'callsSucceeded'?: (number | string | Long);
  'callsFailed'?: (number | string | Long);
  'latencyMsSum'?: (number | string);
}

export interface BackendStats__Output {
  /**
   * "host:port", as in Server.address.
   */
  'address': (string);
  'callsStarted': (number);
  'callsSucceeded': (number);
  'callsFailed': (number);
  'latencyMsSum': (number);
}
