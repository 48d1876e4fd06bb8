// Original file: proto/lookaside/v1/admin.proto

import type { ClientInfo as _lookaside_v1_ClientInfo, ClientInfo__Output as _lookaside_v1_ClientInfo__Output } from '../../lookaside/v1/ClientInfo';

export interface ListClientsResponse {
  'clients'?: (_lookaside_v1_ClientInfo)[];
}

export interface ListClientsResponse__Output {
  'clients': (_lookaside_v1_ClientInfo__Output)[];
}
