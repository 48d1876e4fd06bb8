import { isIP } from 'node:net';
import { readFileSync } from 'node:fs';
import type * as http from 'node:http';
import * as path from 'node:path';
import type { Logger } from 'pino';
import { checkBearerToken } from '../bearer-token';
import type { ConsoleApiRequest, ConsoleApiResponse } from './console-api';

/** The files of the page, shipped next to this module (dist/lb-server/frontends/console/assets). */
export const CONSOLE_ASSETS_DIR = path.join(__dirname, 'assets');

const ASSETS: Readonly<Record<string, { file: string; type: string }>> = {
  '/ui/': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/ui/console.js': { file: 'console.js', type: 'text/javascript; charset=utf-8' },
  '/ui/console.css': { file: 'console.css', type: 'text/css; charset=utf-8' },
};

/** No inline script or style, nothing from elsewhere, no framing. */
export const CONSOLE_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

const SECURITY_HEADERS = {
  'content-security-policy': CONSOLE_CSP,
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
};

/** The largest request body the API reads. */
const MAX_BODY_BYTES = 16 * 1024;

/** Raised when the page's files are missing (a broken install). */
export class ConsoleAssetsError extends Error {
  constructor(
    readonly file: string,
    cause: Error,
  ) {
    super(`console asset ${file} cannot be read: ${cause.message}`);
    this.name = 'ConsoleAssetsError';
  }
}

/** How the console's HTTP side is set up. */
export interface ConsoleHttpOptions {
  readonly api: (req: ConsoleApiRequest) => Promise<ConsoleApiResponse>;
  readonly adminToken: string | undefined;
  /** The LB server has TLS: the console is only served over HTTPS (plain requests are redirected). */
  readonly tls: boolean;
  /** --console-allow-insecure-actions: actions over plain HTTP to non-loopback addresses too. */
  readonly allowInsecureActions: boolean;
  readonly logger: Logger;
  /** At most this many live streams at once (more get 503); default 16. */
  readonly maxStreams?: number;
  /** At most one push per stream per this long; default 1000 ms. */
  readonly pushIntervalMs?: number;
  /** A comment line this often keeps idle streams open through proxies; default 15000 ms. */
  readonly heartbeatMs?: number;
  readonly assetsDir?: string;
}

/** True for a loopback IP (IPv4 127/8, ::1, IPv4-mapped 127/8). */
export function isLoopbackAddress(address: string | undefined): boolean {
  if (address === undefined) return false;
  const v4 = address.startsWith('::ffff:') ? address.slice('::ffff:'.length) : address;
  return v4.startsWith('127.') || address === '::1';
}

interface Stream {
  readonly res: http.ServerResponse;
  lastSent: number;
}

/**
 * The web console's HTTP side, mounted by the metrics HTTP server on `/ui`: the page's three
 * files (with a CSP that allows no inline script), the JSON API below `/ui/api/` and the live
 * stream `/ui/api/events/stream` (server-sent events read with fetch, so the token travels in
 * the Authorization header, never in a URL). The stream says "something changed" at most once
 * per pushIntervalMs per connection, with at most maxStreams connections; the page then
 * re-reads what it shows. changed() is called by the LB server on every publish, report and
 * event. Owned by startLbServer; close() ends the streams and the timer (idempotent).
 */
export class ConsoleHttpHandler {
  private readonly files = new Map<string, Buffer>();
  private readonly streams = new Set<Stream>();
  private changes = 0;
  private timer: NodeJS.Timeout | undefined;
  private lastHeartbeatMs = Date.now();
  private closed = false;
  private readonly maxStreams: number;
  private readonly pushIntervalMs: number;
  private readonly heartbeatMs: number;

  constructor(private readonly options: ConsoleHttpOptions) {
    const dir = options.assetsDir ?? CONSOLE_ASSETS_DIR;
    for (const { file } of Object.values(ASSETS)) {
      try {
        this.files.set(file, readFileSync(path.join(dir, file)));
      } catch (err) {
        throw new ConsoleAssetsError(path.join(dir, file), err as Error);
      }
    }
    this.maxStreams = options.maxStreams ?? 16;
    this.pushIntervalMs = options.pushIntervalMs ?? 1000;
    this.heartbeatMs = options.heartbeatMs ?? 15_000;
  }

  /** Something the console shows may have changed; streams hear of it within pushIntervalMs. */
  changed(): void {
    this.changes++;
  }

  /** Live streams open now. */
  get streamCount(): number {
    return this.streams.size;
  }

  /**
   * Answers a request whose path starts with `/ui`. `secure`: it came over TLS. Never throws;
   * errors become a 500 JSON answer.
   */
  handle(req: http.IncomingMessage, res: http.ServerResponse, secure: boolean): void {
    const url = new URL(req.url ?? '/', 'http://console.invalid');
    const pathname = url.pathname;
    if (this.options.tls && !secure) {
      // The token must never cross a plain connection when TLS is available.
      const host = req.headers.host ?? 'localhost';
      res
        .writeHead(308, {
          location: `https://${host}${pathname}`,
          'content-type': 'text/plain',
          ...SECURITY_HEADERS,
        })
        .end(`the console is served over HTTPS: https://${host}${pathname}\n`);
      return;
    }
    if (pathname === '/ui') {
      res.writeHead(308, { location: '/ui/', ...SECURITY_HEADERS }).end();
      return;
    }
    const asset = ASSETS[pathname];
    if (asset !== undefined) {
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        this.send(res, 405, { error: `${pathname} needs GET` });
        return;
      }
      res
        .writeHead(200, { 'content-type': asset.type, 'cache-control': 'no-cache', ...SECURITY_HEADERS })
        .end(req.method === 'HEAD' ? undefined : this.files.get(asset.file));
      return;
    }
    if (pathname === '/ui/api/events/stream') {
      this.openStream(req, res);
      return;
    }
    if (pathname.startsWith('/ui/api/')) {
      this.api(req, res, url, secure).catch((err: unknown) => {
        this.options.logger.warn(
          { event: 'console_request_failed', err: String(err) },
          'console request failed',
        );
        if (!res.headersSent) this.send(res, 500, { error: `internal error: ${String(err)}` });
      });
      return;
    }
    this.send(res, 404, { error: `not found: ${pathname} (the console is at /ui/)` });
  }

  /** Ends every stream and stops the push timer. Idempotent. */
  close(): void {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    for (const s of this.streams) s.res.end();
    this.streams.clear();
  }

  private send(res: http.ServerResponse, status: number, body: unknown): void {
    res
      .writeHead(status, {
        'content-type': 'application/json; charset=utf-8',
        'cache-control': 'no-store',
        ...SECURITY_HEADERS,
      })
      .end(JSON.stringify(body));
  }

  private async api(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    url: URL,
    secure: boolean,
  ): Promise<void> {
    const refused = crossSiteRefusal(req, this.options.adminToken);
    if (refused) {
      this.send(res, refused.status, { error: refused.error });
      return;
    }
    let body: unknown;
    if (req.method === 'POST') {
      // A page on another site can POST text/plain without a preflight; the console sends JSON.
      const type = (req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
      if (type !== 'application/json') {
        this.send(res, 415, {
          error: 'content-type: actions take "application/json" bodies',
          field: 'content-type',
        });
        return;
      }
      const text = await readBody(req);
      if (text === undefined) {
        this.send(res, 413, { error: `body: larger than ${MAX_BODY_BYTES} bytes`, field: 'body' });
        return;
      }
      if (text.trim() !== '') {
        try {
          body = JSON.parse(text);
        } catch (err) {
          this.send(res, 400, { error: `body: not JSON: ${(err as Error).message}`, field: 'body' });
          return;
        }
      }
    }
    const header = req.headers.authorization;
    const answer = await this.options.api({
      method: req.method ?? 'GET',
      path: url.pathname.slice('/ui/api'.length),
      query: url.searchParams,
      body,
      authorization: header,
      actionsAllowed:
        secure || this.options.allowInsecureActions || isLoopbackAddress(req.socket.localAddress),
      who: `console@${req.socket.remoteAddress ?? 'unknown'}`,
    });
    this.send(res, answer.status, answer.body);
  }

  private openStream(req: http.IncomingMessage, res: http.ServerResponse): void {
    if (req.method !== 'GET') {
      this.send(res, 405, { error: 'the event stream needs GET' });
      return;
    }
    const refused = crossSiteRefusal(req, this.options.adminToken);
    if (refused) {
      this.send(res, refused.status, { error: refused.error });
      return;
    }
    if (checkBearerToken(req.headers.authorization, this.options.adminToken) !== 'ok') {
      this.send(res, 401, {
        error: 'this console needs the admin token: send "authorization: Bearer <token>"',
      });
      return;
    }
    if (this.closed || this.streams.size >= this.maxStreams) {
      this.send(res, 503, { error: `at most ${this.maxStreams} live consoles at once: poll instead` });
      return;
    }
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      ...SECURITY_HEADERS,
    });
    const stream: Stream = { res, lastSent: this.changes };
    res.write(`retry: 2000\nevent: change\ndata: ${JSON.stringify({ change: this.changes })}\n\n`);
    this.streams.add(stream);
    const drop = (): void => {
      this.streams.delete(stream);
      if (this.streams.size === 0 && this.timer) {
        clearInterval(this.timer);
        this.timer = undefined;
      }
    };
    res.on('close', drop);
    if (!this.timer) {
      this.timer = setInterval(() => this.push(), this.pushIntervalMs);
      this.timer.unref();
    }
  }

  /** One tick: each stream that has not heard of the latest change hears of it now. */
  private push(): void {
    const heartbeat = Date.now() - this.lastHeartbeatMs >= this.heartbeatMs;
    if (heartbeat) this.lastHeartbeatMs = Date.now();
    for (const s of this.streams) {
      if (s.lastSent !== this.changes) {
        s.lastSent = this.changes;
        s.res.write(`event: change\ndata: ${JSON.stringify({ change: this.changes })}\n\n`);
      } else if (heartbeat) {
        s.res.write(': keepalive\n\n');
      }
    }
  }
}

/**
 * Why a console API request is refused as coming from another site, or undefined. A browser
 * visiting another site can send requests to the console (a loopback address included) but not
 * read its answers: refused are requests a browser marks cross-site (`Sec-Fetch-Site`), those
 * whose `Origin` is not the host they were sent to, and, without an admin token (the token, in a
 * header, is what a foreign page cannot send), a `Host` that is a DNS name other than
 * localhost: a rebound name pointing at the console (DNS rebinding).
 */
export function crossSiteRefusal(
  req: Pick<http.IncomingMessage, 'headers'>,
  adminToken: string | undefined,
): { status: number; error: string } | undefined {
  const host = req.headers.host ?? '';
  if (req.headers['sec-fetch-site'] === 'cross-site') {
    return { status: 403, error: 'cross-site requests to the console are refused' };
  }
  const origin = req.headers.origin;
  if (origin !== undefined && origin !== 'null') {
    let originHost = '';
    try {
      originHost = new URL(origin).host;
    } catch {
      originHost = '';
    }
    if (originHost !== host) {
      return { status: 403, error: `origin ${origin} is not this console (${host})` };
    }
  } else if (origin === 'null') {
    return { status: 403, error: 'requests from an opaque origin are refused' };
  }
  if (adminToken === undefined || adminToken === '') {
    const name = host
      .replace(/:\d+$/, '')
      .replace(/^\[(.*)\]$/, '$1')
      .toLowerCase();
    if (name !== 'localhost' && isIP(name) === 0) {
      return {
        status: 421,
        error: `host ${host}: without an admin token the console answers only to an IP address or localhost (set --admin-token to serve it under a name)`,
      };
    }
  }
  return undefined;
}

/** The body as text, or undefined when it is larger than MAX_BODY_BYTES. */
function readBody(req: http.IncomingMessage): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = false;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) tooLarge = true;
      else chunks.push(chunk);
    });
    req.on('end', () => resolve(tooLarge ? undefined : Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}
