import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { accessSync, constants, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { freePort } from '../etcd/etcd-process';

/**
 * The proxy model of the data-path benchmark: Debian's nginx as a gRPC proxy (`grpc_pass`) in
 * front of the same backends, from a temporary nginx.conf in a temporary directory, in the
 * foreground (`daemon off`), so that close() stops it and removes the directory. One worker
 * process (see NGINX_WORKERS), HTTP/2 listener on a free loopback port, upstream keepalive.
 */

/** Where Debian's package puts the binary; PATH is searched too. */
const CANDIDATES = ['/usr/sbin/nginx', '/usr/bin/nginx', '/usr/local/sbin/nginx'];
/**
 * One worker: the client opens one HTTP/2 connection, and nginx serves a connection in the one
 * worker that accepted it, so more workers would only idle. One worker is also one event loop, like
 * every Node process on the other side of the comparison.
 */
export const NGINX_WORKERS = 1;
/** Idle upstream connections each worker keeps: nginx sends one call per upstream connection. */
const UPSTREAM_KEEPALIVE = 256;
const READY_TIMEOUT_MS = 10_000;
const STOP_BOUND_MS = 5000;

/** The nginx binary, or undefined when there is none (the benchmark then skips its row). */
export function findNginx(): string | undefined {
  for (const c of CANDIDATES) {
    try {
      accessSync(c, constants.X_OK);
      return c;
    } catch {
      // try the next one
    }
  }
  const which = spawnSync('sh', ['-c', 'command -v nginx'], { encoding: 'utf8' });
  const found = which.status === 0 ? which.stdout.trim() : '';
  return found.length > 0 ? found : undefined;
}

/** `nginx -v` output, e.g. "nginx/1.22.1". */
export function nginxVersion(binary: string): string {
  const r = spawnSync(binary, ['-v'], { encoding: 'utf8' });
  return `${r.stderr ?? ''}${r.stdout ?? ''}`.trim().replace(/^nginx version:\s*/, '');
}

function config(dir: string, port: number, backends: readonly string[]): string {
  return `# Written by lookaside's data-path benchmark; removed when it ends.
daemon off;
master_process on;
worker_processes ${NGINX_WORKERS};
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 8192; }
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  keepalive_requests 10000000;
  keepalive_timeout 300s;
  http2_max_concurrent_streams 1024;
  upstream backends {
${backends.map((b) => `    server ${b};`).join('\n')}
    keepalive ${UPSTREAM_KEEPALIVE};
    keepalive_requests 10000000;
    keepalive_timeout 300s;
  }
  server {
    listen 127.0.0.1:${port} http2;
    location / {
      grpc_pass grpc://backends;
    }
  }
}
`;
}

/** SIGKILLs the process group of `child` (master and worker); nothing when it is gone. */
function killGroup(child: ChildProcess): void {
  try {
    if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

function untilListening(port: number, deadline: number): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const attempt = (): void => {
      const socket = net.connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve();
      });
      socket.once('error', () => {
        socket.destroy();
        if (Date.now() > deadline) reject(new Error(`nginx did not listen on ${port} in time`));
        else setTimeout(attempt, 50);
      });
    };
    attempt();
  });
}

/** A running nginx gRPC proxy; close() stops it and removes its directory. Idempotent. */
export class NginxGrpcProxy {
  private closing: Promise<void> | undefined;

  private constructor(
    private readonly child: ChildProcess,
    private readonly dir: string,
    /** "127.0.0.1:port" clients call. */
    readonly address: string,
  ) {}

  /** Starts `binary` proxying to `backends` ("host:port" each); resolves once it listens. */
  static async start(binary: string, backends: readonly string[]): Promise<NginxGrpcProxy> {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'lookaside-bench-nginx-'));
    const port = await freePort();
    const conf = path.join(dir, 'nginx.conf');
    writeFileSync(conf, config(dir, port, backends));
    const child = spawn(binary, ['-c', conf, '-p', dir, '-e', path.join(dir, 'error.log')], {
      stdio: ['ignore', 'ignore', 'inherit'],
      // Its own process group, so that a crashed benchmark can kill the master and its worker.
      detached: true,
    });
    const killOnExit = (): void => killGroup(child);
    process.once('exit', killOnExit);
    child.once('exit', () => process.off('exit', killOnExit));
    const proxy = new NginxGrpcProxy(child, dir, `127.0.0.1:${port}`);
    try {
      await Promise.race([
        untilListening(port, Date.now() + READY_TIMEOUT_MS),
        new Promise<never>((_, reject) =>
          child.once('exit', (code) => reject(new Error(`nginx exited at start (code ${code})`))),
        ),
      ]);
    } catch (err) {
      await proxy.close();
      throw err;
    }
    return proxy;
  }

  /** SIGQUIT (graceful), SIGKILL after a bound; then removes the directory. */
  close(): Promise<void> {
    this.closing ??= new Promise<void>((resolve) => {
      const done = (): void => {
        rmSync(this.dir, { recursive: true, force: true });
        resolve();
      };
      if (this.child.exitCode !== null || this.child.signalCode !== null) {
        done();
        return;
      }
      const timer = setTimeout(() => killGroup(this.child), STOP_BOUND_MS);
      this.child.once('exit', () => {
        clearTimeout(timer);
        done();
      });
      // SIGTERM is nginx's fast shutdown; it also stops the worker.
      this.child.kill('SIGTERM');
    });
    return this.closing;
  }
}
