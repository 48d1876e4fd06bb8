import * as fs from 'node:fs';

/** The inode of the IPv4 loopback TCP socket bound to 127.0.0.1:`localPort`, from /proc/net/tcp. */
function socketInode(localPort: number): string | undefined {
  const wanted = `0100007F:${localPort.toString(16).toUpperCase().padStart(4, '0')}`;
  for (const line of fs.readFileSync('/proc/net/tcp', 'utf8').split('\n').slice(1)) {
    const cols = line.trim().split(/\s+/);
    // cols: sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
    if (cols[1] === wanted && cols[9] !== undefined && cols[9] !== '0') return cols[9];
  }
  return undefined;
}

/**
 * Whether process `pid` owns the TCP socket whose local end is 127.0.0.1:`localPort` (Linux /proc):
 * how a test proxy tells one process's connections from another's on the same loopback address.
 */
export function socketOwnedBy(pid: number, localPort: number): boolean {
  const inode = socketInode(localPort);
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
