// Original file: proto/lookaside/v1/admin.proto

import type { Long } from '@grpc/proto-loader';

export interface RejectedRecord {
  'key'?: (string);
  'reason'?: (string);
  'modRevision'?: (number | string | Long);
}

export interface RejectedRecord__Output {
  'key': (string);
  'reason': (string);
  'modRevision': (number);
}
