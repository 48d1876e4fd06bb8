// Original file: proto/lookaside/v1/admin.proto

import type { Endpoint as _lookaside_v1_Endpoint, Endpoint__Output as _lookaside_v1_Endpoint__Output } from '../../lookaside/v1/Endpoint';
import type { RejectedRecord as _lookaside_v1_RejectedRecord, RejectedRecord__Output as _lookaside_v1_RejectedRecord__Output } from '../../lookaside/v1/RejectedRecord';
import type { Override as _lookaside_v1_Override, Override__Output as _lookaside_v1_Override__Output } from '../../lookaside/v1/Override';
import type { ServiceConfig as _lookaside_v1_ServiceConfig, ServiceConfig__Output as _lookaside_v1_ServiceConfig__Output } from '../../lookaside/v1/ServiceConfig';
import type { Long } from '@grpc/proto-loader';

export interface GetServiceResponse {
  'name'?: (string);
  'version'?: (number | string | Long);
  'endpoints'?: (_lookaside_v1_Endpoint)[];
  'rejected'?: (_lookaside_v1_RejectedRecord)[];
  'clients'?: (number);
  /**
   * Self-preservation: how many endpoints are held (listed in endpoints with held = true), until when.
   */
  'heldEndpoints'?: (number);
  'heldUntilMs'?: (number | string | Long);
  /**
   * The version of the service-wide assignment (what clients of the whole service are sent);
   * `version` is the registry's.
   */
  'assignmentVersion'?: (number | string | Long);
  /**
   * The panic threshold holds: health verdicts and ejections would leave too few endpoints, so
   * they are ignored and clients spread over all (each endpoint still shows its health/ejection).
   */
  'panic'?: (boolean);
  /**
   * Overrides of this service naming an instance that has no record (they apply when it
   * registers). Malformed override values are listed in `rejected`, keys under <root>/overrides/.
   */
  'danglingOverrides'?: (_lookaside_v1_Override)[];
  /**
   * The service's effective configuration: its setting in etcd (<root>/config/<service>) over
   * the LB server's defaults (flags), or the defaults alone.
   */
  'config'?: (_lookaside_v1_ServiceConfig | null);
  /**
   * The service's config key when its latest value was rejected (key and reason); the config
   * above (the last valid value, or the defaults) stays in force. Unset when not rejected.
   */
  'rejectedConfig'?: (_lookaside_v1_RejectedRecord | null);
}

export interface GetServiceResponse__Output {
  'name': (string);
  'version': (number);
  'endpoints': (_lookaside_v1_Endpoint__Output)[];
  'rejected': (_lookaside_v1_RejectedRecord__Output)[];
  'clients': (number);
  /**
   * Self-preservation: how many endpoints are held (listed in endpoints with held = true), until when.
   */
  'heldEndpoints': (number);
  'heldUntilMs': (number);
  /**
   * The version of the service-wide assignment (what clients of the whole service are sent);
   * `version` is the registry's.
   */
  'assignmentVersion': (number);
  /**
   * The panic threshold holds: health verdicts and ejections would leave too few endpoints, so
   * they are ignored and clients spread over all (each endpoint still shows its health/ejection).
   */
  'panic': (boolean);
  /**
   * Overrides of this service naming an instance that has no record (they apply when it
   * registers). Malformed override values are listed in `rejected`, keys under <root>/overrides/.
   */
  'danglingOverrides': (_lookaside_v1_Override__Output)[];
  /**
   * The service's effective configuration: its setting in etcd (<root>/config/<service>) over
   * the LB server's defaults (flags), or the defaults alone.
   */
  'config': (_lookaside_v1_ServiceConfig__Output | null);
  /**
   * The service's config key when its latest value was rejected (key and reason); the config
   * above (the last valid value, or the defaults) stays in force. Unset when not rejected.
   */
  'rejectedConfig': (_lookaside_v1_RejectedRecord__Output | null);
}
