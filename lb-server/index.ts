/**
 * The LB server as a library (package export `lookaside/lb-server`): startLbServer and the names
 * its callers need. `lookaside lb-server`, the demo and the tests all start it through here.
 */
export { startLbServer, HEALTH_SERVICE_NAMES, LbServerListenError, type LbServer } from './lb-server';
export {
  LbServerConfigError,
  DEFAULT_CLIENT_STATS_INTERVAL_MS,
  DEFAULT_COALESCE_MS,
  DEFAULT_LISTEN,
  DEFAULT_TLS_RELOAD_INTERVAL_MS,
  type LbServerConfig,
} from './lb-server-config';
export type { AssignmentClient, AssignmentPolicy } from './assignment/assignment-stage';
export type { AssignedEndpoint, Assignment, EndpointReason } from './assignment/assignment';
export { METRIC_NAMES } from './frontends/metrics/lb-server-metrics';
export { MetricsListenError } from './frontends/metrics/metrics-http-server';
export type { EtcdSecurity } from '../etcd/etcd-client-options';
export type { OrcaLoad, OrcaState } from './io/orca-subscriber';
export {
  OverrideInputError,
  OverrideWriteError,
  type OverrideRequest,
  type OverrideStore,
  type StoredOverride,
} from './io/override-store';
export type { ConsoleOverrides } from './frontends/console/console-actions';
export { ConsoleAssetsError } from './frontends/console/console-http-handler';
export { ClientPopulation, type PopulationWrites } from './io/client-population';
export type { PopulationClient, PopulationJoin } from './core/client-population-state';
export { ServiceConfigWatcher } from './io/service-config-watcher';
export {
  DEFAULT_SERVICE_CONFIG,
  type ServiceConfig,
  type ServiceConfigValues,
} from './core/service-config-state';
export { clientsPrefix, configPrefix, prefixRoot } from '../common/key-layout';
