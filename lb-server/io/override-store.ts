import type { Etcd3 } from 'etcd3';
import type { Logger } from 'pino';
import type { Clock } from '../../common/clock';
import {
  encodeOverrideValue,
  MAX_WHO_LENGTH,
  MAX_WHY_LENGTH,
  overrideKey,
  type OverrideValue,
} from '../../common/override-record';
import { MAX_WEIGHT, validateInstanceId } from '../../common/registry-record';
import { validateServiceName } from '../../common/service-name';
import type { HeldOverride, OverrideState } from '../core/override-state';

/** What an operator asks for (the Admin API's SetOverride, the console). */
export interface OverrideRequest {
  service: string;
  instanceId: string;
  /** Replaces the registered weight, 0..MAX_WEIGHT. */
  weight?: number;
  /** True: out of rotation (weight 0, kept connected for in-flight calls). */
  draining?: boolean;
  /** Why, at most MAX_WHY_LENGTH characters ("" allowed). */
  reason: string;
  /** How long it applies, in ms; undefined or 0: until cleared. */
  forMs?: number;
  /** Who, 1..MAX_WHO_LENGTH characters. */
  who: string;
}

/** One override as the store lists it. */
export interface StoredOverride {
  readonly service: string;
  readonly instanceId: string;
  /** Its etcd key. */
  readonly key: string;
  readonly weight?: number;
  readonly draining: boolean;
  readonly who: string;
  readonly why: string;
  readonly atMs: number;
  readonly expiresAtMs?: number;
  readonly modRevision: number;
  /** The instance has no record (yet): the override applies once it registers. */
  readonly dangling: boolean;
}

/**
 * Operator overrides, for the Admin API and the console. set() and clear() write etcd (every
 * replica, this one included, applies the change when its watch sees it, within milliseconds);
 * list() reads what this replica's watch holds.
 */
export interface OverrideStore {
  /** Validates (OverrideInputError with field + reason), writes etcd, logs `override_set`. */
  set(req: OverrideRequest): Promise<StoredOverride>;
  /** Deletes the override; false when there was none. Logs `override_cleared`. */
  clear(service: string, instanceId: string, who: string): Promise<boolean>;
  /** Unexpired overrides (of `service`, or all), sorted by key, with the dangling flag. */
  list(service?: string): readonly StoredOverride[];
}

/** The longest override duration accepted: a year (an override meant forever takes no expiry). */
export const MAX_OVERRIDE_FOR_MS = 365 * 24 * 3600 * 1000;

/** An override request refused before anything was written: which field, and why. */
export class OverrideInputError extends Error {
  constructor(
    readonly field: 'service' | 'instanceId' | 'weight' | 'draining' | 'reason' | 'forMs' | 'who',
    readonly reason: string,
  ) {
    super(`${field}: ${reason}`);
    this.name = 'OverrideInputError';
  }
}

/** etcd refused or did not answer a write of an override. */
export class OverrideWriteError extends Error {
  constructor(
    readonly key: string,
    cause: unknown,
  ) {
    super(`cannot write override ${key} to etcd: ${cause instanceof Error ? cause.message : String(cause)}`, {
      cause,
    });
    this.name = 'OverrideWriteError';
  }
}

export interface EtcdOverrideStoreOptions {
  /** An etcd client the caller owns. */
  readonly client: Etcd3;
  readonly registryPrefix: string;
  /** What the watch holds (list()). */
  readonly state: OverrideState;
  /** True when the registry has a record of the instance (not dangling). */
  readonly hasInstance: (service: string, instanceId: string) => boolean;
  readonly clock: Clock;
  readonly logger: Logger;
  /** Deadline of one etcd write; default 3000 ms. */
  readonly requestTimeoutMs?: number;
}

function checkNames(service: string, instanceId: string): void {
  const s = validateServiceName(service);
  if (!s.ok) throw new OverrideInputError('service', s.reason);
  const i = validateInstanceId(instanceId);
  if (!i.ok) throw new OverrideInputError('instanceId', i.reason);
}

/** The OverrideStore of the LB server: writes `<root>/overrides/…` in etcd. */
export class EtcdOverrideStore implements OverrideStore {
  private readonly timeoutMs: number;

  constructor(private readonly options: EtcdOverrideStoreOptions) {
    this.timeoutMs = options.requestTimeoutMs ?? 3000;
  }

  async set(req: OverrideRequest): Promise<StoredOverride> {
    checkNames(req.service, req.instanceId);
    if (
      req.weight !== undefined &&
      !(Number.isInteger(req.weight) && req.weight >= 0 && req.weight <= MAX_WEIGHT)
    )
      throw new OverrideInputError('weight', `expected an integer in 0..${MAX_WEIGHT}, got ${req.weight}`);
    if (req.weight === undefined && req.draining !== true)
      throw new OverrideInputError('weight', 'an override needs a weight or draining');
    if (req.reason.length > MAX_WHY_LENGTH)
      throw new OverrideInputError('reason', `longer than ${MAX_WHY_LENGTH} characters`);
    const forMs = req.forMs ?? 0;
    if (!(Number.isInteger(forMs) && forMs >= 0 && forMs <= MAX_OVERRIDE_FOR_MS))
      throw new OverrideInputError(
        'forMs',
        `expected 0 (no expiry) or a whole number of ms up to ${MAX_OVERRIDE_FOR_MS}`,
      );
    if (req.who.length === 0 || req.who.length > MAX_WHO_LENGTH)
      throw new OverrideInputError('who', `expected 1..${MAX_WHO_LENGTH} characters`);

    const atMs = this.options.clock.now();
    const value: OverrideValue = {
      ...(req.weight !== undefined ? { weight: req.weight } : {}),
      ...(req.draining === true ? { draining: true } : {}),
      who: req.who,
      why: req.reason,
      atMs,
      ...(forMs > 0 ? { expiresAtMs: atMs + forMs } : {}),
    };
    const key = overrideKey(this.options.registryPrefix, req.service, req.instanceId);
    let revision: number;
    try {
      const res = await this.options.client
        .put(key)
        .value(encodeOverrideValue(value))
        .options({ deadline: new Date(Date.now() + this.timeoutMs) })
        .exec();
      revision = Number(res.header.revision);
    } catch (err) {
      throw new OverrideWriteError(key, err);
    }
    const stored: StoredOverride = {
      service: req.service,
      instanceId: req.instanceId,
      key,
      ...(value.weight !== undefined ? { weight: value.weight } : {}),
      draining: value.draining === true,
      who: value.who,
      why: value.why,
      atMs,
      ...(value.expiresAtMs !== undefined ? { expiresAtMs: value.expiresAtMs } : {}),
      modRevision: revision,
      dangling: !this.options.hasInstance(req.service, req.instanceId),
    };
    this.options.logger.info(
      {
        event: 'override_set',
        service: stored.service,
        instanceId: stored.instanceId,
        who: stored.who,
        why: stored.why,
        weight: stored.weight,
        draining: stored.draining,
        expiresAtMs: stored.expiresAtMs,
        dangling: stored.dangling,
      },
      `override of ${stored.service}/${stored.instanceId} set by ${stored.who}`,
    );
    return stored;
  }

  async clear(service: string, instanceId: string, who: string): Promise<boolean> {
    checkNames(service, instanceId);
    if (who.length === 0 || who.length > MAX_WHO_LENGTH)
      throw new OverrideInputError('who', `expected 1..${MAX_WHO_LENGTH} characters`);
    const key = overrideKey(this.options.registryPrefix, service, instanceId);
    const previous = this.options.state.get(service, instanceId);
    let deleted: number;
    try {
      const res = await this.options.client
        .delete()
        .key(key)
        .options({ deadline: new Date(Date.now() + this.timeoutMs) })
        .exec();
      deleted = Number(res.deleted);
    } catch (err) {
      throw new OverrideWriteError(key, err);
    }
    if (deleted > 0) {
      this.options.logger.info(
        {
          event: 'override_cleared',
          service,
          instanceId,
          who,
          setBy: previous?.who,
          why: previous?.why,
        },
        `override of ${service}/${instanceId} cleared by ${who}`,
      );
    }
    return deleted > 0;
  }

  list(service?: string): readonly StoredOverride[] {
    return this.options.state.list(service).map((o) => this.toStored(o));
  }

  private toStored(o: HeldOverride): StoredOverride {
    return {
      service: o.service,
      instanceId: o.instanceId,
      key: o.key,
      ...(o.weight !== undefined ? { weight: o.weight } : {}),
      draining: o.draining === true,
      who: o.who,
      why: o.why,
      atMs: o.atMs,
      ...(o.expiresAtMs !== undefined ? { expiresAtMs: o.expiresAtMs } : {}),
      modRevision: o.modRevision,
      dangling: !this.options.hasInstance(o.service, o.instanceId),
    };
  }
}
