import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { installLookaside } from '../client-sdk';
import { startEtcd } from '../etcd/etcd-process';
import type { GreeterClient } from '../proto/gen/helloworld/Greeter';
import { loadProtos } from '../proto/protos';
import { BenchChild } from './bench-child';
import { loadAverage1m, ratio, writeBenchResult, type Figure } from './bench-result';
import { CapacityStatsSchema, ServiceTimeReplySchema, type CapacityStats } from './capacity-greeter-messages';
import { percentile, sortedCopy } from './sample-stats';

/**
 * Load-aware benchmark (issue 14): four backends with honest capacities (capacity-greeter-process:
 * SLOTS calls at once, a fixed service time, FIFO queue; one backend 4× slower), open-loop load
 * (a fixed arrival rate, calls started on a schedule whatever the completions) at 70 % and 90 %
 * of the total capacity, through four arms one after another on the same backends:
 *   a. grpc-js round_robin over a static ipv4: list (the baseline),
 *   b. lookaside:// with an LB server whose load-aware weights are off (registered weights, all
 *      equal),
 *   c. grpc-js's own weighted_round_robin (gRFC A58) over the static list, ORCA out of band,
 *   d. lookaside:// with an LB server with load-aware weights on (client stats every second).
 * Then, per arm, a convergence phase: a fast backend's service time goes 10 → 40 ms mid-run;
 * how long until its share of calls is within 10 % of its new capacity share.
 */

// ---- Capacity model -------------------------------------------------------------------------
const BACKENDS = 4;
const SLOTS = 8;
const FAST_SERVICE_MS = 10;
const SLOW_FACTOR = 4;
/** Backend SLOW_INDEX is the slow one, CHANGED_INDEX the fast one slowed in the convergence phase. */
const SLOW_INDEX = 3;
const CHANGED_INDEX = 0;
const MAX_QUEUE = 10_000;
const SERVICE = 'load-bench';

// ---- Load and phases ------------------------------------------------------------------------
const LOAD_LEVELS = [0.7, 0.9] as const;
const CONVERGENCE_LOAD = 0.7;
const TICK_MS = 5;
const CALL_DEADLINE_MS = 2000;
const PHASE_MS = 10_000;
const CONVERGENCE_BEFORE_MS = 3000;
const CONVERGENCE_AFTER_MS = 10_000;
const SHARE_WINDOW_MS = 500;
const SHARE_STEP_MS = 100;
/** Converged: the share is within this relative distance of the capacity share … */
const CONVERGED_TOLERANCE = 0.1;
/** … in a SHARE_WINDOW_MS window and over the STAY_MS that follow it. */
const STAY_MS = 2000;
/** How long after its last start a phase waits for its calls (all have deadlines). */
const DRAIN_BOUND_MS = CALL_DEADLINE_MS + 3000;
/** Between arms: until every backend is idle, at most this long. */
const SETTLE_BOUND_MS = 10_000;

// ---- Targets --------------------------------------------------------------------------------
const P99_VS_RR_TARGET = 0.5;
const CONVERGENCE_TARGET_MS = 5000;

type ArmName = 'a' | 'b' | 'c' | 'd' | 'e' | 'f';
interface ArmSpec {
  readonly name: ArmName;
  readonly title: string;
  /** Load at CONVERGENCE_LOAD before measuring (grpc-js WRR's blackout is 10 s). */
  readonly warmupMs: number;
}
const ARMS: readonly ArmSpec[] = [
  { name: 'a', title: 'grpc-js round_robin, static list', warmupMs: 3000 },
  { name: 'b', title: 'lookaside, static weights', warmupMs: 3000 },
  { name: 'c', title: 'grpc-js weighted_round_robin, ORCA OOB', warmupMs: 13_000 },
  { name: 'd', title: 'lookaside, load-aware', warmupMs: 8000 },
  { name: 'e', title: 'lookaside, load-aware from client latency only (no ORCA)', warmupMs: 8000 },
  { name: 'f', title: 'lookaside, load-aware from client mean latency only (no ORCA)', warmupMs: 8000 },
];

const serviceTimeOf = (i: number): number =>
  i === SLOW_INDEX ? FAST_SERVICE_MS * SLOW_FACTOR : FAST_SERVICE_MS;
const capacityOf = (serviceMs: number): number => (SLOTS * 1000) / serviceMs;
const TOTAL_CAPACITY = Array.from({ length: BACKENDS }, (_, i) => capacityOf(serviceTimeOf(i))).reduce(
  (a, b) => a + b,
  0,
);
const SLOW_CAPACITY_SHARE = capacityOf(serviceTimeOf(SLOW_INDEX)) / TOTAL_CAPACITY;
/** The slowed backend's capacity share once its service time is SLOW_FACTOR× longer. */
const CHANGED_CAPACITY_SHARE =
  capacityOf(FAST_SERVICE_MS * SLOW_FACTOR) /
  (TOTAL_CAPACITY - capacityOf(FAST_SERVICE_MS) + capacityOf(FAST_SERVICE_MS * SLOW_FACTOR));

/** Everything recorded of one open-loop phase; times relative to the phase start, in ms. */
interface PhaseRecord {
  readonly offeredRate: number;
  readonly durationMs: number;
  /** Calls started; the arrays below have this many entries. */
  readonly started: number;
  readonly scheduledAt: Float64Array;
  /** From the scheduled start to the end of the call, whatever its status. */
  readonly latencyMs: Float64Array;
  /** Backend index, −1 when unknown. */
  readonly backend: Int8Array;
  readonly code: Uint8Array;
  /** Calls that had not ended DRAIN_BOUND_MS after the last start (should be 0). */
  readonly unfinished: number;
  /** Largest delay of a call's actual start behind its schedule. */
  readonly maxStartLagMs: number;
}

/**
 * Open-loop load: every TICK_MS, starts the calls whose scheduled time (one every 1000 / rate ms)
 * has come, without waiting for any to complete. `at` runs `action` once, `at.ms` into the phase.
 * Resolves once every call has ended (or DRAIN_BOUND_MS after the last start).
 */
function runOpenLoop(
  client: GreeterClient,
  rate: number,
  durationMs: number,
  backendIndex: ReadonlyMap<string, number>,
  at?: { readonly ms: number; readonly action: () => void },
): Promise<PhaseRecord> {
  const total = Math.floor((rate * durationMs) / 1000);
  const scheduledAt = new Float64Array(total);
  const latencyMs = new Float64Array(total);
  const backend = new Int8Array(total).fill(-1);
  const code = new Uint8Array(total);
  const interval = 1000 / rate;
  const request = { name: 'bench' };
  let started = 0;
  let ended = 0;
  let maxStartLagMs = 0;
  let actionDone = at === undefined;
  const t0 = performance.now();
  return new Promise<PhaseRecord>((resolve) => {
    let drainTimer: NodeJS.Timeout | undefined;
    const finish = (): void => {
      clearInterval(ticker);
      if (drainTimer) clearTimeout(drainTimer);
      resolve({
        offeredRate: rate,
        durationMs,
        started,
        scheduledAt,
        latencyMs,
        backend,
        code,
        unfinished: started - ended,
        maxStartLagMs,
      });
    };
    const startCall = (i: number): void => {
      const due = t0 + i * interval;
      scheduledAt[i] = due - t0;
      const now = performance.now();
      if (now - due > maxStartLagMs) maxStartLagMs = now - due;
      const call = client.SayHello(request, { deadline: Date.now() + CALL_DEADLINE_MS }, (err, reply) => {
        latencyMs[i] = performance.now() - due;
        code[i] = err ? err.code : grpc.status.OK;
        let peer: string | undefined;
        if (reply) peer = reply.message.slice(reply.message.lastIndexOf(' from ') + 6);
        else peer = call.getPeer();
        backend[i] = backendIndex.get(peer) ?? -1;
        ended++;
        if (started === total && ended === started) finish();
      });
    };
    const ticker = setInterval(() => {
      const elapsed = performance.now() - t0;
      if (!actionDone && at && elapsed >= at.ms) {
        actionDone = true;
        at.action();
      }
      const due = Math.min(total, Math.floor(elapsed / interval) + 1);
      while (started < due) startCall(started++);
      if (started === total) {
        clearInterval(ticker);
        if (ended === started) finish();
        else drainTimer = setTimeout(finish, DRAIN_BOUND_MS);
      }
    }, TICK_MS);
  });
}

/** The figures of one phase (or of the part of it from `fromMs` to `toMs`). */
interface PhaseFigures {
  readonly offeredRate: number;
  readonly startedRate: number;
  readonly throughput: number;
  readonly p50: number;
  readonly p99: number;
  readonly p999: number;
  readonly failed: number;
  readonly failedByStatus: Record<string, number>;
  readonly slowShare: number;
  readonly shareByBackend: number[];
  readonly unfinished: number;
  readonly maxStartLagMs: number;
}

function figuresOfPhase(r: PhaseRecord, fromMs = 0, toMs = r.durationMs): PhaseFigures {
  const lat: number[] = [];
  const perBackend = Array.from({ length: BACKENDS }, () => 0);
  const failedByStatus: Record<string, number> = {};
  let ok = 0;
  let failed = 0;
  let attributed = 0;
  for (let i = 0; i < r.started; i++) {
    const t = r.scheduledAt[i];
    if (t < fromMs || t >= toMs) continue;
    lat.push(r.latencyMs[i]);
    if (r.code[i] === grpc.status.OK) ok++;
    else {
      failed++;
      const name = grpc.status[r.code[i]] ?? String(r.code[i]);
      failedByStatus[name] = (failedByStatus[name] ?? 0) + 1;
    }
    if (r.backend[i] >= 0) {
      perBackend[r.backend[i]]++;
      attributed++;
    }
  }
  const sorted = sortedCopy(lat);
  const seconds = (toMs - fromMs) / 1000;
  return {
    offeredRate: r.offeredRate,
    startedRate: lat.length / seconds,
    throughput: ok / seconds,
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    p999: percentile(sorted, 99.9),
    failed,
    failedByStatus,
    slowShare: attributed ? perBackend[SLOW_INDEX] / attributed : NaN,
    shareByBackend: perBackend.map((n) => (attributed ? n / attributed : NaN)),
    unfinished: r.unfinished,
    maxStartLagMs: r.maxStartLagMs,
  };
}

/** `backend`'s share of the attributed calls scheduled in [fromMs, toMs). */
function shareIn(r: PhaseRecord, backend: number, fromMs: number, toMs: number): number {
  let mine = 0;
  let all = 0;
  for (let i = 0; i < r.started; i++) {
    const t = r.scheduledAt[i];
    if (t < fromMs || t >= toMs || r.backend[i] < 0) continue;
    all++;
    if (r.backend[i] === backend) mine++;
  }
  return all ? mine / all : NaN;
}

interface Convergence {
  /** From the change to the end of the first window within tolerance that stays so; NaN: never. */
  readonly convergedAfterMs: number;
  readonly shareBefore: number;
  /** Over the last 3 s of the phase. */
  readonly shareAtEnd: number;
  /** Sliding-window shares after the change: [window end ms after the change, share]. */
  readonly windows: Array<[number, number]>;
}

function convergenceOf(r: PhaseRecord, changeMs: number): Convergence {
  const within = (s: number): boolean => Math.abs(s / CHANGED_CAPACITY_SHARE - 1) <= CONVERGED_TOLERANCE;
  const windows: Array<[number, number]> = [];
  let convergedAfterMs = NaN;
  for (let end = changeMs + SHARE_WINDOW_MS; end <= r.durationMs; end += SHARE_STEP_MS) {
    const s = shareIn(r, CHANGED_INDEX, end - SHARE_WINDOW_MS, end);
    windows.push([end - changeMs, s]);
    if (
      Number.isNaN(convergedAfterMs) &&
      end + STAY_MS <= r.durationMs &&
      within(s) &&
      within(shareIn(r, CHANGED_INDEX, end, end + STAY_MS))
    ) {
      convergedAfterMs = end - changeMs;
    }
  }
  return {
    convergedAfterMs,
    shareBefore: shareIn(r, CHANGED_INDEX, 0, changeMs),
    shareAtEnd: shareIn(r, CHANGED_INDEX, r.durationMs - 3000, r.durationMs),
    windows,
  };
}

/** Waits until `client` has answered from every backend, or throws at the deadline. */
async function untilEveryBackendAnswers(
  name: string,
  client: GreeterClient,
  backendIndex: ReadonlyMap<string, number>,
  timeoutMs: number,
): Promise<void> {
  const seen = new Set<string>();
  const deadline = Date.now() + timeoutMs;
  while (seen.size < backendIndex.size) {
    if (Date.now() > deadline) {
      throw new Error(
        `${name}: only ${[...seen].join(', ') || 'no backend'} answered within ${timeoutMs} ms`,
      );
    }
    const reply = await new Promise<string | undefined>((resolve) => {
      client.SayHello(
        { name: 'probe' },
        new grpc.Metadata({ waitForReady: true }),
        { deadline: Date.now() + CALL_DEADLINE_MS },
        (err, r) => resolve(err ? undefined : r?.message),
      );
    });
    if (reply !== undefined) seen.add(reply.slice(reply.lastIndexOf(' from ') + 6));
  }
}

/** Waits until no backend has a call queued or in service, at most SETTLE_BOUND_MS. */
async function settle(backends: readonly BenchChild[]): Promise<CapacityStats[]> {
  const deadline = Date.now() + SETTLE_BOUND_MS;
  for (;;) {
    const stats = await Promise.all(backends.map((b) => b.request({ type: 'stats' }, CapacityStatsSchema)));
    if (stats.every((s) => s.busy === 0 && s.queued === 0) || Date.now() > deadline) return stats;
    await new Promise((r) => setTimeout(r, 200));
  }
}

interface ArmRuns {
  readonly arm: ArmName;
  readonly byLoad: Record<string, PhaseFigures>;
  readonly convergence: Convergence;
  readonly convergenceFigures: PhaseFigures;
  readonly backendStatsAfter: CapacityStats[];
}

async function main(): Promise<void> {
  const startedAt = new Date();
  const loadAtStart = loadAverage1m();
  const etcd = await startEtcd();
  const children: BenchChild[] = [];
  const clients: GreeterClient[] = [];
  try {
    const backendModule = path.join(__dirname, 'capacity-greeter-process.js');
    const lbModule = path.join(__dirname, 'lb-server-process.js');
    const backends = await Promise.all(
      Array.from({ length: BACKENDS }, (_, i) =>
        BenchChild.start(backendModule, {
          etcd: etcd.endpoints,
          service: SERVICE,
          slots: SLOTS,
          serviceTimeMs: serviceTimeOf(i),
          maxQueue: MAX_QUEUE,
        }),
      ),
    );
    children.push(...backends);
    const clientsOnly = {
      etcd: etcd.endpoints,
      loadAware: true,
      clientStatsIntervalMs: 1000,
      orcaIntervalMs: 0,
    };
    const [lbStatic, lbLoad, lbClients, lbClientsMean] = await Promise.all([
      BenchChild.start(lbModule, { etcd: etcd.endpoints, loadAware: false }),
      BenchChild.start(lbModule, { etcd: etcd.endpoints, loadAware: true, clientStatsIntervalMs: 1000 }),
      BenchChild.start(lbModule, clientsOnly),
      BenchChild.start(lbModule, { ...clientsOnly, loadClientLatency: 'mean' }),
    ]);
    children.push(lbStatic, lbLoad, lbClients, lbClientsMean);
    const backendIndex = new Map(backends.map((b, i) => [b.address, i]));
    const addresses = backends.map((b) => b.address);

    installLookaside();
    const { Greeter } = loadProtos().helloworld;
    const insecure = grpc.credentials.createInsecure();
    const common: grpc.ChannelOptions = { 'grpc.use_local_subchannel_pool': 1, 'grpc.enable_http_proxy': 0 };
    const staticList = (policy: object): grpc.ChannelOptions => ({
      ...common,
      'grpc.service_config': JSON.stringify({ loadBalancingConfig: [policy] }),
    });
    const clientFor = (arm: ArmName): GreeterClient => {
      switch (arm) {
        case 'a':
          return new Greeter(`ipv4:${addresses.join(',')}`, insecure, staticList({ round_robin: {} }));
        case 'b':
          return new Greeter(`lookaside://${lbStatic.address}/${SERVICE}`, insecure, common);
        case 'c':
          return new Greeter(
            `ipv4:${addresses.join(',')}`,
            insecure,
            staticList({
              weighted_round_robin: { enable_oob_load_report: true, oob_load_reporting_period: '1s' },
            }),
          );
        case 'd':
          return new Greeter(`lookaside://${lbLoad.address}/${SERVICE}`, insecure, common);
        case 'e':
          return new Greeter(`lookaside://${lbClients.address}/${SERVICE}`, insecure, common);
        case 'f':
          return new Greeter(`lookaside://${lbClientsMean.address}/${SERVICE}`, insecure, common);
      }
    };

    const runs: ArmRuns[] = [];
    for (const spec of ARMS) {
      const client = clientFor(spec.name);
      clients.push(client);
      await untilEveryBackendAnswers(spec.name, client, backendIndex, 15_000);
      await runOpenLoop(client, CONVERGENCE_LOAD * TOTAL_CAPACITY, spec.warmupMs, backendIndex);
      const byLoad: Record<string, PhaseFigures> = {};
      for (const level of LOAD_LEVELS) {
        const rec = await runOpenLoop(client, level * TOTAL_CAPACITY, PHASE_MS, backendIndex);
        const f = figuresOfPhase(rec);
        byLoad[String(level)] = f;
        console.log(
          `load-aware: ${spec.name} (${spec.title}) at ${level * 100} %: started ${f.startedRate.toFixed(0)}/s ` +
            `of ${f.offeredRate.toFixed(0)}/s, ok ${f.throughput.toFixed(0)}/s, p50 ${f.p50.toFixed(1)} ms, ` +
            `p99 ${f.p99.toFixed(1)} ms, p99.9 ${f.p999.toFixed(1)} ms, failed ${f.failed} ` +
            `${JSON.stringify(f.failedByStatus)}, shares ${f.shareByBackend.map((s) => (s * 100).toFixed(1)).join('/')} %, ` +
            `max start lag ${f.maxStartLagMs.toFixed(1)} ms`,
        );
      }
      const changed = backends[CHANGED_INDEX];
      let slowed: Promise<unknown> = Promise.resolve();
      const conv = await runOpenLoop(
        client,
        CONVERGENCE_LOAD * TOTAL_CAPACITY,
        CONVERGENCE_BEFORE_MS + CONVERGENCE_AFTER_MS,
        backendIndex,
        {
          ms: CONVERGENCE_BEFORE_MS,
          action: () => {
            slowed = changed.request(
              { type: 'set-service-time', ms: FAST_SERVICE_MS * SLOW_FACTOR },
              ServiceTimeReplySchema,
            );
          },
        },
      );
      await slowed;
      await changed.request({ type: 'set-service-time', ms: FAST_SERVICE_MS }, ServiceTimeReplySchema);
      const convergence = convergenceOf(conv, CONVERGENCE_BEFORE_MS);
      const convergenceFigures = figuresOfPhase(conv);
      console.log(
        `load-aware: ${spec.name} convergence: share ${(convergence.shareBefore * 100).toFixed(1)} % before, ` +
          `${(convergence.shareAtEnd * 100).toFixed(1)} % at the end (capacity share ${(CHANGED_CAPACITY_SHARE * 100).toFixed(1)} %), ` +
          `converged after ${Number.isNaN(convergence.convergedAfterMs) ? 'never' : `${convergence.convergedAfterMs} ms`}`,
      );
      client.close();
      const backendStatsAfter = await settle(backends);
      runs.push({ arm: spec.name, byLoad, convergence, convergenceFigures, backendStatsAfter });
    }

    const figures = figuresOf(runs);
    const a90 = runs.find((r) => r.arm === 'a')?.byLoad['0.9'];
    const file = writeBenchResult({
      name: 'load-aware',
      title: 'Load-aware weights: open-loop load on 4 backends, one with a quarter of the capacity',
      subject:
        'each arm as labelled: b = lookaside static, c = grpc-js weighted_round_robin (ORCA OOB), d = lookaside load-aware (ORCA), e = lookaside load-aware with ORCA off (client-reported latency only)',
      baseline:
        'a = grpc-js round_robin over a static ipv4: list of the same backends (rows "… vs a"); rows "d vs c" take c as baseline',
      startedAt: startedAt.toISOString(),
      durationMs: Date.now() - startedAt.getTime(),
      loadAverage: { start: loadAtStart, end: loadAverage1m() },
      settings: {
        backends: BACKENDS,
        slots: SLOTS,
        serviceTimesMs: Array.from({ length: BACKENDS }, (_, i) => serviceTimeOf(i)).join(','),
        totalCapacityPerSecond: TOTAL_CAPACITY,
        loadLevels: LOAD_LEVELS.join(','),
        phaseMs: PHASE_MS,
        warmupMs: ARMS.map((a) => `${a.name} ${a.warmupMs}`).join(', '),
        convergenceMs: `${CONVERGENCE_BEFORE_MS} before + ${CONVERGENCE_AFTER_MS} after the change, at ${CONVERGENCE_LOAD * 100} %`,
        callDeadlineMs: CALL_DEADLINE_MS,
        tickMs: TICK_MS,
        order: 'a, b, c, d one after another (not interleaved: c needs its 10 s blackout per new channel)',
      },
      figures,
      notes: [
        `Capacity model (capacity-greeter-process): each backend serves at most ${SLOTS} calls at once, each for a fixed ` +
          `service time (a timer, no CPU: ${FAST_SERVICE_MS} ms, backend ${SLOW_INDEX} ${FAST_SERVICE_MS * SLOW_FACTOR} ms), the rest ` +
          `wait FIFO (at most ${MAX_QUEUE}, beyond: RESOURCE_EXHAUSTED); calls cancelled while queued are dropped. Total capacity ` +
          `${TOTAL_CAPACITY} calls/s; the slow backend's capacity share ${(SLOW_CAPACITY_SHARE * 100).toFixed(1)} %.`,
        'Open loop: every 5 ms the calls due by their schedule are started, whatever completes; latency is measured from ' +
          'the scheduled start (client-side queuing counts) to the end of the call whatever its status (a deadline-exceeded ' +
          `call counts with ~${CALL_DEADLINE_MS} ms), and "started" shows the rate actually achieved against the offered one.`,
        'Throughput = calls answered OK per second of the phase. Shares are of the calls attributed to a backend (reply ' +
          'text, or the call’s peer when it failed).',
        'Backends report ORCA out of band (grpc-js ServerMetricRecorder): application_utilization = busy slots over the ' +
          'last second ÷ slots, qps, eps = rejected calls/s, refreshed every 250 ms.',
        'c runs grpc-js 1.14.7 weighted_round_robin with enable_oob_load_report true, oob_load_reporting_period 1s, other ' +
          'settings default (blackout 10 s, weight update 1 s): out of band, because grpc-js’s per-call ORCA re-parses ' +
          'orca.proto on every call (see notes/balancing-anchors.md). Its warm-up is ' +
          `${ARMS.find((x) => x.name === 'c')?.warmupMs ?? 0} ms so its weights are past the blackout before measuring.`,
        'd: the LB server with loadAware true, clientStatsIntervalMs 1000 and the other load settings default (ORCA ' +
          'interval 1 s, update 1 s, blackout 2 s, push threshold 10 %): its weights come from the ORCA reports it reads ' +
          'on its health checks’ connections (A58’s qps / utilization). e: the same with orcaIntervalMs 0, so its ' +
          'weights come from client-reported latency only: capacity = 1000 / (latency + 5 ms), latency = the fastest ' +
          'successful call of each report (latency_ms_min), which waited least in the backend’s queue. f: the same with ' +
          'loadClientLatency "mean": the mean latency includes the queueing, so a backend’s estimate depends on how much ' +
          'load it was sent, not only on its capacity.',
        'b: registered weights are all 100 (the operator does not know the capacities), so b is round robin by another ' +
          'route; a and b never converge by construction, their convergence rows show it.',
        `Convergence: backend ${CHANGED_INDEX}'s service time goes ${FAST_SERVICE_MS} → ${FAST_SERVICE_MS * SLOW_FACTOR} ms ` +
          `${CONVERGENCE_BEFORE_MS} ms into a phase at ${CONVERGENCE_LOAD * 100} % of the original capacity (≈ ` +
          `${Math.round((CONVERGENCE_LOAD * TOTAL_CAPACITY * 100) / (TOTAL_CAPACITY - capacityOf(FAST_SERVICE_MS) + capacityOf(FAST_SERVICE_MS * SLOW_FACTOR)))} % ` +
          `of the new one); its new capacity share is ${(CHANGED_CAPACITY_SHARE * 100).toFixed(1)} %. Converged = the end of the ` +
          `first ${SHARE_WINDOW_MS} ms window (sliding by ${SHARE_STEP_MS} ms) whose share is within ${CONVERGED_TOLERANCE * 100} % ` +
          `of it and stays so over the next ${STAY_MS} ms; "–" = not within the ${CONVERGENCE_AFTER_MS} ms after the change ` +
          `(minus the ${STAY_MS} ms check).`,
        'If c’s slow-backend share is ~0 %, it is grpc-js 1.14.7’s WRR, not the backend: an endpoint without a weight ' +
          'gets the EDF period `averageWeight` instead of `1 / averageWeight` (load-balancer-weighted-round-robin.ts, ' +
          'WeightedRoundRobinPicker), i.e. almost no calls once the others have weights, so it reports qps 0, which ' +
          'updateWeight ignores, so it never leaves its blackout. It gets there when its connection becomes READY again ' +
          '(nonEmptySince reset) after an INTERNAL session close during the warm-up, where c is plain round robin for the ' +
          '10 s blackout and the slow backend is overloaded.',
        'INTERNAL failures no backend sent (a, b, c at overload): `RST_STREAM … Session closed with error code 2` when ' +
          'many deadline-cancelled streams hit one connection, most likely Node’s HTTP/2 rapid-reset protection (see ' +
          'notes/balancing-anchors.md); they count as failed calls of the arm.',
        'f (mean latency) misses where it does because the mean includes the queue a backend built while it was ' +
          'over-sent: after a capacity drop its estimate falls below its capacity (to the floor), its queue drains, the ' +
          'estimate rises again: the share swings around the capacity share instead of settling (see ' +
          'runs[].convergence.windows). e reacts a report later (the first report after the drop still holds a fast ' +
          'call) and, while the backlog built before it reacted drains, sends the backend less than its share.',
        `a’s p99.9 at 90 % load was ${a90 ? a90.p999.toFixed(0) : '–'} ms. Arms run one after another, so load from ` +
          'other work on the 2 shared cores differs between them.',
      ],
      runs,
    });
    console.log(`load-aware: wrote ${file}`);
  } finally {
    for (const c of clients) c.close();
    await Promise.all(children.map((c) => c.close()));
    await etcd.close();
  }
}

const ARM_LABEL: Record<ArmName, string> = {
  a: 'a round_robin',
  b: 'b lookaside static',
  c: 'c grpc-js WRR',
  d: 'd lookaside load-aware',
  e: 'e lookaside load-aware, clients’ fastest call only',
  f: 'f lookaside load-aware, clients’ mean latency only',
};

function figuresOf(runs: readonly ArmRuns[]): Figure[] {
  const figures: Figure[] = [];
  const of = (arm: ArmName): ArmRuns | undefined => runs.find((r) => r.arm === arm);
  const a = of('a');
  const c = of('c');
  for (const level of LOAD_LEVELS) {
    const key = String(level);
    const where = `${level * 100} % load`;
    const base = a?.byLoad[key];
    for (const r of runs) {
      const f = r.byLoad[key];
      const label = (what: string): string =>
        `${ARM_LABEL[r.arm]}: ${what}, ${where}${r.arm === 'a' ? '' : ' (vs a)'}`;
      const vsA = (
        value: number,
        baseline: number | undefined,
      ): Pick<Figure, 'value' | 'baseline' | 'ratio'> =>
        r.arm === 'a' || baseline === undefined
          ? { value }
          : { value, baseline, ratio: ratio(value, baseline) };
      figures.push({
        label: label('started/offered calls/s'),
        unit: 'calls/s',
        value: f.startedRate,
        baseline: f.offeredRate,
        ratio: ratio(f.startedRate, f.offeredRate),
      });
      const p99 = vsA(f.p99, base?.p99);
      figures.push({
        label: label('p99 latency'),
        unit: 'ms',
        ...p99,
        ...(r.arm === 'd' && level === 0.9 && p99.ratio !== undefined
          ? { target: { text: `≤ ${P99_VS_RR_TARGET}× a`, met: p99.ratio <= P99_VS_RR_TARGET } }
          : {}),
      });
      figures.push({ label: label('p50 latency'), unit: 'ms', ...vsA(f.p50, base?.p50) });
      figures.push({ label: label('p99.9 latency'), unit: 'ms', ...vsA(f.p999, base?.p999) });
      const tp = vsA(f.throughput, base?.throughput);
      figures.push({
        label: label('throughput (OK calls/s)'),
        unit: 'calls/s',
        ...tp,
        ...(r.arm === 'd' && tp.ratio !== undefined
          ? { target: { text: '≥ 1× a', met: tp.ratio >= 1 } }
          : {}),
      });
      figures.push({
        label: `${label('failed calls')} ${Object.entries(f.failedByStatus)
          .map(([s, n]) => `${s} ${n}`)
          .join(', ')}`.trim(),
        unit: 'calls',
        ...vsA(f.failed, base?.failed),
      });
      figures.push({
        label: `${ARM_LABEL[r.arm]}: slow backend's share of calls, ${where} (baseline: its capacity share)`,
        unit: '%',
        value: f.slowShare * 100,
        baseline: SLOW_CAPACITY_SHARE * 100,
        ratio: ratio(f.slowShare, SLOW_CAPACITY_SHARE),
      });
    }
    const d = of('d')?.byLoad[key];
    const cl = c?.byLoad[key];
    if (d && cl) {
      const r99 = ratio(d.p99, cl.p99);
      figures.push({
        label: `d vs c: p99 latency, ${where}`,
        unit: 'ms',
        value: d.p99,
        baseline: cl.p99,
        ratio: r99,
        target: { text: '≤ 1× c', met: r99 <= 1 },
      });
      figures.push({
        label: `d vs c: throughput (OK calls/s), ${where}`,
        unit: 'calls/s',
        value: d.throughput,
        baseline: cl.throughput,
        ratio: ratio(d.throughput, cl.throughput),
      });
    }
  }
  for (const r of runs) {
    const conv = r.convergence;
    figures.push({
      label:
        `${ARM_LABEL[r.arm]}: convergence after backend ${CHANGED_INDEX} slows ${SLOW_FACTOR}× (share ` +
        `${(conv.shareBefore * 100).toFixed(1)} % before, ${(conv.shareAtEnd * 100).toFixed(1)} % at the end, capacity share ` +
        `${(CHANGED_CAPACITY_SHARE * 100).toFixed(1)} %; p99 ${r.convergenceFigures.p99.toFixed(0)} ms, failed ${r.convergenceFigures.failed})`,
      unit: 'ms',
      value: conv.convergedAfterMs,
      ...(r.arm === 'c' || r.arm === 'd'
        ? {
            target: {
              text: `< ${CONVERGENCE_TARGET_MS} ms`,
              met: conv.convergedAfterMs < CONVERGENCE_TARGET_MS,
            },
          }
        : {}),
    });
  }
  return figures;
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error('load-aware: failed:', err);
    process.exit(1);
  },
);
