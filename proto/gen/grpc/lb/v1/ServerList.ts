// Original file: proto/grpc/lb/v1/load_balancer.proto

import type { Server as _grpc_lb_v1_Server, Server__Output as _grpc_lb_v1_Server__Output } from '../../../grpc/lb/v1/Server';

export interface ServerList {
  /**
   * Contains a list of servers selected by the load balancer. The list will
   * be updated when server resolutions change or as needed to balance load
   * across more servers. The client should consume the server list in order
   * unless instructed otherwise via the client_config.
   */
  'servers'?: (_grpc_lb_v1_Server)[];
}

export interface ServerList__Output {
  /**
   * Contains a list of servers selected by the load balancer. The list will
   * be updated when server resolutions change or as needed to balance load
   * across more servers. The client should consume the server list in order
   * unless instructed otherwise via the client_config.
   */
  'servers': (_grpc_lb_v1_Server__Output)[];
}
