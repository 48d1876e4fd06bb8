// Original file: proto/lookaside/v1/load_balancer.proto

import type { BackendStats as _lookaside_v1_BackendStats, BackendStats__Output as _lookaside_v1_BackendStats__Output } from '../../lookaside/v1/BackendStats';

/**
 * Counters since the previous report (deltas), one entry per backend that saw calls.
 */
export interface ClientStats {
  'backends'?: (_lookaside_v1_BackendStats)[];
}

/**
 * Counters since the previous report (deltas), one entry per backend that saw calls.
 */
export interface ClientStats__Output {
  'backends': (_lookaside_v1_BackendStats__Output)[];
}
