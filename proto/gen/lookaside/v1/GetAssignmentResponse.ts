// Original file: proto/lookaside/v1/admin.proto

import type { ServerList as _lookaside_v1_ServerList, ServerList__Output as _lookaside_v1_ServerList__Output } from '../../lookaside/v1/ServerList';
import type { ClientAssignment as _lookaside_v1_ClientAssignment, ClientAssignment__Output as _lookaside_v1_ClientAssignment__Output } from '../../lookaside/v1/ClientAssignment';

export interface GetAssignmentResponse {
  'service'?: (string);
  /**
   * The list the LB server would send a new client now.
   */
  'current'?: (_lookaside_v1_ServerList | null);
  'clients'?: (_lookaside_v1_ClientAssignment)[];
}

export interface GetAssignmentResponse__Output {
  'service': (string);
  /**
   * The list the LB server would send a new client now.
   */
  'current': (_lookaside_v1_ServerList__Output | null);
  'clients': (_lookaside_v1_ClientAssignment__Output)[];
}
