import { MAX_WEIGHT } from '../../common/registry-record';
import type { RegistryEndpoint, ServiceView } from '../core/registry-state';
import {
  WHOLE_SERVICE_GROUP,
  type AssignedEndpoint,
  type Assignment,
  type EndpointReason,
} from './assignment';
import { NO_SIGNALS, type EndpointSignals } from './assignment-signals';
import { duplicateAddresses } from './duplicate-addresses';

/** What the stage knows of a client when it picks the client's group. */
export interface AssignmentClient {
  readonly service: string;
  readonly clientId: string;
  readonly zone: string;
}

/**
 * How a service's clients are split into groups, and what each group is sent. Clients of one group
 * get the same Assignment object (so frontends encode one message per group). Group
 * WHOLE_SERVICE_GROUP always means "every endpoint the stage assessed": select() is not asked
 * for it. Implementations are pure and deterministic: every LB replica must compute the same
 * groups from the same inputs.
 */
export interface AssignmentPolicy {
  /** The group of `client`. */
  groupOf(client: AssignmentClient): string;
  /**
   * The entries `group` is sent, chosen from the service-wide entries (sorted by key). May leave
   * entries out or change their weight and reasons; must keep the order, and must not give a
   * `duplicate` entry (duplicateOf set) a weight: the address is served by the record clients use.
   */
  select(entries: readonly AssignedEndpoint[], group: string, service: string): readonly AssignedEndpoint[];
  /**
   * Optional: called at the start of every publish of a service with its service-wide assignment,
   * before groupOf() and select() are asked about the service. A policy whose groups depend on
   * more than the client itself (the population of clients, per-service settings, the endpoints)
   * computes its plan here; the pipeline then asks groupOf() again for every subscribed client and
   * moves the ones whose group changed. Without it, a client's group is fixed when it subscribes.
   * Returning false says the plan is the one of the last call (the pipeline then re-selects no
   * group unless the service-wide assignment changed).
   */
  prepare?(base: Assignment): boolean | void;
}

/** Every client of a service gets the whole service: one group, one list (today's behaviour). */
export const WHOLE_SERVICE_POLICY: AssignmentPolicy = Object.freeze({
  groupOf: () => WHOLE_SERVICE_GROUP,
  select: (entries: readonly AssignedEndpoint[]) => entries,
});

/**
 * One endpoint's weight for new calls and the reasons it differs from the record. `duplicateOf`:
 * the record of the same address that clients use (this one then gets weight 0, reason
 * `duplicate` last, after the reasons its own record and signals give).
 */
function assess(
  e: RegistryEndpoint,
  signals: EndpointSignals,
  duplicateOf?: RegistryEndpoint,
): AssignedEndpoint {
  const reasons: EndpointReason[] = [];
  if (signals.held.has(e.key)) reasons.push('held');
  const override = signals.overrides.get(e.key);
  let weight = e.weight;
  if (override?.weight !== undefined) {
    weight = override.weight;
    reasons.push('overridden');
  }
  if (e.draining) {
    weight = 0;
    reasons.push('draining');
  } else if (override?.draining) {
    weight = 0;
    if (!reasons.includes('overridden')) reasons.push('overridden');
  } else if (weight === 0 && override?.weight === undefined) {
    reasons.push('weight-0');
  }
  const configuredWeight = weight;
  if (signals.health.get(e.key)?.serving === false) {
    weight = 0;
    reasons.push('unhealthy');
  }
  if (signals.ejections.has(e.key)) {
    weight = 0;
    reasons.push('ejected');
  }
  const load = signals.load.get(e.key);
  if (weight > 0 && load !== undefined && load.factor !== 1) {
    weight = Math.min(MAX_WEIGHT, Math.max(1, Math.round(weight * load.factor)));
    reasons.push('load');
  }
  if (duplicateOf !== undefined) {
    reasons.push('duplicate');
    return Object.freeze({
      endpoint: e,
      weight: 0,
      eligible: false,
      configuredWeight: 0,
      reasons: Object.freeze(reasons),
      duplicateOf: duplicateOf.instanceId,
    });
  }
  return Object.freeze({
    endpoint: e,
    weight,
    eligible: weight > 0,
    configuredWeight,
    reasons: Object.freeze(reasons),
  });
}

function freezeAssignment(
  service: string,
  group: string,
  version: number,
  endpoints: readonly AssignedEndpoint[],
  panic: boolean,
): Assignment {
  return Object.freeze({
    service,
    group,
    version,
    endpoints: Object.freeze([...endpoints]),
    eligible: Object.freeze(endpoints.filter((e) => e.eligible)),
    panic,
  });
}

/** Below this share of the endpoints that would serve without health verdicts and ejections, both are ignored. */
export const DEFAULT_PANIC_THRESHOLD = 0.5;

/**
 * The assignment stage: the one place that decides what each client is sent. No I/O, no timers:
 * the AssignmentPipeline calls assess() for every change of a service's records or signals and
 * select() for every group that has subscribers, then publishes the results.
 */
export class AssignmentStage {
  /**
   * @param panicThreshold when health verdicts and ejections would leave fewer than this share
   *   (0..1] of the endpoints that serve without them, the stage ignores them for the service
   *   (0 disables).
   */
  constructor(
    private readonly policy: AssignmentPolicy = WHOLE_SERVICE_POLICY,
    private readonly panicThreshold = DEFAULT_PANIC_THRESHOLD,
  ) {}

  /** The group `client` belongs to. */
  groupOf(client: AssignmentClient): string {
    return this.policy.groupOf(client);
  }

  /** True when clients' groups may change at each publish (the policy has prepare()). */
  get regroups(): boolean {
    return this.policy.prepare !== undefined;
  }

  /**
   * Lets the policy plan the groups of `base`'s service (see AssignmentPolicy.prepare). False when
   * the policy says its plan is unchanged (no client's group, no group's selection changed).
   */
  prepare(base: Assignment): boolean {
    return this.policy.prepare?.(base) !== false;
  }

  /**
   * The service-wide assignment (group WHOLE_SERVICE_GROUP): every endpoint of `view` (already
   * through self-preservation) with the signals applied, at `version`. The admin views and the
   * metrics read this one; groups are selected from it. Of the records that name one address,
   * one is the one clients use and the others are `duplicate` (duplicate-addresses.ts).
   */
  assess(view: ServiceView, signals: EndpointSignals, version: number): Assignment {
    const duplicates = duplicateAddresses(view.endpoints);
    const entries = view.endpoints.map((e) => assess(e, signals, duplicates.get(e.key)));
    if ((signals.health.size > 0 || signals.ejections.size > 0) && this.panicThreshold > 0) {
      const withoutVerdicts = view.endpoints.map((e) =>
        assess(
          e,
          { ...signals, health: NO_SIGNALS.health, ejections: NO_SIGNALS.ejections },
          duplicates.get(e.key),
        ),
      );
      const wouldServe = withoutVerdicts.filter((e) => e.eligible).length;
      const serving = entries.filter((e) => e.eligible).length;
      if (wouldServe > 0 && serving < this.panicThreshold * wouldServe) {
        return freezeAssignment(view.name, WHOLE_SERVICE_GROUP, version, withoutVerdicts, true);
      }
    }
    return freezeAssignment(view.name, WHOLE_SERVICE_GROUP, version, entries, false);
  }

  /**
   * What `group` is sent, from the service-wide assignment `base` (base itself for the whole
   * service), at `version` (default base's: the pipeline stamps a group that changed while the
   * service-wide assignment did not with the service's next version).
   */
  select(base: Assignment, group: string, version = base.version): Assignment {
    if (group === WHOLE_SERVICE_GROUP) return base;
    return freezeAssignment(
      base.service,
      group,
      version,
      // A policy cannot revive a duplicate record: its address is served by the record clients use.
      this.policy
        .select(base.endpoints, group, base.service)
        .map((e) =>
          e.duplicateOf !== undefined && (e.eligible || e.weight > 0)
            ? { ...e, eligible: false, weight: 0 }
            : e,
        ),
      base.panic,
    );
  }
}
