import type { Command } from 'commander';
import { buildProgram } from '../../../cli/lookaside';

/** The lb-server command's parsed flags for `args` (its action replaced: nothing starts). */
function parse(args: string[], env: Record<string, string> = {}): Record<string, unknown> {
  const saved = { ...process.env };
  Object.assign(process.env, env);
  try {
    const quiet = { writeErr: () => undefined, writeOut: () => undefined };
    const program = buildProgram().exitOverride().configureOutput(quiet);
    const cmd = program.commands.find((c) => c.name() === 'lb-server') as Command;
    cmd
      .exitOverride()
      .configureOutput(quiet)
      .action(() => undefined);
    program.parse(['node', 'lookaside', 'lb-server', '--etcd', 'http://127.0.0.1:2379', ...args]);
    return cmd.opts();
  } finally {
    process.env = saved;
  }
}

describe('lookaside lb-server population and config flags', () => {
  it('defaults: a generated replica id, lease TTL 10 s, flush 500 ms, subsetting and zones off', () => {
    expect(parse([])).toMatchObject({
      replicaLeaseTtl: 10,
      clientFlushMs: 500,
      subsetSize: 0,
      zoneAware: false,
      zoneMinEndpoints: 6,
    });
    expect(parse([]).replicaId).toBeUndefined();
  });

  it('--zone-aware alone turns zones on; on/off values and the environment work too', () => {
    expect(parse(['--zone-aware']).zoneAware).toBe(true);
    expect(parse(['--zone-aware', 'off']).zoneAware).toBe(false);
    expect(parse([], { LOOKASIDE_ZONE_AWARE: 'on' }).zoneAware).toBe(true);
  });

  it('takes every flag from its environment variable', () => {
    expect(
      parse([], {
        LOOKASIDE_REPLICA_ID: 'lb-7',
        LOOKASIDE_REPLICA_LEASE_TTL: '30',
        LOOKASIDE_CLIENT_FLUSH_MS: '250',
        LOOKASIDE_SUBSET_SIZE: '3',
        LOOKASIDE_ZONE_MIN_ENDPOINTS: '2',
      }),
    ).toMatchObject({
      replicaId: 'lb-7',
      replicaLeaseTtl: 30,
      clientFlushMs: 250,
      subsetSize: 3,
      zoneMinEndpoints: 2,
    });
  });

  it.each([
    [['--replica-id', ''], /--replica-id.*must not be empty/],
    [['--replica-id', 'x'.repeat(129)], /--replica-id.*at most 128/],
    [['--subset-size', '1.5'], /--subset-size.*integer/],
    [['--zone-min-endpoints', '0'], /--zone-min-endpoints.*at least 1/],
  ])('%j is refused naming the flag', (args, message) => {
    expect(() => parse(args)).toThrow(message);
  });
});
