// Original file: proto/grpc/lb/v1/load_balancer.proto


export interface InitialLoadBalanceRequest {
  /**
   * The name of the load balanced service (e.g., service.googleapis.com).
   */
  'name'?: (string);
}

export interface InitialLoadBalanceRequest__Output {
  /**
   * The name of the load balanced service (e.g., service.googleapis.com).
   */
  'name': (string);
}
