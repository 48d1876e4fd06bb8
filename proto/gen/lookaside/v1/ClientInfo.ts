// Original file: proto/lookaside/v1/admin.proto

import type { BackendCallStats as _lookaside_v1_BackendCallStats, BackendCallStats__Output as _lookaside_v1_BackendCallStats__Output } from '../../lookaside/v1/BackendCallStats';
import type { Long } from '@grpc/proto-loader';

export interface ClientInfo {
  'clientId'?: (string);
  'service'?: (string);
  'peer'?: (string);
  'zone'?: (string);
  /**
   * Unix milliseconds.
   */
  'connectedAtMs'?: (number | string | Long);
  /**
   * Version of the last server list sent to this client.
   */
  'assignedVersion'?: (number | string | Long);
  'assignedAtMs'?: (number | string | Long);
  /**
   * Totals accumulated from the client's ClientStats reports.
   */
  'stats'?: (_lookaside_v1_BackendCallStats)[];
  'lastStatsAtMs'?: (number | string | Long);
  /**
   * Which protocol the client speaks: "lookaside.v1", "xds", "grpclb".
   */
  'protocol'?: (string);
  /**
   * Updates the client rejected (xDS NACKs); 0 for protocols without them.
   */
  'nacks'?: (number | string | Long);
  /**
   * The id of the LB replica that serves the client (its --replica-id).
   */
  'replica'?: (string);
  /**
   * True when the replica answering serves it: only then are peer, assigned_* and stats known
   * here (a client of another replica comes from the client population in etcd).
   */
  'local'?: (boolean);
  /**
   * The client's current subset as instance ids, as its replica recorded it; empty when none.
   */
  'subset'?: (string)[];
}

export interface ClientInfo__Output {
  'clientId': (string);
  'service': (string);
  'peer': (string);
  'zone': (string);
  /**
   * Unix milliseconds.
   */
  'connectedAtMs': (number);
  /**
   * Version of the last server list sent to this client.
   */
  'assignedVersion': (number);
  'assignedAtMs': (number);
  /**
   * Totals accumulated from the client's ClientStats reports.
   */
  'stats': (_lookaside_v1_BackendCallStats__Output)[];
  'lastStatsAtMs': (number);
  /**
   * Which protocol the client speaks: "lookaside.v1", "xds", "grpclb".
   */
  'protocol': (string);
  /**
   * Updates the client rejected (xDS NACKs); 0 for protocols without them.
   */
  'nacks': (number);
  /**
   * The id of the LB replica that serves the client (its --replica-id).
   */
  'replica': (string);
  /**
   * True when the replica answering serves it: only then are peer, assigned_* and stats known
   * here (a client of another replica comes from the client population in etcd).
   */
  'local': (boolean);
  /**
   * The client's current subset as instance ids, as its replica recorded it; empty when none.
   */
  'subset': (string)[];
}
