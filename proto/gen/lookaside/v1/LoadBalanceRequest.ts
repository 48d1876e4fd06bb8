// Original file: proto/lookaside/v1/load_balancer.proto

import type { InitialLoadBalanceRequest as _lookaside_v1_InitialLoadBalanceRequest, InitialLoadBalanceRequest__Output as _lookaside_v1_InitialLoadBalanceRequest__Output } from '../../lookaside/v1/InitialLoadBalanceRequest';
import type { ClientStats as _lookaside_v1_ClientStats, ClientStats__Output as _lookaside_v1_ClientStats__Output } from '../../lookaside/v1/ClientStats';

export interface LoadBalanceRequest {
  /**
   * First message, exactly once.
   */
  'initialRequest'?: (_lookaside_v1_InitialLoadBalanceRequest | null);
  /**
   * Then periodically, on the interval from InitialLoadBalanceResponse.
   */
  'clientStats'?: (_lookaside_v1_ClientStats | null);
  'loadBalanceRequestType'?: "initialRequest"|"clientStats";
}

export interface LoadBalanceRequest__Output {
  /**
   * First message, exactly once.
   */
  'initialRequest'?: (_lookaside_v1_InitialLoadBalanceRequest__Output | null);
  /**
   * Then periodically, on the interval from InitialLoadBalanceResponse.
   */
  'clientStats'?: (_lookaside_v1_ClientStats__Output | null);
  'loadBalanceRequestType'?: "initialRequest"|"clientStats";
}
