import type * as grpc from '@grpc/grpc-js';
import type { MessageTypeDefinition } from '@grpc/proto-loader';

import type { AdminClient as _lookaside_v1_AdminClient, AdminDefinition as _lookaside_v1_AdminDefinition } from './lookaside/v1/Admin';
import type { AssignmentEntryReason as _lookaside_v1_AssignmentEntryReason, AssignmentEntryReason__Output as _lookaside_v1_AssignmentEntryReason__Output } from './lookaside/v1/AssignmentEntryReason';
import type { AssignmentPart as _lookaside_v1_AssignmentPart, AssignmentPart__Output as _lookaside_v1_AssignmentPart__Output } from './lookaside/v1/AssignmentPart';
import type { BackendCallStats as _lookaside_v1_BackendCallStats, BackendCallStats__Output as _lookaside_v1_BackendCallStats__Output } from './lookaside/v1/BackendCallStats';
import type { BackendStats as _lookaside_v1_BackendStats, BackendStats__Output as _lookaside_v1_BackendStats__Output } from './lookaside/v1/BackendStats';
import type { ClearOverrideRequest as _lookaside_v1_ClearOverrideRequest, ClearOverrideRequest__Output as _lookaside_v1_ClearOverrideRequest__Output } from './lookaside/v1/ClearOverrideRequest';
import type { ClearOverrideResponse as _lookaside_v1_ClearOverrideResponse, ClearOverrideResponse__Output as _lookaside_v1_ClearOverrideResponse__Output } from './lookaside/v1/ClearOverrideResponse';
import type { ClientAssignment as _lookaside_v1_ClientAssignment, ClientAssignment__Output as _lookaside_v1_ClientAssignment__Output } from './lookaside/v1/ClientAssignment';
import type { ClientInfo as _lookaside_v1_ClientInfo, ClientInfo__Output as _lookaside_v1_ClientInfo__Output } from './lookaside/v1/ClientInfo';
import type { ClientPlan as _lookaside_v1_ClientPlan, ClientPlan__Output as _lookaside_v1_ClientPlan__Output } from './lookaside/v1/ClientPlan';
import type { ClientStats as _lookaside_v1_ClientStats, ClientStats__Output as _lookaside_v1_ClientStats__Output } from './lookaside/v1/ClientStats';
import type { Endpoint as _lookaside_v1_Endpoint, Endpoint__Output as _lookaside_v1_Endpoint__Output } from './lookaside/v1/Endpoint';
import type { GetAssignmentRequest as _lookaside_v1_GetAssignmentRequest, GetAssignmentRequest__Output as _lookaside_v1_GetAssignmentRequest__Output } from './lookaside/v1/GetAssignmentRequest';
import type { GetAssignmentResponse as _lookaside_v1_GetAssignmentResponse, GetAssignmentResponse__Output as _lookaside_v1_GetAssignmentResponse__Output } from './lookaside/v1/GetAssignmentResponse';
import type { GetServiceRequest as _lookaside_v1_GetServiceRequest, GetServiceRequest__Output as _lookaside_v1_GetServiceRequest__Output } from './lookaside/v1/GetServiceRequest';
import type { GetServiceResponse as _lookaside_v1_GetServiceResponse, GetServiceResponse__Output as _lookaside_v1_GetServiceResponse__Output } from './lookaside/v1/GetServiceResponse';
import type { InitialLoadBalanceRequest as _lookaside_v1_InitialLoadBalanceRequest, InitialLoadBalanceRequest__Output as _lookaside_v1_InitialLoadBalanceRequest__Output } from './lookaside/v1/InitialLoadBalanceRequest';
import type { InitialLoadBalanceResponse as _lookaside_v1_InitialLoadBalanceResponse, InitialLoadBalanceResponse__Output as _lookaside_v1_InitialLoadBalanceResponse__Output } from './lookaside/v1/InitialLoadBalanceResponse';
import type { ListClientsRequest as _lookaside_v1_ListClientsRequest, ListClientsRequest__Output as _lookaside_v1_ListClientsRequest__Output } from './lookaside/v1/ListClientsRequest';
import type { ListClientsResponse as _lookaside_v1_ListClientsResponse, ListClientsResponse__Output as _lookaside_v1_ListClientsResponse__Output } from './lookaside/v1/ListClientsResponse';
import type { ListOverridesRequest as _lookaside_v1_ListOverridesRequest, ListOverridesRequest__Output as _lookaside_v1_ListOverridesRequest__Output } from './lookaside/v1/ListOverridesRequest';
import type { ListOverridesResponse as _lookaside_v1_ListOverridesResponse, ListOverridesResponse__Output as _lookaside_v1_ListOverridesResponse__Output } from './lookaside/v1/ListOverridesResponse';
import type { ListServicesRequest as _lookaside_v1_ListServicesRequest, ListServicesRequest__Output as _lookaside_v1_ListServicesRequest__Output } from './lookaside/v1/ListServicesRequest';
import type { ListServicesResponse as _lookaside_v1_ListServicesResponse, ListServicesResponse__Output as _lookaside_v1_ListServicesResponse__Output } from './lookaside/v1/ListServicesResponse';
import type { LoadBalanceRequest as _lookaside_v1_LoadBalanceRequest, LoadBalanceRequest__Output as _lookaside_v1_LoadBalanceRequest__Output } from './lookaside/v1/LoadBalanceRequest';
import type { LoadBalanceResponse as _lookaside_v1_LoadBalanceResponse, LoadBalanceResponse__Output as _lookaside_v1_LoadBalanceResponse__Output } from './lookaside/v1/LoadBalanceResponse';
import type { LoadBalancerClient as _lookaside_v1_LoadBalancerClient, LoadBalancerDefinition as _lookaside_v1_LoadBalancerDefinition } from './lookaside/v1/LoadBalancer';
import type { Override as _lookaside_v1_Override, Override__Output as _lookaside_v1_Override__Output } from './lookaside/v1/Override';
import type { RejectedRecord as _lookaside_v1_RejectedRecord, RejectedRecord__Output as _lookaside_v1_RejectedRecord__Output } from './lookaside/v1/RejectedRecord';
import type { Server as _lookaside_v1_Server, Server__Output as _lookaside_v1_Server__Output } from './lookaside/v1/Server';
import type { ServerList as _lookaside_v1_ServerList, ServerList__Output as _lookaside_v1_ServerList__Output } from './lookaside/v1/ServerList';
import type { ServiceConfig as _lookaside_v1_ServiceConfig, ServiceConfig__Output as _lookaside_v1_ServiceConfig__Output } from './lookaside/v1/ServiceConfig';
import type { ServiceSummary as _lookaside_v1_ServiceSummary, ServiceSummary__Output as _lookaside_v1_ServiceSummary__Output } from './lookaside/v1/ServiceSummary';
import type { SetOverrideRequest as _lookaside_v1_SetOverrideRequest, SetOverrideRequest__Output as _lookaside_v1_SetOverrideRequest__Output } from './lookaside/v1/SetOverrideRequest';
import type { SetOverrideResponse as _lookaside_v1_SetOverrideResponse, SetOverrideResponse__Output as _lookaside_v1_SetOverrideResponse__Output } from './lookaside/v1/SetOverrideResponse';
import type { StatusCount as _lookaside_v1_StatusCount, StatusCount__Output as _lookaside_v1_StatusCount__Output } from './lookaside/v1/StatusCount';

type SubtypeConstructor<Constructor extends new (...args: any) => any, Subtype> = {
  new(...args: ConstructorParameters<Constructor>): Subtype;
};

export interface ProtoGrpcType {
  lookaside: {
    v1: {
      Admin: SubtypeConstructor<typeof grpc.Client, _lookaside_v1_AdminClient> & { service: _lookaside_v1_AdminDefinition }
      AssignmentEntryReason: MessageTypeDefinition<_lookaside_v1_AssignmentEntryReason, _lookaside_v1_AssignmentEntryReason__Output>
      AssignmentPart: MessageTypeDefinition<_lookaside_v1_AssignmentPart, _lookaside_v1_AssignmentPart__Output>
      BackendCallStats: MessageTypeDefinition<_lookaside_v1_BackendCallStats, _lookaside_v1_BackendCallStats__Output>
      BackendStats: MessageTypeDefinition<_lookaside_v1_BackendStats, _lookaside_v1_BackendStats__Output>
      ClearOverrideRequest: MessageTypeDefinition<_lookaside_v1_ClearOverrideRequest, _lookaside_v1_ClearOverrideRequest__Output>
      ClearOverrideResponse: MessageTypeDefinition<_lookaside_v1_ClearOverrideResponse, _lookaside_v1_ClearOverrideResponse__Output>
      ClientAssignment: MessageTypeDefinition<_lookaside_v1_ClientAssignment, _lookaside_v1_ClientAssignment__Output>
      ClientInfo: MessageTypeDefinition<_lookaside_v1_ClientInfo, _lookaside_v1_ClientInfo__Output>
      ClientPlan: MessageTypeDefinition<_lookaside_v1_ClientPlan, _lookaside_v1_ClientPlan__Output>
      ClientStats: MessageTypeDefinition<_lookaside_v1_ClientStats, _lookaside_v1_ClientStats__Output>
      Endpoint: MessageTypeDefinition<_lookaside_v1_Endpoint, _lookaside_v1_Endpoint__Output>
      GetAssignmentRequest: MessageTypeDefinition<_lookaside_v1_GetAssignmentRequest, _lookaside_v1_GetAssignmentRequest__Output>
      GetAssignmentResponse: MessageTypeDefinition<_lookaside_v1_GetAssignmentResponse, _lookaside_v1_GetAssignmentResponse__Output>
      GetServiceRequest: MessageTypeDefinition<_lookaside_v1_GetServiceRequest, _lookaside_v1_GetServiceRequest__Output>
      GetServiceResponse: MessageTypeDefinition<_lookaside_v1_GetServiceResponse, _lookaside_v1_GetServiceResponse__Output>
      InitialLoadBalanceRequest: MessageTypeDefinition<_lookaside_v1_InitialLoadBalanceRequest, _lookaside_v1_InitialLoadBalanceRequest__Output>
      InitialLoadBalanceResponse: MessageTypeDefinition<_lookaside_v1_InitialLoadBalanceResponse, _lookaside_v1_InitialLoadBalanceResponse__Output>
      ListClientsRequest: MessageTypeDefinition<_lookaside_v1_ListClientsRequest, _lookaside_v1_ListClientsRequest__Output>
      ListClientsResponse: MessageTypeDefinition<_lookaside_v1_ListClientsResponse, _lookaside_v1_ListClientsResponse__Output>
      ListOverridesRequest: MessageTypeDefinition<_lookaside_v1_ListOverridesRequest, _lookaside_v1_ListOverridesRequest__Output>
      ListOverridesResponse: MessageTypeDefinition<_lookaside_v1_ListOverridesResponse, _lookaside_v1_ListOverridesResponse__Output>
      ListServicesRequest: MessageTypeDefinition<_lookaside_v1_ListServicesRequest, _lookaside_v1_ListServicesRequest__Output>
      ListServicesResponse: MessageTypeDefinition<_lookaside_v1_ListServicesResponse, _lookaside_v1_ListServicesResponse__Output>
      LoadBalanceRequest: MessageTypeDefinition<_lookaside_v1_LoadBalanceRequest, _lookaside_v1_LoadBalanceRequest__Output>
      LoadBalanceResponse: MessageTypeDefinition<_lookaside_v1_LoadBalanceResponse, _lookaside_v1_LoadBalanceResponse__Output>
      LoadBalancer: SubtypeConstructor<typeof grpc.Client, _lookaside_v1_LoadBalancerClient> & { service: _lookaside_v1_LoadBalancerDefinition }
      Override: MessageTypeDefinition<_lookaside_v1_Override, _lookaside_v1_Override__Output>
      RejectedRecord: MessageTypeDefinition<_lookaside_v1_RejectedRecord, _lookaside_v1_RejectedRecord__Output>
      Server: MessageTypeDefinition<_lookaside_v1_Server, _lookaside_v1_Server__Output>
      ServerList: MessageTypeDefinition<_lookaside_v1_ServerList, _lookaside_v1_ServerList__Output>
      ServiceConfig: MessageTypeDefinition<_lookaside_v1_ServiceConfig, _lookaside_v1_ServiceConfig__Output>
      ServiceSummary: MessageTypeDefinition<_lookaside_v1_ServiceSummary, _lookaside_v1_ServiceSummary__Output>
      SetOverrideRequest: MessageTypeDefinition<_lookaside_v1_SetOverrideRequest, _lookaside_v1_SetOverrideRequest__Output>
      SetOverrideResponse: MessageTypeDefinition<_lookaside_v1_SetOverrideResponse, _lookaside_v1_SetOverrideResponse__Output>
      StatusCount: MessageTypeDefinition<_lookaside_v1_StatusCount, _lookaside_v1_StatusCount__Output>
    }
  }
}

