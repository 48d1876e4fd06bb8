// Original file: proto/lookaside/v1/admin.proto

import type { Override as _lookaside_v1_Override, Override__Output as _lookaside_v1_Override__Output } from '../../lookaside/v1/Override';

export interface ListOverridesResponse {
  /**
   * Sorted by key; expired ones are left out.
   */
  'overrides'?: (_lookaside_v1_Override)[];
}

export interface ListOverridesResponse__Output {
  /**
   * Sorted by key; expired ones are left out.
   */
  'overrides': (_lookaside_v1_Override__Output)[];
}
