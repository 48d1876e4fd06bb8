import { emptyAssignment } from '../../../../lb-server/assignment/assignment';
import { ClientRegistry, MAX_STATS_BACKENDS_PER_CLIENT } from '../../../../lb-server/core/client-registry';
import { FakeClock } from '../../../support/fake-clock';

const identity = (service: string, clientId: string) => ({
  clientId,
  service,
  peer: 'ipv4:127.0.0.1:5000',
  zone: '',
  protocol: 'lookaside.v1' as const,
});

const stats = (
  address: string,
  started: number,
  ok: number,
  failed: number,
  latency = 0,
  failedByStatus: { code: number; count: number }[] = [],
) => ({
  address,
  callsStarted: started,
  callsSucceeded: ok,
  callsFailed: failed,
  latencyMsSum: latency,
  failedByStatus,
});

describe('ClientRegistry', () => {
  it('lists connected clients, by service, until they disconnect', () => {
    const clock = new FakeClock();
    const r = new ClientRegistry(clock);
    const a = r.connect(identity('greeter', 'a'));
    r.connect(identity('other', 'b'));
    expect(r.list().map((c) => c.clientId)).toEqual(['a', 'b']);
    expect(r.list('greeter').map((c) => c.clientId)).toEqual(['a']);
    expect(r.count('greeter')).toBe(1);
    expect(r.requestedServices()).toEqual(['greeter', 'other']);
    a.disconnect();
    a.disconnect();
    expect(r.count('greeter')).toBe(0);
    expect(r.size).toBe(1);
  });

  it('tells observers of each connection and each disconnection once, with the totals at the end', () => {
    const clock = new FakeClock();
    const r = new ClientRegistry(clock);
    const seen: string[] = [];
    r.observe({
      assigned: () => undefined,
      reported: () => undefined,
      connected: (c) => seen.push(`connected ${c.clientId} ${c.service}`),
      disconnected: (c) =>
        seen.push(`disconnected ${c.clientId} ${c.stats.map((s) => s.callsSucceeded).join()}`),
    });
    const a = r.connect(identity('greeter', 'a'));
    a.addStats([stats('10.0.0.1:80', 3, 3, 0)]);
    a.disconnect();
    a.disconnect();
    expect(seen).toEqual(['connected a greeter', 'disconnected a 3']);
  });

  it('records what list each client was last sent, and when', () => {
    const clock = new FakeClock();
    const r = new ClientRegistry(clock);
    const c = r.connect(identity('greeter', 'a'));
    expect(r.list()[0]).toMatchObject({ assignedVersion: 0, assignedAtMs: 0, assigned: undefined });
    clock.advance(10);
    const assignment = { ...emptyAssignment('greeter'), version: 7 };
    c.assigned(assignment);
    expect(r.list()[0]).toMatchObject({
      assignedVersion: 7,
      assignedAtMs: clock.now(),
      assigned: assignment,
    });
  });

  it('accumulates ClientStats deltas per backend', () => {
    const clock = new FakeClock();
    const r = new ClientRegistry(clock);
    const c = r.connect(identity('greeter', 'a'));
    c.addStats([stats('h:2', 3, 2, 1, 4.5, [{ code: 14, count: 1 }]), stats('h:1', 1, 1, 0)]);
    clock.advance(1000);
    c.addStats([stats('h:2', 3, 2, 1, 1.5, [{ code: 14, count: 1 }])]);
    const snap = r.list()[0];
    expect(snap.stats).toEqual([stats('h:1', 1, 1, 0), stats('h:2', 6, 4, 2, 6, [{ code: 14, count: 2 }])]);
    expect(snap.lastStatsAtMs).toBe(clock.now());
  });

  it('ignores negative or non-finite counters, status codes outside 1..16, and bounds the backends kept per client', () => {
    const r = new ClientRegistry(new FakeClock());
    const c = r.connect(identity('greeter', 'a'));
    c.addStats([
      stats('h:1', -5, Number.NaN, Infinity, -1, [
        { code: 99, count: 5 },
        { code: 0, count: 5 },
        { code: 13, count: -3 },
      ]),
      stats('', 1, 1, 1),
    ]);
    expect(r.list()[0].stats).toEqual([stats('h:1', 0, 0, 0, 0)]);
    c.addStats(
      Array.from({ length: MAX_STATS_BACKENDS_PER_CLIENT + 10 }, (_, i) => stats(`b:${i}`, 1, 1, 0)),
    );
    expect(r.list()[0].stats).toHaveLength(MAX_STATS_BACKENDS_PER_CLIENT);
  });
});
