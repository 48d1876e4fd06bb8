// Original file: proto/lookaside/v1/admin.proto


export interface ListOverridesRequest {
  /**
   * Empty: every service.
   */
  'service'?: (string);
}

export interface ListOverridesRequest__Output {
  /**
   * Empty: every service.
   */
  'service': (string);
}
