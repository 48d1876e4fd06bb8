import {
  connectivityState as ConnectivityState,
  experimental,
  status as Status,
  type ChannelOptions,
} from '@grpc/grpc-js';
import { ClientStatsAccumulator } from './client-stats-accumulator';
import { LookasideContext } from './lookaside-context';
import { isLookasideEndpoint } from './lookaside-endpoint';
import { WeightedPicker, type PickerBackend } from './weighted-picker';

type Endpoint = experimental.Endpoint;
type Picker = experimental.Picker;

/** The name of the LB policy, as the resolver's service config selects it. */
export const LOOKASIDE_WRR_POLICY = 'lookaside_wrr';

const TRACER = 'lookaside_wrr';
function trace(text: string): void {
  experimental.trace(0 /* LogVerbosity.DEBUG */, TRACER, text);
}

/** The (empty) config of `lookaside_wrr`; grpc-js builds it from `{ lookaside_wrr: {} }`. */
export class LookasideWrrConfig implements experimental.TypedLoadBalancingConfig {
  getLoadBalancerName(): string {
    return LOOKASIDE_WRR_POLICY;
  }

  toJsonObject(): object {
    return { [LOOKASIDE_WRR_POLICY]: {} };
  }

  static createFromJson(_obj: unknown): LookasideWrrConfig {
    return new LookasideWrrConfig();
  }
}

/** One backend: its pick_first leaf (owning the subchannel) and what the LB server said of it. */
interface Child extends PickerBackend {
  readonly leaf: experimental.LeafLoadBalancer;
  weight: number;
  draining: boolean;
  // PickerBackend's state and picker are read live from the leaf.
}

function makeChild(
  leaf: experimental.LeafLoadBalancer,
  address: string,
  weight: number,
  draining: boolean,
): Child {
  return {
    leaf,
    address,
    weight,
    draining,
    get state() {
      return leaf.getConnectivityState();
    },
    get picker(): Picker {
      return leaf.getPicker();
    },
  };
}

/**
 * The `lookaside_wrr` LB policy: one pick_first leaf (one subchannel) per backend of the server
 * list, kept across list updates so an unchanged backend keeps its connection, and a
 * WeightedPicker over the READY, non-draining, positive-weight backends. grpc-js creates it when
 * the resolver's service config names it and calls it on its own event loop turn; it reports
 * connectivity the way grpc-js's round_robin does (READY if any pickable backend is READY, else
 * CONNECTING, else TRANSIENT_FAILURE with the last error, else IDLE). A draining backend keeps its
 * connection for its in-flight calls but gets no new picks. An empty list fails calls at once with
 * UNAVAILABLE naming the service.
 */
export class LookasideWrrBalancer implements experimental.LoadBalancer {
  private readonly children = new Map<string, Child>();
  private readonly childHelper: experimental.ChannelControlHelper;
  private currentState: ConnectivityState = ConnectivityState.IDLE;
  private updatesPaused = false;
  private destroyed = false;
  /**
   * Whether some non-draining backend was IDLE at the last state calculation. grpc-js calls
   * exitIdle() on every call; this keeps that O(1) instead of a scan of every backend.
   */
  private anyIdle = false;
  private lastError: string | null = null;
  /** The picker last handed to the channel while READY: the next one takes over its position. */
  private readyPicker: WeightedPicker | null = null;
  private context: LookasideContext | null = null;
  /** Used only when the policy runs under another resolver (no LookasideContext). */
  private ownStats: ClientStatsAccumulator | null = null;

  constructor(private readonly helper: experimental.ChannelControlHelper) {
    this.childHelper = experimental.createChildChannelControlHelper(helper, {
      updateState: (state, _picker, errorMessage) => {
        // As round_robin: ask for fresh resolution when a connection is lost.
        if (this.currentState === ConnectivityState.READY && state !== ConnectivityState.READY) {
          this.helper.requestReresolution();
        }
        if (errorMessage) this.lastError = errorMessage;
        this.calculateAndUpdateState();
      },
    });
  }

  private get service(): string {
    return this.context?.service ?? 'unknown';
  }

  private get stats(): ClientStatsAccumulator {
    if (this.context) return this.context.stats;
    return (this.ownStats ??= new ClientStatsAccumulator());
  }

  updateAddressList(
    endpoints: experimental.StatusOr<Endpoint[]>,
    config: experimental.TypedLoadBalancingConfig,
    options: ChannelOptions,
    resolutionNote: string,
  ): boolean {
    if (!(config instanceof LookasideWrrConfig) || this.destroyed) return false;
    this.context = LookasideContext.from(options) ?? this.context;
    if (!endpoints.ok) {
      // Keep serving from the backends we have; fail calls only when there are none.
      if (this.children.size === 0) {
        this.updateState(
          ConnectivityState.TRANSIENT_FAILURE,
          new experimental.UnavailablePicker(endpoints.error),
          endpoints.error.details,
        );
      }
      return true;
    }
    const list = endpoints.value;
    trace(`service=${this.service} update endpoints=${list.length} note=${JSON.stringify(resolutionNote)}`);
    this.updatesPaused = true;
    const seen = new Set<string>();
    for (const endpoint of list) {
      const lookaside = isLookasideEndpoint(endpoint);
      const address = lookaside ? endpoint.address : experimental.endpointToString(endpoint);
      const weight = lookaside ? endpoint.weight : 1;
      const draining = lookaside ? endpoint.draining : false;
      if (seen.has(address)) continue;
      seen.add(address);
      const existing = this.children.get(address);
      if (existing) {
        existing.weight = weight;
        existing.draining = draining;
        continue;
      }
      const leaf = new experimental.LeafLoadBalancer(endpoint, this.childHelper, options, resolutionNote);
      this.children.set(address, makeChild(leaf, address, weight, draining));
      this.stats.counters(address);
      leaf.startConnecting();
    }
    for (const [address, child] of this.children) {
      if (seen.has(address)) continue;
      child.leaf.destroy();
      this.children.delete(address);
      this.stats.retire(address);
    }
    this.updatesPaused = false;
    if (this.children.size === 0) {
      const details = `lookaside: service "${this.service}" has no backends${resolutionNote ? ` (${resolutionNote})` : ''}`;
      this.updateState(
        ConnectivityState.TRANSIENT_FAILURE,
        new experimental.UnavailablePicker({ code: Status.UNAVAILABLE, details }),
        details,
      );
      return true;
    }
    this.calculateAndUpdateState();
    return true;
  }

  private calculateAndUpdateState(): void {
    if (this.updatesPaused || this.destroyed || this.children.size === 0) return;
    // Keep every backend that may take calls connected (as round_robin does), before counting.
    this.connectIdleChildren();
    let candidates = 0;
    let ready = 0;
    let connecting = 0;
    let failing = 0;
    let idle = 0;
    for (const child of this.children.values()) {
      if (child.draining) continue;
      const state = child.state;
      if (state === ConnectivityState.IDLE) idle++;
      if (child.weight <= 0) continue;
      candidates++;
      if (state === ConnectivityState.READY) ready++;
      else if (state === ConnectivityState.CONNECTING) connecting++;
      else if (state === ConnectivityState.TRANSIENT_FAILURE) failing++;
    }
    this.anyIdle = idle > 0;
    const picker =
      ready > 0
        ? WeightedPicker.build(this.children.values(), this.stats, Math.random, this.readyPicker)
        : null;
    this.readyPicker = picker; // as round_robin: a position is kept only from READY to READY
    if (picker !== null) {
      this.updateState(ConnectivityState.READY, picker, null);
    } else if (candidates === 0) {
      const details =
        `lookaside: every backend of service "${this.service}" is draining or has weight 0 ` +
        `(${this.children.size} backends)`;
      this.updateState(
        ConnectivityState.TRANSIENT_FAILURE,
        new experimental.UnavailablePicker({ code: Status.UNAVAILABLE, details }),
        details,
      );
    } else if (connecting > 0) {
      this.updateState(ConnectivityState.CONNECTING, new experimental.QueuePicker(this), null);
    } else if (failing > 0) {
      const details =
        `lookaside_wrr: no connection established to any backend of service "${this.service}". ` +
        `Last error: ${this.lastError}`;
      this.updateState(
        ConnectivityState.TRANSIENT_FAILURE,
        new experimental.UnavailablePicker({ code: Status.UNAVAILABLE, details }),
        details,
      );
    } else {
      this.updateState(ConnectivityState.IDLE, new experimental.QueuePicker(this), null);
    }
  }

  /** Asks idle, non-draining leaves to connect; their synchronous state reports are folded in. */
  private connectIdleChildren(): void {
    const paused = this.updatesPaused;
    this.updatesPaused = true;
    for (const child of this.children.values()) {
      if (!child.draining && child.state === ConnectivityState.IDLE) child.leaf.exitIdle();
    }
    this.updatesPaused = paused;
  }

  private updateState(state: ConnectivityState, picker: Picker, errorMessage: string | null): void {
    if (state !== this.currentState) {
      trace(`service=${this.service} ${ConnectivityState[this.currentState]} -> ${ConnectivityState[state]}`);
    }
    this.currentState = state;
    this.helper.updateState(state, picker, errorMessage);
  }

  exitIdle(): void {
    if (this.anyIdle) this.calculateAndUpdateState();
  }

  resetBackoff(): void {
    // Subchannel backoff belongs to the subchannels; this policy has none of its own.
  }

  destroy(): void {
    this.destroyed = true;
    for (const [address, child] of this.children) {
      child.leaf.destroy();
      this.stats.retire(address);
    }
    this.children.clear();
  }

  getTypeName(): string {
    return LOOKASIDE_WRR_POLICY;
  }
}
