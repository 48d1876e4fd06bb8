// Original file: proto/lookaside/v1/admin.proto


export interface GetServiceRequest {
  'name'?: (string);
}

export interface GetServiceRequest__Output {
  'name': (string);
}
