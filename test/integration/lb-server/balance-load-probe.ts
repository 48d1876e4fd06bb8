import * as grpc from '@grpc/grpc-js';
import { loadProtos } from '../../../proto/protos';
import type { LoadBalanceRequest } from '../../../proto/gen/lookaside/v1/LoadBalanceRequest';
import type { LoadBalanceResponse__Output } from '../../../proto/gen/lookaside/v1/LoadBalanceResponse';
import type { ServerList__Output } from '../../../proto/gen/lookaside/v1/ServerList';
import type { LoadBalancerClient } from '../../../proto/gen/lookaside/v1/LoadBalancer';

/**
 * A test's BalanceLoad stream on a real grpc-js client: records every response and the final
 * status, so tests can waitFor() what they expect. close() cancels the stream and the channel.
 */
export class BalanceLoadProbe {
  readonly responses: LoadBalanceResponse__Output[] = [];
  status: grpc.StatusObject | undefined;
  private readonly client: LoadBalancerClient;
  private readonly call: grpc.ClientDuplexStream<LoadBalanceRequest, LoadBalanceResponse__Output>;

  constructor(address: string, credentials: grpc.ChannelCredentials = grpc.credentials.createInsecure()) {
    const { LoadBalancer } = loadProtos().loadBalancer;
    this.client = new LoadBalancer(address, credentials, {
      'grpc.enable_http_proxy': 0,
    });
    this.call = this.client.BalanceLoad();
    this.call.on('data', (r: LoadBalanceResponse__Output) => this.responses.push(r));
    this.call.on('status', (s: grpc.StatusObject) => (this.status = s));
    this.call.on('error', () => undefined);
  }

  /** Opens a probe and sends the initial request for `name`. */
  static open(
    address: string,
    name: string,
    clientId = '',
    zone = '',
    credentials?: grpc.ChannelCredentials,
  ): BalanceLoadProbe {
    const p = new BalanceLoadProbe(address, credentials);
    p.send({ initialRequest: { name, clientId, zone } });
    return p;
  }

  send(request: LoadBalanceRequest): void {
    this.call.write(request);
  }

  /** Every server list received, in order. */
  get lists(): ServerList__Output[] {
    return this.responses.flatMap((r) => (r.serverList ? [r.serverList] : []));
  }

  get last(): ServerList__Output | undefined {
    const l = this.lists;
    return l[l.length - 1];
  }

  /** Sorted addresses of the last list. */
  addresses(): string[] {
    return (this.last?.servers ?? []).map((s) => s.address).sort();
  }

  close(): void {
    this.call.cancel();
    this.client.close();
  }
}
