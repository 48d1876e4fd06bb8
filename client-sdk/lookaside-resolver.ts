import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { experimental, type ChannelCredentials, type ChannelOptions } from '@grpc/grpc-js';
import type { ServiceConfig } from '@grpc/grpc-js';
import { BackoffSchedule } from '../common/backoff-schedule';
import { systemClock } from '../common/clock';
import { BalanceLoadSession } from './balance-load-session';
import { ClientStatsAccumulator } from './client-stats-accumulator';
import { LOOKASIDE_CONTEXT_KEY, LookasideContext } from './lookaside-context';
import { fallbackEndpoints } from './lookaside-endpoint';
import { readLookasideChannelOptions, type LookasideSettings } from './lookaside-channel-options';
import { LookasideResolverPolicy } from './lookaside-resolver-policy';
import { parseLookasideTarget } from './lookaside-target';
import { LOOKASIDE_WRR_POLICY } from './lookaside-wrr-balancer';
import { resolverLog } from './resolver-log';
import { sdkDefaults } from './sdk-defaults';

/** Always passed with every result, errors included: with none grpc-js falls back to pick_first. */
const SERVICE_CONFIG: experimental.StatusOr<ServiceConfig> = experimental.statusOrFromValue({
  loadBalancingConfig: [{ [LOOKASIDE_WRR_POLICY]: {} }],
  methodConfig: [],
});

/**
 * The `lookaside` resolver. grpc-js constructs one per channel whose target is
 * `lookaside://<lb:port[,lb:port…]>/<service>`; `updateResolution()` (called when the channel
 * leaves IDLE and whenever the policy asks) opens `lookaside.v1.LoadBalancer/BalanceLoad` to one LB
 * replica, and every newer ServerList becomes a list of weighted endpoints for `lookaside_wrr`.
 * It reports ClientStats on the interval the LB server asks for. When the stream breaks it keeps
 * the last list, and reconnects to the next replica after an exponential, jittered, capped delay,
 * so a dead LB server is never flooded. An empty first list from a reconnected stream does not wipe a
 * known, non-empty list until the start-up timeout (a restarting LB server may answer before it
 * has read etcd) unless a newer list arrives first. Until a first list arrives: after the start-up timeout it
 * serves the fallback addresses if configured, or reports UNAVAILABLE naming the service and the
 * LB servers so calls fail instead of waiting forever. Never calls the listener synchronously, nor
 * after destroy().
 *
 * A thin shell over grpc-js's resolver API: the decisions are LookasideResolverPolicy's, and each
 * stream is a BalanceLoadSession.
 */
export class LookasideResolver implements experimental.Resolver {
  private readonly context: LookasideContext;
  private readonly policy: LookasideResolverPolicy;

  /** The service name: the `:authority` (and TLS name) of every call on the channel. */
  static getDefaultAuthority(target: experimental.GrpcUri): string {
    return parseLookasideTarget(target).service;
  }

  /** Called by grpc-js with the channel; validates the target and options, opens nothing yet. */
  constructor(
    target: experimental.GrpcUri,
    listener: experimental.ResolverListener,
    channelOptions: ChannelOptions,
  ) {
    const { service, lbServers } = parseLookasideTarget(target);
    const settings = readLookasideChannelOptions(channelOptions);
    const fallback = fallbackEndpoints(settings.fallbackAddresses);
    const clientId = settings.clientId ?? `${hostname()}-${process.pid}-${randomBytes(4).toString('hex')}`;
    const credsName = settings.lbCredentialsName;
    if (credsName !== undefined && !sdkDefaults.namedLbCredentials.has(credsName)) {
      throw new RangeError(
        `invalid channel option "lookaside.lb_credentials": no LB credentials registered as ` +
          `${JSON.stringify(credsName)} (call registerLookasideCredentials first)`,
      );
    }
    const stats = new ClientStatsAccumulator();
    const context = new LookasideContext(service, lbServers, stats);
    this.context = context;
    const attributes = { [LOOKASIDE_CONTEXT_KEY]: context };
    this.policy = new LookasideResolverPolicy({
      service,
      lbServers,
      fallback,
      startupTimeoutMs: settings.startupTimeoutMs,
      backoff: new BackoffSchedule({
        initialMs: settings.reconnectInitialBackoffMs,
        maxMs: settings.reconnectMaxBackoffMs,
      }),
      clock: systemClock,
      random: Math.random,
      openSession: (lbServer, owner) =>
        BalanceLoadSession.open(
          {
            lbServer,
            service,
            clientId,
            zone: settings.zone,
            credentials: lbCredentials(settings),
            tlsServerName: settings.lbTlsServerName,
            answerTimeoutMs: settings.lbAnswerTimeoutMs,
            stats,
            clock: systemClock,
          },
          owner,
        ),
      deliver: (result, note) => listener(result, attributes, SERVICE_CONFIG, note),
      log: resolverLog,
    });
  }

  /** Called by grpc-js when the channel leaves IDLE and when its LB policy asks to re-resolve. */
  updateResolution(): void {
    this.policy.start();
  }

  /** Called by grpc-js when the channel goes idle or closes; updateResolution() may follow. */
  destroy(): void {
    this.policy.stop();
    this.context.stats.enabled = false;
  }
}

/** The named credentials (looked up per connection, so a re-registration applies) or the default. */
function lbCredentials(settings: LookasideSettings): ChannelCredentials {
  const name = settings.lbCredentialsName;
  return (
    (name !== undefined ? sdkDefaults.namedLbCredentials.get(name) : undefined) ?? sdkDefaults.lbCredentials
  );
}
