// Original file: proto/lookaside/v1/load_balancer.proto

import type { StatusCount as _lookaside_v1_StatusCount, StatusCount__Output as _lookaside_v1_StatusCount__Output } from '../../lookaside/v1/StatusCount';
import type { Long } from '@grpc/proto-loader';

export interface BackendStats {
  /**
   * "host:port", as in Server.address.
   */
  'address'?: (string);
  'callsStarted'?: (number | string | Long);
  'callsSucceeded'?: (number | string | Long);
  'callsFailed'?: (number | string | Long);
  'latencyMsSum'?: (number | string);
  /**
   * The failed calls by gRPC status code (each code once, count > 0), so that the LB server can
   * tell failures that point at the backend (UNAVAILABLE, INTERNAL, …) from application errors.
   */
  'failedByStatus'?: (_lookaside_v1_StatusCount)[];
  /**
   * The latency of the fastest call that succeeded since the previous report, ms; 0: none (or a
   * client that does not report it). Unlike the mean, it leaves out the time a call waited in the
   * backend's queue, so a capacity estimate from it does not depend on how much load the backend
   * was sent.
   */
  'latencyMsMin'?: (number | string);
}

export interface BackendStats__Output {
  /**
   * "host:port", as in Server.address.
   */
  'address': (string);
  'callsStarted': (number);
  'callsSucceeded': (number);
  'callsFailed': (number);
  'latencyMsSum': (number);
  /**
   * The failed calls by gRPC status code (each code once, count > 0), so that the LB server can
   * tell failures that point at the backend (UNAVAILABLE, INTERNAL, …) from application errors.
   */
  'failedByStatus': (_lookaside_v1_StatusCount__Output)[];
  /**
   * The latency of the fastest call that succeeded since the previous report, ms; 0: none (or a
   * client that does not report it). Unlike the mean, it leaves out the time a call waited in the
   * backend's queue, so a capacity estimate from it does not depend on how much load the backend
   * was sent.
   */
  'latencyMsMin': (number);
}
