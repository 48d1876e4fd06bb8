import { Command, Option } from 'commander';
import pino from 'pino';
import { startLbServer, type LbServer } from '../lb-server';
import {
  DEFAULT_CLIENT_STATS_INTERVAL_MS,
  DEFAULT_COALESCE_MS,
  DEFAULT_LISTEN,
} from '../lb-server/lb-server-config';
import { DEFAULT_PREFIX } from '../proto/registry-record';
import { integerIn, keyPrefix, listenAddress, nonEmpty, urlList } from './flag-parsers';

interface LbServerFlags {
  etcd: string[];
  prefix: string;
  listen: string;
  adminToken?: string;
  clientStatsIntervalMs: number;
  coalesceMs: number;
  logLevel: string;
}

/** How long a signal-triggered shutdown may take before the process exits anyway. */
export const SHUTDOWN_BOUND_MS = 5000;

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

/**
 * `lookaside lb-server`: runs an LB server until SIGTERM or SIGINT. Every flag also reads an
 * environment variable; a bad value exits non-zero naming the flag. Logs are pino JSON on stderr
 * (the admin token is never logged). On a signal: health NOT_SERVING, BalanceLoad streams end
 * with UNAVAILABLE, exit 0 within SHUTDOWN_BOUND_MS (exit 1 if shutdown overran it).
 */
export function registerLbServerCommand(program: Command): void {
  program
    .command('lb-server')
    .description(
      'run the lookaside LB server: watch etcd, push server lists to clients (lookaside.v1, xDS, grpclb), serve the admin API',
    )
    .addOption(
      new Option('--etcd <urls>', 'etcd endpoint URLs, comma-separated')
        .env('ETCD_ENDPOINTS')
        .argParser(urlList)
        .makeOptionMandatory(),
    )
    .addOption(
      new Option('--prefix <prefix>', 'etcd key prefix of the registry')
        .env('LOOKASIDE_PREFIX')
        .argParser(keyPrefix)
        .default(DEFAULT_PREFIX),
    )
    .addOption(
      new Option('--listen <host:port>', 'address to serve gRPC on (port 0: pick a free one)')
        .env('LOOKASIDE_LISTEN')
        .argParser(listenAddress)
        .default(DEFAULT_LISTEN),
    )
    .addOption(
      new Option('--admin-token <token>', 'require "authorization: Bearer <token>" on Admin calls')
        .env('LOOKASIDE_ADMIN_TOKEN')
        .argParser(nonEmpty),
    )
    .addOption(
      new Option('--client-stats-interval-ms <ms>', 'how often clients report call stats (0: never)')
        .env('LOOKASIDE_CLIENT_STATS_INTERVAL_MS')
        .argParser(integerIn(0, 86_400_000))
        .default(DEFAULT_CLIENT_STATS_INTERVAL_MS),
    )
    .addOption(
      new Option(
        '--coalesce-ms <ms>',
        'under churn, push at most once per this window (a lone change goes out at once)',
      )
        .env('LOOKASIDE_COALESCE_MS')
        .argParser(integerIn(0, 10_000))
        .default(DEFAULT_COALESCE_MS),
    )
    .addOption(
      new Option('--log-level <level>', 'log level').env('LOG_LEVEL').choices(LOG_LEVELS).default('info'),
    )
    .addHelpText(
      'after',
      `
Examples:
  lookaside lb-server --etcd http://127.0.0.1:2379
  lookaside lb-server --etcd http://10.0.0.1:2379,http://10.0.0.2:2379 --listen 0.0.0.0:7000
  ETCD_ENDPOINTS=http://127.0.0.1:2379 LOOKASIDE_ADMIN_TOKEN=s3cret lookaside lb-server`,
    )
    .action(async (flags: LbServerFlags) => runLbServer(flags));
}

async function runLbServer(flags: LbServerFlags): Promise<void> {
  const logger = pino({ level: flags.logLevel, base: { component: 'lb-server' } }, pino.destination(2));
  const server: LbServer = await startLbServer({
    etcd: flags.etcd,
    prefix: flags.prefix,
    listen: flags.listen,
    adminToken: flags.adminToken,
    clientStatsIntervalMs: flags.clientStatsIntervalMs,
    coalesceMs: flags.coalesceMs,
    logger,
  });
  await new Promise<void>((resolve) => {
    let stopping = false;
    const onSignal = (signal: NodeJS.Signals): void => {
      if (stopping) {
        logger.warn({ event: 'lb_server_forced_exit', signal }, 'second signal: exiting now');
        process.exit(1);
      }
      stopping = true;
      logger.info({ event: 'lb_server_stopping', signal, boundMs: SHUTDOWN_BOUND_MS }, 'shutting down');
      const bound = setTimeout(() => {
        logger.error({ event: 'lb_server_shutdown_overran', boundMs: SHUTDOWN_BOUND_MS }, 'shutdown overran');
        process.exit(1);
      }, SHUTDOWN_BOUND_MS);
      bound.unref();
      void server.close().then(() => {
        clearTimeout(bound);
        logger.flush();
        resolve();
      });
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });
  process.exit(0);
}
