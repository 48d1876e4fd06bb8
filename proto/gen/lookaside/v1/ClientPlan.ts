// Original file: proto/lookaside/v1/admin.proto

import type { AssignmentPart as _lookaside_v1_AssignmentPart, AssignmentPart__Output as _lookaside_v1_AssignmentPart__Output } from '../../lookaside/v1/AssignmentPart';
import type { AssignmentEntryReason as _lookaside_v1_AssignmentEntryReason, AssignmentEntryReason__Output as _lookaside_v1_AssignmentEntryReason__Output } from '../../lookaside/v1/AssignmentEntryReason';

/**
 * What the assignment stage decided for one client: the per-client plan.
 */
export interface ClientPlan {
  'zone'?: (string);
  /**
   * The client's position among its pool's clients, sorted by id (-1: assigned on arrival, before
   * the next recomputation).
   */
  'index'?: (number);
  /**
   * "zone-unaware", "local", "spill", "spread-all".
   */
  'zoneMode'?: (string);
  'subsetSize'?: (number);
  'parts'?: (_lookaside_v1_AssignmentPart)[];
  /**
   * Every endpoint of the service with why it is in the list or not: only when GetAssignment
   * names one client (for all clients it would be clients x endpoints).
   */
  'entries'?: (_lookaside_v1_AssignmentEntryReason)[];
  /**
   * The replica that serves the client ("" when unknown here).
   */
  'replica'?: (string);
}

/**
 * What the assignment stage decided for one client: the per-client plan.
 */
export interface ClientPlan__Output {
  'zone': (string);
  /**
   * The client's position among its pool's clients, sorted by id (-1: assigned on arrival, before
   * the next recomputation).
   */
  'index': (number);
  /**
   * "zone-unaware", "local", "spill", "spread-all".
   */
  'zoneMode': (string);
  'subsetSize': (number);
  'parts': (_lookaside_v1_AssignmentPart__Output)[];
  /**
   * Every endpoint of the service with why it is in the list or not: only when GetAssignment
   * names one client (for all clients it would be clients x endpoints).
   */
  'entries': (_lookaside_v1_AssignmentEntryReason__Output)[];
  /**
   * The replica that serves the client ("" when unknown here).
   */
  'replica': (string);
}
