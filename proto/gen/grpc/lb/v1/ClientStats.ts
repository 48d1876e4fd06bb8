// Original file: proto/grpc/lb/v1/load_balancer.proto

import type { Timestamp as _google_protobuf_Timestamp, Timestamp__Output as _google_protobuf_Timestamp__Output } from '../../../google/protobuf/Timestamp';
import type { ClientStatsPerToken as _grpc_lb_v1_ClientStatsPerToken, ClientStatsPerToken__Output as _grpc_lb_v1_ClientStatsPerToken__Output } from '../../../grpc/lb/v1/ClientStatsPerToken';
import type { Long } from '@grpc/proto-loader';

/**
 * Contains client level statistics that are useful to load balancing. Each
 * count except the timestamp should be reset to zero after reporting the stats.
 */
export interface ClientStats {
  /**
   * The timestamp of generating the report.
   */
  'timestamp'?: (_google_protobuf_Timestamp | null);
  /**
   * The total number of RPCs that started.
   */
  'numCallsStarted'?: (number | string | Long);
  /**
   * The total number of RPCs that finished.
   */
  'numCallsFinished'?: (number | string | Long);
  /**
   * The total number of RPCs that failed to reach a server except dropped RPCs.
   */
  'numCallsFinishedWithClientFailedToSend'?: (number | string | Long);
  /**
   * The total number of RPCs that finished and are known to have been received
   * by a server.
   */
  'numCallsFinishedKnownReceived'?: (number | string | Long);
  /**
   * The list of dropped calls.
   */
  'callsFinishedWithDrop'?: (_grpc_lb_v1_ClientStatsPerToken)[];
}

/**
 * Contains client level statistics that are useful to load balancing. Each
 * count except the timestamp should be reset to zero after reporting the stats.
 */
export interface ClientStats__Output {
  /**
   * The timestamp of generating the report.
   */
  'timestamp': (_google_protobuf_Timestamp__Output | null);
  /**
   * The total number of RPCs that started.
   */
  'numCallsStarted': (number);
  /**
   * The total number of RPCs that finished.
   */
  'numCallsFinished': (number);
  /**
   * The total number of RPCs that failed to reach a server except dropped RPCs.
   */
  'numCallsFinishedWithClientFailedToSend': (number);
  /**
   * The total number of RPCs that finished and are known to have been received
   * by a server.
   */
  'numCallsFinishedKnownReceived': (number);
  /**
   * The list of dropped calls.
   */
  'callsFinishedWithDrop': (_grpc_lb_v1_ClientStatsPerToken__Output)[];
}
