// Original file: proto/lookaside/v1/admin.proto


export interface ClearOverrideRequest {
  'service'?: (string);
  'instanceId'?: (string);
  /**
   * Who clears it (for the log); empty: the caller's peer address.
   */
  'who'?: (string);
}

export interface ClearOverrideRequest__Output {
  'service': (string);
  'instanceId': (string);
  /**
   * Who clears it (for the log); empty: the caller's peer address.
   */
  'who': (string);
}
