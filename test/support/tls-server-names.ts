import { isIP } from 'node:net';
import tls from 'node:tls';

/** What watchTlsServerNames() saw, and how to stop watching. */
export interface TlsServerNameWatch {
  /** The server names (SNI) that were IP addresses since the last call, in the order dialed. */
  takeIpServerNames(): string[];
  /** Puts tls.connect back. Idempotent. */
  restore(): void;
}

/**
 * Records the server name of every TLS connection this process opens until restore(), by
 * wrapping tls.connect (grpc-js calls it through the module object, so it sees the wrapper). Node
 * prints its DEP0123 deprecation warning once per process when that name is an IP address, which
 * is what grpc-js sets when a TLS channel dials an IP without `grpc.ssl_target_name_override`;
 * tests that dial TLS use this to prove they dial by name (a warning would show only once, in
 * whichever test file of the worker came first).
 */
export function watchTlsServerNames(): TlsServerNameWatch {
  const seen: string[] = [];
  const original = tls.connect;
  const wrapped = function (this: unknown, ...args: unknown[]): tls.TLSSocket {
    for (const a of args) {
      if (typeof a === 'object' && a !== null && 'servername' in a) {
        const name = (a as { servername?: unknown }).servername;
        if (typeof name === 'string' && isIP(name) !== 0) seen.push(name);
      }
    }
    return (original as (...a: unknown[]) => tls.TLSSocket).apply(this, args);
  };
  (tls as { connect: unknown }).connect = wrapped;
  return {
    takeIpServerNames: () => seen.splice(0),
    restore: () => {
      if (tls.connect === (wrapped as unknown)) (tls as { connect: unknown }).connect = original;
    },
  };
}
