import * as fs from 'node:fs';
import { Command, Option } from 'commander';
import pino from 'pino';
import { startDemoService, DEFAULT_DEMO_SERVICE } from '../demo-service/demo-service';
import { DEFAULT_PREFIX } from '../common/registry-record';
import { addEtcdSecurityOptions, etcdSecurityOptions, type EtcdSecurityFlags } from './etcd-security-options';
import { integerIn, nonEmpty, panicFraction, port, readableFile, serviceName, urlList } from './flag-parsers';

interface DemoServiceFlags extends EtcdSecurityFlags {
  tlsCert?: string;
  tlsKey?: string;
  etcd: string[];
  port: number;
  host: string;
  service: string;
  weight: number;
  zone: string;
  ttl: number;
  prefix: string;
  failRate: number;
  failFile?: string;
  serviceTimeMs: number;
  maxConcurrent?: number;
  slowFile?: string;
}

/** While --slow-file exists, calls take this many times --service-time-ms. */
const SLOWDOWN = 4;

/** How long a SIGTERM'd demo service may take to drain and stop before it exits anyway. */
const STOP_BOUND_MS = 10_000;

/**
 * `lookaside demo-service`: the helloworld greeter, registered in etcd with a lease and
 * keepalive, serving grpc.health.v1. SIGUSR2 flips its health between SERVING and NOT_SERVING
 * (logged); --fail-rate answers a share of calls with INTERNAL, and with --fail-file only while
 * that file exists (100 % when no --fail-rate was given). --max-concurrent and --service-time-ms
 * model a backend of fixed capacity (calls queue FIFO for a slot); --slow-file multiplies the
 * service time by 4 while that file exists. It reports its load over out-of-band ORCA. SIGTERM/SIGINT drain (publish
 * draining, wait for calls to stop), revoke the lease and shut the server down; exit 0.
 */
export function registerDemoServiceCommand(program: Command): void {
  const command = program.command('demo-service');
  command
    .description('run the helloworld greeter and register it in etcd (lease + keepalive)')
    .addOption(
      new Option('--etcd <urls>', 'etcd endpoints, comma-separated')
        .env('ETCD_ENDPOINTS')
        .argParser(urlList)
        .makeOptionMandatory(),
    )
    .addOption(
      new Option('--port <n>', 'port to listen on (0 = a free one)')
        .env('LOOKASIDE_DEMO_PORT')
        .argParser(port(true))
        .makeOptionMandatory(),
    )
    .addOption(
      new Option('--host <host>', 'interface to bind and host to register')
        .env('LOOKASIDE_DEMO_HOST')
        .argParser(nonEmpty)
        .default('127.0.0.1'),
    )
    .addOption(
      new Option('--service <name>', 'service name to register under')
        .env('LOOKASIDE_SERVICE')
        .argParser(serviceName)
        .default(DEFAULT_DEMO_SERVICE),
    )
    .addOption(
      new Option('--weight <w>', 'relative share of calls, 0..10000 (0 = no new calls)')
        .env('LOOKASIDE_WEIGHT')
        .argParser(integerIn(0, 10_000))
        .default(100),
    )
    .addOption(new Option('--zone <zone>', 'zone to register').env('LOOKASIDE_ZONE').default(''))
    .addOption(
      new Option('--ttl <seconds>', 'lease TTL in seconds')
        .env('LOOKASIDE_TTL')
        .argParser(integerIn(1, 3600))
        .default(10),
    )
    .addOption(
      new Option('--prefix <prefix>', 'etcd key prefix of the registry')
        .env('LOOKASIDE_PREFIX')
        .argParser(nonEmpty)
        .default(DEFAULT_PREFIX),
    )
    .addOption(
      new Option('--fail-rate <fraction>', 'answer this share of calls (0..1) with INTERNAL')
        .env('LOOKASIDE_FAIL_RATE')
        .argParser(panicFraction)
        .default(0),
    )
    .addOption(
      new Option(
        '--fail-file <path>',
        'fail calls (at --fail-rate, else all) with INTERNAL only while this file exists',
      )
        .env('LOOKASIDE_FAIL_FILE')
        .argParser(nonEmpty),
    )
    .addOption(
      new Option('--service-time-ms <ms>', 'fixed time each call takes once served (a timer, no CPU)')
        .env('LOOKASIDE_SERVICE_TIME_MS')
        .argParser(integerIn(0, 3_600_000))
        .default(0),
    )
    .addOption(
      new Option(
        '--max-concurrent <n>',
        'serve at most this many calls at once; the rest queue FIFO (default: unbounded)',
      )
        .env('LOOKASIDE_MAX_CONCURRENT')
        .argParser(integerIn(1, 1_000_000)),
    )
    .addOption(
      new Option('--slow-file <path>', `take ${SLOWDOWN}x --service-time-ms per call while this file exists`)
        .env('LOOKASIDE_SLOW_FILE')
        .argParser(nonEmpty),
    )
    .addOption(
      new Option('--tls-cert <file>', 'PEM certificate: serve TLS (its SAN must name the service)')
        .env('LOOKASIDE_TLS_CERT')
        .argParser(readableFile),
    )
    .addOption(
      new Option('--tls-key <file>', 'PEM private key of --tls-cert')
        .env('LOOKASIDE_TLS_KEY')
        .argParser(readableFile),
    );
  addEtcdSecurityOptions(command)
    .addHelpText(
      'after',
      `
Examples:
  lookaside demo-service --etcd http://127.0.0.1:2379 --port 8181
  lookaside demo-service --etcd http://127.0.0.1:2379 --port 8282 --weight 300 --zone b --ttl 5
  kill -USR2 <pid>   # health NOT_SERVING (again: SERVING); the LB server stops sending it calls
  lookaside demo-service --etcd http://127.0.0.1:2379 --port 8383 --fail-file /tmp/fail
  touch /tmp/fail    # fail every call with INTERNAL (rm: recover); the LB server ejects it
  lookaside demo-service --etcd http://127.0.0.1:2379 --port 8484 --max-concurrent 4 --service-time-ms 20 --slow-file /tmp/slow
  touch /tmp/slow    # calls take 4x as long (rm: recover); load-aware weights shift calls away
  ETCD_ENDPOINTS=http://10.0.0.5:2379 lookaside demo-service --port 0 --host 10.0.0.9`,
    )
    .action(async (flags: DemoServiceFlags) => {
      const logger = pino(
        { level: process.env.LOG_LEVEL ?? 'info', base: { component: 'demo-service' } },
        pino.destination(2),
      );
      const demo = await startDemoService({
        etcd: flags.etcd,
        port: flags.port,
        host: flags.host,
        service: flags.service,
        weight: flags.weight,
        zone: flags.zone,
        ttlSeconds: flags.ttl,
        prefix: flags.prefix,
        tlsCertFile: flags.tlsCert,
        tlsKeyFile: flags.tlsKey,
        // With --fail-file, calls fail only while the file exists (applied below).
        failureRate: flags.failFile !== undefined ? 0 : flags.failRate,
        maxConcurrent: flags.maxConcurrent,
        serviceTimeMs: flags.serviceTimeMs,
        ...etcdSecurityOptions(flags),
        logger,
      });
      logger.info(
        { event: 'registered', service: demo.service, address: demo.address, key: demo.registration.key },
        'demo service registered',
      );
      await new Promise<void>((resolve) => {
        const stop = (signal: NodeJS.Signals): void => {
          logger.info({ event: 'stopping', signal }, 'draining, then deregistering');
          const bound = setTimeout(() => {
            logger.warn({ event: 'stop-timeout', boundMs: STOP_BOUND_MS }, 'stop took too long; exiting');
            process.exit(1);
          }, STOP_BOUND_MS);
          bound.unref();
          demo
            .close()
            .catch((err: unknown) => logger.error({ event: 'stop-failed', err }, 'stop failed'))
            .finally(() => {
              logger.info({ event: 'stopped', served: demo.served() }, 'demo service stopped');
              resolve();
            });
        };
        const flip = (): void => {
          demo.setServing(!demo.serving());
          const status = demo.serving() ? 'SERVING' : 'NOT_SERVING';
          logger.info({ event: 'health_set', status }, `grpc.health.v1 now reports ${status}`);
        };
        // Failure injection by file: calls fail (at --fail-rate, else all) while it exists.
        const failFile = flags.failFile;
        const onRate = flags.failRate > 0 ? flags.failRate : 1;
        let failing = false;
        const applyFailFile = (exists: boolean): void => {
          if (exists === failing) return;
          failing = exists;
          const rate = exists ? onRate : 0;
          demo.setFailureRate(rate);
          logger.info(
            { event: 'fail_rate_set', failRate: rate, failFile },
            `answering ${100 * rate}% of calls with INTERNAL`,
          );
        };
        if (failFile !== undefined) {
          applyFailFile(fs.existsSync(failFile));
          fs.watchFile(failFile, { interval: 100, persistent: false }, (stat) =>
            applyFailFile(stat.nlink > 0),
          );
        }
        // Slowdown by file: calls take SLOWDOWN x the service time while it exists.
        const slowFile = flags.slowFile;
        let slow = false;
        const applySlowFile = (exists: boolean): void => {
          if (exists === slow) return;
          slow = exists;
          const ms = exists ? flags.serviceTimeMs * SLOWDOWN : flags.serviceTimeMs;
          demo.setServiceTimeMs(ms);
          logger.info({ event: 'service_time_set', serviceTimeMs: ms, slowFile }, `calls now take ${ms} ms`);
        };
        if (slowFile !== undefined) {
          applySlowFile(fs.existsSync(slowFile));
          fs.watchFile(slowFile, { interval: 100, persistent: false }, (stat) =>
            applySlowFile(stat.nlink > 0),
          );
        }
        process.on('SIGUSR2', flip);
        const stopOn = (signal: NodeJS.Signals): void => {
          process.off('SIGUSR2', flip);
          if (failFile !== undefined) fs.unwatchFile(failFile);
          if (slowFile !== undefined) fs.unwatchFile(slowFile);
          stop(signal);
        };
        process.once('SIGTERM', stopOn);
        process.once('SIGINT', stopOn);
      });
    });
}
