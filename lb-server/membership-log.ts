import type { Logger } from 'pino';
import type { Clock } from '../common/clock';
import type { Assignment } from './assignment/assignment';
import { membershipChanges } from './assignment/membership-changes';
import type { ClientActivityObserver, ClientIdentity, ClientSnapshot } from './core/client-registry';
import type { ConsoleEventKind, ConsoleEventSink } from './frontends/console/console-events';

/**
 * The LB server's info-level account of membership, one line per transition, with the fields an
 * operator greps for: endpoints joining, draining and leaving a service (`endpoint_joined`,
 * `endpoint_draining`, `endpoint_undrained`, `endpoint_left`: service, instanceId, address, key)
 * and clients connecting and leaving (`client_connected`, `client_disconnected`: service,
 * clientId, peer, zone, protocol; on leaving, how long it stayed and the calls it reported).
 * Two records of one address are a warning, once when the duplicate appears and once when it
 * resolves (`endpoint_duplicate_address`, `endpoint_duplicate_address_resolved`: service,
 * address, instanceId and key of the duplicate, usedInstanceId and usedKey of the record clients
 * use), the initial read included.
 * The endpoints of the initial etcd read are not transitions: they go to debug (`initial: true`),
 * so a restart with thousands of endpoints does not flood the info log.
 * Every line but the initial read's is also recorded in `events` (the console's events page),
 * with the same event name, message and fields.
 * startLbServer owns one: it observes the client registry, and the pipeline observer calls
 * published() with each publish's previous assignment.
 */
export class MembershipLog implements ClientActivityObserver {
  constructor(
    private readonly logger: Logger,
    private readonly clock: Clock,
    private readonly events?: ConsoleEventSink,
  ) {}

  /** Logs one line at `level` and records it as a console event (unless `initial`). */
  private emit(
    level: 'debug' | 'info' | 'warn',
    fields: { event: ConsoleEventKind; service: string } & Record<string, string | number | boolean>,
    message: string,
    initial = false,
  ): void {
    this.logger[level](fields, message);
    if (initial || this.events === undefined) return;
    const { event, service, ...rest } = fields;
    this.events.record(event, service, message, rest);
  }

  assigned(): void {}

  reported(): void {}

  /** One publish of `service`: logs how its membership changed from `previous` to `next`. */
  published(service: string, previous: Assignment | undefined, next: Assignment, initial: boolean): void {
    const quiet = initial && !this.logger.isLevelEnabled('debug');
    if (quiet && !next.endpoints.some((e) => e.duplicateOf !== undefined)) return;
    const level = initial ? 'debug' : 'info';
    for (const change of membershipChanges(previous, next)) {
      const e = change.endpoint;
      const fields = { service, instanceId: e.instanceId, address: e.address, key: e.key };
      if (change.kind === 'duplicate' || change.kind === 'duplicate-resolved') {
        const pair = { ...fields, usedInstanceId: change.of.instanceId, usedKey: change.of.key };
        if (change.kind === 'duplicate') {
          this.emit(
            'warn',
            { event: 'endpoint_duplicate_address', ...pair, format: e.format, usedFormat: change.of.format },
            `${e.instanceId} of ${service} names the address ${e.address} of ${change.of.instanceId}, which clients use: it gets no calls`,
          );
        } else {
          this.emit(
            'info',
            { event: 'endpoint_duplicate_address_resolved', ...pair },
            `${e.instanceId} of ${service} is no longer a duplicate of ${change.of.instanceId} (${e.address})`,
          );
        }
        continue;
      }
      if (quiet) continue;
      switch (change.kind) {
        case 'joined':
          this.emit(
            level,
            {
              event: 'endpoint_joined',
              ...fields,
              weight: e.weight,
              zone: e.zone,
              draining: e.draining,
              format: e.format,
              lease: e.lease,
              ...(initial ? { initial: true } : {}),
            },
            `${e.address} (${e.instanceId}) joined ${service}`,
            initial,
          );
          break;
        case 'draining':
          this.emit(
            'info',
            { event: 'endpoint_draining', ...fields },
            `${e.address} (${e.instanceId}) of ${service} is draining: no new calls`,
          );
          break;
        case 'undrained':
          this.emit(
            'info',
            { event: 'endpoint_undrained', ...fields },
            `${e.address} (${e.instanceId}) of ${service} is no longer draining`,
          );
          break;
        case 'left':
          this.emit(
            'info',
            { event: 'endpoint_left', ...fields, wasDraining: change.wasDraining },
            change.wasDraining
              ? `${e.address} (${e.instanceId}) left ${service} after draining`
              : `${e.address} (${e.instanceId}) left ${service} without draining (record deleted or lease expired)`,
          );
          break;
      }
    }
  }

  connected(c: ClientIdentity): void {
    this.emit(
      'info',
      {
        event: 'client_connected',
        service: c.service,
        clientId: c.clientId,
        peer: c.peer,
        zone: c.zone,
        protocol: c.protocol,
      },
      `client ${c.clientId} (${c.peer}) connected for ${c.service}`,
    );
  }

  disconnected(c: ClientSnapshot): void {
    let started = 0;
    let succeeded = 0;
    let failed = 0;
    for (const s of c.stats) {
      started += s.callsStarted;
      succeeded += s.callsSucceeded;
      failed += s.callsFailed;
    }
    this.emit(
      'info',
      {
        event: 'client_disconnected',
        service: c.service,
        clientId: c.clientId,
        peer: c.peer,
        zone: c.zone,
        protocol: c.protocol,
        connectedMs: this.clock.now() - c.connectedAtMs,
        callsStarted: started,
        callsSucceeded: succeeded,
        callsFailed: failed,
      },
      `client ${c.clientId} (${c.peer}) of ${c.service} left`,
    );
  }
}
