/**
 * lookaside client SDK: what applications embed.
 *
 * - `installLookaside()` registers the `lookaside://<lb:port[,lb:port…]>/<service>` resolver and the
 *   `lookaside_wrr` policy in the application's `@grpc/grpc-js`; clients then keep their ordinary
 *   generated stubs and change only the target.
 * - `registerLookasideCredentials(name, creds)` names credentials for the LB stream that a channel
 *   selects with the option `'lookaside.lb_credentials'`.
 *
 * It loads neither the etcd client nor the demo's protos. Services register themselves with
 * `registerService()` from `lookaside/registrar`.
 */
export {
  installLookaside,
  registerLookasideCredentials,
  type InstallLookasideOptions,
} from './install-lookaside';
export { LookasideChannelOptions } from './lookaside-channel-options';
export { LOOKASIDE_SCHEME, LookasideTargetError } from './lookaside-target';
export { LOOKASIDE_WRR_POLICY } from './lookaside-wrr-balancer';
