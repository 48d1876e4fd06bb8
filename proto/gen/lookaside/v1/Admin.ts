// Original file: proto/lookaside/v1/admin.proto

import type * as grpc from '@grpc/grpc-js'
import type { MethodDefinition } from '@grpc/proto-loader'
import type { ClearOverrideRequest as _lookaside_v1_ClearOverrideRequest, ClearOverrideRequest__Output as _lookaside_v1_ClearOverrideRequest__Output } from '../../lookaside/v1/ClearOverrideRequest';
import type { ClearOverrideResponse as _lookaside_v1_ClearOverrideResponse, ClearOverrideResponse__Output as _lookaside_v1_ClearOverrideResponse__Output } from '../../lookaside/v1/ClearOverrideResponse';
import type { GetAssignmentRequest as _lookaside_v1_GetAssignmentRequest, GetAssignmentRequest__Output as _lookaside_v1_GetAssignmentRequest__Output } from '../../lookaside/v1/GetAssignmentRequest';
import type { GetAssignmentResponse as _lookaside_v1_GetAssignmentResponse, GetAssignmentResponse__Output as _lookaside_v1_GetAssignmentResponse__Output } from '../../lookaside/v1/GetAssignmentResponse';
import type { GetServiceRequest as _lookaside_v1_GetServiceRequest, GetServiceRequest__Output as _lookaside_v1_GetServiceRequest__Output } from '../../lookaside/v1/GetServiceRequest';
import type { GetServiceResponse as _lookaside_v1_GetServiceResponse, GetServiceResponse__Output as _lookaside_v1_GetServiceResponse__Output } from '../../lookaside/v1/GetServiceResponse';
import type { ListClientsRequest as _lookaside_v1_ListClientsRequest, ListClientsRequest__Output as _lookaside_v1_ListClientsRequest__Output } from '../../lookaside/v1/ListClientsRequest';
import type { ListClientsResponse as _lookaside_v1_ListClientsResponse, ListClientsResponse__Output as _lookaside_v1_ListClientsResponse__Output } from '../../lookaside/v1/ListClientsResponse';
import type { ListOverridesRequest as _lookaside_v1_ListOverridesRequest, ListOverridesRequest__Output as _lookaside_v1_ListOverridesRequest__Output } from '../../lookaside/v1/ListOverridesRequest';
import type { ListOverridesResponse as _lookaside_v1_ListOverridesResponse, ListOverridesResponse__Output as _lookaside_v1_ListOverridesResponse__Output } from '../../lookaside/v1/ListOverridesResponse';
import type { ListServicesRequest as _lookaside_v1_ListServicesRequest, ListServicesRequest__Output as _lookaside_v1_ListServicesRequest__Output } from '../../lookaside/v1/ListServicesRequest';
import type { ListServicesResponse as _lookaside_v1_ListServicesResponse, ListServicesResponse__Output as _lookaside_v1_ListServicesResponse__Output } from '../../lookaside/v1/ListServicesResponse';
import type { SetOverrideRequest as _lookaside_v1_SetOverrideRequest, SetOverrideRequest__Output as _lookaside_v1_SetOverrideRequest__Output } from '../../lookaside/v1/SetOverrideRequest';
import type { SetOverrideResponse as _lookaside_v1_SetOverrideResponse, SetOverrideResponse__Output as _lookaside_v1_SetOverrideResponse__Output } from '../../lookaside/v1/SetOverrideResponse';

export interface AdminClient extends grpc.Client {
  ClearOverride(argument: _lookaside_v1_ClearOverrideRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_lookaside_v1_ClearOverrideResponse__Output>): grpc.ClientUnaryCall;
  ClearOverride(argument: _lookaside_v1_ClearOverrideRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_lookaside_v1_ClearOverrideResponse__Output>): grpc.ClientUnaryCall;
  ClearOverride(argument: _lookaside_v1_ClearOverrideRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_lookaside_v1_ClearOverrideResponse__Output>): grpc.ClientUnaryCall;
  ClearOverride(argument: _lookaside_v1_ClearOverrideRequest, callback: grpc.requestCallback<_lookaside_v1_ClearOverrideResponse__Output>): grpc.ClientUnaryCall;
  clearOverride(argument: _lookaside_v1_ClearOverrideRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_lookaside_v1_ClearOverrideResponse__Output>): grpc.ClientUnaryCall;
  clearOverride(argument: _lookaside_v1_ClearOverrideRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_lookaside_v1_ClearOverrideResponse__Output>): grpc.ClientUnaryCall;
  clearOverride(argument: _lookaside_v1_ClearOverrideRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_lookaside_v1_ClearOverrideResponse__Output>): grpc.ClientUnaryCall;
  clearOverride(argument: _lookaside_v1_ClearOverrideRequest, callback: grpc.requestCallback<_lookaside_v1_ClearOverrideResponse__Output>): grpc.ClientUnaryCall;
  
  /**
   * What the LB server currently assigns: the server list a client was last sent, and when.
   */
  GetAssignment(argument: _lookaside_v1_GetAssignmentRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_lookaside_v1_GetAssignmentResponse__Output>): grpc.ClientUnaryCall;
  GetAssignment(argument: _lookaside_v1_GetAssignmentRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_lookaside_v1_GetAssignmentResponse__Output>): grpc.ClientUnaryCall;
  GetAssignment(argument: _lookaside_v1_GetAssignmentRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_lookaside_v1_GetAssignmentResponse__Output>): grpc.ClientUnaryCall;
  GetAssignment(argument: _lookaside_v1_GetAssignmentRequest, callback: grpc.requestCallback<_lookaside_v1_GetAssignmentResponse__Output>): grpc.ClientUnaryCall;
  /**
   * What the LB server currently assigns: the server list a client was last sent, and when.
   */
  getAssignment(argument: _lookaside_v1_GetAssignmentRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_lookaside_v1_GetAssignmentResponse__Output>): grpc.ClientUnaryCall;
  getAssignment(argument: _lookaside_v1_GetAssignmentRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_lookaside_v1_GetAssignmentResponse__Output>): grpc.ClientUnaryCall;
  getAssignment(argument: _lookaside_v1_GetAssignmentRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_lookaside_v1_GetAssignmentResponse__Output>): grpc.ClientUnaryCall;
  getAssignment(argument: _lookaside_v1_GetAssignmentRequest, callback: grpc.requestCallback<_lookaside_v1_GetAssignmentResponse__Output>): grpc.ClientUnaryCall;
  
  /**
   * One service: its endpoints with effective weights, its rejected records, its version.
   */
  GetService(argument: _lookaside_v1_GetServiceRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_lookaside_v1_GetServiceResponse__Output>): grpc.ClientUnaryCall;
  GetService(argument: _lookaside_v1_GetServiceRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_lookaside_v1_GetServiceResponse__Output>): grpc.ClientUnaryCall;
  GetService(argument: _lookaside_v1_GetServiceRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_lookaside_v1_GetServiceResponse__Output>): grpc.ClientUnaryCall;
  GetService(argument: _lookaside_v1_GetServiceRequest, callback: grpc.requestCallback<_lookaside_v1_GetServiceResponse__Output>): grpc.ClientUnaryCall;
  /**
   * One service: its endpoints with effective weights, its rejected records, its version.
   */
  getService(argument: _lookaside_v1_GetServiceRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_lookaside_v1_GetServiceResponse__Output>): grpc.ClientUnaryCall;
  getService(argument: _lookaside_v1_GetServiceRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_lookaside_v1_GetServiceResponse__Output>): grpc.ClientUnaryCall;
  getService(argument: _lookaside_v1_GetServiceRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_lookaside_v1_GetServiceResponse__Output>): grpc.ClientUnaryCall;
  getService(argument: _lookaside_v1_GetServiceRequest, callback: grpc.requestCallback<_lookaside_v1_GetServiceResponse__Output>): grpc.ClientUnaryCall;
  
  /**
   * Every client of the population (all LB replicas), optionally only those of one service:
   * this replica's first, in connection order, then the other replicas', by service and id.
   */
  ListClients(argument: _lookaside_v1_ListClientsRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_lookaside_v1_ListClientsResponse__Output>): grpc.ClientUnaryCall;
  ListClients(argument: _lookaside_v1_ListClientsRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_lookaside_v1_ListClientsResponse__Output>): grpc.ClientUnaryCall;
  ListClients(argument: _lookaside_v1_ListClientsRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_lookaside_v1_ListClientsResponse__Output>): grpc.ClientUnaryCall;
  ListClients(argument: _lookaside_v1_ListClientsRequest, callback: grpc.requestCallback<_lookaside_v1_ListClientsResponse__Output>): grpc.ClientUnaryCall;
  /**
   * Every client of the population (all LB replicas), optionally only those of one service:
   * this replica's first, in connection order, then the other replicas', by service and id.
   */
  listClients(argument: _lookaside_v1_ListClientsRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_lookaside_v1_ListClientsResponse__Output>): grpc.ClientUnaryCall;
  listClients(argument: _lookaside_v1_ListClientsRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_lookaside_v1_ListClientsResponse__Output>): grpc.ClientUnaryCall;
  listClients(argument: _lookaside_v1_ListClientsRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_lookaside_v1_ListClientsResponse__Output>): grpc.ClientUnaryCall;
  listClients(argument: _lookaside_v1_ListClientsRequest, callback: grpc.requestCallback<_lookaside_v1_ListClientsResponse__Output>): grpc.ClientUnaryCall;
  
  ListOverrides(argument: _lookaside_v1_ListOverridesRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_lookaside_v1_ListOverridesResponse__Output>): grpc.ClientUnaryCall;
  ListOverrides(argument: _lookaside_v1_ListOverridesRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_lookaside_v1_ListOverridesResponse__Output>): grpc.ClientUnaryCall;
  ListOverrides(argument: _lookaside_v1_ListOverridesRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_lookaside_v1_ListOverridesResponse__Output>): grpc.ClientUnaryCall;
  ListOverrides(argument: _lookaside_v1_ListOverridesRequest, callback: grpc.requestCallback<_lookaside_v1_ListOverridesResponse__Output>): grpc.ClientUnaryCall;
  listOverrides(argument: _lookaside_v1_ListOverridesRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_lookaside_v1_ListOverridesResponse__Output>): grpc.ClientUnaryCall;
  listOverrides(argument: _lookaside_v1_ListOverridesRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_lookaside_v1_ListOverridesResponse__Output>): grpc.ClientUnaryCall;
  listOverrides(argument: _lookaside_v1_ListOverridesRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_lookaside_v1_ListOverridesResponse__Output>): grpc.ClientUnaryCall;
  listOverrides(argument: _lookaside_v1_ListOverridesRequest, callback: grpc.requestCallback<_lookaside_v1_ListOverridesResponse__Output>): grpc.ClientUnaryCall;
  
  /**
   * Every service the LB server knows of: registered in etcd, or asked for by a client.
   */
  ListServices(argument: _lookaside_v1_ListServicesRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_lookaside_v1_ListServicesResponse__Output>): grpc.ClientUnaryCall;
  ListServices(argument: _lookaside_v1_ListServicesRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_lookaside_v1_ListServicesResponse__Output>): grpc.ClientUnaryCall;
  ListServices(argument: _lookaside_v1_ListServicesRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_lookaside_v1_ListServicesResponse__Output>): grpc.ClientUnaryCall;
  ListServices(argument: _lookaside_v1_ListServicesRequest, callback: grpc.requestCallback<_lookaside_v1_ListServicesResponse__Output>): grpc.ClientUnaryCall;
  /**
   * Every service the LB server knows of: registered in etcd, or asked for by a client.
   */
  listServices(argument: _lookaside_v1_ListServicesRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_lookaside_v1_ListServicesResponse__Output>): grpc.ClientUnaryCall;
  listServices(argument: _lookaside_v1_ListServicesRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_lookaside_v1_ListServicesResponse__Output>): grpc.ClientUnaryCall;
  listServices(argument: _lookaside_v1_ListServicesRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_lookaside_v1_ListServicesResponse__Output>): grpc.ClientUnaryCall;
  listServices(argument: _lookaside_v1_ListServicesRequest, callback: grpc.requestCallback<_lookaside_v1_ListServicesResponse__Output>): grpc.ClientUnaryCall;
  
  /**
   * Operator overrides, stored in etcd under <root>/overrides/<service>/<instance-id> so that
   * every replica applies them: set (replacing the instance's previous override), clear, list.
   * An override for an instance without a record is stored and shown as dangling; it applies as
   * soon as the instance registers.
   */
  SetOverride(argument: _lookaside_v1_SetOverrideRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_lookaside_v1_SetOverrideResponse__Output>): grpc.ClientUnaryCall;
  SetOverride(argument: _lookaside_v1_SetOverrideRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_lookaside_v1_SetOverrideResponse__Output>): grpc.ClientUnaryCall;
  SetOverride(argument: _lookaside_v1_SetOverrideRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_lookaside_v1_SetOverrideResponse__Output>): grpc.ClientUnaryCall;
  SetOverride(argument: _lookaside_v1_SetOverrideRequest, callback: grpc.requestCallback<_lookaside_v1_SetOverrideResponse__Output>): grpc.ClientUnaryCall;
  /**
   * Operator overrides, stored in etcd under <root>/overrides/<service>/<instance-id> so that
   * every replica applies them: set (replacing the instance's previous override), clear, list.
   * An override for an instance without a record is stored and shown as dangling; it applies as
   * soon as the instance registers.
   */
  setOverride(argument: _lookaside_v1_SetOverrideRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_lookaside_v1_SetOverrideResponse__Output>): grpc.ClientUnaryCall;
  setOverride(argument: _lookaside_v1_SetOverrideRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_lookaside_v1_SetOverrideResponse__Output>): grpc.ClientUnaryCall;
  setOverride(argument: _lookaside_v1_SetOverrideRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_lookaside_v1_SetOverrideResponse__Output>): grpc.ClientUnaryCall;
  setOverride(argument: _lookaside_v1_SetOverrideRequest, callback: grpc.requestCallback<_lookaside_v1_SetOverrideResponse__Output>): grpc.ClientUnaryCall;
  
}

export interface AdminHandlers extends grpc.UntypedServiceImplementation {
  ClearOverride: grpc.handleUnaryCall<_lookaside_v1_ClearOverrideRequest__Output, _lookaside_v1_ClearOverrideResponse>;
  
  /**
   * What the LB server currently assigns: the server list a client was last sent, and when.
   */
  GetAssignment: grpc.handleUnaryCall<_lookaside_v1_GetAssignmentRequest__Output, _lookaside_v1_GetAssignmentResponse>;
  
  /**
   * One service: its endpoints with effective weights, its rejected records, its version.
   */
  GetService: grpc.handleUnaryCall<_lookaside_v1_GetServiceRequest__Output, _lookaside_v1_GetServiceResponse>;
  
  /**
   * Every client of the population (all LB replicas), optionally only those of one service:
   * this replica's first, in connection order, then the other replicas', by service and id.
   */
  ListClients: grpc.handleUnaryCall<_lookaside_v1_ListClientsRequest__Output, _lookaside_v1_ListClientsResponse>;
  
  ListOverrides: grpc.handleUnaryCall<_lookaside_v1_ListOverridesRequest__Output, _lookaside_v1_ListOverridesResponse>;
  
  /**
   * Every service the LB server knows of: registered in etcd, or asked for by a client.
   */
  ListServices: grpc.handleUnaryCall<_lookaside_v1_ListServicesRequest__Output, _lookaside_v1_ListServicesResponse>;
  
  /**
   * Operator overrides, stored in etcd under <root>/overrides/<service>/<instance-id> so that
   * every replica applies them: set (replacing the instance's previous override), clear, list.
   * An override for an instance without a record is stored and shown as dangling; it applies as
   * soon as the instance registers.
   */
  SetOverride: grpc.handleUnaryCall<_lookaside_v1_SetOverrideRequest__Output, _lookaside_v1_SetOverrideResponse>;
  
}

export interface AdminDefinition extends grpc.ServiceDefinition {
  ClearOverride: MethodDefinition<_lookaside_v1_ClearOverrideRequest, _lookaside_v1_ClearOverrideResponse, _lookaside_v1_ClearOverrideRequest__Output, _lookaside_v1_ClearOverrideResponse__Output>
  GetAssignment: MethodDefinition<_lookaside_v1_GetAssignmentRequest, _lookaside_v1_GetAssignmentResponse, _lookaside_v1_GetAssignmentRequest__Output, _lookaside_v1_GetAssignmentResponse__Output>
  GetService: MethodDefinition<_lookaside_v1_GetServiceRequest, _lookaside_v1_GetServiceResponse, _lookaside_v1_GetServiceRequest__Output, _lookaside_v1_GetServiceResponse__Output>
  ListClients: MethodDefinition<_lookaside_v1_ListClientsRequest, _lookaside_v1_ListClientsResponse, _lookaside_v1_ListClientsRequest__Output, _lookaside_v1_ListClientsResponse__Output>
  ListOverrides: MethodDefinition<_lookaside_v1_ListOverridesRequest, _lookaside_v1_ListOverridesResponse, _lookaside_v1_ListOverridesRequest__Output, _lookaside_v1_ListOverridesResponse__Output>
  ListServices: MethodDefinition<_lookaside_v1_ListServicesRequest, _lookaside_v1_ListServicesResponse, _lookaside_v1_ListServicesRequest__Output, _lookaside_v1_ListServicesResponse__Output>
  SetOverride: MethodDefinition<_lookaside_v1_SetOverrideRequest, _lookaside_v1_SetOverrideResponse, _lookaside_v1_SetOverrideRequest__Output, _lookaside_v1_SetOverrideResponse__Output>
}
