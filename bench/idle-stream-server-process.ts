import * as grpc from '@grpc/grpc-js';
import { z } from 'zod';
import type { LoadBalanceRequest__Output } from '../proto/gen/lookaside/v1/LoadBalanceRequest';
import type { LoadBalanceResponse } from '../proto/gen/lookaside/v1/LoadBalanceResponse';
import { loadProtos } from '../proto/protos';
import { runBenchChild } from './bench-child';

/**
 * Child process of the LB scale benchmark, its memory and CPU baseline: a bare grpc-js server
 * speaking lookaside.v1.LoadBalancer/BalanceLoad that answers every stream's first request with
 * one fixed server list of `servers` entries and then only holds the stream: what any gRPC server
 * pays per idle stream, with no registry, no assignment, no client bookkeeping. Run with
 * --expose-gc.
 */
runBenchChild(z.object({ servers: z.number().int().min(0).max(1000) }), async (config) => {
  const list: LoadBalanceResponse = {
    serverList: {
      servers: Array.from({ length: config.servers }, (_, i) => ({
        address: `127.0.0.1:${9000 + i}`,
        weight: 100,
      })),
      version: 1,
    },
  };
  const streams = new Set<grpc.ServerDuplexStream<LoadBalanceRequest__Output, LoadBalanceResponse>>();
  const server = new grpc.Server();
  server.addService(loadProtos().loadBalancer.LoadBalancer.service, {
    BalanceLoad(call: grpc.ServerDuplexStream<LoadBalanceRequest__Output, LoadBalanceResponse>): void {
      streams.add(call);
      let answered = false;
      call.on('data', () => {
        if (answered) return;
        answered = true;
        call.write(list);
      });
      call.on('error', () => undefined);
      call.on('end', () => {
        streams.delete(call);
        call.end();
      });
      call.on('cancelled', () => streams.delete(call));
    },
  });
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, bound) =>
      err ? reject(err) : resolve(bound),
    );
  });
  return {
    address: `127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of streams) s.end();
        server.tryShutdown(() => resolve());
      }),
  };
});
