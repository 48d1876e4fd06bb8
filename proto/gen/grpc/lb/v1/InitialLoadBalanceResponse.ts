// Original file: proto/grpc/lb/v1/load_balancer.proto

import type { Duration as _google_protobuf_Duration, Duration__Output as _google_protobuf_Duration__Output } from '../../../google/protobuf/Duration';

export interface InitialLoadBalanceResponse {
  /**
   * This interval defines how often the client should send the client stats
   * to the load balancer. Stats should only be reported when the duration is
   * positive.
   */
  'clientStatsReportInterval'?: (_google_protobuf_Duration | null);
}

export interface InitialLoadBalanceResponse__Output {
  /**
   * This interval defines how often the client should send the client stats
   * to the load balancer. Stats should only be reported when the duration is
   * positive.
   */
  'clientStatsReportInterval': (_google_protobuf_Duration__Output | null);
}
