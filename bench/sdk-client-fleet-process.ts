import * as grpc from '@grpc/grpc-js';
import { installLookaside } from '../client-sdk';
import type { GreeterClient } from '../proto/gen/helloworld/Greeter';
import { loadProtos } from '../proto/protos';
import { FleetConfigSchema, FleetRequestSchema, type FleetMessage } from './sdk-client-fleet';

/**
 * Child process of the SDK propagation benchmark: `clients` real grpc-js channels to
 * `lookaside://<lb>/<service>`, each with its own subchannel pool (so its own LB stream and its
 * own backend connections, as separate client processes would have). On "arm" every channel
 * issues a waitForReady SayHello and reissues it until one is answered by the expected backend;
 * it reports when each was (performance.timeOrigin + performance.now(), comparable across the
 * processes of one machine). On "settle" every channel calls without waitForReady until its
 * picker fails the call at once with UNAVAILABLE, i.e. it holds no backend. For the health
 * propagation benchmark: "until-ready" connects every channel and waits until it is READY;
 * "watch-leave" reports when each READY channel leaves READY (grpc-js replaces the picker and the
 * state in one call, so that is the moment its picker stops picking the backend it had).
 */

/** Bounds the reissue loop of one channel in one arm. */
const MAX_TRIES = 100_000;
const SETTLE_CALL_DEADLINE_MS = 1000;
const SETTLE_RETRY_MS = 10;

const send = (m: FleetMessage): void => {
  process.send?.(m);
};
const now = (): number => performance.timeOrigin + performance.now();

function arm(clients: readonly GreeterClient[], expect: string, timeoutMs: number): void {
  const at = new Array<number | null>(clients.length).fill(null);
  const suffix = ` from ${expect}`;
  const deadline = Date.now() + timeoutMs;
  let pending = clients.length;
  let reissued = 0;
  const done = (): void => {
    if (--pending === 0) send({ type: 'answered', at, reissued });
  };
  clients.forEach((client, i) => {
    const attempt = (tries: number): void => {
      client.SayHello(
        { name: 'p' },
        new grpc.Metadata({ waitForReady: true }),
        { deadline },
        (err, reply) => {
          const t = now();
          if (!err && reply !== undefined && reply.message.endsWith(suffix)) {
            at[i] = t;
            done();
          } else if (Date.now() < deadline && tries < MAX_TRIES) {
            reissued++;
            attempt(tries + 1);
          } else done();
        },
      );
    };
    attempt(1);
  });
  send({ type: 'armed' });
}

function settle(clients: readonly GreeterClient[], timeoutMs: number): void {
  const deadline = Date.now() + timeoutMs;
  let pending = clients.length;
  let settled = 0;
  const done = (ok: boolean): void => {
    if (ok) settled++;
    if (--pending === 0) send({ type: 'settled', settled });
  };
  for (const client of clients) {
    const attempt = (): void => {
      client.SayHello({ name: 's' }, { deadline: Date.now() + SETTLE_CALL_DEADLINE_MS }, (err) => {
        if (err?.code === grpc.status.UNAVAILABLE) done(true);
        else if (Date.now() < deadline) setTimeout(attempt, SETTLE_RETRY_MS);
        else done(false);
      });
    };
    attempt();
  }
}

function untilReady(clients: readonly GreeterClient[], timeoutMs: number): void {
  const deadline = Date.now() + timeoutMs;
  let pending = clients.length;
  let ready = 0;
  const done = (ok: boolean): void => {
    if (ok) ready++;
    if (--pending === 0) send({ type: 'readied', ready });
  };
  for (const client of clients) {
    const channel = client.getChannel();
    // Bounded: each turn waits for a state change or the deadline.
    const check = (): void => {
      const state = channel.getConnectivityState(true);
      if (state === grpc.connectivityState.READY) done(true);
      else if (Date.now() >= deadline) done(false);
      else channel.watchConnectivityState(state, deadline, (err) => (err ? done(false) : check()));
    };
    check();
  }
}

function watchLeave(clients: readonly GreeterClient[], timeoutMs: number): void {
  const at = new Array<number | null>(clients.length).fill(null);
  const deadline = Date.now() + timeoutMs;
  let pending = clients.length;
  let watching = 0;
  const done = (): void => {
    if (--pending === 0) send({ type: 'left', at });
  };
  clients.forEach((client, i) => {
    const channel = client.getChannel();
    if (channel.getConnectivityState(false) !== grpc.connectivityState.READY) {
      done();
      return;
    }
    watching++;
    channel.watchConnectivityState(grpc.connectivityState.READY, deadline, (err) => {
      if (!err) at[i] = now();
      done();
    });
  });
  send({ type: 'watching', watching });
}

function main(): void {
  const parsed = FleetConfigSchema.safeParse(JSON.parse(process.argv[2] ?? 'null'));
  if (!parsed.success) {
    send({ type: 'failed', message: `bad config: ${parsed.error.message}` });
    process.exit(2);
  }
  const config = parsed.data;
  installLookaside();
  const { Greeter } = loadProtos().helloworld;
  const insecure = grpc.credentials.createInsecure();
  const clients: GreeterClient[] = [];
  for (let i = 0; i < config.clients; i++) {
    clients.push(
      new Greeter(`lookaside://${config.lb}/${config.service}`, insecure, {
        'grpc.use_local_subchannel_pool': 1,
        'grpc.enable_http_proxy': 0,
      }),
    );
  }
  let stopping = false;
  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    for (const c of clients) c.close();
    setTimeout(() => process.exit(0), 200).unref();
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  process.on('disconnect', stop);
  process.on('message', (raw: unknown) => {
    const request = FleetRequestSchema.safeParse(raw);
    if (!request.success) return;
    const r = request.data;
    if (r.type === 'arm') arm(clients, r.expect, r.timeoutMs);
    else if (r.type === 'settle') settle(clients, r.timeoutMs);
    else if (r.type === 'until-ready') untilReady(clients, r.timeoutMs);
    else watchLeave(clients, r.timeoutMs);
  });
  send({ type: 'ready' });
}

main();
