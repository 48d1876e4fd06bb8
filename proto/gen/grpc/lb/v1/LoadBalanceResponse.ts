// Original file: proto/grpc/lb/v1/load_balancer.proto

import type { InitialLoadBalanceResponse as _grpc_lb_v1_InitialLoadBalanceResponse, InitialLoadBalanceResponse__Output as _grpc_lb_v1_InitialLoadBalanceResponse__Output } from '../../../grpc/lb/v1/InitialLoadBalanceResponse';
import type { ServerList as _grpc_lb_v1_ServerList, ServerList__Output as _grpc_lb_v1_ServerList__Output } from '../../../grpc/lb/v1/ServerList';
import type { FallbackResponse as _grpc_lb_v1_FallbackResponse, FallbackResponse__Output as _grpc_lb_v1_FallbackResponse__Output } from '../../../grpc/lb/v1/FallbackResponse';

export interface LoadBalanceResponse {
  /**
   * This message should be sent on the first response to the client.
   */
  'initialResponse'?: (_grpc_lb_v1_InitialLoadBalanceResponse | null);
  /**
   * Contains the list of servers selected by the load balancer.
   */
  'serverList'?: (_grpc_lb_v1_ServerList | null);
  /**
   * If this field is set, then the client should eagerly enter fallback mode.
   */
  'fallbackResponse'?: (_grpc_lb_v1_FallbackResponse | null);
  'loadBalanceResponseType'?: "initialResponse"|"serverList"|"fallbackResponse";
}

export interface LoadBalanceResponse__Output {
  /**
   * This message should be sent on the first response to the client.
   */
  'initialResponse'?: (_grpc_lb_v1_InitialLoadBalanceResponse__Output | null);
  /**
   * Contains the list of servers selected by the load balancer.
   */
  'serverList'?: (_grpc_lb_v1_ServerList__Output | null);
  /**
   * If this field is set, then the client should eagerly enter fallback mode.
   */
  'fallbackResponse'?: (_grpc_lb_v1_FallbackResponse__Output | null);
  'loadBalanceResponseType'?: "initialResponse"|"serverList"|"fallbackResponse";
}
