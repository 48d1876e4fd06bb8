import { z } from 'zod';
import type { ChannelOptions } from '@grpc/grpc-js';
import { MAX_ZONE_LENGTH } from '../common/registry-record';
import { parseAddress } from '../common/host-port';

/**
 * Channel options read by the `lookaside` resolver. Pass them as the third argument of a generated
 * client's constructor (or of `new grpc.Channel`), next to grpc-js's own options.
 */
export const LookasideChannelOptions = {
  /**
   * Backends to use when no server list came within the start-up timeout (no LB server answered,
   * or the one that did has not read etcd yet):
   * `"127.0.0.1:8181,127.0.0.1:8282"` or an array of "host:port". Left as soon as a real server
   * list arrives.
   */
  FALLBACK_ADDRESSES: 'lookaside.fallback_addresses',
  /**
   * Milliseconds to wait for a first server list before using the fallback addresses, or (with
   * none) failing calls with UNAVAILABLE. Default 5000.
   */
  STARTUP_TIMEOUT_MS: 'lookaside.startup_timeout_ms',
  /** The client's zone, sent to the LB server for zone-aware assignment. */
  ZONE: 'lookaside.zone',
  /** The id this client shows in the LB server's admin service. Default host-pid-random. */
  CLIENT_ID: 'lookaside.client_id',
  /** First delay before reconnecting a broken LB stream. Default 1000. */
  RECONNECT_INITIAL_BACKOFF_MS: 'lookaside.reconnect_initial_backoff_ms',
  /** Largest delay between LB stream reconnection attempts. Default 30000. */
  RECONNECT_MAX_BACKOFF_MS: 'lookaside.reconnect_max_backoff_ms',
  /**
   * Milliseconds an LB stream may take to send its first server list before it is given up and the
   * next LB replica is tried. Default 10000.
   */
  LB_ANSWER_TIMEOUT_MS: 'lookaside.lb_answer_timeout_ms',
  /**
   * Name of the credentials (registered with registerLookasideCredentials or installLookaside's
   * `namedLbCredentials`) of this channel's stream to the LB server. Default: installLookaside's
   * `lbCredentials`. The backends still get the channel's own credentials.
   */
  LB_CREDENTIALS: 'lookaside.lb_credentials',
  /**
   * The TLS name to expect in the LB server's certificate when it differs from the host in the
   * target (e.g. the target names an IP). Sets the LB channel's `grpc.ssl_target_name_override`.
   */
  LB_TLS_SERVER_NAME: 'lookaside.lb_tls_server_name',
} as const;

const addressList = z
  .union([z.string(), z.array(z.string())])
  .transform((v) => (Array.isArray(v) ? v : v.split(',')).map((a) => a.trim()).filter((a) => a !== ''))
  .superRefine((list, ctx) => {
    for (const a of list) {
      const parsed = parseAddress(a);
      if (!parsed.ok) ctx.addIssue({ code: 'custom', message: parsed.reason });
    }
  });

const ms = (max: number) => z.number().int().min(1).max(max);

const Schema = z.object({
  [LookasideChannelOptions.FALLBACK_ADDRESSES]: addressList.default([]),
  [LookasideChannelOptions.STARTUP_TIMEOUT_MS]: ms(3_600_000).default(5000),
  [LookasideChannelOptions.ZONE]: z.string().max(MAX_ZONE_LENGTH).default(''),
  [LookasideChannelOptions.CLIENT_ID]: z.string().max(256).optional(),
  [LookasideChannelOptions.RECONNECT_INITIAL_BACKOFF_MS]: ms(600_000).default(1000),
  [LookasideChannelOptions.RECONNECT_MAX_BACKOFF_MS]: ms(3_600_000).default(30_000),
  [LookasideChannelOptions.LB_ANSWER_TIMEOUT_MS]: ms(600_000).default(10_000),
  [LookasideChannelOptions.LB_CREDENTIALS]: z.string().min(1).optional(),
  [LookasideChannelOptions.LB_TLS_SERVER_NAME]: z.string().min(1).max(255).optional(),
});

/** The resolver's settings, validated. */
export interface LookasideSettings {
  readonly fallbackAddresses: readonly string[];
  readonly startupTimeoutMs: number;
  readonly zone: string;
  readonly clientId: string | undefined;
  readonly reconnectInitialBackoffMs: number;
  readonly reconnectMaxBackoffMs: number;
  readonly lbAnswerTimeoutMs: number;
  /** Name of the LB credentials; undefined: the process-wide ones. */
  readonly lbCredentialsName: string | undefined;
  readonly lbTlsServerName: string | undefined;
}

/**
 * Reads and validates the lookaside options among a channel's options. Called by the resolver's
 * constructor, so that a bad option fails the client's construction. Throws a RangeError naming
 * the option and what was expected.
 */
export function readLookasideChannelOptions(options: ChannelOptions): LookasideSettings {
  const input: Record<string, unknown> = {};
  for (const key of Object.values(LookasideChannelOptions)) {
    const value: unknown = options[key];
    if (value !== undefined) input[key] = value;
  }
  const parsed = Schema.safeParse(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new RangeError(`invalid channel option "${issue.path.join('.')}": ${issue.message}`);
  }
  const o = parsed.data;
  const initial = o[LookasideChannelOptions.RECONNECT_INITIAL_BACKOFF_MS];
  return {
    fallbackAddresses: o[LookasideChannelOptions.FALLBACK_ADDRESSES],
    startupTimeoutMs: o[LookasideChannelOptions.STARTUP_TIMEOUT_MS],
    zone: o[LookasideChannelOptions.ZONE],
    clientId: o[LookasideChannelOptions.CLIENT_ID],
    reconnectInitialBackoffMs: initial,
    reconnectMaxBackoffMs: Math.max(initial, o[LookasideChannelOptions.RECONNECT_MAX_BACKOFF_MS]),
    lbAnswerTimeoutMs: o[LookasideChannelOptions.LB_ANSWER_TIMEOUT_MS],
    lbCredentialsName: o[LookasideChannelOptions.LB_CREDENTIALS],
    lbTlsServerName: o[LookasideChannelOptions.LB_TLS_SERVER_NAME],
  };
}
