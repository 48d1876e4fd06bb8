import type { Command } from 'commander';
import { startEtcd } from '../etcd/etcd-process';

/**
 * `lookaside demo`: one command that shows lookaside working end to end. For now it starts its
 * own etcd (unless ETCD_ENDPOINTS is set), checks it, and stops it; the LB server, the demo
 * services and the client join it as they land.
 */
export function registerDemoCommand(program: Command): void {
  program
    .command('demo')
    .description('start etcd, an LB server, two demo services and a client, and narrate what happens')
    .action(async () => {
      const external = process.env.ETCD_ENDPOINTS;
      if (external) {
        say(`using etcd at ${external} (ETCD_ENDPOINTS)`);
      } else {
        say('starting a private etcd on free loopback ports ...');
        const etcd = await startEtcd();
        try {
          say(`etcd is healthy at ${etcd.clientUrl} (data in a temporary dir)`);
        } finally {
          await etcd.close();
          say('etcd stopped and its data dir removed');
        }
      }
      say('the LB server, the demo services and the client are coming in the next steps of the build');
    });
}

function say(line: string): void {
  process.stdout.write(`[demo] ${line}\n`);
}
