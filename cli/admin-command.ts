import { Command, Option } from 'commander';
import { AdminClient } from './admin-client';
import type { GetServiceResponse__Output } from '../proto/gen/lookaside/v1/GetServiceResponse';
import { clientsView, serviceView, servicesView } from './admin-views';
import { DEFAULT_LISTEN } from '../lb-server/lb-server-config';
import { hostPort, serviceName } from './flag-parsers';
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

/** `lookaside admin services | service NAME | clients [NAME]`: the operator's view of an LB server. */
export function registerAdminCommand(program: Command): void {
  const admin = program
    .command('admin')
    .description(
      'query an LB server: its services, one service’s endpoints, connected clients and their assignments',
    )
    .addHelpText(
      'after',
      `
Examples:
  lookaside admin services                  # the LB server on ${DEFAULT_LISTEN}, lb-server's default
  lookaside admin service greeter --lb 127.0.0.1:7000 --json
  LOOKASIDE_ADMIN_TOKEN=s3cret lookaside admin clients greeter --lb lb.internal:7000
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
