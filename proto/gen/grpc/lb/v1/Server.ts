// Original file: proto/grpc/lb/v1/load_balancer.proto


/**
 * Contains server information. When the drop field is not true, use the other
 * fields.
 */
export interface Server {
  /**
   * A resolved address for the server, serialized in network-byte-order. It may
   * either be an IPv4 or IPv6 address.
   */
  'ipAddress'?: (Buffer | Uint8Array | string);
  /**
   * A resolved port number for the server.
   */
  'port'?: (number);
  /**
   * An opaque but printable token for load reporting. The client must include
   * the token of the picked server into the initial metadata when it starts a
   * call to that server.
   */
  'loadBalanceToken'?: (string);
  /**
   * Indicates whether this particular request should be dropped by the client.
   * If the request is dropped, there will be a corresponding entry in
   * ClientStats.calls_finished_with_drop.
   */
  'drop'?: (boolean);
}

/**
 * Contains server information. When the drop field is not true, use the other
 * fields.
 */
export interface Server__Output {
  /**
   * A resolved address for the server, serialized in network-byte-order. It may
   * either be an IPv4 or IPv6 address.
   */
  'ipAddress': (Buffer);
  /**
   * A resolved port number for the server.
   */
  'port': (number);
  /**
   * An opaque but printable token for load reporting. The client must include
   * the token of the picked server into the initial metadata when it starts a
   * call to that server.
   */
  'loadBalanceToken': (string);
  /**
   * Indicates whether this particular request should be dropped by the client.
   * If the request is dropped, there will be a corresponding entry in
   * ClientStats.calls_finished_with_drop.
   */
  'drop': (boolean);
}
