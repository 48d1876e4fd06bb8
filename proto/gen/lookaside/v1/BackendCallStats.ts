// Original file: proto/lookaside/v1/admin.proto

import type { Long } from '@grpc/proto-loader';

export interface BackendCallStats {
  'address'?: (string);
  'callsStarted'?: (number | string | Long);
  'callsSucceeded'?: (number | string | Long);
  'callsFailed'?: (number | string | Long);
  'latencyMsSum'?: (number | string);
}

export interface BackendCallStats__Output {
  'address': (string);
  'callsStarted': (number);
  'callsSucceeded': (number);
  'callsFailed': (number);
  'latencyMsSum': (number);
}
