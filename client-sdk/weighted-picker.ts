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
 * pick result it returns (a copy of the child's, which is never modified) and the one closure
 * that measures the call's latency. A rebuilt picker goes on from its predecessor's position, as
 * grpc-js's round_robin does: exactly where it stood when the backends and weights are the same,
 * else at the backend that was next (or the first of those after it that is still pickable).
 */
export class WeightedPicker implements Picker {
  private constructor(
    private readonly pickers: readonly Picker[],
    private readonly counters: readonly BackendCallCounters[],
    private readonly scheduler: StrideScheduler,
    private readonly stats: ClientStatsAccumulator,
    /** The addresses in scheduler order (for tests and tracing). */
    readonly addresses: readonly string[],
    private readonly weights: readonly number[],
  ) {}

  /**
   * Builds a picker over the pickable backends of `backends`, or returns null when none is
   * pickable. Called by the LB policy on every state change, with the picker it built last (if it
   * is still READY) as `previous`, whose position the new one takes over; `random` seeds the
   * starting point when there is no previous picker or none of its backends is left.
   */
  static build(
    backends: Iterable<PickerBackend>,
    stats: ClientStatsAccumulator,
    random: () => number,
    previous: WeightedPicker | null = null,
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
    let scheduler: StrideScheduler;
    if (previous !== null && previous.hasBackends(addresses, weights)) {
      scheduler = previous.scheduler.fork();
    } else {
      scheduler = StrideScheduler.build(weights, random);
      if (previous !== null) previous.handOver(scheduler, addresses);
    }
    return new WeightedPicker(pickers, counters, scheduler, stats, addresses, weights);
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
    return {
      ...result,
      onCallStarted:
        innerStarted === null
          ? counters.onCallStarted
          : () => {
              counters.onCallStarted();
              innerStarted();
            },
      onCallEnded: (code: Status, details: string, metadata: Metadata): void => {
        counters.callEnded(code, stats.now() - startedAt);
        innerEnded?.(code, details, metadata);
      },
    };
  }

  private hasBackends(addresses: readonly string[], weights: readonly number[]): boolean {
    if (addresses.length !== this.addresses.length) return false;
    for (let i = 0; i < addresses.length; i++) {
      if (addresses[i] !== this.addresses[i] || weights[i] !== this.weights[i]) return false;
    }
    return true;
  }

  /**
   * Positions `scheduler` (over `addresses`) at this picker's next backend, or at the first one
   * after it, in this picker's order, that `addresses` still has.
   */
  private handOver(scheduler: StrideScheduler, addresses: readonly string[]): void {
    const indexOf = new Map<string, number>();
    for (let i = 0; i < addresses.length; i++) indexOf.set(addresses[i], i);
    const old = this.addresses;
    const next = this.scheduler.peek();
    for (let k = 0; k < old.length; k++) {
      const i = indexOf.get(old[(next + k) % old.length]);
      if (i !== undefined) {
        scheduler.seek(i, this.scheduler.generation);
        return;
      }
    }
  }
}
