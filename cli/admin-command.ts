import { Command, InvalidArgumentError, Option } from 'commander';
import { AdminClient } from './admin-client';
import type { GetServiceResponse__Output } from '../proto/gen/lookaside/v1/GetServiceResponse';
import { hostname, userInfo } from 'node:os';
import {
  assignmentView,
  clientsView,
  overrideOf,
  overridesView,
  serviceView,
  servicesView,
} from './admin-views';
import { DEFAULT_LISTEN } from '../lb-server/lb-server-config';
import { duration, hostPort, instanceId, integerIn, serviceName } from './flag-parsers';
import { MAX_WEIGHT } from '../common/registry-record';
import { MAX_WHO_LENGTH, MAX_WHY_LENGTH } from '../common/override-record';
import type { SetOverrideRequest } from '../proto/gen/lookaside/v1/SetOverrideRequest';
import type { SetOverrideResponse__Output } from '../proto/gen/lookaside/v1/SetOverrideResponse';
import { addLbClientTlsOptions, lbClientCredentials, type LbClientTlsFlags } from './lb-client-tls-options';

/**
 * `lookaside admin service NAME` for a name the LB server knows nothing of (no record, valid or
 * rejected, nothing held, no client): the Admin API answers such a name with an empty view, as it
 * answers a client, and the command turns that into an error instead of an empty table.
 */
export class UnknownServiceError extends Error {
  override readonly name = 'UnknownServiceError';
  constructor(
    readonly service: string,
    readonly target: string,
    readonly synced: boolean,
  ) {
    super(
      synced
        ? `LB server ${target} knows no service "${service}": nothing is registered under that name and no client asked for it (lookaside admin services lists the ones it knows)`
        : `LB server ${target} has not read etcd yet: it cannot tell whether service "${service}" exists`,
    );
  }
}

/** True when the GetService answer is the empty view of a name the LB server knows nothing of. */
export function isUnknownService(r: GetServiceResponse__Output): boolean {
  return (
    r.version === 0 &&
    r.endpoints.length === 0 &&
    r.rejected.length === 0 &&
    r.clients === 0 &&
    r.heldEndpoints === 0 &&
    (r.danglingOverrides ?? []).length === 0 &&
    // A setting in etcd (in force or rejected) makes the name known: the view shows it.
    r.rejectedConfig === null &&
    (r.config === null || r.config.source === 'default')
  );
}

interface AdminFlags extends LbClientTlsFlags {
  lb: string;
  token?: string;
  json?: boolean;
}

interface OverrideFlags extends AdminFlags {
  reason?: string;
  for?: number;
  who?: string;
}

/** The longest --for: a year (an override meant to stay takes no --for). */
const MAX_FOR_MS = 365 * 86_400_000;

/** "user@host" of whoever runs the command; "" when the system cannot say (the server then uses the peer). */
function localWho(): string {
  try {
    return `${userInfo().username}@${hostname()}`.slice(0, MAX_WHO_LENGTH);
  } catch {
    return '';
  }
}

function reasonFlag(value: string): string {
  if (value.length > MAX_WHY_LENGTH)
    throw new InvalidArgumentError(`longer than ${MAX_WHY_LENGTH} characters`);
  return value;
}

function whoFlag(value: string): string {
  if (value.length === 0 || value.length > MAX_WHO_LENGTH)
    throw new InvalidArgumentError(`expected 1..${MAX_WHO_LENGTH} characters`);
  return value;
}

/** What `admin drain` and `admin weight` print once the override is stored. */
function overrideSetView(r: SetOverrideResponse__Output): string {
  const o = r.override;
  if (!o) return 'override set';
  const dangling = o.dangling
    ? `\nnote: ${o.service} has no instance "${o.instanceId}" yet: the override applies when it registers`
    : '';
  return `override of ${o.service}/${o.instanceId} set: ${overrideOf(o)}${dangling}`;
}

/**
 * `lookaside admin services | service NAME | clients [NAME] | drain | undrain | weight | overrides`:
 * the operator's view of an LB server, and its overrides.
 */
export function registerAdminCommand(program: Command): void {
  const admin = program
    .command('admin')
    .description(
      'query an LB server (its services, one service’s endpoints, connected clients and their assignments) and steer instances with overrides',
    )
    .addHelpText(
      'after',
      `
Examples:
  lookaside admin services                  # the LB server on ${DEFAULT_LISTEN}, lb-server's default
  lookaside admin service greeter --lb 127.0.0.1:7000 --json
  LOOKASIDE_ADMIN_TOKEN=s3cret lookaside admin clients greeter --lb lb.internal:7000
  lookaside admin drain greeter i-1 --reason "disk replacement" --for 2h
  lookaside admin weight greeter i-2 20 --reason canary --for 30m
  lookaside admin undrain greeter i-1
  lookaside admin overrides greeter
  lookaside admin services --lb lb.internal:7000 --lb-ca ca.pem --lb-cert ops.pem --lb-key ops-key.pem`,
    );

  const common = (cmd: Command): Command =>
    addLbClientTlsOptions(cmd)
      .addOption(
        // The default is where `lookaside lb-server` listens by default.
        new Option('--lb <host:port>', 'LB server to ask')
          .env('LOOKASIDE_LB')
          .argParser(hostPort)
          .default(DEFAULT_LISTEN),
      )
      .addOption(new Option('--token <token>', 'admin bearer token').env('LOOKASIDE_ADMIN_TOKEN'))
      .option('--json', 'print the raw answer as JSON');

  common(admin.command('services').description('list every service the LB server knows')).action(
    async (flags: AdminFlags) =>
      run(flags, async (c) => {
        const r = await c.listServices();
        return flags.json ? r : servicesView(r);
      }),
  );

  common(
    admin
      .command('service')
      .description('one service: endpoints with effective weights, rejected records, version')
      .argument('<name>', 'service name', serviceName),
  ).action(async (name: string, flags: AdminFlags) =>
    run(flags, async (c) => {
      const r = await c.getService(name);
      if (isUnknownService(r)) throw new UnknownServiceError(name, flags.lb, (await c.listServices()).synced);
      return flags.json ? r : serviceView(r);
    }),
  );

  common(
    admin
      .command('clients')
      .description('connected clients (of one service, if given) and what each was assigned')
      .argument('[name]', 'service name', serviceName),
  ).action(async (name: string | undefined, flags: AdminFlags) =>
    run(flags, async (c) => {
      if (flags.json && name) {
        // With a service, the JSON answer includes each client's assigned server list.
        return c.getAssignment(name);
      }
      const r = await c.listClients(name ?? '');
      return flags.json ? r : clientsView(r);
    }),
  );

  common(
    admin
      .command('assignment')
      .description(
        'what each client of a service (or one client) is sent and why: zone, index, subset, shares',
      )
      .argument('<name>', 'service name', serviceName)
      .argument('[client-id]', 'one client (any LB replica’s: every replica plans alike)'),
  ).action(async (name: string, clientId: string | undefined, flags: AdminFlags) =>
    run(flags, async (c) => {
      const r = await c.getAssignment(name, clientId ?? '');
      return flags.json ? r : assignmentView(r);
    }),
  );

  registerOverrideCommands(admin, common);
}

/** `admin drain` and `admin weight`: options shared by the commands that set an override. */
function overrideOptions(cmd: Command): Command {
  return cmd
    .addOption(
      new Option('--reason <text>', `why (at most ${MAX_WHY_LENGTH} characters)`).argParser(reasonFlag),
    )
    .addOption(
      new Option(
        '--for <duration>',
        'how long it applies, e.g. 30s, 10m, 2h (default: until undrain)',
      ).argParser(duration(MAX_FOR_MS)),
    )
    .addOption(
      new Option('--who <name>', 'who sets it (default: user@host)')
        .env('LOOKASIDE_ADMIN_WHO')
        .argParser(whoFlag),
    );
}

function setRequest(
  service: string,
  instance: string,
  flags: OverrideFlags,
  what: Pick<SetOverrideRequest, 'weight' | 'draining'>,
): SetOverrideRequest {
  return {
    service,
    instanceId: instance,
    ...what,
    reason: flags.reason ?? '',
    forMs: flags.for ?? 0,
    who: flags.who ?? localWho(),
  };
}

/** `lookaside admin drain | undrain | weight | overrides`: operator overrides through the Admin API. */
function registerOverrideCommands(admin: Command, common: (cmd: Command) => Command): void {
  common(
    overrideOptions(
      admin
        .command('drain')
        .description(
          'take an instance out of rotation (weight 0, in-flight calls finish), on every LB replica',
        )
        .argument('<service>', 'service name', serviceName)
        .argument('<instance>', 'instance id', instanceId),
    ),
  ).action(async (service: string, instance: string, flags: OverrideFlags) =>
    run(flags, async (c) => {
      const r = await c.setOverride(setRequest(service, instance, flags, { draining: true }));
      return flags.json ? r : overrideSetView(r);
    }),
  );

  common(
    overrideOptions(
      admin
        .command('weight')
        .description('override an instance’s registered weight, on every LB replica')
        .argument('<service>', 'service name', serviceName)
        .argument('<instance>', 'instance id', instanceId)
        .argument('<weight>', `weight 0..${MAX_WEIGHT}`, integerIn(0, MAX_WEIGHT)),
    ),
  ).action(async (service: string, instance: string, weight: number, flags: OverrideFlags) =>
    run(flags, async (c) => {
      const r = await c.setOverride(setRequest(service, instance, flags, { weight }));
      return flags.json ? r : overrideSetView(r);
    }),
  );

  common(
    admin
      .command('undrain')
      .description('clear an instance’s override (drain or weight): it serves as registered again')
      .argument('<service>', 'service name', serviceName)
      .argument('<instance>', 'instance id', instanceId)
      .addOption(
        new Option('--who <name>', 'who clears it (default: user@host)')
          .env('LOOKASIDE_ADMIN_WHO')
          .argParser(whoFlag),
      ),
  ).action(async (service: string, instance: string, flags: OverrideFlags) =>
    run(flags, async (c) => {
      const r = await c.clearOverride(service, instance, flags.who ?? localWho());
      if (flags.json) return r;
      return r.cleared
        ? `override of ${service}/${instance} cleared`
        : `${service}/${instance} had no override (nothing to clear)`;
    }),
  );

  common(
    admin
      .command('overrides')
      .description('list operator overrides (of one service, if given) with who, why and expiry')
      .argument('[service]', 'service name', serviceName),
  ).action(async (service: string | undefined, flags: AdminFlags) =>
    run(flags, async (c) => {
      const r = await c.listOverrides(service ?? '');
      return flags.json ? r : overridesView(r);
    }),
  );
}

async function run(flags: AdminFlags, body: (c: AdminClient) => Promise<unknown>): Promise<void> {
  const client = new AdminClient({
    target: flags.lb,
    token: flags.token,
    credentials: lbClientCredentials(flags),
  });
  try {
    const out = await body(client);
    process.stdout.write(typeof out === 'string' ? `${out}\n` : `${JSON.stringify(out, null, 2)}\n`);
  } finally {
    client.close();
  }
}
