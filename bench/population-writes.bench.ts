import * as grpc from '@grpc/grpc-js';
import { Etcd3 } from 'etcd3';
import pino from 'pino';
import { DEFAULT_PREFIX, encodeRecordValue, recordKey } from '../common/registry-record';
import { startEtcd } from '../etcd/etcd-process';
import { startLbServer, type LbServer } from '../lb-server';
import type { LoadBalanceRequest } from '../proto/gen/lookaside/v1/LoadBalanceRequest';
import type { LoadBalanceResponse__Output } from '../proto/gen/lookaside/v1/LoadBalanceResponse';
import { loadProtos } from '../proto/protos';
import { loadAverage1m, ratio, writeBenchResult, type Figure } from './bench-result';

/**
 * etcd writes of the client population under churn: one LB server (subset 3 of 9 endpoints,
 * the default `--client-flush-ms` of 500) with a standing population of BalanceLoad streams, then
 * clients leaving and joining at a steady rate. Counted: the record puts and deletes the flush
 * loop sends (and their txns), against the baseline of one etcd write per stream event (a join's
 * put, a leave's delete, and a put for every client whose stored subset changed), which is what
 * writing through without coalescing would cost. A short-lived client (joins and leaves within
 * one flush window) costs nothing.
 */

const SERVICE = 'population-bench';
const ENDPOINTS = 9;
const SUBSET = 3;
const STANDING = 300;
/** Churn phase: this many clients leave and as many join every tick. */
const PER_TICK = 5;
const TICK_MS = 100;
const CHURN_MS = 10_000;
/** Short-lived clients per tick in the second phase: each leaves 50 ms after it joined. */
const BLIPS_PER_TICK = 5;
const BLIP_MS = 50;
const SETTLE_MS = 1500;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

type Stream = grpc.ClientDuplexStream<LoadBalanceRequest, LoadBalanceResponse__Output>;

/** BalanceLoad streams on a few channels, each stream one client. */
class Clients {
  private readonly channels: grpc.Client[] = [];
  private readonly open = new Map<string, Stream>();
  private next = 0;
  /** Server lists received over all streams (subset changes show up here). */
  lists = 0;

  constructor(address: string) {
    const LoadBalancer = loadProtos().loadBalancer.LoadBalancer;
    for (let i = 0; i < 4; i++) {
      this.channels.push(
        new LoadBalancer(address, grpc.credentials.createInsecure(), { 'grpc.use_local_subchannel_pool': 1 }),
      );
    }
  }

  join(): string {
    const id = `bench-client-${this.next++}`;
    const channel = this.channels[this.next % this.channels.length] as unknown as {
      BalanceLoad(): Stream;
    };
    const call = channel.BalanceLoad();
    call.on('data', (r: LoadBalanceResponse__Output) => {
      if (r.serverList) this.lists += 1;
    });
    call.on('error', () => undefined);
    call.write({ initialRequest: { name: SERVICE, clientId: id, zone: '' } });
    this.open.set(id, call);
    return id;
  }

  leave(id: string): void {
    const call = this.open.get(id);
    this.open.delete(id);
    call?.cancel();
  }

  /** The longest-open client. */
  oldest(): string | undefined {
    return this.open.keys().next().value;
  }

  get size(): number {
    return this.open.size;
  }

  close(): void {
    for (const id of [...this.open.keys()]) this.leave(id);
    for (const c of this.channels) c.close();
  }
}

function writes(lb: LbServer): { ops: number; txns: number; put: number; delete: number } {
  const w = lb.population.writeCounts();
  return { ops: w.put + w.delete, txns: w.txns, put: w.put, delete: w.delete };
}

async function main(): Promise<void> {
  const startedAt = new Date();
  const loadAtStart = loadAverage1m();
  const etcd = await startEtcd();
  const kv = new Etcd3({ hosts: etcd.endpoints });
  // Counts the subset changes the LB server logs (subsets_changed: clients given a new subset).
  let subsetChanges = 0;
  const logger = pino(
    { level: 'info' },
    {
      write(line: string): void {
        if (!line.includes('"subsets_changed"')) return;
        const parsed = JSON.parse(line) as { changedClients?: number };
        subsetChanges += parsed.changedClients ?? 0;
      },
    },
  );
  const lb = await startLbServer({
    etcd: etcd.endpoints,
    listen: '127.0.0.1:0',
    logger,
    subsetSize: SUBSET,
    healthChecks: false,
    replicaId: 'bench-replica',
  });
  await lb.synced();
  for (let i = 0; i < ENDPOINTS; i++) {
    await kv
      .put(recordKey(DEFAULT_PREFIX, SERVICE, `e${i}`))
      .value(encodeRecordValue({ address: `127.0.0.1:${20_000 + i}` }));
  }
  const clients = new Clients(lb.address);
  for (let i = 0; i < STANDING; i++) clients.join();
  const deadline = Date.now() + 30_000;
  while (
    (lb.population.pending() > 0 || lb.population.clients(SERVICE).length < STANDING) &&
    Date.now() < deadline
  ) {
    await sleep(100);
  }
  await sleep(SETTLE_MS);

  // Phase 1: steady churn.
  const subsetsBefore = new Map(lb.population.clients(SERVICE).map((m) => [m.clientId, m.subset.join()]));
  const before = writes(lb);
  const changesBefore = subsetChanges;
  const t0 = Date.now();
  let events = 0;
  const joined = new Set<string>();
  const left = new Set<string>();
  while (Date.now() - t0 < CHURN_MS) {
    for (let i = 0; i < PER_TICK; i++) {
      const old = clients.oldest();
      if (old !== undefined) {
        clients.leave(old);
        left.add(old);
        events += 1;
      }
      joined.add(clients.join());
      events += 1;
    }
    await sleep(TICK_MS);
  }
  const churnSeconds = (Date.now() - t0) / 1000;
  await sleep(SETTLE_MS);
  const after = writes(lb);
  // Clients present throughout whose stored subset changed (the baseline writes those too).
  let stayersChanged = 0;
  for (const m of lb.population.clients(SERVICE)) {
    const was = subsetsBefore.get(m.clientId);
    if (was !== undefined && was !== m.subset.join()) stayersChanged += 1;
  }
  const churnOps = after.ops - before.ops;
  const churnTxns = after.txns - before.txns;
  const churnSubsetChanges = subsetChanges - changesBefore;
  // Writing through: a put per join, a delete per leave, a put per subset change of a client.
  const naive = events + churnSubsetChanges;

  // Phase 2: short-lived clients (join and leave within one flush window).
  const blipBefore = writes(lb);
  const blipChangesBefore = subsetChanges;
  let blips = 0;
  const t1 = Date.now();
  while (Date.now() - t1 < CHURN_MS / 2) {
    const ids: string[] = [];
    for (let i = 0; i < BLIPS_PER_TICK; i++) ids.push(clients.join());
    await sleep(BLIP_MS);
    for (const id of ids) clients.leave(id);
    blips += ids.length;
    await sleep(TICK_MS - BLIP_MS);
  }
  const blipSeconds = (Date.now() - t1) / 1000;
  await sleep(SETTLE_MS);
  const blipAfter = writes(lb);
  const blipOps = blipAfter.ops - blipBefore.ops;
  const blipNaive = 2 * blips + (subsetChanges - blipChangesBefore);
  const blipSplit = `${blipAfter.put - blipBefore.put} puts, ${blipAfter.delete - blipBefore.delete} deletes`;
  const churnSplit = `${after.put - before.put} puts, ${after.delete - before.delete} deletes`;

  const figures: Figure[] = [
    {
      label: `etcd writes per second under churn (${(events / churnSeconds).toFixed(0)} joins + leaves a second, ${STANDING} clients)`,
      unit: 'ops/s',
      value: churnOps / churnSeconds,
      baseline: naive / churnSeconds,
      ratio: ratio(churnOps, naive),
    },
    {
      label: 'etcd txns per second under churn (each of at most 64 ops)',
      unit: 'txns/s',
      value: churnTxns / churnSeconds,
      baseline: naive / churnSeconds,
      ratio: ratio(churnTxns, naive),
    },
    {
      label: `etcd writes per second, ${(blips / blipSeconds).toFixed(0)} clients a second that leave ${BLIP_MS} ms after joining`,
      unit: 'ops/s',
      value: blipOps / blipSeconds,
      baseline: blipNaive / blipSeconds,
      ratio: ratio(blipOps, blipNaive),
    },
  ];
  const file = writeBenchResult({
    name: 'population-writes',
    title: 'Client population: etcd writes under churn (coalesced flushes vs a write per stream event)',
    subject: `one LB server, subset ${SUBSET} of ${ENDPOINTS} endpoints, --client-flush-ms 500 (default), BalanceLoad streams`,
    baseline:
      'writing through: a put per join, a delete per leave, a put per subset change of a planned client (the LB server’s subsets_changed logs)',
    startedAt: startedAt.toISOString(),
    durationMs: Date.now() - startedAt.getTime(),
    loadAverage: { start: loadAtStart, end: loadAverage1m() },
    settings: { standing: STANDING, perTick: PER_TICK, tickMs: TICK_MS, churnMs: CHURN_MS, blipMs: BLIP_MS },
    figures,
    notes: [
      `Churn phase: ${events} joins and leaves in ${churnSeconds.toFixed(1)} s (${joined.size} joined, ${left.size} left); ` +
        `${churnSubsetChanges} subset changes of clients already planned (rebalancing after leaves: strict ` +
        `balance moves up to k entries of others per leave); ${stayersChanged} clients present before and after ` +
        'ended with a subset other than their first. ' +
        `Writes counted by the flush loop: ${churnOps} ops (${churnSplit}) in ${churnTxns} txns.`,
      'A leave is a guarded delete and a join a put: at a steady rate coalescing saves little on ops (each event ' +
        'must reach etcd once) but batches them into a few txns a second; what it removes is the writes of clients ' +
        'that come and go within a flush window, and repeated subset changes of one client within a window.',
      `Short-lived phase: ${blips} clients, each gone ${BLIP_MS} ms after it joined: ${blipOps} ops (${blipSplit}).`,
    ],
    runs: {},
  });
  console.log(`population-writes: wrote ${file}`);
  clients.close();
  await lb.close();
  kv.close();
  await etcd.close();
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
