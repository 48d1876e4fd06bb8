// Original file: proto/lookaside/v1/admin.proto

import type { Override as _lookaside_v1_Override, Override__Output as _lookaside_v1_Override__Output } from '../../lookaside/v1/Override';

export interface SetOverrideResponse {
  'override'?: (_lookaside_v1_Override | null);
}

export interface SetOverrideResponse__Output {
  'override': (_lookaside_v1_Override__Output | null);
}
