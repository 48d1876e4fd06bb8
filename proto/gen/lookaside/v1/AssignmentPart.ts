// Original file: proto/lookaside/v1/admin.proto


/**
 * One part of a client's list: the subset it uses in one zone (or "*": every zone), and the share
 * of its calls that part gets.
 */
export interface AssignmentPart {
  'zone'?: (string);
  'share'?: (number | string);
  'instanceIds'?: (string)[];
}

/**
 * One part of a client's list: the subset it uses in one zone (or "*": every zone), and the share
 * of its calls that part gets.
 */
export interface AssignmentPart__Output {
  'zone': (string);
  'share': (number);
  'instanceIds': (string)[];
}
