import { experimental, type ChannelCredentials } from '@grpc/grpc-js';
import type { EventLogger } from '../common/event-logger';
import { LOOKASIDE_SCHEME } from './lookaside-target';
import { LookasideResolver } from './lookaside-resolver';
import { LOOKASIDE_WRR_POLICY, LookasideWrrBalancer, LookasideWrrConfig } from './lookaside-wrr-balancer';
import { sdkDefaults } from './sdk-defaults';

/** Options of installLookaside. */
export interface InstallLookasideOptions {
  /**
   * Credentials of the channel to the LB server (not to the backends), for every `lookaside://`
   * channel that does not name its own. Default insecure. For TLS:
   * `credentials.createSsl(ca, clientKey?, clientCert?)`.
   */
  readonly lbCredentials?: ChannelCredentials;
  /**
   * More LB credentials by name; a channel picks one with the channel option
   * `LookasideChannelOptions.LB_CREDENTIALS` (`'lookaside.lb_credentials': '<name>'`).
   * Same as calling registerLookasideCredentials for each entry.
   */
  readonly namedLbCredentials?: Readonly<Record<string, ChannelCredentials>>;
  /** Logger (a pino Logger or any EventLogger) for the SDK's few edge events (LB stream lost, fallback in use, start-up timeout). */
  readonly logger?: EventLogger;
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
  for (const [name, creds] of Object.entries(options.namedLbCredentials ?? {})) {
    registerLookasideCredentials(name, creds);
  }
  if (installed) return;
  experimental.registerResolver(LOOKASIDE_SCHEME, LookasideResolver);
  experimental.registerLoadBalancerType(LOOKASIDE_WRR_POLICY, LookasideWrrBalancer, LookasideWrrConfig);
  installed = true;
}

/**
 * Registers (or replaces) LB credentials under `name`, for channels created with the channel option
 * `'lookaside.lb_credentials': name`: their stream to the LB server uses these credentials, while
 * their calls to the backends keep the credentials given to the client's constructor. Replacing
 * them affects LB connections opened afterwards (e.g. after a rotated client certificate). Call
 * before creating such channels: an unknown name fails the client's construction.
 */
export function registerLookasideCredentials(name: string, creds: ChannelCredentials): void {
  if (name.length === 0) throw new RangeError('LB credentials need a non-empty name');
  sdkDefaults.namedLbCredentials.set(name, creds);
}
