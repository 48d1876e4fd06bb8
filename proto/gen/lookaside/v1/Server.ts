// Original file: proto/lookaside/v1/load_balancer.proto


export interface Server {
  /**
   * "host:port"; IPv6 hosts in brackets ("[::1]:8181").
   */
  'address'?: (string);
  /**
   * Relative share of new calls; 0 means take no new calls.
   */
  'weight'?: (number);
  'zone'?: (string);
  'metadata'?: ({[key: string]: string});
  /**
   * Opaque token the client may attach to calls to this backend.
   */
  'loadBalanceToken'?: (string);
  /**
   * The backend is shutting down: keep its connection for in-flight calls, send it no new ones.
   */
  'draining'?: (boolean);
}

export interface Server__Output {
  /**
   * "host:port"; IPv6 hosts in brackets ("[::1]:8181").
   */
  'address': (string);
  /**
   * Relative share of new calls; 0 means take no new calls.
   */
  'weight': (number);
  'zone': (string);
  'metadata': ({[key: string]: string});
  /**
   * Opaque token the client may attach to calls to this backend.
   */
  'loadBalanceToken': (string);
  /**
   * The backend is shutting down: keep its connection for in-flight calls, send it no new ones.
   */
  'draining': (boolean);
}
