/**
 * lookaside client SDK: what applications embed.
 *
 * - `installLookaside()` registers the `lookaside://<lb:port[,lb:port…]>/<service>` resolver and the
 *   `lookaside_wrr` policy in the application's `@grpc/grpc-js`; clients then keep their ordinary
 *   generated stubs and change only the target.
 * - `registerLookasideCredentials(name, creds)` names credentials for the LB stream that a channel
 *   selects with the option `'lookaside.lb_credentials'`.
 * - `registerService()` is the server-side registrar: a record in etcd on a kept-alive lease.
 */
export {
  installLookaside,
  registerLookasideCredentials,
  type InstallLookasideOptions,
} from './install-lookaside';
export {
  registerService,
  RegistrarError,
  type RegisterServiceOptions,
  type Registration,
  type DrainOptions,
} from './register-service';
export { LookasideChannelOptions } from './lookaside-channel-options';
export { LOOKASIDE_SCHEME, LookasideTargetError } from './lookaside-target';
export { LOOKASIDE_WRR_POLICY } from './lookaside-wrr-balancer';
