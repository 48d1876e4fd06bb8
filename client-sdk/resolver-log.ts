import { experimental } from '@grpc/grpc-js';
import { sdkDefaults } from './sdk-defaults';

const TRACER = 'lookaside_resolver';

/** Where the resolver's edge events go: one event a line, fields not prose. */
export type ResolverLog = (level: 'debug' | 'warn', event: string, fields: Record<string, unknown>) => void;

/**
 * The resolver's log: grpc-js's trace under the `lookaside_resolver` tracer, and the logger given
 * to installLookaside. Passed by LookasideResolver to its policy and used by the BalanceLoad
 * sessions it opens.
 */
export const resolverLog: ResolverLog = (level, event, fields) => {
  experimental.trace(0 /* LogVerbosity.DEBUG */, TRACER, `${event} ${JSON.stringify(fields)}`);
  sdkDefaults.logger?.[level]({ event, ...fields });
};
