// Original file: proto/lookaside/v1/load_balancer.proto

import type * as grpc from '@grpc/grpc-js'
import type { MethodDefinition } from '@grpc/proto-loader'
import type { LoadBalanceRequest as _lookaside_v1_LoadBalanceRequest, LoadBalanceRequest__Output as _lookaside_v1_LoadBalanceRequest__Output } from '../../lookaside/v1/LoadBalanceRequest';
import type { LoadBalanceResponse as _lookaside_v1_LoadBalanceResponse, LoadBalanceResponse__Output as _lookaside_v1_LoadBalanceResponse__Output } from '../../lookaside/v1/LoadBalanceResponse';

export interface LoadBalancerClient extends grpc.Client {
  /**
   * Opened by the client SDK's resolver, kept open for the channel's lifetime.
   * The first request must be an initial_request (exactly once); then client_stats only.
   * The server answers with one initial_response, then a server_list at once and on every
   * change (coalesced under churn, versions strictly increasing, never repeated).
   */
  BalanceLoad(metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientDuplexStream<_lookaside_v1_LoadBalanceRequest, _lookaside_v1_LoadBalanceResponse__Output>;
  BalanceLoad(options?: grpc.CallOptions): grpc.ClientDuplexStream<_lookaside_v1_LoadBalanceRequest, _lookaside_v1_LoadBalanceResponse__Output>;
  /**
   * Opened by the client SDK's resolver, kept open for the channel's lifetime.
   * The first request must be an initial_request (exactly once); then client_stats only.
   * The server answers with one initial_response, then a server_list at once and on every
   * change (coalesced under churn, versions strictly increasing, never repeated).
   */
  balanceLoad(metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientDuplexStream<_lookaside_v1_LoadBalanceRequest, _lookaside_v1_LoadBalanceResponse__Output>;
  balanceLoad(options?: grpc.CallOptions): grpc.ClientDuplexStream<_lookaside_v1_LoadBalanceRequest, _lookaside_v1_LoadBalanceResponse__Output>;
  
}

export interface LoadBalancerHandlers extends grpc.UntypedServiceImplementation {
  /**
   * Opened by the client SDK's resolver, kept open for the channel's lifetime.
   * The first request must be an initial_request (exactly once); then client_stats only.
   * The server answers with one initial_response, then a server_list at once and on every
   * change (coalesced under churn, versions strictly increasing, never repeated).
   */
  BalanceLoad: grpc.handleBidiStreamingCall<_lookaside_v1_LoadBalanceRequest__Output, _lookaside_v1_LoadBalanceResponse>;
  
}

export interface LoadBalancerDefinition extends grpc.ServiceDefinition {
  BalanceLoad: MethodDefinition<_lookaside_v1_LoadBalanceRequest, _lookaside_v1_LoadBalanceResponse, _lookaside_v1_LoadBalanceRequest__Output, _lookaside_v1_LoadBalanceResponse__Output>
}
