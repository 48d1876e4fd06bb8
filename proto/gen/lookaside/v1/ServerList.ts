// Original file: proto/lookaside/v1/load_balancer.proto

import type { Server as _lookaside_v1_Server, Server__Output as _lookaside_v1_Server__Output } from '../../lookaside/v1/Server';
import type { Long } from '@grpc/proto-loader';

/**
 * The complete list of backends for the service: it replaces the previous list.
 */
export interface ServerList {
  'servers'?: (_lookaside_v1_Server)[];
  /**
   * Grows with every change of the service; a client ignores a list not newer than the last.
   */
  'version'?: (number | string | Long);
}

/**
 * The complete list of backends for the service: it replaces the previous list.
 */
export interface ServerList__Output {
  'servers': (_lookaside_v1_Server__Output)[];
  /**
   * Grows with every change of the service; a client ignores a list not newer than the last.
   */
  'version': (number);
}
