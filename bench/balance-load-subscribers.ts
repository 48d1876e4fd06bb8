import * as grpc from '@grpc/grpc-js';
import type { BackendStats } from '../proto/gen/lookaside/v1/BackendStats';
import type { LoadBalanceRequest } from '../proto/gen/lookaside/v1/LoadBalanceRequest';
import { loadProtos } from '../proto/protos';

type BalanceLoadCall = grpc.ClientDuplexStream<LoadBalanceRequest, Buffer>;

/** LoadBalanceResponse field 2 (server_list), length-delimited: the first byte of such a response. */
const SERVER_LIST_TAG = 0x12;
/** Server field 1 (address), length-delimited. */
const ADDRESS_TAG = 0x0a;

/** The bytes of `address` as a Server's address field: tag, length, UTF-8. */
function encodedAddressField(address: string): Buffer {
  const bytes = Buffer.from(address, 'utf8');
  if (bytes.length > 127) throw new RangeError(`address ${address} is too long for a one-byte length`);
  return Buffer.concat([Buffer.from([ADDRESS_TAG, bytes.length]), bytes]);
}

/**
 * Many raw BalanceLoad streams for one service, spread over a few grpc-js channels (each with its
 * own connection), as a benchmark's stand-in for many SDK clients. The benchmark names an address
 * it is about to publish (expect()); each stream stamps the moment its first list containing that
 * address arrives. Timestamps are performance.now() of this process. close() ends every stream
 * and channel.
 *
 * Responses are not decoded: each stands for a separate client process that would decode its own
 * list in parallel, while here one process receives them all, so a full protobuf decode per stream
 * would add this process's serial work to the LB server's fan-out. A response is a server list
 * when it starts with the server_list tag, and contains the expected address when its bytes hold
 * that address's encoded field.
 */
export class BalanceLoadSubscribers {
  private readonly clients: grpc.Client[] = [];
  private readonly calls: BalanceLoadCall[] = [];
  private readonly hasList: Uint8Array;
  private readonly receivedAt: Float64Array;
  private withList = 0;
  /** Server lists received so far, over all streams. */
  private lists = 0;
  private received = 0;
  private ended = 0;
  private expected: Buffer | undefined;
  /** Awaiting lists without the expected address (expectAbsent) rather than with it. */
  private absent = false;
  private wake: (() => void) | undefined;

  private constructor(
    address: string,
    service: string,
    readonly size: number,
    channels: number,
  ) {
    this.hasList = new Uint8Array(size);
    this.receivedAt = new Float64Array(size).fill(NaN);
    const method = loadProtos().loadBalancer.LoadBalancer.service.BalanceLoad;
    const insecure = grpc.credentials.createInsecure();
    const raw = (b: Buffer): Buffer => b;
    for (let c = 0; c < channels; c++) {
      this.clients.push(
        new grpc.Client(address, insecure, {
          'grpc.use_local_subchannel_pool': 1,
          'grpc.enable_http_proxy': 0,
          'bench.channel': c,
        }),
      );
    }
    for (let i = 0; i < size; i++) {
      const call: BalanceLoadCall = this.clients[i % channels].makeBidiStreamRequest(
        method.path,
        method.requestSerialize,
        raw,
      );
      call.on('data', (r: Buffer) => this.onResponse(i, r));
      call.on('status', () => {
        this.ended++;
        this.wake?.();
      });
      call.on('error', () => undefined);
      call.write({ initialRequest: { name: service, clientId: `bench-${i}`, zone: '' } });
      this.calls.push(call);
    }
  }

  /** Opens `streams` streams for `service` on `channels` channels (round robin over them). */
  static open(address: string, service: string, streams: number, channels: number): BalanceLoadSubscribers {
    return new BalanceLoadSubscribers(address, service, streams, Math.max(1, Math.min(channels, streams)));
  }

  private onResponse(i: number, r: Buffer): void {
    if (r[0] !== SERVER_LIST_TAG) return;
    this.lists++;
    const now = performance.now();
    if (this.hasList[i] === 0) {
      this.hasList[i] = 1;
      this.withList++;
      if (this.withList === this.size) this.wake?.();
    }
    const expected = this.expected;
    if (expected === undefined || !Number.isNaN(this.receivedAt[i])) return;
    if ((r.indexOf(expected) === -1) !== this.absent) return;
    this.receivedAt[i] = now;
    this.received++;
    if (this.received === this.size) this.wake?.();
  }

  /** Resolves once `done()` holds, or with false at the deadline or when a stream has ended. */
  private until(done: () => boolean, timeoutMs: number): Promise<boolean> {
    if (done()) return Promise.resolve(true);
    return new Promise<boolean>((resolve) => {
      const finish = (ok: boolean): void => {
        clearTimeout(timer);
        this.wake = undefined;
        resolve(ok);
      };
      const timer = setTimeout(() => finish(false), timeoutMs);
      this.wake = () => {
        if (done()) finish(true);
        else if (this.ended > 0) finish(false);
      };
    });
  }

  /** Waits until every stream has had its first server list. */
  untilAllHaveAList(timeoutMs: number): Promise<boolean> {
    return this.until(() => this.withList === this.size, timeoutMs);
  }

  /** Starts watching for lists containing `address`; forgets the previous expectation. */
  expect(address: string): void {
    this.absent = false;
    this.expected = encodedAddressField(address);
    this.receivedAt.fill(NaN);
    this.received = 0;
  }

  /**
   * Starts watching for lists that no longer contain `address` (it left: deleted, expired);
   * forgets the previous expectation. untilAllReceived() then waits for such lists.
   */
  expectAbsent(address: string): void {
    this.absent = true;
    this.expected = encodedAddressField(address);
    this.receivedAt.fill(NaN);
    this.received = 0;
  }

  /** Waits until every stream has received a list matching the expectation. */
  untilAllReceived(timeoutMs: number): Promise<boolean> {
    return this.until(() => this.received === this.size, timeoutMs);
  }

  /** When each stream saw the expected address (NaN: not yet), in stream order. A copy. */
  receiveTimes(): Float64Array {
    return this.receivedAt.slice();
  }

  /** Server lists received so far, over all streams (pushes × streams). */
  listsReceived(): number {
    return this.lists;
  }

  /** Sends one ClientStats report (these per-backend deltas) on every stream, as each client would. */
  sendStats(backends: readonly BackendStats[]): void {
    const request: LoadBalanceRequest = { clientStats: { backends: [...backends] } };
    for (const call of this.calls) call.write(request);
  }

  /** Cancels every stream and closes every channel. Idempotent. */
  close(): void {
    for (const call of this.calls) call.cancel();
    for (const client of this.clients) client.close();
    this.calls.length = 0;
    this.clients.length = 0;
  }
}
