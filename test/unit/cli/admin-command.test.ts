import type { Command } from 'commander';
import { isUnknownService, UnknownServiceError } from '../../../cli/admin-command';
import { buildProgram } from '../../../cli/lookaside';
import type { GetServiceResponse__Output } from '../../../proto/gen/lookaside/v1/GetServiceResponse';

function subcommand(parent: Command, name: string): Command {
  const found = parent.commands.find((c) => c.name() === name);
  if (!found) throw new Error(`no subcommand ${name}`);
  return found;
}

function defaultOf(cmd: Command, flag: string): unknown {
  return cmd.options.find((o) => o.long === flag)?.defaultValue;
}

/** GetService's answer for a name the LB server knows nothing of, with `patch` applied. */
function answer(patch: Partial<GetServiceResponse__Output> = {}): GetServiceResponse__Output {
  return {
    name: 'nosuch',
    version: 0,
    endpoints: [],
    rejected: [],
    clients: 0,
    heldEndpoints: 0,
    heldUntilMs: 0,
    assignmentVersion: 0,
    panic: false,
    danglingOverrides: [],
    config: null,
    rejectedConfig: null,
    ...patch,
  };
}

describe('lookaside admin', () => {
  it('asks the LB server where `lookaside lb-server` listens by default when --lb is not given', () => {
    const program = buildProgram();
    const listen = defaultOf(subcommand(program, 'lb-server'), '--listen');
    expect(listen).toBe('127.0.0.1:7000');
    const admin = subcommand(program, 'admin');
    for (const name of ['services', 'service', 'clients']) {
      expect({ name, lb: defaultOf(subcommand(admin, name), '--lb') }).toEqual({ name, lb: listen });
    }
  });

  it('tells a name the LB server knows nothing of from a service that has anything at all', () => {
    expect(isUnknownService(answer())).toBe(true);
    expect(isUnknownService(answer({ version: 12 }))).toBe(false); // had records: known
    expect(isUnknownService(answer({ clients: 1 }))).toBe(false); // a client asked for it
    expect(isUnknownService(answer({ heldEndpoints: 1 }))).toBe(false);
    const defaults = { subsetSize: 0, zoneAware: false, zoneMinEndpoints: 6 };
    expect(isUnknownService(answer({ config: { ...defaults, source: 'default' } }))).toBe(true);
    // A setting in etcd, in force or rejected, is something to show.
    expect(isUnknownService(answer({ config: { ...defaults, subsetSize: 3, source: 'etcd' } }))).toBe(false);
    expect(
      isUnknownService(
        answer({
          config: { ...defaults, source: 'default' },
          rejectedConfig: { key: '/lookaside/config/nosuch', reason: 'r', modRevision: 4 },
        }),
      ),
    ).toBe(false);
    expect(
      isUnknownService(
        answer({ rejected: [{ key: '/lookaside/services/nosuch/x', reason: 'r', modRevision: 3 }] }),
      ),
    ).toBe(false);
  });

  it('says which LB server knows no such service, or that it cannot tell yet', () => {
    expect(new UnknownServiceError('nosuch', '127.0.0.1:7000', true).message).toBe(
      'LB server 127.0.0.1:7000 knows no service "nosuch": nothing is registered under that name and ' +
        'no client asked for it (lookaside admin services lists the ones it knows)',
    );
    expect(new UnknownServiceError('nosuch', '127.0.0.1:7000', false).message).toMatch(
      /has not read etcd yet: it cannot tell whether service "nosuch" exists/,
    );
  });
});
