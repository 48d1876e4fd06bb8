import * as net from 'node:net';
import type { Logger } from 'pino';
import type { SelfPreservation } from '../core/self-preservation';

/** How often held endpoints are probed, and how long one TCP connect may take. */
const PROBE_INTERVAL_MS = 1000;
const CONNECT_TIMEOUT_MS = 1000;

/**
 * Resolves true only when a TCP connection to host:port is refused: the host answers and nothing
 * listens. A timeout proves nothing (the LB server may have no route to backends that clients
 * reach), so it keeps the hold.
 */
function unreachable(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    const done = (result: boolean): void => {
      socket.destroy();
      resolve(result);
    };
    socket.setTimeout(CONNECT_TIMEOUT_MS, () => done(false));
    socket.once('connect', () => done(false));
    socket.once('error', (err: NodeJS.ErrnoException) => done(err.code === 'ECONNREFUSED'));
  });
}

/**
 * The thin shell that keeps self-preservation honest: while endpoints are held (published although
 * etcd no longer has them), it tries a TCP connection to each once a second and releases the ones
 * whose connection is refused, so a backend that really died is dropped without waiting for the grace.
 * Owned by startLbServer, which calls check() after every publish and close() on shutdown.
 */
export class HeldEndpointProber {
  private timer: NodeJS.Timeout | undefined;
  private probing = false;
  private closed = false;

  constructor(
    private readonly preservation: SelfPreservation,
    private readonly logger: Logger,
    private readonly onRelease: (service: string) => void,
    /** Told of each released endpoint, right after its log line (the console records it). */
    private readonly onReleased: (service: string, address: string) => void = () => undefined,
  ) {}

  /** Starts probing if something is held and probing is not already scheduled. */
  check(): void {
    if (this.closed || this.timer || this.probing) return;
    if (this.preservation.heldEndpoints().length === 0) return;
    this.timer = setTimeout(() => {
      // Never an unhandled rejection (it would end the process): report and carry on.
      this.probe().catch((err: unknown) =>
        this.logger.error(
          { event: 'held_probe_failed', err: (err as Error).message },
          'held endpoint probe failed',
        ),
      );
    }, PROBE_INTERVAL_MS);
    this.timer.unref();
  }

  /** Stops probing. Idempotent. */
  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private async probe(): Promise<void> {
    this.timer = undefined;
    this.probing = true;
    try {
      const held = this.preservation.heldEndpoints();
      const results = await Promise.all(held.map((h) => unreachable(h.endpoint.host, h.endpoint.port)));
      if (this.closed) return;
      const released = new Set<string>();
      held.forEach((h, i) => {
        if (results[i] && this.preservation.release(h.service, h.endpoint.key)) {
          released.add(h.service);
          this.logger.info(
            { event: 'self_preservation_released', service: h.service, address: h.endpoint.address },
            'held endpoint is unreachable: removed before the grace ends',
          );
          this.onReleased(h.service, h.endpoint.address);
        }
      });
      for (const service of released) this.onRelease(service);
    } finally {
      this.probing = false;
    }
    this.check();
  }
}
