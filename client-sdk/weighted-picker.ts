import { connectivityState as ConnectivityState, status as Status } from '@grpc/grpc-js';
import { experimental } from '@grpc/grpc-js';
import type { Metadata } from '@grpc/grpc-js';
import { StrideScheduler } from './stride-scheduler';
import type { BackendCallCounters, ClientStatsAccumulator } from './client-stats-accumulator';

type Picker = experimental.Picker;
type PickArgs = experimental.PickArgs;
type PickResult = experimental.PickResult;
const PICK_COMPLETE = experimental.PickResultType.COMPLETE;

/** What the picker needs to know about one backend; a snapshot taken by the LB policy. */
export interface PickerBackend {
  /** "host:port", as in the server list. */
  readonly address: string;
  readonly state: ConnectivityState;
  readonly draining: boolean;
  readonly weight: number;
  /** The backend's own (pick_first leaf) picker; returns its subchannel when READY. */
  readonly picker: Picker;
}

/** A backend takes new calls when it is READY, not draining and has a positive weight. */
export function isPickable(backend: PickerBackend): boolean {
  return backend.state === ConnectivityState.READY && !backend.draining && backend.weight > 0;
}

/**
 * The weighted round-robin picker of the `lookaside_wrr` policy: an immutable snapshot of the
 * pickable backends, replaced (never mutated) by the policy whenever a backend's state, weight or
 * draining flag changes. `pick()` costs the same at 10 or 10,000 backends (a stride scheduler
 * step) and allocates nothing of its own except, when the LB server asked for client stats, the
 * one closure that measures the call's latency.
 */
export class WeightedPicker implements Picker {
  private constructor(
    private readonly pickers: readonly Picker[],
    private readonly counters: readonly BackendCallCounters[],
    private readonly scheduler: StrideScheduler,
    private readonly stats: ClientStatsAccumulator,
    /** The addresses in scheduler order (for tests and tracing). */
    readonly addresses: readonly string[],
  ) {}

  /**
   * Builds a picker over the pickable backends of `backends`, or returns null when none is
   * pickable. `random` seeds the scheduler's starting point.
   */
  static build(
    backends: Iterable<PickerBackend>,
    stats: ClientStatsAccumulator,
    random: () => number,
  ): WeightedPicker | null {
    const pickers: Picker[] = [];
    const counters: BackendCallCounters[] = [];
    const weights: number[] = [];
    const addresses: string[] = [];
    for (const b of backends) {
      if (!isPickable(b)) continue;
      pickers.push(b.picker);
      counters.push(stats.counters(b.address));
      weights.push(b.weight);
      addresses.push(b.address);
    }
    if (pickers.length === 0) return null;
    return new WeightedPicker(pickers, counters, StrideScheduler.build(weights, random), stats, addresses);
  }

  /** Number of backends this picker spreads calls over. */
  get size(): number {
    return this.pickers.length;
  }

  pick(pickArgs: PickArgs): PickResult {
    const index = this.scheduler.next();
    const result = this.pickers[index].pick(pickArgs);
    if (!this.stats.enabled || result.pickResultType !== PICK_COMPLETE) return result;
    const counters = this.counters[index];
    const stats = this.stats;
    const startedAt = stats.now();
    const innerStarted = result.onCallStarted;
    const innerEnded = result.onCallEnded;
    result.onCallStarted =
      innerStarted === null
        ? counters.onCallStarted
        : () => {
            counters.onCallStarted();
            innerStarted();
          };
    result.onCallEnded = (code: Status, details: string, metadata: Metadata): void => {
      counters.callEnded(code, stats.now() - startedAt);
      innerEnded?.(code, details, metadata);
    };
    return result;
  }
}
