import { experimental, type ChannelCredentials } from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { LOOKASIDE_SCHEME } from './lookaside-target';
import { LookasideResolver } from './lookaside-resolver';
import { LOOKASIDE_WRR_POLICY, LookasideWrrBalancer, LookasideWrrConfig } from './lookaside-wrr-balancer';
import { sdkDefaults } from './sdk-defaults';

/** Options of installLookaside. */
export interface InstallLookasideOptions {
  /** Credentials of the channel to the LB server (not to the backends). Default insecure. */
  readonly lbCredentials?: ChannelCredentials;
  /** Logger for the SDK's few edge events (LB stream lost, fallback in use, start-up timeout). */
  readonly logger?: Logger;
}

let installed = false;

/**
 * Registers the `lookaside` resolver scheme and the `lookaside_wrr` LB policy in the application's
 * `@grpc/grpc-js` (a peer dependency: the one copy the application's clients use). Call it once at
 * start-up, before creating clients with `lookaside://` targets; calling it again is harmless and
 * only updates the options given. Affects channels created afterwards.
 *
 * Proxies: when the environment sets `grpc_proxy`, `https_proxy` or `http_proxy`, grpc-js rewrites
 * every non-unix target to go through the proxy before any resolver sees it. Give `lookaside://`
 * clients the channel option `'grpc.enable_http_proxy': 0` (the SDK's own LB channel always does).
 */
export function installLookaside(options: InstallLookasideOptions = {}): void {
  if (options.lbCredentials) sdkDefaults.lbCredentials = options.lbCredentials;
  if (options.logger) sdkDefaults.logger = options.logger;
  if (installed) return;
  experimental.registerResolver(LOOKASIDE_SCHEME, LookasideResolver);
  experimental.registerLoadBalancerType(LOOKASIDE_WRR_POLICY, LookasideWrrBalancer, LookasideWrrConfig);
  installed = true;
}
