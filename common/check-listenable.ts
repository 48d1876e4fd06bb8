import * as net from 'node:net';

/**
 * Binds `host:port` with a plain TCP server and closes it again, rejecting with Node's own error
 * (`listen EADDRINUSE: address already in use 127.0.0.1:7000`, EACCES, EADDRNOTAVAIL) when the
 * address cannot be bound. Port 0 (any free port) always resolves without binding.
 *
 * Called by the LB server and the demo greeter just before grpc-js's bindAsync: when grpc-js
 * cannot bind it first prints its own "E No address added out of total 1 resolved" on stderr
 * (through console.error, whatever the caller does with the error), a stray line ahead of the
 * caller's message. Checking first keeps the common case, a port already taken, to one message.
 * A port taken in the moment between the check and the bind still fails the bind, as before.
 */
export function checkListenable(host: string, port: number): Promise<void> {
  if (port === 0) return Promise.resolve();
  return new Promise<void>((resolve, reject) => {
    const probe = net.createServer();
    probe.once('error', reject);
    // exclusive: a cluster worker must not be handed the primary's shared handle instead.
    probe.listen({ host, port, exclusive: true }, () => {
      probe.close(() => resolve());
    });
  });
}
