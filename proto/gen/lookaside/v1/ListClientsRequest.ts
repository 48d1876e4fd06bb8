// Original file: proto/lookaside/v1/admin.proto


export interface ListClientsRequest {
  /**
   * Empty: all services.
   */
  'service'?: (string);
}

export interface ListClientsRequest__Output {
  /**
   * Empty: all services.
   */
  'service': (string);
}
