// Original file: proto/lookaside/v1/load_balancer.proto


export interface InitialLoadBalanceRequest {
  /**
   * The service name, as registered under <prefix>/<service>/<instance-id>.
   */
  'name'?: (string);
  /**
   * An opaque id the client chooses, shown by the admin service; the server makes one up if empty.
   */
  'clientId'?: (string);
  /**
   * The client's zone, for zone-aware assignment; may be empty.
   */
  'zone'?: (string);
}

export interface InitialLoadBalanceRequest__Output {
  /**
   * The service name, as registered under <prefix>/<service>/<instance-id>.
   */
  'name': (string);
  /**
   * An opaque id the client chooses, shown by the admin service; the server makes one up if empty.
   */
  'clientId': (string);
  /**
   * The client's zone, for zone-aware assignment; may be empty.
   */
  'zone': (string);
}
