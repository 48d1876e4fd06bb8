import * as fs from 'node:fs';

/** "0100007F:1F90" → 8080: the port of a /proc/net/tcp{,6} address. */
function portOf(hexAddress: string): number {
  return parseInt(hexAddress.slice(hexAddress.lastIndexOf(':') + 1), 16);
}

/**
 * The inode of the TCP socket whose local end has port `localPort` and whose remote end has port
 * `remotePort` (IPv4 or IPv6, from /proc/net/tcp and /proc/net/tcp6).
 */
function socketInode(localPort: number, remotePort: number): string | undefined {
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try {
      text = fs.readFileSync(table, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      // sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
      const cols = line.trim().split(/\s+/);
      if (cols.length < 10 || cols[9] === '0') continue;
      if (portOf(cols[1]) === localPort && portOf(cols[2]) === remotePort) return cols[9];
    }
  }
  return undefined;
}

/**
 * Whether process `pid` owns the TCP connection from local port `localPort` to `remotePort` on
 * this host (Linux /proc): how a test proxy listening on `remotePort` tells one process's
 * connections from another's on the same loopback address.
 */
export function socketOwnedBy(pid: number, localPort: number, remotePort: number): boolean {
  const inode = socketInode(localPort, remotePort);
  if (inode === undefined) return false;
  let fds: string[];
  try {
    fds = fs.readdirSync(`/proc/${pid}/fd`);
  } catch {
    return false;
  }
  const link = `socket:[${inode}]`;
  return fds.some((fd) => {
    try {
      return fs.readlinkSync(`/proc/${pid}/fd/${fd}`) === link;
    } catch {
      return false;
    }
  });
}
