import type { Clock } from '../../common/clock';
import { ChangeCoalescer } from '../core/change-coalescer';
import type { RegistryState, ServiceView } from '../core/registry-state';
import { SelfPreservation, type HeldSummary, type SelfPreservationOptions } from '../core/self-preservation';
import { VersionedHub, type Unsubscribe } from '../core/versioned-hub';
import { emptyAssignment, WHOLE_SERVICE_GROUP, type Assignment } from './assignment';
import {
  NO_SIGNALS,
  type EjectionSignal,
  type EndpointSignals,
  type HealthSignal,
  type LoadSignal,
  type OperatorOverride,
} from './assignment-signals';
import { AssignmentStage, type AssignmentClient, type AssignmentPolicy } from './assignment-stage';

/** How the pipeline is tuned; see ChangeCoalescer and SelfPreservation. */
export interface AssignmentPipelineOptions {
  readonly coalesceMs: number;
  readonly selfPreservation: SelfPreservationOptions;
  /** How clients are grouped; default: every client gets the whole service. */
  readonly policy?: AssignmentPolicy;
  /** See AssignmentStage; default DEFAULT_PANIC_THRESHOLD. */
  readonly panicThreshold?: number;
}

/** Told of what the pipeline does, for logs, metrics and the held-endpoint prober. Must not throw. */
export interface PipelineObserver {
  /** The etcd adapter changed these services (before coalescing). */
  changed?(services: readonly string[]): void;
  /**
   * A service's assignments were published; `streams` subscribers (all groups) were woken.
   * `previous` is the service-wide assignment this one replaced (undefined: none was kept); the
   * new one is serviceAssignment(service).
   */
  published?(service: string, streams: number, previous: Assignment | undefined): void;
  /** One republish of these services is complete (after their published() calls). */
  republished?(services: readonly string[]): void;
  /** Self-preservation is holding endpoints of `service` after a mass removal. */
  holding?(service: string, held: HeldSummary): void;
  /** Holds of these services ended after the grace and the removals were applied. */
  expired?(services: readonly string[]): void;
  /**
   * `service` is gone (no record, no hold, no subscriber) and was dropped everywhere in the
   * pipeline; an observer drops what it keeps per service. Called once per drop, after the
   * service's last published() (which had no endpoints).
   */
  forgotten?(service: string): void;
}

/** Where the pipeline reads each endpoint's health verdict (the health checker, keyed by registry key). */
export interface HealthSource {
  signal(key: string): HealthSignal | undefined;
}

/** Where the pipeline reads outlier ejections (the outlier detector, keyed by service and address). */
export interface EjectionSource {
  ejection(service: string, address: string): EjectionSignal | undefined;
}

/** Where the pipeline reads load factors (the load-weight computation, by service and key). */
export interface LoadSource {
  load(service: string, key: string): LoadSignal | undefined;
}

/**
 * Where the pipeline reads operator overrides (the etcd watch of `<root>/overrides/`, keyed by
 * registry key; an override whose instance has no record yet is found once the record appears).
 */
export interface OverrideSource {
  override(key: string): OperatorOverride | undefined;
}

/** One frontend stream's view of its client's assignment. */
export interface AssignmentSubscription {
  /** The client's group (clients of one group share every Assignment object). */
  readonly group: string;
  /** The latest assignment if its version is greater than `version` and the pipeline is ready. */
  newerThan(version: number): Assignment | undefined;
  /** The latest assignment (an empty version-0 one before anything was published). */
  latest(): Assignment;
  /** Ends the subscription; idempotent. */
  unsubscribe(): void;
}

/**
 * A subscription as a small object with prototype methods: one per stream, so kept lean. Its group
 * may change at a publish (policies with prepare()); the pipeline then moves it to the new group's
 * hub key. Versions grow per service whatever the group, so a moved stream is sent the new
 * group's assignment (published in the same republish, at a higher version than anything before).
 */
class HubSubscription implements AssignmentSubscription {
  private hubUnsubscribe: Unsubscribe;
  private ended = false;

  constructor(
    private readonly pipeline: AssignmentPipeline,
    private readonly hub: VersionedHub<Assignment>,
    readonly client: AssignmentClient,
    public group: string,
    private readonly wake: () => void,
  ) {
    this.hubUnsubscribe = hub.subscribe(hubKey(client.service, group), wake);
  }

  get key(): string {
    return hubKey(this.client.service, this.group);
  }

  newerThan(version: number): Assignment | undefined {
    return this.hub.newerThan(this.key, version);
  }

  latest(): Assignment {
    return this.hub.latest(this.key);
  }

  /** Subscribes to `group`'s key, then leaves the old one (so the service never looks unsubscribed). */
  move(group: string): void {
    if (this.ended || group === this.group) return;
    const leave = this.hubUnsubscribe;
    this.group = group;
    this.hubUnsubscribe = this.hub.subscribe(this.key, this.wake);
    leave();
  }

  unsubscribe(): void {
    if (this.ended) return;
    this.ended = true;
    this.pipeline.ended(this);
    this.hubUnsubscribe();
  }
}

/** The hub key of one group of one service (service names hold no newline). */
function hubKey(service: string, group: string): string {
  return group === WHOLE_SERVICE_GROUP ? service : `${service}\n${group}`;
}

interface ServiceSlot {
  base: Assignment;
  readonly groups: Set<string>;
  readonly subscriptions: Set<HubSubscription>;
  /** Published, or a group other than the whole subscribed: observers are told when it is forgotten. */
  remembered: boolean;
  /** The highest version published for the service, over all its groups. */
  version: number;
}

/**
 * True when `a` and `b` send clients the same thing: the same records (by key and revision) in
 * the same order, with the same weights, eligibility and reasons, and the same panic state.
 */
function sameAssignment(a: Assignment, b: Assignment): boolean {
  if (a.panic !== b.panic || a.endpoints.length !== b.endpoints.length) return false;
  for (let i = 0; i < a.endpoints.length; i++) {
    const x = a.endpoints[i];
    const y = b.endpoints[i];
    if (
      x.endpoint.key !== y.endpoint.key ||
      x.endpoint.modRevision !== y.endpoint.modRevision ||
      x.weight !== y.weight ||
      x.eligible !== y.eligible ||
      x.duplicateOf !== y.duplicateOf ||
      x.reasons.length !== y.reasons.length ||
      x.reasons.some((r, j) => y.reasons[j] !== r)
    ) {
      return false;
    }
  }
  return true;
}

function newSlot(base: Assignment): ServiceSlot {
  return { base, groups: new Set(), subscriptions: new Set(), remembered: false, version: base.version };
}

function splitHubKey(key: string): { service: string; group: string } {
  const nl = key.indexOf('\n');
  return nl < 0
    ? { service: key, group: WHOLE_SERVICE_GROUP }
    : { service: key.slice(0, nl), group: key.slice(nl + 1) };
}

/**
 * The LB server's pipeline from the registry to the frontends, in the order data flows:
 * registry state → (coalescing) → self-preservation → assignment stage → versioned hub keyed by
 * (service, group). No I/O: the etcd adapter feeds changed() and ready(), the frontends
 * subscribe(), the admin views and the metrics read serviceAssignment(); time comes from the
 * clock (the coalescer's window, self-preservation's grace). Every publish of a service
 * recomputes its service-wide assignment and the assignment of each group that has subscribers;
 * a service with no record, no hold and no subscriber left is forgotten everywhere.
 * Single-threaded; close() stops its timers.
 */
export class AssignmentPipeline {
  readonly preservation: SelfPreservation;
  private readonly stage: AssignmentStage;
  private readonly hub: VersionedHub<Assignment>;
  private readonly coalescer: ChangeCoalescer;
  /**
   * Per service: the latest service-wide assignment, the groups (besides the whole) subscribed, and
   * every subscription (re-grouped at each publish when the policy has prepare()).
   */
  private readonly services = new Map<string, ServiceSlot>();
  private readonly observers: PipelineObserver[] = [];
  private health: HealthSource | undefined;
  private ejections: EjectionSource | undefined;
  private loads: LoadSource | undefined;
  private overrides: OverrideSource | undefined;

  constructor(
    private readonly state: RegistryState,
    clock: Clock,
    options: AssignmentPipelineOptions,
  ) {
    this.preservation = new SelfPreservation(clock, options.selfPreservation, (services) => {
      for (const o of this.observers) o.expired?.(services);
      this.republish(services);
    });
    this.stage = new AssignmentStage(options.policy, options.panicThreshold);
    this.hub = new VersionedHub<Assignment>(
      (key) => {
        const { service, group } = splitHubKey(key);
        return emptyAssignment(service, group);
      },
      (key) => this.unsubscribed(key),
    );
    this.coalescer = new ChangeCoalescer(clock, options.coalesceMs, (services) => {
      this.republish(services);
      for (const name of services) {
        const held = this.preservation.held(name);
        if (held.count > 0) for (const o of this.observers) o.holding?.(name, held);
      }
    });
  }

  /** Adds an observer (the composition root does, once its logs and metrics exist). */
  observe(observer: PipelineObserver): void {
    this.observers.push(observer);
  }

  /** Reads health verdicts from `source` from now on (the composition root sets the checker). */
  useHealth(source: HealthSource): void {
    this.health = source;
  }

  /** Reads outlier ejections from `source` from now on (the composition root sets the detector). */
  useEjections(source: EjectionSource): void {
    this.ejections = source;
  }

  /** Reads load factors from `source` from now on (the composition root sets the load weights). */
  useLoad(source: LoadSource): void {
    this.loads = source;
  }

  /**
   * Reads operator overrides from `source` from now on (the composition root sets the override
   * watcher, which republishes a service on every change of its overrides).
   */
  useOverrides(source: OverrideSource): void {
    this.overrides = source;
  }

  /** The etcd adapter applied a change to `services`; they are published coalesced. */
  changed(services: readonly string[]): void {
    for (const o of this.observers) o.changed?.(services);
    this.coalescer.add(services);
  }

  /**
   * Something a policy plans from changed for `services` (the client population, per-service
   * settings): republished through the coalescer, so that clients joining in quick succession
   * cost one recomputation, not one each. Not an etcd change of the registry (no changed()).
   */
  replan(services: readonly string[]): void {
    this.coalescer.add(services);
  }

  /** The initial etcd read is applied: publish it now and let the streams send. Idempotent. */
  ready(): void {
    if (this.hub.ready) return;
    this.coalescer.flushNow();
    this.hub.markReady();
  }

  /** True once ready() was called. */
  get isReady(): boolean {
    return this.hub.ready;
  }

  /** Calls `fn` once the pipeline is ready (at once if it is); the result cancels it. */
  whenReady(fn: () => void): Unsubscribe {
    return this.hub.whenReady(fn);
  }

  /**
   * Recomputes and publishes the assignments of `services` now (the coalescer, self-preservation's
   * timer and the held-endpoint prober call it; so may a signal's shell).
   */
  republish(services: readonly string[]): void {
    for (const name of services) {
      const view = this.preservation.viewToPublish(this.state.service(name));
      const slot = this.services.get(name);
      const previous = slot?.base;
      const version = Math.max(view.version, (slot?.version ?? 0) + 1);
      let base = this.stage.assess(view, this.signals(view), version);
      const current: ServiceSlot = slot ?? newSlot(base);
      current.remembered = true;
      this.services.set(name, current);
      // Groups first (the policy plans from the new base), then what changed is published: a
      // republish that changes nothing a client would see (a population change that moves no
      // one, a signal that leaves every weight) sends nothing, so N clients joining are not N
      // pushes to every stream.
      const regrouped = this.stage.regroups ? this.regroup(current, base) : undefined;
      const moved = regrouped?.moved ?? new Set<string>();
      let changed = false;
      const sameBase =
        previous !== undefined && !moved.has(WHOLE_SERVICE_GROUP) && sameAssignment(previous, base);
      if (sameBase) {
        base = previous;
      } else {
        changed = this.hub.publish(hubKey(name, WHOLE_SERVICE_GROUP), base) || changed;
      }
      current.base = base;
      // Same records and signals, same plan: every group's selection is what it was (at 10,000
      // clients, re-selecting each group's list on every load tick would cost a second).
      const groups = sameBase && regrouped?.planChanged === false ? [] : current.groups;
      for (const group of groups) {
        const key = hubKey(name, group);
        const next = this.stage.select(base, group, version);
        const latest = this.hub.latest(key);
        // A stream that just moved here may have been sent a later version of its old group.
        if (!moved.has(group) && latest.version > 0 && sameAssignment(latest, next)) continue;
        changed = this.hub.publish(key, next) || changed;
      }
      if (changed) {
        current.version = version;
        const streams = this.subscriberCount(name);
        for (const o of this.observers) o.published?.(name, streams, previous);
      }
      this.forgetIfGone(name);
    }
    for (const o of this.observers) o.republished?.(services);
  }

  /**
   * Lets the policy plan `slot`'s service from `base` and moves every subscription whose group
   * changed; groups left without a subscription are dropped. Runs before the groups are
   * published, so each moved stream is woken by its new group's publish. Returns the groups
   * streams moved into (they are published at the new version whatever their content).
   */
  private regroup(slot: ServiceSlot, base: Assignment): { moved: Set<string>; planChanged: boolean } {
    const planChanged = this.stage.prepare(base);
    // The plan is the last one: every subscription is in its group already.
    if (!planChanged) return { moved: new Set(), planChanged };
    const wanted = new Set<string>();
    const movedInto = new Set<string>();
    for (const sub of slot.subscriptions) {
      const group = this.stage.groupOf(sub.client);
      if (group !== WHOLE_SERVICE_GROUP) {
        wanted.add(group);
        // Counted before the move, so the service never looks unsubscribed in between.
        slot.groups.add(group);
      }
      if (group !== sub.group) movedInto.add(group);
      sub.move(group);
    }
    for (const group of slot.groups) {
      if (!wanted.has(group)) {
        slot.groups.delete(group);
        this.hub.forget(hubKey(slot.base.service, group));
      }
    }
    for (const group of wanted) slot.groups.add(group);
    return { moved: movedInto, planChanged };
  }

  /**
   * Subscribes a frontend stream for `client`: `wake` is called after each publish of a newer
   * assignment for the client's group (and once the pipeline is ready). The caller must
   * unsubscribe() when the stream ends.
   */
  subscribe(client: AssignmentClient, wake: () => void): AssignmentSubscription {
    const service = client.service;
    let slot = this.services.get(service);
    if (!slot) {
      // A service subscribed before it was ever published is remembered from now on.
      slot = newSlot(emptyAssignment(service));
      this.services.set(service, slot);
    }
    const group = this.stage.groupOf(client);
    if (group !== WHOLE_SERVICE_GROUP && !slot.groups.has(group)) {
      slot.groups.add(group);
      slot.remembered = true;
      if (slot.base.version > 0)
        this.hub.publish(hubKey(service, group), this.stage.select(slot.base, group));
    }
    const subscription = new HubSubscription(this, this.hub, client, group, wake);
    slot.subscriptions.add(subscription);
    return subscription;
  }

  /** A subscription ended (HubSubscription.unsubscribe calls this before leaving the hub). */
  ended(subscription: HubSubscription): void {
    this.services.get(subscription.client.service)?.subscriptions.delete(subscription);
  }

  /** The service-wide assignment of `name` (what admin views and metrics show). */
  serviceAssignment(name: string): Assignment {
    return this.services.get(name)?.base ?? emptyAssignment(name);
  }

  /**
   * What `group` of `service` is sent now (the service-wide assignment for the whole group). For
   * the admin's view of clients this replica does not serve: every replica plans alike.
   */
  groupAssignment(service: string, group: string): Assignment {
    const base = this.serviceAssignment(service);
    if (group === WHOLE_SERVICE_GROUP) return base;
    const published = this.hub.latest(hubKey(service, group));
    return this.services.get(service)?.groups.has(group) && published.version > 0
      ? published
      : this.stage.select(base, group);
  }

  /** What a subscribed `client` would be sent now (its group's assignment). */
  clientAssignment(client: AssignmentClient): Assignment {
    return this.groupAssignment(client.service, this.stage.groupOf(client));
  }

  /** How many services the pipeline keeps assignments for (gone ones are forgotten). */
  get serviceCount(): number {
    return this.services.size;
  }

  /** How many streams subscribe to `service`, over all its groups. */
  subscriberCount(service: string): number {
    let n = this.hub.subscriberCount(hubKey(service, WHOLE_SERVICE_GROUP));
    for (const group of this.services.get(service)?.groups ?? []) {
      n += this.hub.subscriberCount(hubKey(service, group));
    }
    return n;
  }

  /** Stops the coalescer and self-preservation's timer; later changes are not published. Idempotent. */
  close(): void {
    this.coalescer.close();
    this.preservation.close();
  }

  /** The signals about the endpoints of `view`: held, health, ejections, load, operator overrides. */
  private signals(view: ServiceView): EndpointSignals {
    const held = this.preservation.held(view.name);
    const health = new Map<string, HealthSignal>();
    const ejections = new Map<string, EjectionSignal>();
    const load = new Map<string, LoadSignal>();
    const overrides = new Map<string, OperatorOverride>();
    for (const e of view.endpoints) {
      const o = this.overrides?.override(e.key);
      if (o) overrides.set(e.key, o);
      const l = this.loads?.load(view.name, e.key);
      if (l) load.set(e.key, l);
      const h = this.health?.signal(e.key);
      if (h) health.set(e.key, h);
      const x = this.ejections?.ejection(view.name, e.address);
      if (x) ejections.set(e.key, x);
    }
    if (
      held.count === 0 &&
      health.size === 0 &&
      ejections.size === 0 &&
      load.size === 0 &&
      overrides.size === 0
    ) {
      return NO_SIGNALS;
    }
    return {
      held: held.count === 0 ? NO_SIGNALS.held : new Set(held.keys),
      health,
      ejections,
      load,
      overrides,
    };
  }

  private unsubscribed(key: string): void {
    const { service, group } = splitHubKey(key);
    if (group !== WHOLE_SERVICE_GROUP) {
      this.services.get(service)?.groups.delete(group);
      this.hub.forget(key);
    }
    this.forgetIfGone(service);
  }

  /**
   * A service with no record left, no held endpoints and no subscriber is dropped from the state,
   * self-preservation and the hub, so that names that come and go do not accumulate.
   */
  private forgetIfGone(name: string): void {
    if (this.subscriberCount(name) > 0 || !this.preservation.isIdle(name)) return;
    // A name the registry never held (a group asked for it) is forgotten here as well.
    const forgotten = this.state.forget(name);
    if (forgotten || !this.state.has(name)) {
      this.hub.forget(hubKey(name, WHOLE_SERVICE_GROUP));
      const hadAssignment = this.services.get(name)?.remembered === true;
      this.services.delete(name);
      this.preservation.forget(name);
      if (forgotten || hadAssignment) for (const o of this.observers) o.forgotten?.(name);
    }
  }
}
