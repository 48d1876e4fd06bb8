import { Command, Option } from 'commander';
import { AdminClient } from './admin-client';
import { clientsView, serviceView, servicesView } from './admin-views';
import { hostPort, serviceName } from './flag-parsers';
import { addLbClientTlsOptions, lbClientCredentials, type LbClientTlsFlags } from './lb-client-tls-options';

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
  lookaside admin services --lb 127.0.0.1:7000
  lookaside admin service greeter --lb 127.0.0.1:7000 --json
  LOOKASIDE_ADMIN_TOKEN=s3cret lookaside admin clients greeter --lb lb.internal:7000
  lookaside admin services --lb lb.internal:7000 --lb-ca ca.pem --lb-cert ops.pem --lb-key ops-key.pem`,
    );

  const common = (cmd: Command): Command =>
    addLbClientTlsOptions(cmd)
      .addOption(
        new Option('--lb <host:port>', 'LB server to ask')
          .env('LOOKASIDE_LB')
          .argParser(hostPort)
          .makeOptionMandatory(),
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
