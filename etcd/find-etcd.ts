import { accessSync, constants } from 'node:fs';
import * as path from 'node:path';

/** Raised when no etcd server binary can be found; its message names the command that installs one. */
export class EtcdNotFoundError extends Error {
  constructor(searched: readonly string[]) {
    super(
      `etcd server binary not found (looked at ${searched.join(', ')}). ` +
        'Install it with "sudo apt-get install -y etcd-server", run "npm run etcd:ensure", or set ETCD_BIN.',
    );
    this.name = 'EtcdNotFoundError';
  }
}

function isExecutable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * Finds the etcd server binary: $ETCD_BIN, then every directory on $PATH, then /usr/bin/etcd.
 * Called by the ephemeral etcd launcher before it spawns anything. Throws EtcdNotFoundError.
 */
export function findEtcdBinary(env: NodeJS.ProcessEnv = process.env): string {
  const candidates: string[] = [];
  if (env.ETCD_BIN) candidates.push(env.ETCD_BIN);
  for (const dir of (env.PATH ?? '').split(path.delimiter)) {
    if (dir) candidates.push(path.join(dir, 'etcd'));
  }
  candidates.push('/usr/bin/etcd', '/usr/local/bin/etcd');
  const hit = candidates.find(isExecutable);
  if (!hit)
    throw new EtcdNotFoundError(
      env.ETCD_BIN ? [env.ETCD_BIN, '$PATH', '/usr/bin/etcd'] : ['$PATH', '/usr/bin/etcd'],
    );
  return hit;
}
