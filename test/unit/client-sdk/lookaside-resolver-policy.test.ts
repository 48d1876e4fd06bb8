import { experimental, status } from '@grpc/grpc-js';
import { BackoffSchedule } from '../../../common/backoff-schedule';
import type { BalanceLoadSessionOwner, SessionServerList } from '../../../client-sdk/balance-load-session';
import type { LookasideEndpoint } from '../../../client-sdk/lookaside-endpoint';
import { LookasideResolverPolicy } from '../../../client-sdk/lookaside-resolver-policy';
import { FakeClock } from '../../support/fake-clock';

const STARTUP_MS = 5000;
const INITIAL_BACKOFF_MS = 100;

function endpoint(address: string, weight = 1): LookasideEndpoint {
  const [host, port] = address.split(':');
  return { addresses: [{ host, port: Number(port) }], address, weight, draining: false, zone: '' };
}

/** One session the policy opened, driven by the test as an LB replica would. */
interface FakeSession {
  readonly lbServer: string;
  readonly openedAt: number;
  readonly owner: BalanceLoadSessionOwner;
  closed: boolean;
  version: number;
}

function list(endpoints: LookasideEndpoint[], version: number, firstOnStream: boolean): SessionServerList {
  return { version, endpoints, rejected: [], firstOnStream };
}

/** A policy on a fake clock, recording what it delivers and the sessions it opens. */
function harness(options: { fallback?: string[]; lbServers?: string[]; accept?: () => boolean } = {}) {
  const clock = new FakeClock();
  const sessions: FakeSession[] = [];
  const delivered: Array<{ result: experimental.StatusOr<LookasideEndpoint[]>; note: string; at: number }> =
    [];
  const policy = new LookasideResolverPolicy({
    service: 'svc',
    lbServers: options.lbServers ?? ['lb-a:1', 'lb-b:1', 'lb-c:1'],
    fallback: (options.fallback ?? []).map((a) => endpoint(a)),
    startupTimeoutMs: STARTUP_MS,
    // jitter 0: the delays are exactly 100, 160, 256, … so the test can name them.
    backoff: new BackoffSchedule({ initialMs: INITIAL_BACKOFF_MS, maxMs: 10_000, jitter: 0 }),
    clock,
    random: () => 0,
    openSession: (lbServer, owner) => {
      const s: FakeSession = { lbServer, openedAt: clock.now(), owner, closed: false, version: 0 };
      sessions.push(s);
      return { close: () => (s.closed = true) };
    },
    deliver: (result, note) => {
      delivered.push({ result, note, at: clock.now() });
      return options.accept?.() ?? true;
    },
    log: () => {},
  });
  const current = (): FakeSession => sessions[sessions.length - 1];
  /** The current session sends a list of `addresses`. */
  const send = (addresses: string[]): void => {
    const s = current();
    s.version++;
    s.owner.onServerList(
      list(
        addresses.map((a) => endpoint(a)),
        s.version,
        s.version === 1,
      ),
    );
  };
  const breakStream = (): void =>
    current().owner.onEnded({ code: status.UNAVAILABLE, reason: 'boom', receivedList: false });
  const addresses = (i: number): string[] | string => {
    const r = delivered[i].result;
    return r.ok ? r.value.map((e) => e.address) : r.error.details;
  };
  return { clock, policy, sessions, delivered, current, send, breakStream, addresses };
}

describe('LookasideResolverPolicy', () => {
  test('opens one session on start, delivers nothing synchronously, and serves the first list', () => {
    const h = harness();
    h.policy.start();
    expect(h.sessions.map((s) => s.lbServer)).toEqual(['lb-a:1']);
    h.send(['10.0.0.1:80']);
    expect(h.addresses(0)).toEqual(['10.0.0.1:80']);
    expect(h.policy.state.kind).toBe('lb-list');
    h.policy.start(); // already running: no second session
    expect(h.sessions).toHaveLength(1);
  });

  test('after the start-up timeout the fallback serves, and a list that arrives leaves it', () => {
    const h = harness({ fallback: ['10.9.9.9:80'] });
    h.policy.start();
    h.clock.advance(STARTUP_MS - 1);
    expect(h.delivered).toEqual([]);
    h.clock.advance(1);
    expect(h.addresses(0)).toEqual(['10.9.9.9:80']);
    expect(h.policy.state).toEqual({ kind: 'fallback' });
    h.send(['10.0.0.1:80']);
    expect(h.addresses(1)).toEqual(['10.0.0.1:80']);
    expect(h.policy.state.kind).toBe('lb-list');
  });

  test('without a fallback the start-up timeout delivers UNAVAILABLE naming the service, the LB servers and the last error', () => {
    const h = harness();
    h.policy.start();
    h.breakStream();
    h.clock.advance(STARTUP_MS);
    const r = h.delivered[0].result;
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.error.code).toBe(status.UNAVAILABLE);
    expect(r.error.details).toContain('"svc"');
    expect(r.error.details).toContain('lb-a:1, lb-b:1, lb-c:1');
    expect(r.error.details).toContain('LB server lb-a:1: boom');
    expect(h.policy.state).toEqual({ kind: 'unavailable' });
  });

  test('a replica that answered but sent no list is named at the start-up timeout: it has no list yet', () => {
    const h = harness();
    h.policy.start();
    h.current().owner.onInitialResponse(10_000); // the LB server is up; it has not read etcd
    h.clock.advance(STARTUP_MS);
    expect(h.addresses(0)).toBe(
      'lookaside: no server list for service "svc" within 5000 ms: LB server lb-a:1 answered but has ' +
        'no server list yet (it sends one once it has read the registry: can it reach etcd?) ' +
        '(LB servers: lb-a:1, lb-b:1, lb-c:1)',
    );
  });

  test('with no stream ended yet, the start-up timeout says whom it waits for (not "no attempt yet")', () => {
    const h = harness();
    h.policy.start();
    h.clock.advance(STARTUP_MS);
    expect(h.addresses(0)).toBe(
      'lookaside: no server list for service "svc" within 5000 ms: no LB server answered; ' +
        'waiting for lb-a:1 (LB servers: lb-a:1, lb-b:1, lb-c:1)',
    );
  });

  test('the fallback note says why it is used', () => {
    const h = harness({ fallback: ['10.9.9.9:80'] });
    h.policy.start();
    h.current().owner.onInitialResponse(0);
    h.clock.advance(STARTUP_MS);
    expect(h.delivered[0].note).toMatch(
      /^fallback addresses: .*LB server lb-a:1 answered but has no server list yet/,
    );
  });

  test('a list before the start-up timeout cancels it', () => {
    const h = harness({ fallback: ['10.9.9.9:80'] });
    h.policy.start();
    h.send(['10.0.0.1:80']);
    h.clock.advance(STARTUP_MS * 2);
    expect(h.delivered).toHaveLength(1);
  });

  test('a broken stream keeps the last list and reconnects to the next replica after growing gaps', () => {
    const h = harness();
    h.policy.start();
    h.send(['10.0.0.1:80']);
    const gaps: number[] = [];
    for (let i = 0; i < 6; i++) {
      const brokenAt = h.clock.now();
      const opened = h.sessions.length;
      h.breakStream();
      for (let ms = 0; ms < 60_000 && h.sessions.length === opened; ms++) h.clock.advance(1);
      gaps.push(h.current().openedAt - brokenAt);
    }
    // Nothing new was delivered: the last list keeps serving.
    expect(h.delivered).toHaveLength(1);
    expect(h.policy.state).toMatchObject({ kind: 'lb-list' });
    expect(h.sessions.map((s) => s.lbServer)).toEqual([
      'lb-a:1',
      'lb-b:1',
      'lb-c:1',
      'lb-a:1',
      'lb-b:1',
      'lb-c:1',
      'lb-a:1',
    ]);
    expect(gaps).toEqual([100, 160, 256, 410, 655, 1049]); // ×1.6 each, jitter 0
  });

  test('no session opens before its backoff delay is up', () => {
    const h = harness();
    h.policy.start();
    h.breakStream();
    h.clock.advance(INITIAL_BACKOFF_MS - 1);
    expect(h.sessions).toHaveLength(1);
    h.clock.advance(1);
    expect(h.sessions).toHaveLength(2);
  });

  test('an accepted list resets the backoff', () => {
    const h = harness();
    h.policy.start();
    h.breakStream();
    h.clock.advance(100);
    h.breakStream();
    h.clock.advance(160);
    h.send(['10.0.0.1:80']);
    h.breakStream();
    const before = h.sessions.length;
    h.clock.advance(INITIAL_BACKOFF_MS);
    expect(h.sessions).toHaveLength(before + 1);
  });

  test('an empty first list on a reconnected stream is held for the start-up timeout, then applies', () => {
    const h = harness();
    h.policy.start();
    h.send(['10.0.0.1:80']);
    h.breakStream();
    h.clock.advance(INITIAL_BACKOFF_MS);
    h.send([]);
    h.clock.advance(STARTUP_MS - 1);
    expect(h.delivered).toHaveLength(1);
    h.clock.advance(1);
    expect(h.addresses(1)).toEqual([]);
    expect(h.policy.state).toEqual({ kind: 'lb-list', endpoints: [] });
  });

  test('a held empty list gives way to a newer list, and is dropped with its stream', () => {
    const h = harness();
    h.policy.start();
    h.send(['10.0.0.1:80']);
    h.breakStream();
    h.clock.advance(INITIAL_BACKOFF_MS);
    h.send([]);
    h.send(['10.0.0.2:80']);
    expect(h.addresses(1)).toEqual(['10.0.0.2:80']);
    h.breakStream();
    h.clock.advance(INITIAL_BACKOFF_MS);
    h.send([]);
    h.breakStream(); // the held list dies with its stream
    h.clock.advance(STARTUP_MS * 2);
    expect(h.delivered).toHaveLength(2);
  });

  test('a list the channel refuses does not count: the start-up timeout still applies and start() offers it again', () => {
    let accept = false;
    const h = harness({ fallback: ['10.9.9.9:80'], accept: () => accept });
    h.policy.start();
    h.send(['10.0.0.1:80']);
    expect(h.delivered).toHaveLength(1);
    expect(h.policy.state).toEqual({ kind: 'awaiting-list' });
    h.clock.advance(STARTUP_MS);
    expect(h.addresses(1)).toEqual(['10.9.9.9:80']); // refused too: the policy keeps offering
    accept = true;
    h.policy.start(); // grpc-js re-resolves when its LB policy asks
    expect(h.delivered).toHaveLength(2); // never synchronously
    h.clock.advance(0);
    expect(h.addresses(2)).toEqual(['10.9.9.9:80']);
    expect(h.policy.state).toEqual({ kind: 'fallback' });
    h.policy.start(); // nothing refused any more: nothing to offer
    h.clock.advance(0);
    expect(h.delivered).toHaveLength(3);
  });

  test('a refused list does not reset the backoff', () => {
    let accept = true;
    const h = harness({ accept: () => accept });
    h.policy.start();
    h.breakStream();
    h.clock.advance(100);
    accept = false;
    h.send(['10.0.0.1:80']);
    h.breakStream();
    const before = h.sessions.length;
    h.clock.advance(159);
    expect(h.sessions).toHaveLength(before);
    h.clock.advance(1);
    expect(h.sessions).toHaveLength(before + 1);
  });

  test('stop() closes the session, cancels every timer and delivers nothing more; it is idempotent', () => {
    const h = harness({ fallback: ['10.9.9.9:80'] });
    h.policy.start();
    const first = h.current();
    h.policy.stop();
    h.policy.stop();
    expect(first.closed).toBe(true);
    expect(h.clock.pending).toBe(0);
    first.owner.onServerList(list([endpoint('10.0.0.1:80')], 1, true));
    h.clock.advance(STARTUP_MS * 2);
    expect(h.delivered).toEqual([]);

    h.policy.start();
    h.breakStream();
    h.policy.stop(); // while backing off
    expect(h.clock.pending).toBe(0);
  });

  test('events of a session that is no longer current are ignored', () => {
    const h = harness();
    h.policy.start();
    const old = h.current();
    old.owner.onEnded({ code: status.UNAVAILABLE, reason: 'x', receivedList: false });
    h.clock.advance(INITIAL_BACKOFF_MS);
    old.owner.onServerList(list([endpoint('10.0.0.1:80')], 1, true));
    old.owner.onEnded({ code: status.UNAVAILABLE, reason: 'again', receivedList: false });
    expect(h.delivered).toEqual([]);
    expect(h.sessions).toHaveLength(2);
    h.clock.advance(60_000);
    expect(h.sessions).toHaveLength(2); // the second end did not schedule another attempt
  });

  test('back from idle: the last non-empty list is replayed on the next turn, the fallback too', () => {
    const h = harness({ fallback: ['10.9.9.9:80'] });
    h.policy.start();
    h.send(['10.0.0.1:80']);
    h.policy.stop();
    h.policy.start();
    expect(h.delivered).toHaveLength(1);
    h.clock.advance(0);
    expect(h.addresses(1)).toEqual(['10.0.0.1:80']);
    expect(h.delivered[1].note).toBe('last known list');

    const f = harness({ fallback: ['10.9.9.9:80'] });
    f.policy.start();
    f.clock.advance(STARTUP_MS);
    f.policy.stop();
    f.policy.start();
    f.clock.advance(0);
    expect(f.addresses(1)).toEqual(['10.9.9.9:80']);
  });

  test('back from idle with an empty last list: waits for the new list or the start-up timeout', () => {
    const h = harness({ fallback: ['10.9.9.9:80'] });
    h.policy.start();
    h.send([]);
    h.policy.stop();
    h.policy.start();
    h.clock.advance(STARTUP_MS - 1);
    expect(h.delivered).toHaveLength(1);
    expect(h.policy.state).toEqual({ kind: 'awaiting-list' });
    h.clock.advance(1);
    expect(h.addresses(1)).toEqual(['10.9.9.9:80']);
  });

  test('a list arriving between start() and the replay wins over the replay', () => {
    const h = harness();
    h.policy.start();
    h.send(['10.0.0.1:80']);
    h.policy.stop();
    h.policy.start();
    h.send(['10.0.0.2:80']);
    h.clock.advance(0);
    expect(h.delivered.map((_, i) => h.addresses(i))).toEqual([['10.0.0.1:80'], ['10.0.0.2:80']]);
  });
});
