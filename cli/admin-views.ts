import type { ListServicesResponse__Output } from '../proto/gen/lookaside/v1/ListServicesResponse';
import type { GetServiceResponse__Output } from '../proto/gen/lookaside/v1/GetServiceResponse';
import type { ListClientsResponse__Output } from '../proto/gen/lookaside/v1/ListClientsResponse';
import type { Endpoint__Output } from '../proto/gen/lookaside/v1/Endpoint';
import type { ClientInfo__Output } from '../proto/gen/lookaside/v1/ClientInfo';
import type { GetAssignmentResponse__Output } from '../proto/gen/lookaside/v1/GetAssignmentResponse';
import type { Override__Output } from '../proto/gen/lookaside/v1/Override';
import type { ListOverridesResponse__Output } from '../proto/gen/lookaside/v1/ListOverridesResponse';
import { status } from '@grpc/grpc-js';
import { textTable } from './text-table';

/**
 * Human-readable views of the admin service's answers, for `lookaside admin` and the demo.
 * Pure: an answer in, text out.
 */

/** Self-preservation fields are optional here, so views built by older servers still render. */
type WithOptional<T, K extends keyof T> = Omit<T, K> & Partial<Pick<T, K>>;
type ServicesAnswer = WithOptional<
  ListServicesResponse__Output,
  | 'selfPreservationGraceMs'
  | 'selfPreservationThreshold'
  | 'selfPreservationActive'
  | 'unattributedRejected'
  | 'rejectedRecords'
>;
type ServiceAnswer = Omit<
  WithOptional<
    GetServiceResponse__Output,
    | 'heldEndpoints'
    | 'heldUntilMs'
    | 'assignmentVersion'
    | 'panic'
    | 'danglingOverrides'
    | 'config'
    | 'rejectedConfig'
  >,
  'endpoints'
> & {
  endpoints: WithOptional<
    Endpoint__Output,
    | 'held'
    | 'heldUntilMs'
    | 'eligible'
    | 'reasons'
    | 'health'
    | 'ejectionRule'
    | 'ejectedSinceMs'
    | 'ejectedUntilMs'
    | 'consecutiveEjections'
    | 'callsPerSecond'
    | 'failureRate'
    | 'loadSource'
    | 'loadFactor'
    | 'capacity'
    | 'utilization'
    | 'qps'
    | 'eps'
    | 'latencyMs'
    | 'duplicateOf'
    | 'assignedClients'
    | 'override'
  >[];
};

/** "12:00:30Z" of a Unix ms time. */
function clockTime(ms: number): string {
  return `${new Date(ms).toISOString().slice(11, 19)}Z`;
}

/**
 * What an override does ("drain", "weight 20", "drain, weight 20"), until when if it expires, by
 * whom, and (withReason) why, cut short.
 */
export function overrideOf(o: Override__Output | null | undefined, withReason = false): string {
  if (!o) return '-';
  const parts = [...(o.draining ? ['drain'] : []), ...(o.weight !== undefined ? [`weight ${o.weight}`] : [])];
  const until = Number(o.expiresAtMs) > 0 ? ` until ${clockTime(Number(o.expiresAtMs))}` : '';
  const why = o.reason.length > MAX_REASON_SHOWN ? `${o.reason.slice(0, MAX_REASON_SHOWN - 1)}…` : o.reason;
  return `${parts.join(', ')}${until} by ${o.who}${withReason && why ? ` (${why})` : ''}`;
}

/** How much of an override's reason the OVERRIDE column shows (`--json` has all of it). */
const MAX_REASON_SHOWN = 40;

/**
 * An endpoint's state as the LB server's assignment stage gave it: its reasons ("held",
 * "draining", "weight-0", …), or "serving". Servers older than the stage sent none.
 */
function stateOf(e: ServiceAnswer['endpoints'][number]): string {
  if (e.reasons !== undefined && e.reasons.length > 0) {
    const reasons = e.reasons.join(',');
    return e.duplicateOf ? `${reasons} of ${e.duplicateOf}` : reasons;
  }
  // A current server marks every ineligible endpoint with a reason: no reason and eligible is serving.
  if (e.eligible === true) return 'serving';
  // An older server sends neither (decoded as [] and false): derive the state from the record.
  return e.held ? 'held' : e.draining ? 'draining' : e.effectiveWeight === 0 ? 'weight-0' : 'serving';
}

/** "failure-percentage until 12:00:30Z (x2)", or "-" when not ejected. */
function ejectionOf(e: ServiceAnswer['endpoints'][number]): string {
  if (!e.ejectionRule) return '-';
  const until = new Date(Number(e.ejectedUntilMs ?? 0)).toISOString().slice(11, 19);
  const times = (e.consecutiveEjections ?? 1) > 1 ? ` (x${e.consecutiveEjections})` : '';
  return `${e.ejectionRule} until ${until}Z${times}`;
}

/** "orca x0.31 (util 0.80, 100 qps)", "clients x0.40 (40.0 ms)", or "-" without a load source. */
function loadOf(e: ServiceAnswer['endpoints'][number]): string {
  if (!e.loadSource) return '-';
  const factor = `x${(e.loadFactor ?? 1).toFixed(2)}`;
  if (e.loadSource === 'orca') {
    return `orca ${factor} (util ${(e.utilization ?? 0).toFixed(2)}, ${(e.qps ?? 0).toFixed(0)} qps)`;
  }
  return `clients ${factor} (${(e.latencyMs ?? 0).toFixed(1)} ms)`;
}

function ago(ms: number, now: number): string {
  if (!ms) return '-';
  const s = Math.max(0, Math.round((now - ms) / 1000));
  return s < 120 ? `${s}s ago` : `${Math.round(s / 60)}m ago`;
}

export function servicesView(r: ServicesAnswer): string {
  let head = `synced: ${r.synced ? 'yes' : 'no'}   etcd: ${r.etcdConnected ? 'connected' : 'DISCONNECTED'}`;
  if (r.selfPreservationActive) {
    const held = r.services.filter((s) => (s.heldEndpoints ?? 0) > 0);
    head += `\nSELF-PRESERVATION ACTIVE: removals held for ${held
      .map((s) => `${s.name} (${s.heldEndpoints} until ${new Date(Number(s.heldUntilMs)).toISOString()})`)
      .join(', ')}`;
  }
  const orphans = r.unattributedRejected ?? [];
  const tail =
    orphans.length === 0
      ? ''
      : `\n\nrejected records outside any service (${orphans.length}):\n${textTable(
          ['KEY', 'REASON'],
          orphans.map((x) => [x.key, x.reason]),
        )}`;
  if (r.services.length === 0) return `${head}\n(no services)${tail}`;
  const table = textTable(
    ['SERVICE', 'VERSION', 'ENDPOINTS', 'SERVING', 'DRAINING', 'REJECTED', 'CLIENTS'],
    r.services.map((s) => [
      s.name,
      s.version,
      s.endpoints,
      s.servingEndpoints,
      s.drainingEndpoints,
      s.rejectedRecords,
      s.clients,
    ]),
  );
  return `${head}\n${table}${tail}`;
}

/** "subset-size 3, zone-aware off, zone-min-endpoints 6 (from etcd)". */
function configLine(c: NonNullable<ServiceAnswer['config']>): string {
  const subset = c.subsetSize > 0 ? String(c.subsetSize) : 'off';
  const from = c.source === 'etcd' ? 'from etcd over the defaults' : 'defaults';
  return `config: subset-size ${subset}, zone-aware ${c.zoneAware ? 'on' : 'off'}, zone-min-endpoints ${c.zoneMinEndpoints} (${from})`;
}

export function serviceView(r: ServiceAnswer): string {
  const lines = [`service ${r.name}   version ${r.version}   clients ${r.clients}`];
  if (r.config) lines.push(configLine(r.config));
  if (r.rejectedConfig) {
    lines.push(
      `REJECTED CONFIG ${r.rejectedConfig.key}: ${r.rejectedConfig.reason} (the config above stays in force)`,
    );
  }
  if ((r.heldEndpoints ?? 0) > 0) {
    lines.push(
      `self-preservation: ${r.heldEndpoints} endpoint(s) removed from etcd are held until ${new Date(Number(r.heldUntilMs)).toISOString()}`,
    );
  }
  if (r.panic) {
    lines.push(
      'PANIC: health verdicts and ejections would leave too few endpoints; they are ignored and calls spread over all',
    );
  }
  if (r.endpoints.length === 0) {
    lines.push('(no endpoints)');
  } else {
    const total = r.endpoints.reduce((sum, e) => sum + e.effectiveWeight, 0);
    // Per-client assignments on: how many clients (of every replica) have each endpoint.
    const subsetting = r.endpoints.some((e) => (e.assignedClients ?? 0) > 0);
    lines.push(
      textTable(
        [
          'INSTANCE',
          'ADDRESS',
          'WEIGHT',
          'EFFECTIVE',
          'SHARE',
          'STATE',
          'HEALTH',
          'EJECTION',
          'CALLS/S',
          'FAILED',
          'LOAD',
          'OVERRIDE',
          'ZONE',
          'FORMAT',
          ...(subsetting ? ['CLIENTS'] : []),
        ],
        r.endpoints.map((e) => [
          e.instanceId,
          e.address,
          e.weight,
          e.effectiveWeight,
          total > 0 ? `${((100 * e.effectiveWeight) / total).toFixed(1)}%` : '-',
          stateOf(e),
          e.health || '-',
          ejectionOf(e),
          e.callsPerSecond !== undefined && e.callsPerSecond > 0 ? e.callsPerSecond.toFixed(1) : '-',
          e.callsPerSecond !== undefined && e.callsPerSecond > 0
            ? `${(100 * (e.failureRate ?? 0)).toFixed(1)}%`
            : '-',
          loadOf(e),
          overrideOf(e.override, true),
          e.zone || '-',
          e.format,
          ...(subsetting ? [e.assignedClients ?? 0] : []),
        ]),
      ),
    );
  }
  const dangling = r.danglingOverrides ?? [];
  if (dangling.length > 0) {
    lines.push(
      '',
      `dangling overrides (${dangling.length}, no record yet: they apply when the instance registers):`,
    );
    lines.push(
      textTable(
        ['INSTANCE', 'OVERRIDE', 'REASON'],
        dangling.map((o) => [o.instanceId, overrideOf(o), o.reason || '-']),
      ),
    );
  }
  if (r.rejected.length > 0) {
    lines.push('', `rejected records (${r.rejected.length}):`);
    lines.push(
      textTable(
        ['KEY', 'REASON'],
        r.rejected.map((x) => [x.key, x.reason]),
      ),
    );
  }
  return lines.join('\n');
}

function callsOf(c: Pick<ClientInfo__Output, 'stats'>): string {
  if (c.stats.length === 0) return '-';
  return c.stats
    .map((s) => {
      if (!(s.callsFailed > 0)) return `${s.address}=${s.callsStarted}`;
      const byStatus = (s.failedByStatus ?? [])
        .map((f) => `${status[f.code] ?? f.code} ${f.count}`)
        .join(', ');
      return `${s.address}=${s.callsStarted} (${s.callsFailed} failed${byStatus ? `: ${byStatus}` : ''})`;
    })
    .join(' ');
}

/** Population fields are optional here, so answers of older servers still render. */
type ClientsAnswer = {
  clients: WithOptional<ClientInfo__Output, 'replica' | 'local' | 'subset'>[];
};

/** What a replica does not know of a client another replica serves. */
const ELSEWHERE = '—';

/**
 * Every client of the population with the replica that serves it. Clients of other replicas
 * have no peer, assignment or reported calls here ("—": ask their replica).
 */
export function clientsView(r: ClientsAnswer | ListClientsResponse__Output, now = Date.now()): string {
  if (r.clients.length === 0) return '(no clients connected)';
  const clients: ClientsAnswer['clients'] = r.clients;
  const remote = clients.filter((c) => c.replica && !c.local).length;
  const table = textTable(
    ['CLIENT', 'SERVICE', 'REPLICA', 'PROTOCOL', 'PEER', 'CONNECTED', 'ASSIGNED', 'CALLS (reported)'],
    clients.map((c) => {
      // An older server sends no replica: its clients are all its own.
      const here = !c.replica || c.local === true;
      return [
        c.clientId,
        c.service,
        c.replica ? `${c.replica}${here ? ' (this)' : ''}` : '-',
        c.protocol || '-',
        here ? c.peer : ELSEWHERE,
        ago(c.connectedAtMs, now),
        here ? `v${c.assignedVersion} ${ago(c.assignedAtMs, now)}` : ELSEWHERE,
        here ? callsOf(c) : ELSEWHERE,
      ];
    }),
  );
  return remote === 0
    ? table
    : `${table}
(${ELSEWHERE}: served by another replica; its peer, assignment and calls are shown by that replica)`;
}

/**
 * `lookaside admin assignment SERVICE [CLIENT_ID]`: what each client (or one) is sent and why:
 * its zone, index, subset per zone with the zone's share of its calls, and every endpoint of the
 * service with why it is or is not in the client's list.
 */
export function assignmentView(r: GetAssignmentResponse__Output): string {
  if (r.clients.length === 0) return `service ${r.service}: (no clients)`;
  const blocks = r.clients.map((c) => {
    const head = `client ${c.client?.clientId ?? '?'}   zone ${c.client?.zone || '-'}`;
    const plan = c.plan;
    const sent = c.serverList?.servers ?? [];
    const total = sent.reduce((s, x) => s + x.weight, 0);
    if (!plan) {
      return [
        `${head}   (whole service: subsetting and zones off)`,
        textTable(
          ['ADDRESS', 'WEIGHT', 'SHARE'],
          sent.map((x) => [
            x.address,
            x.weight,
            total > 0 ? `${((100 * x.weight) / total).toFixed(1)}%` : '-',
          ]),
        ),
      ].join('\n');
    }
    const byId = new Map(sent.map((x) => [x.loadBalanceToken, x]));
    return [
      `${head}   index ${plan.index < 0 ? '(new)' : plan.index}   replica ${plan.replica || '-'}   subset ${plan.subsetSize || 'off'}   zone routing ${plan.zoneMode}`,
      ...plan.parts.map(
        (p) =>
          `  ${p.zone === '*' ? 'all zones' : `zone ${p.zone}`}: ${(100 * p.share).toFixed(1)}% of calls → ${p.instanceIds.join(', ') || '(none)'}`,
      ),
      plan.entries.length === 0
        ? '  (name the client to see why each endpoint is in its list or not)'
        : textTable(
            ['INSTANCE', 'ZONE', 'SENT', 'WEIGHT', 'SHARE', 'WHY'],
            plan.entries.map((e) => {
              const x = byId.get(e.instanceId);
              return [
                e.instanceId,
                e.zone || '-',
                e.inList ? 'yes' : 'no',
                x ? x.weight : '-',
                x && total > 0 ? `${((100 * x.weight) / total).toFixed(1)}%` : '-',
                e.why,
              ];
            }),
          ),
    ].join('\n');
  });
  return blocks.join('\n\n');
}

/** `lookaside admin overrides [SERVICE]`: every override with who, why and expiry. */
export function overridesView(r: ListOverridesResponse__Output, now = Date.now()): string {
  if (r.overrides.length === 0) return '(no overrides)';
  return textTable(
    ['SERVICE', 'INSTANCE', 'OVERRIDE', 'WHO', 'REASON', 'SET', 'EXPIRES', 'DANGLING'],
    r.overrides.map((o) => [
      o.service,
      o.instanceId,
      [...(o.draining ? ['drain'] : []), ...(o.weight !== undefined ? [`weight ${o.weight}`] : [])].join(
        ', ',
      ),
      o.who,
      o.reason || '-',
      ago(Number(o.atMs), now),
      Number(o.expiresAtMs) > 0 ? clockTime(Number(o.expiresAtMs)) : 'never',
      o.dangling ? 'yes' : 'no',
    ]),
  );
}
