#!/usr/bin/env node
import { Command, CommanderError } from 'commander';
import { registerAdminCommand } from './admin-command';
import { registerDemoCommand } from './demo-command';
import { registerLbServerCommand } from './lb-server-command';
import { registerDemoClientCommand } from './demo-client-command';
import { registerDemoServiceCommand } from './demo-service-command';

/**
 * The `lookaside` command line: one program, a subcommand per part (lb-server, demo-service,
 * demo-client, admin, demo). Each subcommand lives in its own file and registers itself here.
 */
export function buildProgram(): Command {
  const program = new Command('lookaside')
    .description('gRPC lookaside load balancing with etcd v3 service discovery')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();
  registerLbServerCommand(program);
  registerAdminCommand(program);
  registerDemoServiceCommand(program);
  registerDemoClientCommand(program);
  registerDemoCommand(program);
  return program;
}

/** Commander's codes for a command line that is wrong (not a failure of what it asked for). */
const USAGE_ERRORS = new Set([
  'commander.invalidArgument',
  'commander.missingArgument',
  'commander.optionMissingArgument',
  'commander.missingMandatoryOptionValue',
  'commander.unknownOption',
  'commander.unknownCommand',
  'commander.excessArguments',
  'commander.conflictingOption',
]);

async function main(argv: string[]): Promise<void> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      // A usage error (a bad flag value, a missing argument) exits 2, as most Unix tools do.
      process.exitCode = err.exitCode !== 0 && USAGE_ERRORS.has(err.code) ? 2 : err.exitCode;
      return;
    }
    process.stderr.write(`lookaside: ${(err as Error).message}\n`);
    process.exitCode = 1;
  }
}

if (require.main === module) {
  void main(process.argv);
}
