import * as grpc from '@grpc/grpc-js';
import { adsServiceDefinition } from '../../proto/envoy-protos';

/** A DiscoveryResponse as proto-loader decodes it (resources stay encoded Anys, fields as protobufjs names them). */
export interface DiscoveryResponseIn {
  versionInfo: string;
  typeUrl: string;
  nonce: string;
  resources: { type_url: string; value: Buffer }[];
}

/** A raw ADS stream: sends what the test says, records every response. */
export class AdsProbe {
  readonly responses: DiscoveryResponseIn[] = [];
  private readonly client: grpc.Client;
  private readonly call: grpc.ClientDuplexStream<unknown, DiscoveryResponseIn>;

  constructor(address: string) {
    const Ads = grpc.makeGenericClientConstructor(adsServiceDefinition(), 'AggregatedDiscoveryService');
    this.client = new Ads(address, grpc.credentials.createInsecure(), { 'grpc.enable_http_proxy': 0 });
    const method = adsServiceDefinition().StreamAggregatedResources;
    this.call = this.client.makeBidiStreamRequest(
      method.path,
      method.requestSerialize,
      method.responseDeserialize as (b: Buffer) => DiscoveryResponseIn,
    );
    this.call.on('data', (r: DiscoveryResponseIn) => this.responses.push(r));
    this.call.on('error', () => undefined);
  }

  send(request: Record<string, unknown>): void {
    this.call.write(request);
  }

  of(typeUrl: string): DiscoveryResponseIn[] {
    return this.responses.filter((r) => r.typeUrl === typeUrl);
  }

  /** How many times `host` occurs in the last answer of `typeUrl` (endpoints of an encoded EDS answer). */
  hostCount(typeUrl: string, host: string): number {
    const all = this.of(typeUrl);
    const last = all[all.length - 1];
    return last
      ? last.resources.reduce((n, r) => n + r.value.toString('latin1').split(host).length - 1, 0)
      : 0;
  }

  close(): void {
    this.call.cancel();
    this.client.close();
  }
}
