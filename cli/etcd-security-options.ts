import { Option, type Command } from 'commander';
import type { EtcdSecurity } from '../etcd/etcd-client-options';
import { nonEmpty, readableFile } from './flag-parsers';

/** The etcd security flags as commander parses them. */
export interface EtcdSecurityFlags {
  etcdUser?: string;
  etcdPassword?: string;
  etcdCa?: string;
  etcdCert?: string;
  etcdKey?: string;
}

/**
 * Adds the etcd security flags shared by `lb-server` and `demo-service`: --etcd-user and
 * --etcd-password (env ETCD_USER, ETCD_PASSWORD; prefer the variable for the password, since
 * flags show in `ps`), --etcd-ca, --etcd-cert, --etcd-key (env ETCD_CA, ETCD_CERT, ETCD_KEY).
 */
export function addEtcdSecurityOptions(command: Command): Command {
  return command
    .addOption(
      new Option('--etcd-user <user>', 'etcd user (password auth)').env('ETCD_USER').argParser(nonEmpty),
    )
    .addOption(
      new Option('--etcd-password <password>', 'password of --etcd-user (prefer the env variable)').env(
        'ETCD_PASSWORD',
      ),
    )
    .addOption(
      new Option('--etcd-ca <file>', "PEM CA that signed etcd's certificates (https:// endpoints)")
        .env('ETCD_CA')
        .argParser(readableFile),
    )
    .addOption(
      new Option('--etcd-cert <file>', 'PEM client certificate for etcd --client-cert-auth')
        .env('ETCD_CERT')
        .argParser(readableFile),
    )
    .addOption(
      new Option('--etcd-key <file>', 'PEM private key of --etcd-cert')
        .env('ETCD_KEY')
        .argParser(readableFile),
    );
}

/** The parsed flags as the EtcdSecurity options of startLbServer, registerService and startDemoService. */
export function etcdSecurityOptions(flags: EtcdSecurityFlags): EtcdSecurity {
  return {
    etcdUser: flags.etcdUser,
    etcdPassword: flags.etcdPassword,
    etcdCaFile: flags.etcdCa,
    etcdCertFile: flags.etcdCert,
    etcdKeyFile: flags.etcdKey,
  };
}
