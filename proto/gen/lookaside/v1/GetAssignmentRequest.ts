// Original file: proto/lookaside/v1/admin.proto


export interface GetAssignmentRequest {
  'service'?: (string);
  /**
   * Empty: the service's current list and every client's assignment.
   */
  'clientId'?: (string);
}

export interface GetAssignmentRequest__Output {
  'service': (string);
  /**
   * Empty: the service's current list and every client's assignment.
   */
  'clientId': (string);
}
