import { formatAddress, parseListenAddress } from '../../../common/host-port';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';

/** A running metrics endpoint. The LB server owns it and close()s it. */
export interface MetricsHttpServer {
  /** The bound "host:port". */
  readonly address: string;
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

/**
 * Serves `GET /metrics` (Prometheus text format) from `registry` on `listen` ("host:port", port 0
 * picks a free one), on a plain HTTP listener separate from the gRPC port, so that scraping needs
 * no gRPC or client certificate. Anything else answers 404. Resolves once listening.
 */
export function startMetricsHttpServer(
  listen: string,
  registry: Registry,
  onError: (err: Error) => void = () => undefined,
): Promise<MetricsHttpServer> {
  const parsed = parseListenAddress(listen);
  if (!parsed.ok) return Promise.reject(new MetricsListenError(listen, new Error(parsed.reason)));
  const { host, port } = parsed.value;
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' || path !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: try GET /metrics\n');
      return;
    }
    registry.metrics().then(
      (text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text),
      (err: unknown) =>
        res.writeHead(500, { 'content-type': 'text/plain' }).end(`metrics failed: ${String(err)}\n`),
    );
  });
  return new Promise((resolve, reject) => {
    const onListenError = (err: Error): void => reject(new MetricsListenError(listen, err));
    server.once('error', onListenError);
    server.listen(port, host, () => {
      // Later errors (an accept failure) are reported, never thrown: they must not end the process.
      server.removeListener('error', onListenError);
      server.on('error', onError);
      const bound = server.address() as AddressInfo;
      const address = formatAddress(host, bound.port);
      let closed: Promise<void> | undefined;
      resolve({
        address,
        close: () =>
          (closed ??= new Promise<void>((done) => {
            server.close(() => done());
            server.closeAllConnections();
          })),
      });
    });
  });
}
