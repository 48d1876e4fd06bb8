/**
 * What the console's actions (drain, undrain, weight) need of the operator-overrides store. The
 * overrides store (etcd, its own prefix: EtcdOverrideStore) implements it; startLbServer passes
 * its own store unless `consoleOverrides` replaces it (tests).
 */

import type { OverrideRequest } from '../../io/override-store';

export type { OverrideRequest };

/** The overrides store, as the console calls it (once per action request). */
export interface ConsoleOverrides {
  /** Sets (replaces) the override; rejects with an error that has `field` and `reason` on bad input. */
  set(req: OverrideRequest): Promise<unknown>;
  /** Clears the override; resolves false when there was none. */
  clear(service: string, instanceId: string, who: string): Promise<boolean>;
}

/** An error from ConsoleOverrides.set that names the input at fault (answered with 400). */
export interface OverrideInputError {
  readonly field: string;
  readonly reason: string;
}

/** True for an error with string `field` and `reason`: the store's bad-input rejections. */
export function isOverrideInputError(err: unknown): err is OverrideInputError {
  return (
    typeof err === 'object' &&
    err !== null &&
    typeof (err as { field?: unknown }).field === 'string' &&
    typeof (err as { reason?: unknown }).reason === 'string'
  );
}
