import { formatAddress, parseListenAddress } from '../../../common/host-port';
import * as http from 'node:http';
import * as https from 'node:https';
import * as net from 'node:net';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';

/** A running metrics endpoint. The LB server owns it and close()s it. */
export interface MetricsHttpServer {
  /** The bound "host:port". */
  readonly address: string;
  /** True when the port also speaks HTTPS (TLS configured). */
  readonly https: boolean;
  /** Stops listening and ends open connections. Idempotent. */
  close(): Promise<void>;
}

/** Raised when the metrics listener cannot bind. */
export class MetricsListenError extends Error {
  constructor(
    readonly listen: string,
    cause: Error,
  ) {
    super(`metrics endpoint cannot listen on ${listen}: ${cause.message}`);
    this.name = 'MetricsListenError';
  }
}

/** What answers `/ui` and below (the web console); `secure`: the request came over TLS. */
export interface UiHandler {
  handle(req: http.IncomingMessage, res: http.ServerResponse, secure: boolean): void;
}

/** The LB server's certificate for HTTPS on this port, and its rotations. */
export interface HttpsIdentity {
  readonly cert: Buffer;
  readonly key: Buffer;
  /** Calls `listener` with every new certificate and key; returns the unsubscribe. */
  onChange(listener: (cert: Buffer, key: Buffer) => void): () => void;
}

/** What the port serves besides /metrics. */
export interface MetricsHttpOptions {
  readonly onError?: (err: Error) => void;
  /** Mounted on `/ui` and below. */
  readonly ui?: UiHandler;
  /**
   * With TLS: the same port speaks HTTPS too (a connection whose first byte is a TLS handshake
   * record is TLS, any other is plain HTTP), so existing plain scrapes of /metrics keep working
   * while the console is served over HTTPS only.
   */
  readonly tls?: HttpsIdentity;
}

/** How long a new connection may stay silent before its first byte when TLS is told apart. */
const FIRST_BYTE_TIMEOUT_MS = 10_000;
/**
 * A connection handed over after its first byte is idle-timed here: Node's own header and request
 * timeouts only run on a server that listens itself. Longer than the console stream's heartbeat
 * (15 s), so live consoles stay connected; a client trickling headers is cut off.
 */
const HANDED_OVER_IDLE_TIMEOUT_MS = 60_000;
/** The first byte of a TLS record carrying a handshake (a ClientHello). */
const TLS_HANDSHAKE = 0x16;

/**
 * Serves `GET /metrics` (Prometheus text format) from `registry` on `listen` ("host:port", port 0
 * picks a free one), on an HTTP listener separate from the gRPC port, so that scraping needs no
 * gRPC or client certificate; `/ui` and below go to `options.ui` (the web console); anything
 * else answers 404. With `options.tls` the port serves HTTPS as well as plain HTTP (see
 * MetricsHttpOptions.tls). Resolves once listening.
 */
export function startMetricsHttpServer(
  listen: string,
  registry: Registry,
  options: MetricsHttpOptions = {},
): Promise<MetricsHttpServer> {
  const parsed = parseListenAddress(listen);
  if (!parsed.ok) return Promise.reject(new MetricsListenError(listen, new Error(parsed.reason)));
  const { host, port } = parsed.value;
  const onError = options.onError ?? (() => undefined);
  const handler =
    (secure: boolean) =>
    (req: http.IncomingMessage, res: http.ServerResponse): void => {
      const path = (req.url ?? '/').split('?')[0];
      if (options.ui && (path === '/ui' || path.startsWith('/ui/'))) {
        options.ui.handle(req, res, secure);
        return;
      }
      if (req.method !== 'GET' || path !== '/metrics') {
        res
          .writeHead(404, { 'content-type': 'text/plain' })
          .end(`not found: try GET /metrics${options.ui ? ' or /ui/' : ''}\n`);
        return;
      }
      registry.metrics().then(
        (text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text),
        (err: unknown) =>
          res.writeHead(500, { 'content-type': 'text/plain' }).end(`metrics failed: ${String(err)}\n`),
      );
    };
  const plain = http.createServer(handler(false));
  let secure: https.Server | undefined;
  let unsubscribe: (() => void) | undefined;
  let listener: net.Server = plain;
  const sockets = new Set<net.Socket>();
  if (options.tls) {
    const tls = options.tls;
    const httpsServer = https.createServer({ cert: tls.cert, key: tls.key }, handler(true));
    secure = httpsServer;
    unsubscribe = tls.onChange((cert, key) => httpsServer.setSecureContext({ cert, key }));
    // A failed handshake is the client's problem, not the server's.
    httpsServer.on('tlsClientError', () => undefined);
    listener = net.createServer((socket) => {
      sockets.add(socket);
      socket.once('close', () => sockets.delete(socket));
      socket.on('error', () => socket.destroy());
      socket.setTimeout(FIRST_BYTE_TIMEOUT_MS, () => socket.destroy());
      socket.once('data', (first: Buffer) => {
        socket.setTimeout(HANDED_OVER_IDLE_TIMEOUT_MS);
        socket.pause();
        socket.unshift(first);
        (first[0] === TLS_HANDSHAKE ? httpsServer : plain).emit('connection', socket);
        process.nextTick(() => socket.resume());
      });
    });
  }
  return new Promise((resolve, reject) => {
    const onListenError = (err: Error): void => {
      unsubscribe?.();
      reject(new MetricsListenError(listen, err));
    };
    listener.once('error', onListenError);
    listener.listen(port, host, () => {
      // Later errors (an accept failure) are reported, never thrown: they must not end the process.
      listener.removeListener('error', onListenError);
      listener.on('error', onError);
      const bound = listener.address() as AddressInfo;
      const address = formatAddress(host, bound.port);
      let closed: Promise<void> | undefined;
      resolve({
        address,
        https: secure !== undefined,
        close: () =>
          (closed ??= new Promise<void>((done) => {
            unsubscribe?.();
            listener.close(() => done());
            plain.closeAllConnections();
            secure?.closeAllConnections();
            for (const s of sockets) s.destroy();
          })),
      });
    });
  });
}
