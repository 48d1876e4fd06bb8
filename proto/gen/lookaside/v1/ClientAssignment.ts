// Original file: proto/lookaside/v1/admin.proto

import type { ClientInfo as _lookaside_v1_ClientInfo, ClientInfo__Output as _lookaside_v1_ClientInfo__Output } from '../../lookaside/v1/ClientInfo';
import type { ServerList as _lookaside_v1_ServerList, ServerList__Output as _lookaside_v1_ServerList__Output } from '../../lookaside/v1/ServerList';
import type { ClientPlan as _lookaside_v1_ClientPlan, ClientPlan__Output as _lookaside_v1_ClientPlan__Output } from '../../lookaside/v1/ClientPlan';

export interface ClientAssignment {
  'client'?: (_lookaside_v1_ClientInfo | null);
  'serverList'?: (_lookaside_v1_ServerList | null);
  /**
   * The client's group within the service ("" when every client gets the whole service).
   */
  'group'?: (string);
  /**
   * Set when subsetting or zone-aware routing is on for the service.
   */
  'plan'?: (_lookaside_v1_ClientPlan | null);
}

export interface ClientAssignment__Output {
  'client': (_lookaside_v1_ClientInfo__Output | null);
  'serverList': (_lookaside_v1_ServerList__Output | null);
  /**
   * The client's group within the service ("" when every client gets the whole service).
   */
  'group': (string);
  /**
   * Set when subsetting or zone-aware routing is on for the service.
   */
  'plan': (_lookaside_v1_ClientPlan__Output | null);
}
