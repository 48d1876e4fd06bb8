// Original file: proto/lookaside/v1/load_balancer.proto

import type { Long } from '@grpc/proto-loader';

export interface StatusCount {
  /**
   * A gRPC status code, 1..16.
   */
  'code'?: (number);
  'count'?: (number | string | Long);
}

export interface StatusCount__Output {
  /**
   * A gRPC status code, 1..16.
   */
  'code': (number);
  'count': (number);
}
