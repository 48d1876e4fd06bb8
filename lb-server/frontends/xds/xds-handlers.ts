import { randomUUID } from 'node:crypto';
import type * as grpc from '@grpc/grpc-js';
import { MAX_ZONE_LENGTH } from '../../../common/registry-record';
import { serviceOfTargetName } from '../../../common/service-name';
import type { Assignment } from '../../assignment/assignment';
import type { AssignmentPipeline, AssignmentSubscription } from '../../assignment/assignment-pipeline';
import type { ClientRecord, ClientRegistry } from '../../core/client-registry';
import { ClientStream, type ClientStreamDeps } from '../client-stream';
import { perAssignment } from '../per-assignment';
import { MAX_CLIENT_ID_LENGTH, MAX_REQUESTED_NAME_LENGTH, MAX_SUBSCRIBED_NAMES } from '../request-guards';
import {
  CLUSTER_LOAD_ASSIGNMENT_TYPE_URL,
  isXdsTypeUrl,
  loadAssignmentResource,
  XDS_TYPE_URLS,
  xdsAnswer,
  type XdsResource,
  type XdsTypeUrl,
} from './xds-resources';

/** The fields of an Envoy v3 DiscoveryRequest this frontend reads (proto-loader output). */
export interface DiscoveryRequestIn {
  readonly versionInfo: string;
  readonly node: {
    readonly id: string;
    readonly locality: { readonly zone: string } | null;
  } | null;
  readonly resourceNames: readonly string[];
  readonly typeUrl: string;
  readonly responseNonce: string;
  readonly errorDetail: { readonly code: number; readonly message: string } | null;
}

/** An Envoy v3 DiscoveryResponse as this frontend writes it (proto-loader input). */
export interface DiscoveryResponseOut {
  readonly versionInfo: string;
  readonly resources: readonly XdsResource[];
  readonly typeUrl: XdsTypeUrl;
  readonly nonce: string;
}

/** What the xDS frontend needs from the server around it. */
export interface XdsHandlersDeps extends ClientStreamDeps {
  readonly pipeline: AssignmentPipeline;
  readonly clients: ClientRegistry;
}

type AdsCall = grpc.ServerDuplexStream<DiscoveryRequestIn, DiscoveryResponseOut>;

/** The ADS handlers, keyed by method name, for grpc.Server.addService. */
export interface XdsHandlers extends grpc.UntypedServiceImplementation {
  StreamAggregatedResources: grpc.handleBidiStreamingCall<DiscoveryRequestIn, DiscoveryResponseOut>;
}

/**
 * The xDS frontend: `envoy.service.discovery.v3.AggregatedDiscoveryService/
 * StreamAggregatedResources`, state of the world. Each stream keeps, per resource type, the names
 * subscribed, the last nonce sent and what the last response held; whenever a subscription
 * changes or a newer assignment of a subscribed service is published, it sends that type's
 * full answer again if it changed, with `version_info` = the highest assignment version in it and a
 * fresh nonce (so one registry change, coalesced by the hub, is one version). ACKs change
 * nothing; a NACK (the current nonce with `error_detail`) is logged and counted on the client's
 * record, and the client keeps its last good resources. Requests with a stale nonce are ignored.
 * A service never registered is answered like one with no endpoints (calls fail at once with
 * UNAVAILABLE); only names that are not service names are left out, i.e. do not exist. Nothing
 * is answered before the server's initial etcd sync; a stream without a request within the
 * initial-request timeout ends with INVALID_ARGUMENT.
 * Called once by startLbServer.
 */
export function createXdsHandlers(deps: XdsHandlersDeps): XdsHandlers {
  // One ClusterLoadAssignment per assignment, shared by every stream of its group; logged once
  // when it has to leave host names out.
  const claOf = perAssignment((assignment: Assignment): XdsResource => {
    const cla = loadAssignmentResource(assignment);
    if (cla.skipped.some((s) => s.reason === 'not-an-ip')) {
      deps.logger.warn(
        {
          event: 'xds_skipped_endpoints',
          service: assignment.service,
          version: assignment.version,
          skipped: cla.skipped,
        },
        'endpoints with host names cannot be sent to xDS clients (register IP addresses)',
      );
    }
    return cla.resource;
  });
  return {
    StreamAggregatedResources(call: AdsCall): void {
      new AdsStream(call, deps, claOf).start();
    },
  };
}

interface TypeState {
  names: string[];
  nonce: string;
  /** What the last response held (names and versions); undefined before the first. */
  sentKey: string | undefined;
}

/** The state of one ADS stream over the shared ClientStream life. */
class AdsStream extends ClientStream<DiscoveryRequestIn, DiscoveryResponseOut> {
  private readonly types = new Map<XdsTypeUrl, TypeState>();
  /** Per subscribed service: its client record and assignment subscription. */
  private readonly services = new Map<
    string,
    { record: ClientRecord; subscription: AssignmentSubscription }
  >();
  private clientId = '';
  private zone = '';
  private nonceCounter = 0;
  private pumpQueued = false;
  private readonly streamId = randomUUID().slice(0, 8);
  /** The nonce of the last response a NACK was logged and counted for. */
  private lastNackedNonce = '';
  private cancelReadyWait: (() => void) | undefined;

  constructor(
    call: AdsCall,
    protected override readonly deps: XdsHandlersDeps,
    private readonly claOf: (assignment: Assignment) => XdsResource,
  ) {
    super(call, deps, {
      event: 'xds_rejected',
      message: 'rejected an ADS stream',
      firstRequest: 'DiscoveryRequest',
    });
  }

  protected override onRequest(req: DiscoveryRequestIn): void {
    this.accepted();
    if (req.node && this.clientId === '') {
      this.clientId = req.node.id.slice(0, MAX_CLIENT_ID_LENGTH) || `xds-${this.streamId}`;
      this.zone = req.node.locality?.zone.slice(0, MAX_ZONE_LENGTH) ?? '';
      this.deps.logger.debug(
        { event: 'xds_stream_open', clientId: this.clientId, peer: this.call.getPeer() },
        'xDS client connected',
      );
    }
    if (!isXdsTypeUrl(req.typeUrl)) {
      this.deps.logger.debug({ event: 'xds_unknown_type', typeUrl: req.typeUrl.slice(0, 200) }, 'ignored');
      return;
    }
    const type = this.types.get(req.typeUrl);
    if (type && req.responseNonce !== '' && req.responseNonce !== type.nonce) return; // stale
    if (type && req.responseNonce !== '' && req.errorDetail && req.responseNonce !== this.lastNackedNonce) {
      // Once per response: a client repeating its NACK (or flooding them) is not logged again.
      this.lastNackedNonce = req.responseNonce;
      this.deps.logger.warn(
        {
          event: 'xds_nack',
          clientId: this.clientId,
          peer: this.call.getPeer(),
          typeUrl: req.typeUrl,
          nonce: req.responseNonce.slice(0, 100),
          keptVersion: req.versionInfo.slice(0, 200),
          error: req.errorDetail.message.slice(0, 1000),
        },
        'xDS client rejected an update',
      );
      for (const name of type.names) {
        const service = serviceOfTargetName(name);
        if (service !== undefined) this.services.get(service)?.record.nacked();
      }
    }
    const names = [...new Set(req.resourceNames)]
      .filter((n) => n.length <= MAX_REQUESTED_NAME_LENGTH)
      .slice(0, MAX_SUBSCRIBED_NAMES)
      .sort();
    if (!type) {
      this.types.set(req.typeUrl, { names, nonce: '', sentKey: undefined });
    } else {
      const same = names.length === type.names.length && names.every((n, i) => n === type.names[i]);
      if (same) return; // an ACK, a NACK or a repeat: nothing new to send
      type.names = names;
    }
    this.syncServices();
    this.pump();
  }

  /** Subscribes to (and registers a client record for) exactly the services named anywhere. */
  private syncServices(): void {
    const wanted = new Set<string>();
    // Bounded across the four types too: one stream holds at most MAX_SUBSCRIBED_NAMES services.
    for (const t of this.types.values()) {
      for (const n of t.names) {
        const s = serviceOfTargetName(n);
        if (s !== undefined && (wanted.size < MAX_SUBSCRIBED_NAMES || wanted.has(s))) wanted.add(s);
      }
    }
    for (const [service, entry] of this.services) {
      if (wanted.has(service)) continue;
      entry.subscription.unsubscribe();
      entry.record.disconnect();
      this.services.delete(service);
    }
    for (const service of wanted) {
      if (this.services.has(service)) continue;
      const identity = {
        clientId: this.clientId || `xds-${this.streamId}`,
        service,
        peer: this.call.getPeer(),
        zone: this.zone,
        protocol: 'xds' as const,
      };
      const record = this.deps.clients.connect(identity);
      const subscription = this.deps.pipeline.subscribe(identity, () => this.queuePump());
      this.services.set(service, { record, subscription });
    }
  }

  /** Wakes come one per service; a change of several services is answered once. */
  private queuePump(): void {
    if (this.pumpQueued) return;
    this.pumpQueued = true;
    queueMicrotask(() => {
      this.pumpQueued = false;
      this.pump();
    });
  }

  /** Sends, type by type, every answer that differs from what the client last got. */
  protected override pump(): void {
    if (this.finished || this.blocked) return;
    if (!this.deps.pipeline.isReady) {
      // Before the initial sync, wakes for services never published do not come: wait for it.
      this.cancelReadyWait ??= this.deps.pipeline.whenReady(() => {
        this.cancelReadyWait = undefined;
        this.queuePump();
      });
      return;
    }
    const assignmentOf = (service: string): Assignment =>
      this.services.get(service)?.subscription.latest() ?? this.deps.pipeline.serviceAssignment(service);
    for (const typeUrl of XDS_TYPE_URLS) {
      const type = this.types.get(typeUrl);
      if (!type) continue;
      const answer = xdsAnswer(typeUrl, type.names, assignmentOf, this.claOf);
      if (answer.key === type.sentKey) continue;
      type.sentKey = answer.key;
      this.nonceCounter += 1;
      type.nonce = `${this.streamId}-${this.nonceCounter}`;
      const writable = this.send({
        versionInfo: String(answer.version),
        resources: answer.resources,
        typeUrl,
        nonce: type.nonce,
      });
      if (typeUrl === CLUSTER_LOAD_ASSIGNMENT_TYPE_URL) {
        for (const a of answer.assignments) this.services.get(a.service)?.record.assigned(a);
      }
      if (!writable) return;
    }
  }

  protected override onCleanup(): void {
    this.cancelReadyWait?.();
    for (const entry of this.services.values()) {
      entry.subscription.unsubscribe();
      entry.record.disconnect();
    }
    this.services.clear();
  }
}
