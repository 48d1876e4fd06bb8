import type { Etcd3, Watcher } from 'etcd3';

/**
 * The baseline of the propagation benchmarks: a plain etcd watch on one key (or prefix), stamping
 * (performance.now()) when the awaited event arrives: a put whose value holds an expected address
 * (expect()), or the deletion of a key (expectDelete()). One expectation at a time.
 */
export class WatchProbe {
  private expectedValue: string | undefined;
  private expectedDelete: string | undefined;
  private at = NaN;
  private wake: (() => void) | undefined;

  private constructor(private readonly watcher: Watcher) {
    watcher.on('put', (kv) => {
      const now = performance.now();
      if (
        this.expectedValue !== undefined &&
        Number.isNaN(this.at) &&
        kv.value.toString().includes(this.expectedValue)
      ) {
        this.hit(now);
      }
    });
    watcher.on('delete', (kv) => {
      const now = performance.now();
      if (
        this.expectedDelete !== undefined &&
        Number.isNaN(this.at) &&
        kv.key.toString() === this.expectedDelete
      ) {
        this.hit(now);
      }
    });
  }

  private hit(now: number): void {
    this.at = now;
    this.wake?.();
  }

  /** Watches `key` exactly. */
  static async open(client: Etcd3, key: string): Promise<WatchProbe> {
    return new WatchProbe(await client.watch().key(key).create());
  }

  /** Watches every key under `prefix`. */
  static async openPrefix(client: Etcd3, prefix: string): Promise<WatchProbe> {
    return new WatchProbe(await client.watch().prefix(prefix).create());
  }

  /** Awaits a put whose value holds `address` (as a JSON string). */
  expect(address: string): void {
    this.expectedValue = `"${address}"`;
    this.expectedDelete = undefined;
    this.at = NaN;
  }

  /** Awaits the deletion of `key` (a lease expiry, a revoke, a delete). */
  expectDelete(key: string): void {
    this.expectedValue = undefined;
    this.expectedDelete = key;
    this.at = NaN;
  }

  /** When the awaited event arrived (NaN if it has not within the timeout). */
  received(timeoutMs: number): Promise<number> {
    if (!Number.isNaN(this.at)) return Promise.resolve(this.at);
    return new Promise<number>((resolve) => {
      const timer = setTimeout(() => {
        this.wake = undefined;
        resolve(this.at);
      }, timeoutMs);
      this.wake = () => {
        clearTimeout(timer);
        this.wake = undefined;
        resolve(this.at);
      };
    });
  }

  close(): Promise<void> {
    return this.watcher.cancel();
  }
}
