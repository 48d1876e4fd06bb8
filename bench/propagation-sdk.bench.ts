import * as path from 'node:path';
import { Etcd3 } from 'etcd3';
import { startEtcd } from '../etcd/etcd-process';
import { DEFAULT_PREFIX, encodeRecordValue, recordKey } from '../common/registry-record';
import { BalanceLoadSubscribers } from './balance-load-subscribers';
import { BenchChild } from './bench-child';
import { loadAverage1m, ratio, writeBenchResult, type Figure } from './bench-result';
import { summarize, type LatencySummary } from './sample-stats';
import { SdkClientFleet } from './sdk-client-fleet';
import { WatchProbe } from './watch-probe';

/**
 * Propagation to the client picker (issue 9, part 3): etcd put of a new backend → the first call
 * of each SDK client answered by it, with 1, 100 and 1,000 real grpc-js `lookaside://` channels
 * (in child processes). Before each put the service holds no backend (the previous one was
 * drained and deleted, and every channel fails a plain call at once), and every channel has a
 * waitForReady call queued (reissued if another backend answers it), so the measure is: the LB
 * server's push, the SDK's decode and policy update, the connection to the new backend, the new
 * picker and one call. Baselines in the same puts: a plain etcd watch (put → event) and one raw
 * BalanceLoad stream (put → list). Then lease expiry: a record on a lease whose keepalive never
 * runs, timed from the computed end of its TTL to the list without it, against the etcd watch's
 * delete event of the same expiry.
 */

const SERVICE = 'prop-sdk';
const LEASE_SERVICE = 'prop-lease';
/** Backends no client knows yet, one per measured put. */
const POOL = 40;
/**
 * `probes` clients run one per process (a client's own view); the other `clients − probes` share
 * `processes` processes (the whole fleet's view, their serial work on 2 cores included).
 */
const PHASES = [
  { clients: 1, probes: 1, processes: 0, warmups: 3, puts: 25 },
  { clients: 100, probes: 4, processes: 1, warmups: 2, puts: 15 },
  { clients: 1000, probes: 4, processes: 2, warmups: 1, puts: 15 },
] as const;
const ANSWER_TIMEOUT_MS = 20_000;
const SETTLE_TIMEOUT_MS = 20_000;
const P99_TARGET_MS = 20;
/** Records that stay in the lease service, so one expiry is never a mass removal (self-preservation). */
const LEASE_STANDING = 50;
const LEASE_TTL_S = 2;
const LEASE_WARMUPS = 1;
const LEASES = 8;
const EXPIRY_TIMEOUT_MS = 5000;

const clock = (): number => performance.timeOrigin + performance.now();

interface PhaseSamples {
  readonly clients: number;
  /** put → each probe client's first call answered by the new backend (ms), every measured put. */
  readonly probe: number[];
  /** put → each client's (probes and shared) first call answered by the new backend (ms). */
  readonly picker: number[];
  readonly first: number[];
  readonly last: number[];
  /** put → the raw stream's list (ms). */
  readonly stream: number[];
  /** put → the etcd watch event (ms). */
  readonly watch: number[];
  missing: number;
  reissued: number;
}

async function main(): Promise<void> {
  const startedAt = new Date();
  const loadAtStart = loadAverage1m();
  const etcd = await startEtcd();
  const kv = new Etcd3({ hosts: etcd.endpoints });
  const watchClient = new Etcd3({ hosts: etcd.endpoints });
  const children: BenchChild[] = [];
  const fleets: SdkClientFleet[] = [];
  let raw: BalanceLoadSubscribers | undefined;
  let watch: WatchProbe | undefined;
  try {
    const pool = await BenchChild.start(path.join(__dirname, 'greeter-pool-process.js'), { count: POOL });
    children.push(pool);
    const addresses = pool.address.split(',');
    // Self-preservation off: coalesced into one push, "draining" and the delete that follows it
    // can look like an unexpected removal of the service's only backend, which the rule would hold.
    const lb = await BenchChild.start(path.join(__dirname, 'lb-server-process.js'), {
      etcd: etcd.endpoints,
      selfPreservationGraceMs: 0,
    });
    children.push(lb);
    const servicePrefix = `${DEFAULT_PREFIX}/${SERVICE}/`;
    watch = await WatchProbe.openPrefix(watchClient, servicePrefix);
    raw = BalanceLoadSubscribers.open(lb.address, SERVICE, 1, 1);
    if (!(await raw.untilAllHaveAList(10_000))) throw new Error('the raw stream got no list');

    let next = 0;
    let live: string | undefined;
    const phases: PhaseSamples[] = [];
    for (const phase of PHASES) {
      const probes = await SdkClientFleet.start(lb.address, SERVICE, phase.probes, phase.probes);
      fleets.push(probes);
      if (phase.clients > phase.probes) {
        fleets.push(
          await SdkClientFleet.start(lb.address, SERVICE, phase.clients - phase.probes, phase.processes),
        );
      }
      const samples: PhaseSamples = {
        clients: phase.clients,
        probe: [],
        picker: [],
        first: [],
        last: [],
        stream: [],
        watch: [],
        missing: 0,
        reissued: 0,
      };
      for (let i = 0; i < phase.warmups + phase.puts; i++) {
        if (live !== undefined) {
          // Retire the previous backend the way the registrar does: draining first, then delete
          // (a graceful removal, applied at once).
          const old = (await kv.get(live).string()) ?? '';
          const address = (JSON.parse(old) as { address: string }).address;
          await kv.put(live).value(encodeRecordValue({ address, draining: true }));
          await kv.delete().key(live);
          live = undefined;
        }
        const settled = (await Promise.all(fleets.map((f) => f.settle(SETTLE_TIMEOUT_MS)))).reduce(
          (a, b) => a + b,
          0,
        );
        if (settled < phase.clients) {
          throw new Error(`${phase.clients - settled} of ${phase.clients} clients still hold a backend`);
        }
        const address = addresses[next++ % addresses.length];
        const key = recordKey(DEFAULT_PREFIX, SERVICE, `b${next}`);
        raw.expect(address);
        watch.expect(address);
        const answers = await Promise.all(fleets.map((f) => f.arm(address, ANSWER_TIMEOUT_MS)));
        const t0 = clock();
        const t0Local = performance.now();
        await kv.put(key).value(encodeRecordValue({ address }));
        live = key;
        const results = await Promise.all(answers.map((a) => a()));
        await raw.untilAllReceived(EXPIRY_TIMEOUT_MS);
        const streamAt = raw.receiveTimes()[0];
        const watchAt = await watch.received(EXPIRY_TIMEOUT_MS);
        if (i < phase.warmups) continue;
        samples.reissued += results.reduce((sum, r) => sum + r.reissued, 0);
        for (const at of results[0].at) if (!Number.isNaN(at)) samples.probe.push(at - t0);
        let first = Infinity;
        let last = -Infinity;
        for (const at of results.flatMap((r) => r.at)) {
          if (Number.isNaN(at)) {
            samples.missing++;
            continue;
          }
          samples.picker.push(at - t0);
          first = Math.min(first, at - t0);
          last = Math.max(last, at - t0);
        }
        if (Number.isFinite(first)) samples.first.push(first);
        if (Number.isFinite(last)) samples.last.push(last);
        if (!Number.isNaN(streamAt)) samples.stream.push(streamAt - t0Local);
        if (!Number.isNaN(watchAt)) samples.watch.push(watchAt - t0Local);
      }
      await Promise.all(fleets.map((f) => f.close()));
      fleets.length = 0;
      phases.push(samples);
      const s = summarize(samples.picker);
      const pr = summarize(samples.probe);
      console.log(
        `propagation-sdk: ${phase.clients} clients: put → picker: own-process client p50 ${pr.p50.toFixed(1)} ms, ` +
          `p99 ${pr.p99.toFixed(1)} ms; every client p50 ${s.p50.toFixed(1)} ms, p99 ${s.p99.toFixed(1)} ms`,
      );
    }
    raw.close();
    raw = undefined;
    await watch.close();
    watch = undefined;

    // Lease expiry, timed from the TTL's end.
    for (let i = 0; i < LEASE_STANDING; i++) {
      await kv
        .put(recordKey(DEFAULT_PREFIX, LEASE_SERVICE, `standing-${i}`))
        .value(encodeRecordValue({ address: `127.0.0.1:${9000 + i}` }));
    }
    watch = await WatchProbe.openPrefix(watchClient, `${DEFAULT_PREFIX}/${LEASE_SERVICE}/`);
    raw = BalanceLoadSubscribers.open(lb.address, LEASE_SERVICE, 1, 1);
    if (!(await raw.untilAllHaveAList(10_000))) throw new Error('the lease stream got no list');
    const expiryStream: number[] = [];
    const expiryWatch: number[] = [];
    /** [stream, watch] of the same expiry, both from the TTL's end. */
    const expiryPairs: Array<[number, number]> = [];
    let expiryMissing = 0;
    for (let i = 0; i < LEASE_WARMUPS + LEASES; i++) {
      const address = `127.0.0.1:${30000 + i}`;
      const key = recordKey(DEFAULT_PREFIX, LEASE_SERVICE, `leased-${i}`);
      const lease = kv.lease(LEASE_TTL_S, { autoKeepAlive: false });
      await lease.grant();
      // etcd starts the TTL when it grants; the answer arrives a little later, so this end is at
      // most one round trip late, and the measured delay at most that much short.
      const expiresAt = performance.now() + LEASE_TTL_S * 1000;
      raw.expect(address);
      await lease.put(key).value(encodeRecordValue({ address }));
      if (!(await raw.untilAllReceived(EXPIRY_TIMEOUT_MS))) throw new Error(`leased ${address} never listed`);
      raw.expectAbsent(address);
      watch.expectDelete(key);
      const gone = await raw.untilAllReceived(LEASE_TTL_S * 1000 + EXPIRY_TIMEOUT_MS);
      const streamAt = raw.receiveTimes()[0];
      const watchAt = await watch.received(EXPIRY_TIMEOUT_MS);
      lease.release();
      if (i < LEASE_WARMUPS) continue;
      if (!gone || Number.isNaN(streamAt)) expiryMissing++;
      else expiryStream.push(streamAt - expiresAt);
      if (!Number.isNaN(watchAt)) expiryWatch.push(watchAt - expiresAt);
      if (gone && !Number.isNaN(streamAt) && !Number.isNaN(watchAt)) {
        expiryPairs.push([streamAt - expiresAt, watchAt - expiresAt]);
      }
    }

    const figures: Figure[] = [];
    const lat = (
      label: string,
      ours: LatencySummary,
      base: LatencySummary,
      p: 'p50' | 'p99',
      target?: boolean,
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
      const picker = summarize(s.picker);
      const w = summarize(s.watch);
      const st = summarize(s.stream);
      const probe = summarize(s.probe);
      if (s.clients === 1) {
        figures.push(
          lat('put → picker, 1 client', probe, w, 'p50'),
          lat('put → picker, 1 client', probe, w, 'p99'),
        );
      } else {
        figures.push(
          lat(`put → picker, a client in its own process, ${n} subscribed`, probe, w, 'p50'),
          lat(
            `put → picker, a client in its own process, ${n} subscribed`,
            probe,
            w,
            'p99',
            s.clients === 1000,
          ),
          lat(`put → picker, every one of ${n} clients (shared processes)`, picker, w, 'p50'),
          lat(`put → picker, every one of ${n} clients (shared processes)`, picker, w, 'p99'),
        );
      }
      if (s.clients > 1) {
        figures.push(
          lat(`put → picker, first of ${n} clients`, summarize(s.first), w, 'p50'),
          lat(`put → picker, last of ${n} clients`, summarize(s.last), w, 'p50'),
        );
      }
      figures.push(
        lat(
          `put → raw stream (1 stream, same puts, ${n} client${s.clients > 1 ? 's' : ''} subscribed)`,
          st,
          w,
          'p50',
        ),
      );
      notes.push(
        `${n} client(s): ${s.probe.length} own-process answers and ${s.picker.length} in all over ${s.last.length} puts; ` +
          `missing ${s.missing}; ` +
          `calls reissued (answered by an old backend or failed) ${s.reissued}.`,
      );
    }
    const es = summarize(expiryStream);
    const ew = summarize(expiryWatch);
    const lbPart = summarize(expiryPairs.map(([st, wa]) => st - wa));
    figures.push(
      {
        label: 'lease expiry: the LB’s own part (watch delete event → stream without it), p50',
        unit: 'ms',
        value: lbPart.p50,
      },
      lat('lease expiry: TTL end → stream without it', es, ew, 'p50'),
      lat('lease expiry: TTL end → stream without it', es, ew, 'p99'),
    );
    const file = writeBenchResult({
      name: 'propagation-sdk',
      title: 'Propagation to the SDK picker: etcd put → calls land on the new backend; lease expiry',
      subject:
        'real lookaside:// grpc-js channels (own subchannel pool each, in 1–2 child processes): put → first call answered by the new backend',
      baseline:
        'a plain etcd watch on the same prefix, same puts (put → watch event); for lease expiry, its delete event',
      startedAt: startedAt.toISOString(),
      durationMs: Date.now() - startedAt.getTime(),
      loadAverage: { start: loadAtStart, end: loadAverage1m() },
      settings: {
        clients: PHASES.map((p) => p.clients).join(','),
        processes: PHASES.map((p) => p.processes).join(','),
        puts: PHASES.map((p) => p.puts).join(','),
        warmups: PHASES.map((p) => p.warmups).join(','),
        leaseTtlS: LEASE_TTL_S,
        leases: LEASES,
        leaseStanding: LEASE_STANDING,
      },
      figures,
      notes: [
        'put → picker includes the TCP + HTTP/2 connect of every client to the new backend (a picker only ' +
          'routes to READY subchannels) and one unary call; nothing in client-sdk/ is hooked.',
        'Before each put every channel holds no backend (checked: a plain call fails at once with UNAVAILABLE) ' +
          'and has a waitForReady call queued, so no load runs while waiting.',
        'Two views of the same puts: "a client in its own process" = 4 probe clients, one per process (with 1 ' +
          'client: that one); "every one" = the probes plus the other clients, which share 1 process (100) or ' +
          '2 processes (1,000). All share the same 2 cores: the shared processes’ serial work (decode, policy ' +
          'update, one connect and one call per client) is part of the spread and competes with the probes for CPU, ' +
          'where real clients would each run on their own. With 4 probes × 15 puts (1,000) the p99 is the worst of 60.',
        'Times across processes use performance.timeOrigin + performance.now() (one machine clock).',
        'LB server with self-preservation off (selfPreservationGraceMs 0): the rule would hold the retired ' +
          'backend when its draining put and its delete are coalesced into one push; otherwise defaults.',
        `Lease expiry: TTL ${LEASE_TTL_S} s, keepalive never sent, ${LEASE_STANDING} standing records in the service ` +
          '(with the default rule one expiry would not be a mass removal either). etcd itself revokes expired leases ' +
          `in a loop (every 500 ms), which dominates both columns. Missing: ${expiryMissing}.`,
        ...notes,
      ],
      runs: { phases, expiryStream, expiryWatch },
    });
    console.log(`propagation-sdk: wrote ${file}`);
  } finally {
    await Promise.all(fleets.map((f) => f.close()));
    raw?.close();
    await watch?.close();
    await Promise.all(children.map((c) => c.close()));
    kv.close();
    watchClient.close();
    await etcd.close();
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error('propagation-sdk: failed:', err);
    process.exit(1);
  },
);
