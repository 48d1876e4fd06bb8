import type { Option } from 'commander';
import { buildProgram } from '../../cli/lookaside';
import { readableFile } from '../../cli/flag-parsers';

/** Where an option's value came from: a flag in argv, or an environment variable. */
export interface InvocationValue {
  readonly value: string;
  readonly from: 'flag' | 'env';
}

/** What `lookaside <argv>` with environment `env` would run, as the CLI's own definitions read it. */
export interface Invocation {
  readonly subcommand: string;
  /** The options that were set, by long flag ("--listen"). */
  readonly values: ReadonlyMap<string, InvocationValue>;
  /** The long flags whose parser is a readable file (their value is a path). */
  readonly fileFlags: ReadonlySet<string>;
  /** Everything the CLI would reject, or would silently ignore; empty when the invocation is good. */
  readonly problems: readonly string[];
}

/**
 * Reads `argv` (after the program: subcommand first) and `env` (variable → value, or `undefined`
 * for a value from a secret, which is known to be set but not what it holds) against the options
 * that buildProgram() defines, without running anything. A problem is: an unknown subcommand or
 * flag, a flag without its value, a variable no option of the subcommand reads, an option set
 * both by flag and variable (the variable would be ignored), a value the option's parser or
 * choices reject (file paths are not opened: they name mounted files), a mandatory option unset.
 */
export function readInvocation(
  argv: readonly string[],
  env: ReadonlyMap<string, string | undefined>,
): Invocation {
  const problems: string[] = [];
  const [subcommand = '', ...rest] = argv;
  const command = buildProgram().commands.find((c) => c.name() === subcommand);
  if (!command) {
    return {
      subcommand,
      values: new Map(),
      fileFlags: new Set(),
      problems: [`unknown subcommand "${subcommand}"`],
    };
  }
  const byLong = new Map<string, Option>();
  const byEnv = new Map<string, Option>();
  for (const o of command.options) {
    if (o.long !== undefined) byLong.set(o.long, o);
    if (o.envVar !== undefined) byEnv.set(o.envVar, o);
  }
  const fileFlags = flagsParsedWith(subcommand, readableFile);
  const values = new Map<string, InvocationValue>();

  for (let i = 0; i < rest.length; i++) {
    const arg = rest[i];
    const eq = arg.indexOf('=');
    const flag = arg.startsWith('--') && eq > 0 ? arg.slice(0, eq) : arg;
    const option = byLong.get(flag);
    if (!option) {
      problems.push(`${subcommand} does not accept ${JSON.stringify(arg)}`);
      continue;
    }
    let value: string | undefined;
    if (flag !== arg) value = arg.slice(eq + 1);
    else if (option.required || option.optional) value = rest[++i];
    else value = 'true';
    if (value === undefined) {
      problems.push(`${flag} has no value`);
      continue;
    }
    values.set(flag, { value, from: 'flag' });
  }

  for (const [name, value] of env) {
    const option = byEnv.get(name);
    if (!option || option.long === undefined) {
      problems.push(`${subcommand} reads no environment variable ${name}`);
      continue;
    }
    if (values.has(option.long)) {
      problems.push(`${name} is ignored: ${option.long} is also given as a flag`);
      continue;
    }
    // A value from a secret is set, but not readable here: it is recorded and not parsed.
    values.set(option.long, { value: value ?? '', from: 'env' });
  }

  for (const [flag, { value, from }] of values) {
    const option = byLong.get(flag)!;
    const secret = from === 'env' && env.get(option.envVar!) === undefined;
    if (secret || fileFlags.has(flag)) continue;
    if (option.argChoices && !option.argChoices.includes(value)) {
      problems.push(`${flag} ${JSON.stringify(value)}: expected one of ${option.argChoices.join(', ')}`);
    }
    if (option.parseArg) {
      try {
        option.parseArg(value, undefined);
      } catch (err) {
        problems.push(`${flag} ${JSON.stringify(value)}: ${(err as Error).message}`);
      }
    }
  }
  for (const o of command.options) {
    if (o.mandatory && o.long !== undefined && !values.has(o.long)) problems.push(`${o.long} is required`);
  }
  return { subcommand, values, fileFlags, problems };
}

/** The long flags of `subcommand` whose value `parser` reads (e.g. listenAddress: the listen addresses). */
export function flagsParsedWith(subcommand: string, parser: (value: string) => unknown): Set<string> {
  const command = buildProgram().commands.find((c) => c.name() === subcommand);
  if (!command) throw new Error(`no subcommand ${subcommand}`);
  return new Set(
    command.options.filter((o) => o.parseArg === parser && o.long !== undefined).map((o) => o.long!),
  );
}

/** The port of a "host:port" listen address. */
export function portOf(listen: string): number {
  const m = /:(\d+)$/.exec(listen);
  if (!m) throw new Error(`no port in ${JSON.stringify(listen)}`);
  return Number(m[1]);
}
