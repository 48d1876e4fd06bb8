// Original file: proto/lookaside/v1/admin.proto


export interface ServiceConfig {
  /**
   * Endpoints per client; 0: subsetting off.
   */
  'subsetSize'?: (number);
  'zoneAware'?: (boolean);
  /**
   * Zone-aware routing needs at least this many endpoints.
   */
  'zoneMinEndpoints'?: (number);
  /**
   * "etcd" (a valid setting is in force) or "default".
   */
  'source'?: (string);
}

export interface ServiceConfig__Output {
  /**
   * Endpoints per client; 0: subsetting off.
   */
  'subsetSize': (number);
  'zoneAware': (boolean);
  /**
   * Zone-aware routing needs at least this many endpoints.
   */
  'zoneMinEndpoints': (number);
  /**
   * "etcd" (a valid setting is in force) or "default".
   */
  'source': (string);
}
