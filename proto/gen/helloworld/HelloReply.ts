// Original file: proto/helloworld/helloworld.proto


/**
 * The response message containing the greetings
 */
export interface HelloReply {
  'message'?: (string);
}

/**
 * The response message containing the greetings
 */
export interface HelloReply__Output {
  'message': (string);
}
