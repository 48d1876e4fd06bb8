// Original file: proto/lookaside/v1/admin.proto


export interface ClearOverrideResponse {
  /**
   * False when the instance had no override.
   */
  'cleared'?: (boolean);
}

export interface ClearOverrideResponse__Output {
  /**
   * False when the instance had no override.
   */
  'cleared': (boolean);
}
