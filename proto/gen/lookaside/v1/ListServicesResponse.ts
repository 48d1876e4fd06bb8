// Original file: proto/lookaside/v1/admin.proto

import type { ServiceSummary as _lookaside_v1_ServiceSummary, ServiceSummary__Output as _lookaside_v1_ServiceSummary__Output } from '../../lookaside/v1/ServiceSummary';
import type { RejectedRecord as _lookaside_v1_RejectedRecord, RejectedRecord__Output as _lookaside_v1_RejectedRecord__Output } from '../../lookaside/v1/RejectedRecord';

export interface ListServicesResponse {
  'services'?: (_lookaside_v1_ServiceSummary)[];
  /**
   * True once the LB server has finished its initial read of etcd.
   */
  'synced'?: (boolean);
  /**
   * True while the LB server is connected to etcd and watching.
   */
  'etcdConnected'?: (boolean);
  /**
   * Fields for self-preservation and other server-wide state are added as they land.
   * Self-preservation settings: grace in ms (0: off) and threshold fraction.
   */
  'selfPreservationGraceMs'?: (number);
  'selfPreservationThreshold'?: (number | string);
  /**
   * True while any service has held endpoints.
   */
  'selfPreservationActive'?: (boolean);
  /**
   * Records under the prefix whose key names no valid service (so no GetService shows them), with
   * the reason; at most 100, oldest keys first.
   */
  'unattributedRejected'?: (_lookaside_v1_RejectedRecord)[];
  /**
   * Every rejected record, attributed to a service or not.
   */
  'rejectedRecords'?: (number);
}

export interface ListServicesResponse__Output {
  'services': (_lookaside_v1_ServiceSummary__Output)[];
  /**
   * True once the LB server has finished its initial read of etcd.
   */
  'synced': (boolean);
  /**
   * True while the LB server is connected to etcd and watching.
   */
  'etcdConnected': (boolean);
  /**
   * Fields for self-preservation and other server-wide state are added as they land.
   * Self-preservation settings: grace in ms (0: off) and threshold fraction.
   */
  'selfPreservationGraceMs': (number);
  'selfPreservationThreshold': (number);
  /**
   * True while any service has held endpoints.
   */
  'selfPreservationActive': (boolean);
  /**
   * Records under the prefix whose key names no valid service (so no GetService shows them), with
   * the reason; at most 100, oldest keys first.
   */
  'unattributedRejected': (_lookaside_v1_RejectedRecord__Output)[];
  /**
   * Every rejected record, attributed to a service or not.
   */
  'rejectedRecords': (number);
}
