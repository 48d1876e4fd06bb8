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
}

export interface ServiceSummary__Output {
  'name': (string);
  'version': (number);
  'endpoints': (number);
  'servingEndpoints': (number);
  'drainingEndpoints': (number);
  'rejectedRecords': (number);
  'clients': (number);
}
