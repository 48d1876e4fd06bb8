import { Command, Option } from 'commander';
import { readFileSync } from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import { installLookaside } from '../client-sdk';
import { DEFAULT_DEMO_SERVICE } from '../demo-service/demo-service';
import { callGreeter, greeterClient } from './greeter-calls';
import { hostPortList, integerIn, readableFile, serviceName } from './flag-parsers';
import { addLbClientTlsOptions, lbClientCredentials, type LbClientTlsFlags } from './lb-client-tls-options';
import { tallyView } from './tally-view';

interface DemoClientFlags extends LbClientTlsFlags {
  backendCa?: string;
  lb: string[];
  service: string;
  calls: number;
  concurrency: number;
  deadlineMs: number;
  json?: boolean;
}

/**
 * `lookaside demo-client`: calls a service through `lookaside://` and prints how many calls each
 * backend answered, and the failures by status code. Exits 1 when any call failed.
 */
export function registerDemoClientCommand(program: Command): void {
  const command = program.command('demo-client');
  addLbClientTlsOptions(command);
  command
    .description('call the greeter through lookaside:// and show how the calls spread over backends')
    .addOption(
      new Option('--lb <host:port[,host:port…]>', 'LB server(s); several replicas are tried in turn')
        .env('LOOKASIDE_LB')
        .argParser(hostPortList)
        .makeOptionMandatory(),
    )
    .addOption(
      new Option('--service <name>', 'service to call')
        .env('LOOKASIDE_SERVICE')
        .argParser(serviceName)
        .default(DEFAULT_DEMO_SERVICE),
    )
    .addOption(new Option('--calls <n>', 'calls to make').argParser(integerIn(1, 1_000_000)).default(100))
    .addOption(
      new Option('--concurrency <n>', 'calls in flight at once').argParser(integerIn(1, 1000)).default(1),
    )
    .addOption(
      new Option('--deadline-ms <ms>', 'deadline of each call')
        .argParser(integerIn(1, 600_000))
        .default(5000),
    )
    .addOption(
      new Option(
        '--backend-ca <file>',
        'PEM CA of the backends: call them over TLS (their SAN must name the service)',
      )
        .env('LOOKASIDE_BACKEND_CA')
        .argParser(readableFile),
    )
    .option('--json', 'print the counts as JSON')
    .addHelpText(
      'after',
      `
Examples:
  lookaside demo-client --lb 127.0.0.1:7000
  lookaside demo-client --lb 127.0.0.1:7000,127.0.0.1:7001 --service greeter --calls 600 --json`,
    )
    .action(async (flags: DemoClientFlags) => {
      installLookaside({ lbCredentials: lbClientCredentials(flags) });
      const target = `lookaside://${flags.lb.join(',')}/${flags.service}`;
      const backendCredentials =
        flags.backendCa !== undefined
          ? grpc.credentials.createSsl(readFileSync(flags.backendCa))
          : grpc.credentials.createInsecure();
      const client = greeterClient(target, {}, backendCredentials);
      try {
        const tally = await callGreeter(client, {
          calls: flags.calls,
          concurrency: flags.concurrency,
          deadlineMs: flags.deadlineMs,
        });
        process.stdout.write(
          flags.json
            ? `${JSON.stringify({ target, ...tally }, null, 2)}\n`
            : `${target}\n${tallyView(tally)}\n`,
        );
        if (tally.failed > 0) process.exitCode = 1;
      } finally {
        client.close();
      }
    });
}
