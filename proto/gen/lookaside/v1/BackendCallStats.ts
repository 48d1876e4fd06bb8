// Original file: proto/lookaside/v1/admin.proto

import type { StatusCount as _lookaside_v1_StatusCount, StatusCount__Output as _lookaside_v1_StatusCount__Output } from '../../lookaside/v1/StatusCount';
import type { Long } from '@grpc/proto-loader';

export interface BackendCallStats {
  'address'?: (string);
  'callsStarted'?: (number | string | Long);
  'callsSucceeded'?: (number | string | Long);
  'callsFailed'?: (number | string | Long);
  'latencyMsSum'?: (number | string);
  /**
   * Failed calls by gRPC status code, as the client reported them.
   */
  'failedByStatus'?: (_lookaside_v1_StatusCount)[];
}

export interface BackendCallStats__Output {
  'address': (string);
  'callsStarted': (number);
  'callsSucceeded': (number);
  'callsFailed': (number);
  'latencyMsSum': (number);
  /**
   * Failed calls by gRPC status code, as the client reported them.
   */
  'failedByStatus': (_lookaside_v1_StatusCount__Output)[];
}
