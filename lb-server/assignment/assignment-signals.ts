/**
 * What the assignment stage knows about a service's endpoints besides their records, keyed by
 * registry key. Each signal is gathered by a thin shell (self-preservation, the health checker, the
 * outlier detector; later a load subscriber, the etcd watch of operator overrides) and handed to the stage as
 * plain values, so the stage itself stays free of I/O.
 */

/** A backend's health as an LB replica observes it. */
export interface HealthSignal {
  /** False when the backend says it does not serve (NOT_SERVING, SERVICE_UNKNOWN). */
  readonly serving: boolean;
}

/** An outlier ejection: clients' reports say the backend fails abnormally often. */
export interface EjectionSignal {
  /** The gRFC A50 rule that ejected it. */
  readonly rule: 'success-rate' | 'failure-percentage';
  /** When it may return (at the detector's first interval at or after this time). */
  readonly untilMs: number;
}

/** The load-aware factor of a backend's weight (1 = as registered). */
export interface LoadSignal {
  /** > 0; the registered weight is multiplied by it (the result is at least 1). */
  readonly factor: number;
}

/** An operator's override of one instance, stored in etcd. */
export interface OperatorOverride {
  /** Replaces the registered weight (0..MAX_WEIGHT). */
  readonly weight?: number;
  /** Takes the instance out of rotation, as draining does. */
  readonly draining?: boolean;
}

/** Every signal about one service's endpoints; absent keys mean "nothing known". */
export interface EndpointSignals {
  /** Keys self-preservation publishes although etcd removed them. */
  readonly held: ReadonlySet<string>;
  readonly health: ReadonlyMap<string, HealthSignal>;
  readonly ejections: ReadonlyMap<string, EjectionSignal>;
  readonly load: ReadonlyMap<string, LoadSignal>;
  readonly overrides: ReadonlyMap<string, OperatorOverride>;
}

/** No signal at all: the stage then serves every record as registered. */
export const NO_SIGNALS: EndpointSignals = Object.freeze({
  held: new Set<string>(),
  health: new Map<string, HealthSignal>(),
  ejections: new Map<string, EjectionSignal>(),
  load: new Map<string, LoadSignal>(),
  overrides: new Map<string, OperatorOverride>(),
});
