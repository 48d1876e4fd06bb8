// Original file: proto/lookaside/v1/load_balancer.proto


export interface InitialLoadBalanceResponse {
  /**
   * How often the client should send ClientStats; 0 means never.
   */
  'clientStatsReportIntervalMs'?: (number);
}

export interface InitialLoadBalanceResponse__Output {
  /**
   * How often the client should send ClientStats; 0 means never.
   */
  'clientStatsReportIntervalMs': (number);
}
