import { readFileSync } from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import { InvalidArgumentError, Option, type Command } from 'commander';
import { readableFile } from './flag-parsers';

/** The flags of a CLI client of the LB server over TLS, as commander parses them. */
export interface LbClientTlsFlags {
  lbCa?: string;
  lbCert?: string;
  lbKey?: string;
}

/**
 * Adds --lb-ca, --lb-cert and --lb-key (env LOOKASIDE_LB_CA, LOOKASIDE_LB_CERT, LOOKASIDE_LB_KEY)
 * to a command that talks to an LB server (`admin`, `demo-client`): TLS to the LB server,
 * verified with the CA, with a client certificate when it requires one (mTLS).
 */
export function addLbClientTlsOptions(command: Command): Command {
  return command
    .addOption(
      new Option('--lb-ca <file>', 'PEM CA of the LB server: talk to it over TLS')
        .env('LOOKASIDE_LB_CA')
        .argParser(readableFile),
    )
    .addOption(
      new Option('--lb-cert <file>', 'PEM client certificate for an LB server with mTLS')
        .env('LOOKASIDE_LB_CERT')
        .argParser(readableFile),
    )
    .addOption(
      new Option('--lb-key <file>', 'PEM private key of --lb-cert')
        .env('LOOKASIDE_LB_KEY')
        .argParser(readableFile),
    );
}

/** Credentials for the LB server from the flags: insecure when none is given. */
export function lbClientCredentials(flags: LbClientTlsFlags): grpc.ChannelCredentials {
  if ((flags.lbCert === undefined) !== (flags.lbKey === undefined)) {
    throw new InvalidArgumentError(
      `${flags.lbCert === undefined ? '--lb-cert' : '--lb-key'}: --lb-cert and --lb-key go together`,
    );
  }
  if (flags.lbCa === undefined && flags.lbCert === undefined) return grpc.credentials.createInsecure();
  return grpc.credentials.createSsl(
    flags.lbCa !== undefined ? readFileSync(flags.lbCa) : null,
    flags.lbKey !== undefined ? readFileSync(flags.lbKey) : null,
    flags.lbCert !== undefined ? readFileSync(flags.lbCert) : null,
  );
}
