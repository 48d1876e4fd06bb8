import type { Etcd3 } from 'etcd3';
import { AdminClient } from '../../cli/admin-client';
import { installLookaside } from '../../client-sdk';
import { DEFAULT_PREFIX } from '../../common/registry-record';
import { newMarker, type CliProcess } from '../support/cli';
import { TestEtcd } from '../support/etcd';
import { waitFor } from '../support/wait-for';
import {
  describeSlow,
  startBackendProcess,
  startLbProcess,
  startLoad,
  stopAll,
  writeScenarioReport,
  type CountedLoad,
  type ServedProcess,
} from './fault-harness';

jest.setTimeout(180_000);
installLookaside();

const GREETER_PREFIX = `${DEFAULT_PREFIX}/greeter/`;

/** The greeter's records in etcd: key → lease id. */
async function etcdRecords(kv: Etcd3): Promise<Map<string, string>> {
  const res = await kv.getAll().prefix(GREETER_PREFIX).exec();
  return new Map(res.kvs.map((x) => [x.key.toString(), String(x.lease)]));
}

/** True when the LB serves exactly etcd's records for the greeter, none held. */
async function converged(admin: AdminClient, kv: Etcd3): Promise<boolean> {
  const [svc, records] = await Promise.all([admin.getService('greeter'), etcdRecords(kv)]);
  const served = svc.endpoints
    .filter((e) => !e.held)
    .map((e) => e.key)
    .sort();
  return svc.heldEndpoints === 0 && JSON.stringify(served) === JSON.stringify([...records.keys()].sort());
}

/** Fault scenarios 6-7: etcd stops, freezes or loses its leader under steady load. */
describeSlow('faults: etcd under load', () => {
  const marker = newMarker();
  let etcd: TestEtcd | undefined;
  let procs: CliProcess[];
  let load: CountedLoad | undefined;
  const admins: AdminClient[] = [];

  beforeEach(() => {
    procs = [];
  });

  afterEach(async () => {
    await load?.stop();
    load = undefined;
    for (const a of admins.splice(0)) a.close();
    await stopAll(procs, marker);
    await etcd?.close();
  });

  async function setup(
    size: number,
    lbArgs: readonly string[],
    ttl: number,
  ): Promise<{ lb: ServedProcess; admin: AdminClient; backends: ServedProcess[]; kv: Etcd3; e: TestEtcd }> {
    const e = (etcd = await TestEtcd.start({ size }));
    const lb = await startLbProcess(e.endpoints, marker, { args: lbArgs });
    procs.push(lb.proc);
    const backends: ServedProcess[] = [];
    for (let i = 0; i < 3; i++) {
      const b = await startBackendProcess(e.endpoints, marker, { ttl });
      procs.push(b.proc);
      backends.push(b);
    }
    const admin = new AdminClient({ target: lb.address, timeoutMs: 1000 });
    admins.push(admin);
    return { lb, admin, backends, kv: e.client(), e };
  }

  for (const mode of [
    {
      id: '6-etcd-freeze',
      grace: undefined,
      how: 'freeze',
      title: 'etcd frozen (SIGSTOP) 10 s > lease TTL 3 s',
    },
    {
      id: '6b-etcd-freeze-no-self-preservation',
      grace: 0,
      how: 'freeze',
      title: 'same, self-preservation off (baseline)',
    },
    {
      id: '6e-etcd-stopped',
      grace: undefined,
      how: 'stop',
      title: 'etcd killed, restarted 10 s later (TTL 3 s)',
    },
  ]) {
    it(`${mode.id}: ${mode.title}: ${mode.grace === 0 ? 'figures only' : 'zero failed calls'}; leases re-granted; the LB converges to etcd`, async () => {
      const ttl = 3;
      const args = mode.grace === undefined ? [] : ['--self-preservation-grace-ms', String(mode.grace)];
      const { lb, admin, backends, kv, e } = await setup(1, args, ttl);
      const before = await etcdRecords(kv);
      expect(before.size).toBe(3);
      const l = (load = await startLoad([lb.address], 4));
      await waitFor('calls on all three backends', () => backends.every((b) => l.servedBy(b.address) > 0));
      const member = e.cluster.members[0];
      if (mode.how === 'freeze') member.pause();
      else await member.kill('SIGKILL');
      const pausedAt = Date.now();
      await waitFor('the freeze to last 10 s', () => Date.now() - pausedAt >= 10_000, {
        timeoutMs: 12_000,
        intervalMs: 200,
      });
      if (mode.how === 'freeze') member.resume();
      else await member.restart();
      const resumedAt = Date.now();
      let maxHeld = 0;
      let minServed = Number.POSITIVE_INFINITY;
      // Leases re-granted: every backend's record is back, each on a new lease.
      await waitFor(
        'every record back on a new lease',
        async () => {
          const svc = await admin.getService('greeter').catch(() => undefined);
          if (svc) {
            maxHeld = Math.max(maxHeld, svc.heldEndpoints);
            minServed = Math.min(minServed, svc.endpoints.length);
          }
          const now = await etcdRecords(kv);
          return now.size === 3 && [...before].every(([k, lease]) => now.has(k) && now.get(k) !== lease);
        },
        { timeoutMs: 30_000, intervalMs: 50 },
      );
      const reRegisteredMs = Date.now() - resumedAt;
      await waitFor(
        'the LB to serve exactly what etcd holds',
        async () => {
          const svc = await admin.getService('greeter');
          maxHeld = Math.max(maxHeld, svc.heldEndpoints);
          minServed = Math.min(minServed, svc.endpoints.length);
          return converged(admin, kv);
        },
        { timeoutMs: 40_000, intervalMs: 50 },
      );
      const convergedMs = Date.now() - resumedAt;
      await l.moreSucceeded(200);
      const figures = await l.stop();
      load = undefined;
      if (mode.grace === undefined) expect(figures.callsFailed).toBe(0);
      writeScenarioReport({
        id: mode.id,
        title: mode.title,
        promise:
          mode.grace === 0
            ? 'baseline without the rule: registrations come back and the LB converges (failures reported, not asserted)'
            : 'zero failed calls; every lease re-granted; the LB converges to etcd',
        load: figures,
        figures: {
          outageMs: resumedAt - pausedAt,
          leaseTtlS: ttl,
          msFromResumeToAllReRegistered: reRegisteredMs,
          msFromResumeToLbConverged: convergedMs,
          maxEndpointsHeld: maxHeld,
          minEndpointsServedDuringRecovery: minServed === Number.POSITIVE_INFINITY ? -1 : minServed,
          failedCalls: figures.callsFailed,
        },
      });
    });
  }

  it('7. 3-member etcd, leader killed: zero failed calls; registrations and watches continue', async () => {
    const ttl = 3;
    const { lb, admin, backends, kv, e } = await setup(3, [], ttl);
    const l = (load = await startLoad([lb.address], 4));
    await waitFor('calls on all three backends', () => backends.every((b) => l.servedBy(b.address) > 0));
    const leader = await e.cluster.leader();
    const before = await etcdRecords(kv);
    await leader.kill('SIGKILL');
    const killedAt = Date.now();
    // Registrations continue: a new backend registers (through the survivors) and gets calls.
    const added = await startBackendProcess(e.endpoints, marker, { ttl });
    procs.push(added.proc);
    await waitFor('calls on the backend registered after the kill', () => l.servedBy(added.address) > 0, {
      timeoutMs: 30_000,
    });
    const newBackendMs = Date.now() - killedAt;
    // Leases are kept alive through the survivors: two TTLs later, the old records still stand.
    await waitFor('two lease TTLs after the kill', () => Date.now() - killedAt > 2 * ttl * 1000, {
      timeoutMs: 3 * ttl * 1000,
      intervalMs: 200,
    });
    const after = await etcdRecords(kv);
    expect([...before].every(([k, lease]) => after.get(k) === lease)).toBe(true);
    await waitFor('the LB to serve exactly what etcd holds', () => converged(admin, kv), {
      timeoutMs: 20_000,
    });
    const figures = await l.stop();
    load = undefined;
    expect(figures.callsFailed).toBe(0);
    writeScenarioReport({
      id: '7-etcd-leader-kill',
      title: '3-member etcd, leader killed',
      promise: 'zero failed calls; leases kept alive; new registrations and watch events keep flowing',
      load: figures,
      figures: {
        msFromKillToCallsOnNewBackend: newBackendMs,
        leaseTtlS: ttl,
        failedCalls: figures.callsFailed,
      },
    });
  });
});

/**
 * Fault scenario 6c: what etcd does when it comes back from a freeze longer than the lease TTL,
 * made deterministic: every lease of the service is revoked at once (as etcd's lessor expires
 * them), while the registrars are alive and re-register. With the rule on, nothing fails; the
 * baseline with the rule off shows the outage it prevents.
 */
describe('faults: every lease expires at once', () => {
  const marker = newMarker();
  let etcd: TestEtcd;
  let procs: CliProcess[];
  let load: CountedLoad | undefined;
  const admins: AdminClient[] = [];

  beforeEach(async () => {
    etcd = await TestEtcd.start();
    procs = [];
  });

  afterEach(async () => {
    await load?.stop();
    load = undefined;
    for (const a of admins.splice(0)) a.close();
    await stopAll(procs, marker);
    await etcd.close();
  });

  for (const mode of [
    {
      id: '6c-mass-lease-expiry',
      grace: undefined,
      title: 'all leases expire at once (self-preservation on)',
    },
    {
      id: '6d-mass-lease-expiry-no-self-preservation',
      grace: 0,
      title: 'same, self-preservation off (baseline)',
    },
  ]) {
    it(`${mode.id}: ${mode.title}: ${mode.grace === 0 ? 'figures only' : 'zero failed calls'}; registrations come back; the LB converges`, async () => {
      const args = mode.grace === undefined ? [] : ['--self-preservation-grace-ms', String(mode.grace)];
      const lb = await startLbProcess(etcd.endpoints, marker, { args });
      procs.push(lb.proc);
      const backends: ServedProcess[] = [];
      for (let i = 0; i < 3; i++) {
        const b = await startBackendProcess(etcd.endpoints, marker, { ttl: 3 });
        procs.push(b.proc);
        backends.push(b);
      }
      const admin = new AdminClient({ target: lb.address, timeoutMs: 1000 });
      admins.push(admin);
      const kv = etcd.client();
      const before = await etcdRecords(kv);
      const l = (load = await startLoad([lb.address], 4));
      await waitFor('calls on all three backends', () => backends.every((b) => l.servedBy(b.address) > 0));
      const expiredAt = Date.now();
      await Promise.all([...new Set(before.values())].map((id) => kv.leaseClient.leaseRevoke({ ID: id })));
      let maxHeld = 0;
      await waitFor(
        'every record back on a new lease',
        async () => {
          const svc = await admin.getService('greeter').catch(() => undefined);
          if (svc) maxHeld = Math.max(maxHeld, svc.heldEndpoints);
          const now = await etcdRecords(kv);
          return now.size === 3 && [...before].every(([k, lease]) => now.has(k) && now.get(k) !== lease);
        },
        { timeoutMs: 30_000, intervalMs: 25 },
      );
      const reRegisteredMs = Date.now() - expiredAt;
      await waitFor('the LB to serve exactly what etcd holds', () => converged(admin, kv), {
        timeoutMs: 20_000,
      });
      const convergedMs = Date.now() - expiredAt;
      await l.moreSucceeded(200);
      const figures = await l.stop();
      load = undefined;
      if (mode.grace === undefined) expect(figures.callsFailed).toBe(0);
      writeScenarioReport({
        id: mode.id,
        title: mode.title,
        promise:
          mode.grace === 0
            ? 'baseline without the rule: failures reported, not asserted'
            : 'zero failed calls; every registrar re-registers; the LB converges to etcd',
        load: figures,
        figures: {
          leaseTtlS: 3,
          msToAllReRegistered: reRegisteredMs,
          msToLbConverged: convergedMs,
          maxEndpointsHeld: maxHeld,
          failedCalls: figures.callsFailed,
        },
      });
    });
  }
});
