import { experimental, type ChannelOptions } from '@grpc/grpc-js';
import type { ClientStatsAccumulator } from './client-stats-accumulator';

/**
 * The resolver attribute under which the `lookaside` resolver hands the `lookaside_wrr` policy of
 * the same channel its context. The prefix makes grpc-js leave it out of subchannel arguments, so
 * it never splits the subchannel pool.
 */
export const LOOKASIDE_CONTEXT_KEY = `${experimental.SUBCHANNEL_ARGS_EXCLUDE_KEY_PREFIX}.lookaside_context`;

/**
 * What one channel's resolver shares with its LB policy: the service (for error messages) and the
 * ClientStats accumulator the picker counts into and the resolver reports from. One per resolver;
 * the same object in every resolution, so it compares equal across updates.
 */
export class LookasideContext {
  constructor(
    readonly service: string,
    readonly lbServers: readonly string[],
    readonly stats: ClientStatsAccumulator,
  ) {}

  /** The context in a policy's channel options, or null when the resolver is not ours. */
  static from(options: ChannelOptions): LookasideContext | null {
    const value: unknown = options[LOOKASIDE_CONTEXT_KEY];
    return value instanceof LookasideContext ? value : null;
  }
}
