// Original file: proto/lookaside/v1/load_balancer.proto

import type { InitialLoadBalanceResponse as _lookaside_v1_InitialLoadBalanceResponse, InitialLoadBalanceResponse__Output as _lookaside_v1_InitialLoadBalanceResponse__Output } from '../../lookaside/v1/InitialLoadBalanceResponse';
import type { ServerList as _lookaside_v1_ServerList, ServerList__Output as _lookaside_v1_ServerList__Output } from '../../lookaside/v1/ServerList';

export interface LoadBalanceResponse {
  'initialResponse'?: (_lookaside_v1_InitialLoadBalanceResponse | null);
  'serverList'?: (_lookaside_v1_ServerList | null);
  'loadBalanceResponseType'?: "initialResponse"|"serverList";
}

export interface LoadBalanceResponse__Output {
  'initialResponse'?: (_lookaside_v1_InitialLoadBalanceResponse__Output | null);
  'serverList'?: (_lookaside_v1_ServerList__Output | null);
  'loadBalanceResponseType'?: "initialResponse"|"serverList";
}
