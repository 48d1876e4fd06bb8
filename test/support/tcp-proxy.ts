import * as net from 'node:net';

/**
 * A TCP forwarder on 127.0.0.1 in front of one backend, counting the connections it accepts, so a
 * test can see whether a client kept or re-opened its connection. close() destroys every socket.
 */
export interface TcpProxy {
  readonly address: string;
  readonly port: number;
  /** Connections accepted so far. */
  accepted(): number;
  /** Connections open now. */
  open(): number;
  close(): Promise<void>;
}

/**
 * `refuse(peerPort)`: connections from that local port of the peer are closed at once (a
 * partition between that peer and the target); counted by refused().
 */
export async function startTcpProxy(
  target: { host: string; port: number },
  { refuse }: { refuse?: (peerPort: number) => boolean } = {},
): Promise<TcpProxy & { refused(): number }> {
  const sockets = new Set<net.Socket>();
  let accepted = 0;
  let refused = 0;
  const server = net.createServer((inbound) => {
    if (refuse && inbound.remotePort !== undefined && refuse(inbound.remotePort)) {
      refused++;
      inbound.destroy();
      return;
    }
    accepted++;
    const outbound = net.connect(target.port, target.host);
    sockets.add(inbound);
    sockets.add(outbound);
    const drop = (): void => {
      inbound.destroy();
      outbound.destroy();
      sockets.delete(inbound);
      sockets.delete(outbound);
    };
    inbound.on('error', drop).on('close', drop);
    outbound.on('error', drop).on('close', drop);
    inbound.pipe(outbound);
    outbound.pipe(inbound);
  });
  const port = await new Promise<number>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve((server.address() as net.AddressInfo).port));
  });
  let closing: Promise<void> | undefined;
  return {
    address: `127.0.0.1:${port}`,
    port,
    accepted: () => accepted,
    refused: () => refused,
    open: () => sockets.size / 2,
    close: () =>
      (closing ??= new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        sockets.clear();
        server.close(() => resolve());
      })),
  };
}
