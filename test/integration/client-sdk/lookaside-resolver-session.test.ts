import { credentials, status } from '@grpc/grpc-js';
import { systemClock } from '../../../common/clock';
import {
  BalanceLoadSession,
  type BalanceLoadSessionOwner,
  type SessionEnd,
  type SessionServerList,
} from '../../../client-sdk/balance-load-session';
import { ClientStatsAccumulator } from '../../../client-sdk/client-stats-accumulator';
import { startScriptedLbServer, type ScriptedLbServer } from '../../support/scripted-lb-server';
import { waitFor } from '../../support/wait-for';

/** An owner that records every call, in order. */
function recorder() {
  const events: Array<
    | { kind: 'initial'; intervalMs: number }
    | { kind: 'list'; list: SessionServerList }
    | { kind: 'ended'; end: SessionEnd }
  > = [];
  const owner: BalanceLoadSessionOwner = {
    onInitialResponse: (intervalMs) => events.push({ kind: 'initial', intervalMs }),
    onServerList: (list) => events.push({ kind: 'list', list }),
    onEnded: (end) => events.push({ kind: 'ended', end }),
  };
  const lists = () => events.flatMap((e) => (e.kind === 'list' ? [e.list] : []));
  const ends = () => events.flatMap((e) => (e.kind === 'ended' ? [e.end] : []));
  return { events, owner, lists, ends };
}

describe('BalanceLoadSession (one stream to a scripted LB server)', () => {
  const servers: ScriptedLbServer[] = [];
  const sessions: BalanceLoadSession[] = [];

  async function lb(options: Parameters<typeof startScriptedLbServer>[0] = {}): Promise<ScriptedLbServer> {
    const s = await startScriptedLbServer(options);
    servers.push(s);
    return s;
  }

  function open(
    server: ScriptedLbServer,
    owner: BalanceLoadSessionOwner,
    stats = new ClientStatsAccumulator(),
  ) {
    const session = BalanceLoadSession.open(
      {
        lbServer: server.address,
        service: 'svc',
        clientId: 'c1',
        zone: 'z',
        credentials: credentials.createInsecure(),
        tlsServerName: undefined,
        answerTimeoutMs: 300,
        stats,
        clock: systemClock,
      },
      owner,
    );
    sessions.push(session);
    return session;
  }

  afterEach(async () => {
    for (const s of sessions.splice(0)) s.close();
    for (const s of servers.splice(0)) await s.close();
  });

  test('reports the initial response, then only newer lists, and turns client stats on as asked', async () => {
    const server = await lb({ clientStatsReportIntervalMs: 100 });
    server.setServers('svc', [{ address: '127.0.0.1:1', weight: 2 }], 10);
    const r = recorder();
    const stats = new ClientStatsAccumulator();
    open(server, r.owner, stats);
    await waitFor('the first list', () => r.lists().length === 1);
    expect(r.events[0]).toEqual({ kind: 'initial', intervalMs: 100 });
    expect(stats.enabled).toBe(true);
    expect(r.lists()[0]).toMatchObject({ version: 10, firstOnStream: true, rejected: [] });
    expect(r.lists()[0].endpoints.map((e) => `${e.address}/${e.weight}`)).toEqual(['127.0.0.1:1/2']);
    server.push('svc', [{ address: '127.0.0.1:2', weight: 1 }], 10); // not newer: ignored
    server.push('svc', [{ address: '127.0.0.1:3', weight: 1 }], 11);
    await waitFor('the newer list', () => r.lists().length === 2);
    expect(r.lists()[1]).toMatchObject({ version: 11, firstOnStream: false });
    await waitFor('a ClientStats report', () => server.statsReports.length > 0);
    expect(server.initialRequests).toEqual([{ name: 'svc', clientId: 'c1', zone: 'z' }]);
  });

  test('a replica that sends no list in time ends the session, once, with DEADLINE_EXCEEDED', async () => {
    for (const [options, reason] of [
      [{ silent: true }, 'no answer within 300 ms'],
      [{ listless: true }, 'no server list within 300 ms'],
    ] as const) {
      const server = await lb(options);
      const r = recorder();
      open(server, r.owner);
      await waitFor('the end', () => r.ends().length === 1);
      expect(r.ends()).toEqual([{ code: status.DEADLINE_EXCEEDED, reason, receivedList: false }]);
      await waitFor('the stream to close', () => server.openStreams() === 0);
    }
  });

  test('a broken stream ends the session with its status, saying a list had come', async () => {
    const server = await lb();
    const r = recorder();
    open(server, r.owner);
    await waitFor('the first list', () => r.lists().length === 1);
    server.breakStreams();
    await waitFor('the end', () => r.ends().length === 1);
    expect(r.ends()[0]).toMatchObject({ code: status.UNAVAILABLE, receivedList: true });
  });

  test('close() is idempotent, closes the stream and no owner call follows it', async () => {
    const server = await lb();
    const r = recorder();
    const session = open(server, r.owner);
    await waitFor('the first list', () => r.lists().length === 1);
    session.close();
    session.close();
    const seen = r.events.length;
    server.setServers('svc', [{ address: '127.0.0.1:9', weight: 1 }]);
    await waitFor('the stream to close on the server', () => server.openStreams() === 0);
    // A second session on the same server shows the push went out and was answered.
    const witness = recorder();
    open(server, witness.owner);
    await waitFor('the witness list', () => witness.lists().length === 1);
    expect(r.events).toHaveLength(seen);
  });
});
