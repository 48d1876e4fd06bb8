import * as grpc from '@grpc/grpc-js';
import { LoadReporter } from '../../../registrar/load-reporter';

/** A reporter on a hand-driven clock and timer, with a utilization the test sets. */
function harness() {
  let now = 0;
  let utilization = 0;
  let tickFn: (() => void) | undefined;
  let cancelled = false;
  const reporter = new LoadReporter({
    intervalMs: 1000,
    now: () => now,
    utilization: () => utilization,
    every: (fn) => {
      tickFn = fn;
      return { cancel: () => (cancelled = true) };
    },
  });
  return {
    reporter,
    advance(ms: number) {
      now += ms;
      tickFn?.();
    },
    setUtilization(u: number) {
      utilization = u;
    },
    get cancelled() {
      return cancelled;
    },
  };
}

describe('LoadReporter', () => {
  test('rps and eps are the calls and non-OK calls counted over the elapsed interval', () => {
    const h = harness();
    h.reporter.addToServer(new grpc.Server());
    for (let i = 0; i < 30; i++) h.reporter.recordCall(i % 10 === 0 ? grpc.status.INTERNAL : grpc.status.OK);
    h.setUtilization(0.25);
    h.advance(2000);
    expect(h.reporter.sample()).toEqual({ applicationUtilization: 0.25, rpsFractional: 15, eps: 1.5 });
    // The counters start again: an idle interval reports 0.
    h.advance(1000);
    expect(h.reporter.sample()).toEqual({ applicationUtilization: 0.25, rpsFractional: 0, eps: 0 });
  });

  test('a broken utilization source publishes 0, never NaN, and utilization is capped at 1', () => {
    const h = harness();
    h.reporter.addToServer(new grpc.Server());
    h.setUtilization(Number.NaN);
    h.advance(1000);
    expect(h.reporter.sample().applicationUtilization).toBe(0);
    h.setUtilization(3);
    h.advance(1000);
    expect(h.reporter.sample().applicationUtilization).toBe(1);
    h.setUtilization(-1);
    h.advance(1000);
    expect(h.reporter.sample().applicationUtilization).toBe(0);
  });

  test('a tick with no time elapsed reports no rate rather than Infinity', () => {
    const h = harness();
    h.reporter.addToServer(new grpc.Server());
    h.reporter.recordCall(grpc.status.OK);
    expect(h.reporter.tick()).toEqual({ applicationUtilization: 0, rpsFractional: 0, eps: 0 });
  });

  test('close() stops the timer and is idempotent; a second addToServer is refused', () => {
    const h = harness();
    const server = new grpc.Server();
    h.reporter.addToServer(server);
    expect(() => h.reporter.addToServer(server)).toThrow(/already added/);
    h.reporter.close();
    h.reporter.close();
    expect(h.cancelled).toBe(true);
  });

  test('the default utilization source (event-loop utilization) stays within [0, 1]', () => {
    const reporter = new LoadReporter({ every: () => ({ cancel: () => undefined }) });
    reporter.addToServer(new grpc.Server());
    const u = reporter.tick().applicationUtilization;
    expect(u).toBeGreaterThanOrEqual(0);
    expect(u).toBeLessThanOrEqual(1);
    reporter.close();
  });

  test('an interval below 10 ms is refused', () => {
    expect(() => new LoadReporter({ intervalMs: 5 })).toThrow(RangeError);
  });
});
