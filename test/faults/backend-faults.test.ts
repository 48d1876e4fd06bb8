import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { installLookaside } from '../../client-sdk';
import { AdminClient } from '../../cli/admin-client';
import { freePort } from '../../etcd/etcd-process';
import { newMarker, type CliProcess } from '../support/cli';
import { TestEtcd } from '../support/etcd';
import { scrapeMetric } from '../support/scrape-metric';
import { waitFor } from '../support/wait-for';
import { startGreeterServer } from '../../demo-service';
import { registerService } from '../../registrar';
import { socketOwnedBy } from '../support/socket-owner';
import { startTcpProxy } from '../support/tcp-proxy';
import {
  startBackendProcess,
  startLbProcess,
  startLoad,
  stopAll,
  writeScenarioReport,
  type CountedLoad,
  type ServedProcess,
} from './fault-harness';

jest.setTimeout(120_000);
installLookaside();

/** Fault scenarios 1-3, 10-13: backends die, stop, fail their health checks or fail calls under steady load (real processes on loopback). */
describe('faults: backends under load', () => {
  const marker = newMarker();
  let etcd: TestEtcd;
  let procs: CliProcess[];
  let load: CountedLoad | undefined;

  async function backend(port?: number, args: readonly string[] = []): Promise<ServedProcess> {
    const b = await startBackendProcess(etcd.endpoints, marker, { port, args });
    procs.push(b.proc);
    return b;
  }

  /** An LB server and three backends as processes, under steady load that has reached all three. */
  async function threeBackendsUnderLoad(): Promise<{ backends: ServedProcess[]; l: CountedLoad }> {
    const lb = await startLbProcess(etcd.endpoints, marker);
    procs.push(lb.proc);
    const backends = [await backend(), await backend(), await backend()];
    const l = (load = await startLoad([lb.address], 4));
    await waitFor('calls on all three backends', () => backends.every((b) => l.servedBy(b.address) > 0));
    return { backends, l };
  }

  beforeEach(async () => {
    etcd = await TestEtcd.start();
    procs = [];
  });

  afterEach(async () => {
    await load?.stop();
    load = undefined;
    await stopAll(procs, marker);
    await etcd.close();
  });

  it('1. backend kill -9: only calls in flight on it fail; it gets no new calls, without waiting for its lease', async () => {
    const { backends, l } = await threeBackendsUnderLoad();
    const victim = backends[0];
    const inFlightAtKill = l.inFlight();
    const killAtMs = Date.now() - l.startedAt;
    victim.proc.child.kill('SIGKILL');
    await victim.proc.exited;
    const servedAtDeath = l.servedBy(victim.address);
    await l.moreSucceeded(1000);
    const figures = await l.stop();
    load = undefined;
    // The dead backend answered nothing after it died; the failures are calls it held when killed.
    expect(figures.byBackend[victim.address]).toBe(servedAtDeath);
    expect(figures.callsFailed).toBeLessThanOrEqual(inFlightAtKill);
    expect(Object.keys(figures.failedByStatus).filter((c) => c !== 'UNAVAILABLE')).toEqual([]);
    writeScenarioReport({
      id: '1-backend-kill',
      title: 'backend kill -9 under load',
      promise:
        'only calls in flight on the killed backend fail; it gets no new calls; no wait for its lease (TTL 10 s)',
      load: figures,
      figures: {
        callsInFlightAtKill: inFlightAtKill,
        failedCalls: figures.callsFailed,
        lastFailureMsAfterKill: Math.max(0, ...l.failures.map((f) => f.atMs - killAtMs)),
        successesAfterKill: 1000,
        callsOnDeadBackendAfterKill: figures.byBackend[victim.address] - servedAtDeath,
      },
    });
  });

  it('2. backend graceful stop (SIGTERM: drain, deregister, shut down): zero failed calls', async () => {
    const { backends, l } = await threeBackendsUnderLoad();
    const t0 = Date.now();
    const exit = await backends[0].proc.stop('SIGTERM');
    const stopMs = Date.now() - t0;
    await l.moreSucceeded(300);
    const figures = await l.stop();
    load = undefined;
    expect(exit.code).toBe(0);
    expect(figures.callsFailed).toBe(0);
    writeScenarioReport({
      id: '2-backend-graceful-stop',
      title: 'backend graceful stop (SIGTERM)',
      promise: 'zero failed calls',
      load: figures,
      figures: { gracefulStopMs: stopMs, failedCalls: figures.callsFailed },
    });
  });

  it('3. rolling restart of 3 backends one after another: zero failed calls', async () => {
    const { backends, l } = await threeBackendsUnderLoad();
    const t0 = Date.now();
    const firstCallMs: number[] = [];
    for (const old of backends) {
      const exit = await old.proc.stop('SIGTERM');
      expect(exit.code).toBe(0);
      // The new instance reuses the port, as a restarted process would.
      const before = l.servedBy(old.address);
      const up = Date.now();
      await backend(old.port);
      await waitFor(`calls on the restarted ${old.address}`, () => l.servedBy(old.address) > before);
      firstCallMs.push(Date.now() - up);
    }
    const rollMs = Date.now() - t0;
    await l.moreSucceeded(200);
    const figures = await l.stop();
    load = undefined;
    expect(figures.callsFailed).toBe(0);
    writeScenarioReport({
      id: '3-rolling-restart',
      title: 'rolling restart of 3 backends',
      promise: 'zero failed calls',
      load: figures,
      figures: {
        rollingRestartMs: rollMs,
        maxMsToFirstCallOnRestarted: Math.max(...firstCallMs),
        failedCalls: figures.callsFailed,
      },
    });
  });

  it('10. backend reports NOT_SERVING (kill -USR2): zero failed calls; no new call reaches it until SERVING again', async () => {
    const { backends, l } = await threeBackendsUnderLoad();
    const victim = backends[0];
    const flippedAt = Date.now();
    victim.proc.child.kill('SIGUSR2');
    // The last call it answers comes once every client's picker has dropped it: wait until its
    // count stays put for 1 s, and note when it last moved.
    let last = l.servedBy(victim.address);
    let lastMovedAt = flippedAt;
    await waitFor(
      'no new call on the NOT_SERVING backend for 1 s',
      () => {
        const now = l.servedBy(victim.address);
        if (now !== last) {
          last = now;
          lastMovedAt = Date.now();
        }
        return Date.now() - lastMovedAt >= 1000;
      },
      { timeoutMs: 20_000 },
    );
    const servedWhileOut = l.servedBy(victim.address);
    await l.moreSucceeded(500);
    expect(l.servedBy(victim.address)).toBe(servedWhileOut);
    const backAt = Date.now();
    victim.proc.child.kill('SIGUSR2');
    await waitFor('calls on it again once SERVING', () => l.servedBy(victim.address) > servedWhileOut);
    const msToFirstCallWhenBack = Date.now() - backAt;
    const figures = await l.stop();
    load = undefined;
    expect(figures.callsFailed).toBe(0);
    writeScenarioReport({
      id: '10-backend-not-serving',
      title: 'backend health NOT_SERVING under load (grpc.health.v1, LB-side check)',
      promise:
        'zero failed calls; no new call reaches it while NOT_SERVING; it takes calls again once SERVING',
      load: figures,
      figures: {
        msFromNotServingToLastCall: lastMovedAt - flippedAt,
        msToFirstCallWhenBack,
        failedCalls: figures.callsFailed,
      },
    });
  });

  it('11. 3 of 5 backends report NOT_SERVING at once: the panic threshold holds, zero failed calls, all 5 keep taking calls', async () => {
    const metricsAddress = `127.0.0.1:${await freePort()}`;
    const lb = await startLbProcess(etcd.endpoints, marker, { args: ['--metrics-listen', metricsAddress] });
    procs.push(lb.proc);
    const backends: ServedProcess[] = [];
    for (let i = 0; i < 5; i++) backends.push(await backend());
    const l = (load = await startLoad([lb.address], 4));
    await waitFor('calls on all five backends', () => backends.every((b) => l.servedBy(b.address) > 0));
    const admin = new AdminClient({ target: lb.address });
    try {
      const view = async () =>
        Object.fromEntries(
          (await admin.getService('greeter')).endpoints.map((e) => [e.address, `${e.health}/${e.eligible}`]),
        );
      const panic = () => scrapeMetric(metricsAddress, 'lookaside_panic{service="greeter"}');
      // 2 of 5 serving is below the 0.5 threshold (2.5 of 5): health is ignored for the service.
      const victims = backends.slice(0, 3);
      const flippedAt = Date.now();
      for (const v of victims) v.proc.child.kill('SIGUSR2');
      await waitFor('lookaside_panic 1', async () => (await panic()) === 1, { timeoutMs: 20_000 });
      await lb.proc.waitForOutput(/"event":"panic_started","service":"greeter"/);
      const msToPanic = Date.now() - flippedAt;
      await waitFor('admin: the 3 not serving yet eligible, all 5 eligible', async () => {
        const v = await view();
        return (
          victims.every((b) => v[b.address] === 'not-serving/true') &&
          backends.slice(3).every((b) => v[b.address] === 'serving/true')
        );
      });

      // The spread during panic: every backend takes new calls, NOT_SERVING or not.
      const before = Object.fromEntries(backends.map((b) => [b.address, l.servedBy(b.address)]));
      const okBefore = l.succeeded;
      await l.moreSucceeded(1000);
      const during = Object.fromEntries(
        backends.map((b) => [b.address, l.servedBy(b.address) - before[b.address]]),
      );
      const callsDuringPanic = l.succeeded - okBefore;
      for (const b of backends) expect(during[b.address]).toBeGreaterThan(0);
      expect(await panic()).toBe(1);

      const backAt = Date.now();
      for (const v of victims) v.proc.child.kill('SIGUSR2');
      await waitFor('lookaside_panic 0', async () => (await panic()) === 0, { timeoutMs: 20_000 });
      await lb.proc.waitForOutput(/"event":"panic_ended","service":"greeter"/);
      const msToPanicEnd = Date.now() - backAt;
      await waitFor('admin: all 5 serving', async () =>
        Object.values(await view()).every((h) => h === 'serving/true'),
      );
      await l.moreSucceeded(300);
      const figures = await l.stop();
      load = undefined;
      expect(figures.callsFailed).toBe(0);
      const share = (b: ServedProcess) => Math.round((1000 * during[b.address]) / callsDuringPanic) / 10;
      writeScenarioReport({
        id: '11-majority-not-serving',
        title: '3 of 5 backends NOT_SERVING at once under load (panic threshold 0.5)',
        promise:
          'the panic threshold holds (lookaside_panic 1, admin shows them eligible): zero failed calls, all 5 keep taking calls; panic ends when they are SERVING again',
        load: figures,
        figures: {
          msFromFlipToPanic: msToPanic,
          msFromBackToPanicEnd: msToPanicEnd,
          callsDuringPanic,
          sharePctNotServingDuringPanic: victims.map(share).join(' / '),
          sharePctServingDuringPanic: backends.slice(3).map(share).join(' / '),
          failedCalls: figures.callsFailed,
        },
      });
    } finally {
      admin.close();
    }
  });

  it('12. backend fails every call with INTERNAL (--fail-file), port and lease fine: ejected from clients reports; back once it recovers', async () => {
    // Outlier settings scaled down 10x from the defaults (A50's rules and thresholds unchanged) so
    // the scenario takes seconds: ClientStats every 1 s, checks every 1 s, ejections of 3 s.
    const settings = {
      clientStatsIntervalMs: 1000,
      outlierIntervalMs: 1000,
      outlierBaseEjectionMs: 3000,
    };
    const lb = await startLbProcess(etcd.endpoints, marker, {
      args: [
        '--client-stats-interval-ms',
        String(settings.clientStatsIntervalMs),
        '--outlier-interval-ms',
        String(settings.outlierIntervalMs),
        '--outlier-base-ejection-ms',
        String(settings.outlierBaseEjectionMs),
      ],
    });
    procs.push(lb.proc);
    // Five backends: A50's rules need at least five endpoints with enough calls.
    // The victim fails every call with INTERNAL while its --fail-file exists.
    const failFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'lookaside-fail-')), 'fail');
    const backends: ServedProcess[] = [await backend(undefined, ['--fail-file', failFile])];
    for (let i = 1; i < 5; i++) backends.push(await backend());
    const l = (load = await startLoad([lb.address], 4));
    await waitFor('calls on all five backends', () => backends.every((b) => l.servedBy(b.address) > 0));
    const victim = backends[0];
    const failuresBefore = l.failures.length;
    fs.writeFileSync(failFile, '');
    await victim.proc.waitForOutput(/"event":"fail_rate_set","failRate":1/);
    const failingAt = Date.now();
    const ejected = await lb.proc.waitForOutput(/"event":"endpoint_ejected"[^\n]*"rule":"([a-z-]+)"/);
    const msToEjection = Date.now() - failingAt;
    // Failures end once every client's picker has dropped it: wait until none came for 1 s.
    let lastCount = l.failures.length;
    let lastFailureAt = Date.now();
    await waitFor(
      'no failed call for 1 s',
      () => {
        if (l.failures.length !== lastCount) {
          lastCount = l.failures.length;
          lastFailureAt = Date.now();
        }
        return Date.now() - lastFailureAt >= 1000;
      },
      { timeoutMs: 20_000 },
    );
    const failedCalls = l.failures.length - failuresBefore;
    const msToLastFailure = lastFailureAt - failingAt;
    expect(failedCalls).toBeGreaterThan(0);
    expect(new Set(l.failures.map((f) => f.code))).toEqual(new Set(['INTERNAL']));
    const servedWhileOut = l.servedBy(victim.address);
    // Still ejected (3 s) while the others carry the load: no call reaches it, none fails.
    await l.moreSucceeded(300);
    expect(l.failures.length - failuresBefore).toBe(failedCalls);

    const lbOutput = lb.proc.mark();
    fs.rmSync(failFile);
    await victim.proc.waitForOutput(/"event":"fail_rate_set","failRate":0/);
    const recoveredAt = Date.now();
    await lb.proc.waitForOutput(/"event":"endpoint_returned"/, 20_000, lbOutput);
    await waitFor('successful calls on it again', () => l.servedBy(victim.address) > servedWhileOut, {
      timeoutMs: 20_000,
    });
    const msFromRecoveryToCalls = Date.now() - recoveredAt;
    const figures = await l.stop();
    load = undefined;
    writeScenarioReport({
      id: '12-backend-internal-errors',
      title: 'backend fails every call with INTERNAL under load (outlier ejection from ClientStats)',
      promise:
        'ejected by the LB server from what clients report (gRFC A50 rules); failures stop once ejected; it takes calls again after it recovers',
      load: figures,
      figures: {
        ...settings,
        rule: ejected[1],
        failedCallsBeforeEjection: failedCalls,
        msToEjection,
        msToLastFailure,
        msFromRecoveryToCalls,
      },
    });
  });

  it('13. an LB replica partitioned from one backend (its checker cannot connect, clients can): not ejected, zero failed calls', async () => {
    const lb = await startLbProcess(etcd.endpoints, marker, {
      args: ['--client-stats-interval-ms', '1000', '--outlier-interval-ms', '1000'],
    });
    procs.push(lb.proc);
    // Five endpoints, so both outlier rules could act on this service (they need five).
    const others = [await backend(), await backend(), await backend(), await backend()];
    // The third backend sits behind a proxy that drops every connection the LB process opens.
    const greeter = await startGreeterServer({ port: 0 });
    let proxyPort = 0;
    const proxy = await startTcpProxy(
      { host: '127.0.0.1', port: greeter.port },
      { refuse: (peerPort) => socketOwnedBy(lb.pid, peerPort, proxyPort) },
    );
    proxyPort = proxy.port;
    const registration = await registerService({
      etcd: etcd.endpoints,
      service: 'greeter',
      instanceId: 'behind-partition',
      address: proxy.address,
      ttlSeconds: 10,
    });
    const admin = new AdminClient({ target: lb.address });
    try {
      const l = (load = await startLoad([lb.address], 4));
      await waitFor('calls on all five backends', () =>
        [...others.map((b) => b.address), greeter.address].every((a) => l.servedBy(a) > 0),
      );
      const entry = async () =>
        (await admin.getService('greeter')).endpoints.find((e) => e.instanceId === 'behind-partition');
      await waitFor(
        'the LB replica shows it unreachable',
        async () => (await entry())?.health === 'unreachable',
        {
          timeoutMs: 20_000,
        },
      );
      expect(proxy.refused()).toBeGreaterThan(0);
      // The outlier detector has added up clients' reports of it (and found nothing to eject).
      await waitFor(
        'client-reported calls on it in admin',
        async () => ((await entry())?.callsPerSecond ?? 0) > 0,
        {
          timeoutMs: 20_000,
        },
      );
      const before = l.servedBy(greeter.address);
      const okBefore = l.succeeded;
      // Several outlier intervals and health retries go by under load: it keeps its share.
      await l.moreSucceeded(3000);
      const share = (l.servedBy(greeter.address) - before) / (l.succeeded - okBefore);
      // Not ejected nor out for its health. (The proxy hop can make it slower in clients' reports,
      // which load-aware weights may act on: reason "load", a weight, never an exclusion.)
      const seen = await entry();
      expect(seen).toMatchObject({ eligible: true, health: 'unreachable', ejectionRule: '' });
      expect(seen?.reasons.filter((r) => r !== 'load')).toEqual([]);
      const figures = await l.stop();
      load = undefined;
      expect(figures.callsFailed).toBe(0);
      expect(share).toBeGreaterThan(0.12);
      writeScenarioReport({
        id: '13-lb-partitioned-from-backend',
        title: 'an LB replica partitioned from one backend (the checker cannot connect, clients can)',
        promise: 'shown as unreachable, not ejected: zero failed calls, it keeps its share (1 of 5)',
        load: figures,
        figures: {
          checkerConnectionsRefused: proxy.refused(),
          clientReportedCallsPerSecond: Math.round((await entry())?.callsPerSecond ?? 0),
          sharePctOfPartitionedBackend: Math.round(1000 * share) / 10,
          failedCalls: figures.callsFailed,
        },
      });
    } finally {
      admin.close();
      await registration.close();
      await proxy.close();
      greeter.forceClose();
    }
  });
});
