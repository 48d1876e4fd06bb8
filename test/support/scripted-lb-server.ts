import * as grpc from '@grpc/grpc-js';
import { loadProtos } from '../../proto/protos';
import type { ClientStats__Output } from '../../proto/gen/lookaside/v1/ClientStats';
import type { InitialLoadBalanceRequest__Output } from '../../proto/gen/lookaside/v1/InitialLoadBalanceRequest';
import type { LoadBalanceRequest__Output } from '../../proto/gen/lookaside/v1/LoadBalanceRequest';
import type { LoadBalanceResponse } from '../../proto/gen/lookaside/v1/LoadBalanceResponse';
import type { Server } from '../../proto/gen/lookaside/v1/Server';

type BalanceStream = grpc.ServerDuplexStream<LoadBalanceRequest__Output, LoadBalanceResponse>;

export interface ScriptedLbServerOptions {
  /** Port to bind on 127.0.0.1; 0 picks a free one (pass a previous port to "restart"). */
  readonly port?: number;
  /** Sent in the initial response. Default 0 (no client stats). */
  readonly clientStatsReportIntervalMs?: number;
  /** Accept streams but never answer (a hung LB server). */
  readonly silent?: boolean;
  /** Send the initial response but never a server list (an LB server that cannot read etcd). */
  readonly listless?: boolean;
}

/**
 * A BalanceLoad server whose answers the test scripts, for precise resolver tests (stale
 * versions, failover, silence). Not the real LB server: no etcd, no coalescing.
 */
export interface ScriptedLbServer {
  readonly address: string;
  readonly port: number;
  /** Sets the list of `service` (version = previous + 1 unless given) and pushes it to its streams. */
  setServers(service: string, servers: Server[], version?: number): void;
  /** Sends one list to the open streams of `service` without recording it as current. */
  push(service: string, servers: Server[], version: number): void;
  /** Initial requests received, in order. */
  readonly initialRequests: InitialLoadBalanceRequest__Output[];
  /** ClientStats received, in order. */
  readonly statsReports: ClientStats__Output[];
  /** Streams currently open. */
  openStreams(): number;
  /** Streams ever opened. */
  totalStreams(): number;
  /** Ends every open stream with UNAVAILABLE (the server stays up). */
  breakStreams(): void;
  /** Stops at once, cancelling streams. Idempotent. */
  close(): Promise<void>;
}

export async function startScriptedLbServer(
  options: ScriptedLbServerOptions = {},
): Promise<ScriptedLbServer> {
  const server = new grpc.Server();
  const lists = new Map<string, { servers: Server[]; version: number }>();
  const streams = new Map<BalanceStream, string>();
  const initialRequests: InitialLoadBalanceRequest__Output[] = [];
  const statsReports: ClientStats__Output[] = [];
  let total = 0;

  const send = (stream: BalanceStream, servers: Server[], version: number): void => {
    stream.write({ serverList: { servers, version } });
  };

  server.addService(loadProtos().loadBalancer.LoadBalancer.service, {
    BalanceLoad(stream: BalanceStream): void {
      total++;
      stream.on('error', () => streams.delete(stream));
      stream.on('end', () => {
        streams.delete(stream);
        stream.end();
      });
      stream.on('data', (req: LoadBalanceRequest__Output) => {
        if (req.initialRequest) {
          const name = req.initialRequest.name;
          initialRequests.push(req.initialRequest);
          streams.set(stream, name);
          if (options.silent) return;
          stream.write({
            initialResponse: { clientStatsReportIntervalMs: options.clientStatsReportIntervalMs ?? 0 },
          });
          if (options.listless) return;
          const current = lists.get(name) ?? { servers: [], version: 1 };
          send(stream, current.servers, current.version);
        } else if (req.clientStats) {
          statsReports.push(req.clientStats);
        }
      });
    },
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`127.0.0.1:${options.port ?? 0}`, grpc.ServerCredentials.createInsecure(), (err, p) =>
      err ? reject(err) : resolve(p),
    ),
  );
  let closed = false;
  return {
    address: `127.0.0.1:${port}`,
    port,
    initialRequests,
    statsReports,
    setServers(service, servers, version) {
      const v = version ?? (lists.get(service)?.version ?? 1) + 1;
      lists.set(service, { servers, version: v });
      if (options.silent || options.listless) return;
      for (const [stream, name] of streams) if (name === service) send(stream, servers, v);
    },
    push(service, servers, version) {
      for (const [stream, name] of streams) if (name === service) send(stream, servers, version);
    },
    openStreams: () => streams.size,
    totalStreams: () => total,
    breakStreams() {
      for (const stream of streams.keys()) {
        stream.emit('error', { code: grpc.status.UNAVAILABLE, details: 'scripted break' });
      }
      streams.clear();
    },
    close: async () => {
      if (closed) return;
      closed = true;
      streams.clear();
      server.forceShutdown();
    },
  };
}
