// Original file: proto/grpc/lb/v1/load_balancer.proto

import type { InitialLoadBalanceRequest as _grpc_lb_v1_InitialLoadBalanceRequest, InitialLoadBalanceRequest__Output as _grpc_lb_v1_InitialLoadBalanceRequest__Output } from '../../../grpc/lb/v1/InitialLoadBalanceRequest';
import type { ClientStats as _grpc_lb_v1_ClientStats, ClientStats__Output as _grpc_lb_v1_ClientStats__Output } from '../../../grpc/lb/v1/ClientStats';

export interface LoadBalanceRequest {
  /**
   * This message should be sent on the first request to the load balancer.
   */
  'initialRequest'?: (_grpc_lb_v1_InitialLoadBalanceRequest | null);
  /**
   * The client stats should be periodically reported to the load balancer
   * based on the duration defined in the InitialLoadBalanceResponse.
   */
  'clientStats'?: (_grpc_lb_v1_ClientStats | null);
  'loadBalanceRequestType'?: "initialRequest"|"clientStats";
}

export interface LoadBalanceRequest__Output {
  /**
   * This message should be sent on the first request to the load balancer.
   */
  'initialRequest'?: (_grpc_lb_v1_InitialLoadBalanceRequest__Output | null);
  /**
   * The client stats should be periodically reported to the load balancer
   * based on the duration defined in the InitialLoadBalanceResponse.
   */
  'clientStats'?: (_grpc_lb_v1_ClientStats__Output | null);
  'loadBalanceRequestType'?: "initialRequest"|"clientStats";
}
