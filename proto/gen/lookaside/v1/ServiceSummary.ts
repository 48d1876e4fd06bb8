// Original file: proto/lookaside/v1/admin.proto

import type { Long } from '@grpc/proto-loader';

export interface ServiceSummary {
  'name'?: (string);
  'version'?: (number | string | Long);
  'endpoints'?: (number);
  'servingEndpoints'?: (number);
  'drainingEndpoints'?: (number);
  'rejectedRecords'?: (number);
  'clients'?: (number);
  /**
   * Self-preservation: endpoints published although etcd removed them (a held mass removal).
   */
  'heldEndpoints'?: (number);
  /**
   * Unix ms when the current hold ends; 0 when nothing is held.
   */
  'heldUntilMs'?: (number | string | Long);
}

export interface ServiceSummary__Output {
  'name': (string);
  'version': (number);
  'endpoints': (number);
  'servingEndpoints': (number);
  'drainingEndpoints': (number);
  'rejectedRecords': (number);
  'clients': (number);
  /**
   * Self-preservation: endpoints published although etcd removed them (a held mass removal).
   */
  'heldEndpoints': (number);
  /**
   * Unix ms when the current hold ends; 0 when nothing is held.
   */
  'heldUntilMs': (number);
}
