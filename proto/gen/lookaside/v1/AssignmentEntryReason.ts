// Original file: proto/lookaside/v1/admin.proto


/**
 * Why an endpoint of the service is, or is not, in a client's list.
 */
export interface AssignmentEntryReason {
  'instanceId'?: (string);
  'inList'?: (boolean);
  /**
   * "subset" (in the client's subset), "refill" (sent because none of its subset may take calls
   * here), "outside-subset", "zone-no-share" (its zone gets none of the client's calls),
   * "duplicate", "whole-service" (subsetting and zones off).
   */
  'why'?: (string);
  'zone'?: (string);
}

/**
 * Why an endpoint of the service is, or is not, in a client's list.
 */
export interface AssignmentEntryReason__Output {
  'instanceId': (string);
  'inList': (boolean);
  /**
   * "subset" (in the client's subset), "refill" (sent because none of its subset may take calls
   * here), "outside-subset", "zone-no-share" (its zone gets none of the client's calls),
   * "duplicate", "whole-service" (subsetting and zones off).
   */
  'why': (string);
  'zone': (string);
}
