// Original file: proto/grpc/lb/v1/load_balancer.proto

import type { Long } from '@grpc/proto-loader';

/**
 * Contains the number of calls finished for a particular load balance token.
 */
export interface ClientStatsPerToken {
  /**
   * See Server.load_balance_token.
   */
  'loadBalanceToken'?: (string);
  /**
   * The total number of RPCs that finished associated with the token.
   */
  'numCalls'?: (number | string | Long);
}

/**
 * Contains the number of calls finished for a particular load balance token.
 */
export interface ClientStatsPerToken__Output {
  /**
   * See Server.load_balance_token.
   */
  'loadBalanceToken': (string);
  /**
   * The total number of RPCs that finished associated with the token.
   */
  'numCalls': (number);
}
