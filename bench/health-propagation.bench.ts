import * as path from 'node:path';
import { Etcd3 } from 'etcd3';
import { freePort, startEtcd } from '../etcd/etcd-process';
import { DEFAULT_PREFIX, encodeRecordValue, recordKey } from '../common/registry-record';
import { BenchChild } from './bench-child';
import { loadAverage1m, ratio, writeBenchResult, type Figure } from './bench-result';
import { ServingSetReplySchema, type SetServingRequest } from './health-greeter-process';
import { summarize, type LatencySummary } from './sample-stats';
import { SdkClientFleet } from './sdk-client-fleet';

/**
 * Health change → every client's picker without the endpoint, at 100 and 1,000 real SDK clients
 * (grpc-js `lookaside://` channels in child processes). The backend goes bad in two ways, each
 * timed from that moment until each client's picker no longer picks it:
 * - health (the arm): the greeter reports NOT_SERVING on grpc.health.v1 (setServing(false) in its
 *   process); the LB server's health checker sees it on its Watch stream and republishes the
 *   service with the endpoint at weight 0 (reason `unhealthy`);
 * - lease expiry (the baseline, what etcd alone gives): the backend's registrar stops sending
 *   keepalives (as when it is frozen or killed), so etcd expires its lease and deletes its record.
 * The service holds the backend and one registered address nobody listens on, so the backend is
 * each client's only READY one: its picker's change shows as the channel leaving READY.
 */

const SERVICE = 'health-prop';
const PHASES = [
  { clients: 100, processes: 1, healthRounds: 12, leaseRounds: 5 },
  { clients: 1000, processes: 2, healthRounds: 10, leaseRounds: 4 },
] as const;
const HEALTH_WARMUPS = 1;
const LEASE_TTL_S = 2;
/** The registrar's default TTL, for the notes. */
const DEFAULT_TTL_S = 10;
const READY_TIMEOUT_MS = 20_000;
const LEAVE_TIMEOUT_MS = 10_000;
/** Lets the last push of a round reach every client before the next round is armed. */
const GAP_MS = 100;
const P99_TARGET_MS = 100;

const clock = (): number => performance.timeOrigin + performance.now();
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

interface PhaseSamples {
  readonly clients: number;
  /** NOT_SERVING switch → each client's channel leaving READY (ms), every measured round. */
  readonly health: number[];
  /** keepalives stopped → each client's channel leaving READY (ms). */
  readonly leaseFromStop: number[];
  /** last keepalive answer + TTL → each client's channel leaving READY (ms). */
  readonly leaseFromTtlEnd: number[];
  /** Per health round: the last client (ms). */
  readonly healthLast: number[];
  missing: number;
}

async function main(): Promise<void> {
  const startedAt = new Date();
  const loadAtStart = loadAverage1m();
  const etcd = await startEtcd();
  const kv = new Etcd3({ hosts: etcd.endpoints });
  const children: BenchChild[] = [];
  let fleet: SdkClientFleet | undefined;
  try {
    const greeter = await BenchChild.start(path.join(__dirname, 'health-greeter-process.js'), {});
    children.push(greeter);
    // Self-preservation off: the baseline expires the same record every few seconds, and two
    // expiries within the rule's window would be a "mass removal" of a 2-endpoint service.
    const lb = await BenchChild.start(path.join(__dirname, 'lb-server-process.js'), {
      etcd: etcd.endpoints,
      selfPreservationGraceMs: 0,
    });
    children.push(lb);
    const setServing = async (serving: boolean): Promise<number> => {
      const request: SetServingRequest = { type: 'set-serving', serving };
      return (await greeter.request(request, ServingSetReplySchema)).at;
    };
    const deadAddress = `127.0.0.1:${await freePort()}`;
    await kv
      .put(recordKey(DEFAULT_PREFIX, SERVICE, 'unreachable'))
      .value(encodeRecordValue({ address: deadAddress }));
    const key = recordKey(DEFAULT_PREFIX, SERVICE, 'backend');
    const record = encodeRecordValue({ address: greeter.address });

    const phases: PhaseSamples[] = [];
    for (const phase of PHASES) {
      await kv.put(key).value(record);
      fleet = await SdkClientFleet.start(lb.address, SERVICE, phase.clients, phase.processes);
      const samples: PhaseSamples = {
        clients: phase.clients,
        health: [],
        leaseFromStop: [],
        leaseFromTtlEnd: [],
        healthLast: [],
        missing: 0,
      };
      const ready = async (): Promise<void> => {
        const n = await (fleet as SdkClientFleet).untilReady(READY_TIMEOUT_MS);
        if (n < phase.clients) throw new Error(`${phase.clients - n} of ${phase.clients} clients not READY`);
        await sleep(GAP_MS);
      };
      const collect = (at: readonly number[], from: number, into: number[]): number => {
        let last = -Infinity;
        for (const t of at) {
          if (Number.isNaN(t)) samples.missing++;
          else {
            into.push(t - from);
            last = Math.max(last, t - from);
          }
        }
        return last;
      };

      // The arm: NOT_SERVING, then SERVING again and every client READY before the next round.
      for (let i = 0; i < HEALTH_WARMUPS + phase.healthRounds; i++) {
        await ready();
        const watch = await fleet.watchLeave(LEAVE_TIMEOUT_MS);
        const switchedAt = await setServing(false);
        const at = await watch.left();
        await setServing(true);
        if (i < HEALTH_WARMUPS) continue;
        samples.missing += phase.clients - watch.watching;
        const last = collect(at, switchedAt, samples.health);
        if (Number.isFinite(last)) samples.healthLast.push(last);
      }

      // The baseline: the record on a lease kept alive as a registrar does (every TTL/3), until
      // the keepalives stop; the backend itself keeps serving.
      for (let i = 0; i < phase.leaseRounds; i++) {
        const lease = kv.lease(LEASE_TTL_S);
        let lastKeepalive = clock();
        lease.on('keepaliveSucceeded', () => {
          lastKeepalive = clock();
        });
        await lease.put(key).value(record);
        await ready();
        // Stop at points spread evenly over the keepalive cycle (TTL/3), as a registrar frozen at
        // a random moment would.
        const cycleMs = (LEASE_TTL_S * 1000) / 3;
        const phaseMs = ((i + 0.5) / phase.leaseRounds) * cycleMs;
        await sleep((((phaseMs - (clock() - lastKeepalive)) % cycleMs) + cycleMs) % cycleMs);
        const watch = await fleet.watchLeave(LEASE_TTL_S * 1000 + LEAVE_TIMEOUT_MS);
        const stoppedAt = clock();
        lease.release();
        const ttlEnd = lastKeepalive + LEASE_TTL_S * 1000;
        const at = await watch.left();
        samples.missing += phase.clients - watch.watching;
        collect(at, stoppedAt, samples.leaseFromStop);
        collect(at, ttlEnd, samples.leaseFromTtlEnd);
      }

      await fleet.close();
      fleet = undefined;
      phases.push(samples);
      const h = summarize(samples.health);
      const l = summarize(samples.leaseFromStop);
      console.log(
        `health-propagation: ${phase.clients} clients: NOT_SERVING → picker p50 ${h.p50.toFixed(1)} ms, ` +
          `p99 ${h.p99.toFixed(1)} ms; keepalives stop → picker p50 ${l.p50.toFixed(0)} ms, p99 ${l.p99.toFixed(0)} ms`,
      );
    }

    const figures: Figure[] = [];
    const lat = (
      label: string,
      ours: LatencySummary,
      base: LatencySummary,
      p: 'p50' | 'p99',
      target = false,
    ): Figure => ({
      label: `${label}, ${p}`,
      unit: 'ms',
      value: ours[p],
      baseline: base[p],
      ratio: ratio(ours[p], base[p]),
      ...(target ? { target: { text: `< ${P99_TARGET_MS} ms`, met: ours[p] < P99_TARGET_MS } } : {}),
    });
    const notes: string[] = [];
    for (const s of phases) {
      const n = s.clients.toLocaleString('en-US');
      const h = summarize(s.health);
      const stop = summarize(s.leaseFromStop);
      const ttlEnd = summarize(s.leaseFromTtlEnd);
      const label = `backend goes bad → no client picks it, ${n} clients`;
      figures.push(
        lat(label, h, stop, 'p50'),
        lat(label, h, stop, 'p99', s.clients === 100),
        lat(`health vs lease expiry from the TTL's end (the TTL left out), ${n} clients`, h, ttlEnd, 'p50'),
        {
          label: `NOT_SERVING → last of ${n} clients, p50 over rounds`,
          unit: 'ms',
          value: summarize(s.healthLast).p50,
        },
      );
      notes.push(
        `${n} clients: ${s.health.length} health samples over ${s.healthLast.length} rounds, ` +
          `${s.leaseFromStop.length} lease samples; missing (not READY when armed, or no change in time) ${s.missing}.`,
      );
    }
    const file = writeBenchResult({
      name: 'health-propagation',
      title: 'Health change → every client’s picker without the endpoint (health checks vs lease expiry)',
      subject:
        'the backend reports NOT_SERVING (grpc.health.v1, setServing(false) in its process) → each real lookaside:// ' +
        'grpc-js channel’s picker no longer picks it (LB health checker → republish at weight 0, reason unhealthy)',
      baseline:
        `what etcd alone gives: the backend’s registrar stops its keepalives (TTL ${LEASE_TTL_S} s, renewed every TTL/3) ` +
        '→ etcd expires the lease and deletes the record → each channel’s picker no longer picks it',
      startedAt: startedAt.toISOString(),
      durationMs: Date.now() - startedAt.getTime(),
      loadAverage: { start: loadAtStart, end: loadAverage1m() },
      settings: {
        clients: PHASES.map((p) => p.clients).join(','),
        processes: PHASES.map((p) => p.processes).join(','),
        healthRounds: PHASES.map((p) => p.healthRounds).join(','),
        healthWarmups: HEALTH_WARMUPS,
        leaseRounds: PHASES.map((p) => p.leaseRounds).join(','),
        leaseTtlS: LEASE_TTL_S,
      },
      figures,
      notes: [
        'Both columns are "time from the backend going bad until a client’s picker no longer picks it", for every ' +
          'client of every round: from the NOT_SERVING switch (health) or from the last moment the registrar could ' +
          'renew its lease (lease expiry; its keepalives stop at points spread evenly over their TTL/3 cycle, as a frozen ' +
          'or killed registrar’s would at a random moment). The baseline therefore holds ⅔–1 TTL plus etcd’s expiry loop (it revokes expired ' +
          `leases every 500 ms). It uses TTL ${LEASE_TTL_S} s, a fifth of the registrar’s default ${DEFAULT_TTL_S} s: ` +
          `with the default the baseline is about ${(((DEFAULT_TTL_S - LEASE_TTL_S) * 5) / 6).toFixed(1)} s longer on average, so the ratios here ` +
          'favour the baseline. The "TTL left out" row compares with the lease timed from its end (last keepalive ' +
          'answer + TTL), i.e. what etcd, the LB server and the SDK add after the TTL.',
        'A picker change is observed as the channel leaving READY (watchConnectivityState; grpc-js installs the new ' +
          'picker and state in one call; nothing in client-sdk/ is hooked): the service holds the backend and one ' +
          'registered address nobody listens on (the LB’s checker finds it unreachable, which is no verdict), so the ' +
          'backend is every client’s only READY endpoint. The second endpoint also keeps the panic threshold (0.5) from ' +
          'overriding the verdict on a 1-endpoint service.',
        `Rounds: ${HEALTH_WARMUPS} warm-up, then NOT_SERVING, SERVING again and every client READY (plus ${GAP_MS} ms) ` +
          'before the next; the lease rounds follow, each re-registering the record on a new lease. The clients share ' +
          '1 (100) or 2 (1,000) processes on the same 2 cores as the LB server, the greeter and etcd, so their serial ' +
          'work is part of the spread; p99 is over all clients of all rounds.',
        'LB server with self-preservation off (selfPreservationGraceMs 0; the baseline expires the same record every ' +
          'few seconds), otherwise defaults (health checks on). Times across processes use performance.timeOrigin + ' +
          'performance.now() (one machine clock).',
        ...notes,
      ],
      runs: { phases },
    });
    console.log(`health-propagation: wrote ${file}`);
  } finally {
    await fleet?.close();
    await Promise.all(children.map((c) => c.close()));
    kv.close();
    await etcd.close();
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error('health-propagation: failed:', err);
    process.exit(1);
  },
);
