import { credentials, type ChannelCredentials } from '@grpc/grpc-js';
import type { EventLogger } from '../common/event-logger';

/** Process-wide SDK settings, set by installLookaside and read by each new resolver. */
export interface SdkDefaults {
  /** Credentials of the LB stream's own channel. Default insecure. */
  lbCredentials: ChannelCredentials;
  /**
   * Credentials of LB channels by name, for the channel option `lookaside.lb_credentials`
   * (channel options hold only primitives, so a channel names its credentials).
   */
  readonly namedLbCredentials: Map<string, ChannelCredentials>;
  /** Where the SDK logs its few edge events (LB stream lost, fallback in use). Default none. */
  logger: EventLogger | undefined;
}

/** The one instance; installLookaside writes it. */
export const sdkDefaults: SdkDefaults = {
  lbCredentials: credentials.createInsecure(),
  namedLbCredentials: new Map(),
  logger: undefined,
};
