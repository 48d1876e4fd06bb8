/**
 * The registrar, importable as `lookaside/registrar`: what a service calls to publish itself in
 * etcd. `registerService()` puts the service's record on a kept-alive lease and returns a
 * Registration (`setWeight`, `drain`, `close`). Separate from the client SDK (`lookaside`) so that
 * applications that only call services never load the etcd client. `LoadReporter` /
 * `reportLoad()` keep a backend's out-of-band ORCA load report current (application utilization,
 * calls and errors per second), which the LB server reads to weigh it by load.
 */
export {
  registerService,
  RegistrarError,
  type RegisterServiceOptions,
  type Registration,
  type ReportLoadOptions,
  type DrainOptions,
} from './register-service';
export {
  LoadReporter,
  reportLoad,
  type LoadReporterOptions,
  type LoadReporterTimer,
  type LoadSample,
} from './load-reporter';
