import { randomUUID } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { serviceOfTargetName } from '../../../common/service-name';
import type { ClientRecord, ClientRegistry } from '../../core/client-registry';
import type { ServiceView } from '../../core/registry-state';
import type { StreamTracker } from '../stream-tracker';
import type { VersionedHub } from '../../core/versioned-hub';
import {
  CLUSTER_LOAD_ASSIGNMENT_TYPE_URL,
  CLUSTER_TYPE_URL,
  clusterResource,
  isXdsTypeUrl,
  LISTENER_TYPE_URL,
  listenerResource,
  loadAssignmentResource,
  ROUTE_CONFIGURATION_TYPE_URL,
  routeConfigurationResource,
  XDS_TYPE_URLS,
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

/** One assignment per snapshot, shared by every stream; logged once when it leaves endpoints out. */
const assignments = new WeakMap<ServiceView, XdsResource>();

/** A resource name longer than this is answered as nonexistent and not kept. */
const MAX_RESOURCE_NAME_LENGTH = 300;
/** Subscriptions per type and stream beyond this are ignored. */
const MAX_RESOURCE_NAMES = 256;

/** What the xDS frontend needs from the server around it. */
export interface XdsHandlersDeps {
  readonly hub: VersionedHub<ServiceView>;
  readonly clients: ClientRegistry;
  readonly streams: StreamTracker;
  readonly logger: Logger;
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
 * changes or the hub publishes a newer snapshot of a subscribed service, it sends that type's
 * full answer again if it changed, with `version_info` = the highest service version in it and a
 * fresh nonce (so one registry change, coalesced by the hub, is one version). ACKs change
 * nothing; a NACK (the current nonce with `error_detail`) is logged and counted on the client's
 * record, and the client keeps its last good resources. Requests with a stale nonce are ignored.
 * A service never registered is answered like one with no endpoints (calls fail at once with
 * UNAVAILABLE); only names that are not service names are left out, i.e. do not exist. Nothing
 * is answered before the server's initial etcd sync.
 * Called once by startLbServer.
 */
export function createXdsHandlers(deps: XdsHandlersDeps): XdsHandlers {
  return {
    StreamAggregatedResources(call: AdsCall): void {
      new AdsStream(call, deps).start();
    },
  };
}

interface TypeState {
  names: string[];
  nonce: string;
  /** What the last response held (names and versions); undefined before the first. */
  sentKey: string | undefined;
}

/** The state of one ADS stream. */
class AdsStream {
  private readonly types = new Map<XdsTypeUrl, TypeState>();
  /** Per subscribed service: its client record and hub subscription. */
  private readonly services = new Map<string, { record: ClientRecord; unsubscribe: () => void }>();
  private clientId = '';
  private zone = '';
  private nonceCounter = 0;
  private pumpQueued = false;
  private waitingForDrain = false;
  private finished = false;
  private untrack: (() => void) | undefined;
  private readonly streamId = randomUUID().slice(0, 8);
  /** The nonce of the last response a NACK was logged and counted for. */
  private lastNackedNonce = '';

  constructor(
    private readonly call: AdsCall,
    private readonly deps: XdsHandlersDeps,
  ) {}

  start(): void {
    this.untrack = this.deps.streams.add({
      closeForShutdown: () => {
        if (this.finished) return;
        this.cleanup();
        this.call.emit('error', { code: grpc.status.UNAVAILABLE, details: 'LB server is shutting down' });
      },
    });
    this.call.on('data', (req: DiscoveryRequestIn) => this.onRequest(req));
    this.call.on('end', () => {
      if (this.finished) return;
      this.cleanup();
      this.call.end();
    });
    this.call.on('cancelled', () => this.cleanup());
    this.call.on('close', () => this.cleanup());
    this.call.on('error', () => this.cleanup());
  }

  private onRequest(req: DiscoveryRequestIn): void {
    if (this.finished) return;
    if (req.node && this.clientId === '') {
      this.clientId = req.node.id.slice(0, 256) || `xds-${this.streamId}`;
      this.zone = req.node.locality?.zone.slice(0, 128) ?? '';
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
      .filter((n) => n.length <= MAX_RESOURCE_NAME_LENGTH)
      .slice(0, MAX_RESOURCE_NAMES)
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
    // Bounded across the four types too: one stream holds at most MAX_RESOURCE_NAMES services.
    for (const t of this.types.values()) {
      for (const n of t.names) {
        const s = serviceOfTargetName(n);
        if (s !== undefined && (wanted.size < MAX_RESOURCE_NAMES || wanted.has(s))) wanted.add(s);
      }
    }
    for (const [service, entry] of this.services) {
      if (wanted.has(service)) continue;
      entry.unsubscribe();
      entry.record.disconnect();
      this.services.delete(service);
    }
    for (const service of wanted) {
      if (this.services.has(service)) continue;
      const record = this.deps.clients.connect({
        clientId: this.clientId || `xds-${this.streamId}`,
        service,
        peer: this.call.getPeer(),
        zone: this.zone,
        protocol: 'xds',
      });
      const unsubscribe = this.deps.hub.subscribe(service, () => this.queuePump());
      this.services.set(service, { record, unsubscribe });
    }
  }

  /** Hub wakes come one per service; a change of several services is answered once. */
  private queuePump(): void {
    if (this.pumpQueued) return;
    this.pumpQueued = true;
    queueMicrotask(() => {
      this.pumpQueued = false;
      this.pump();
    });
  }

  /** Sends, type by type, every answer that differs from what the client last got. */
  private pump(): void {
    if (this.finished || this.waitingForDrain || !this.deps.hub.ready) {
      if (!this.deps.hub.ready && !this.finished) this.waitUntilReady();
      return;
    }
    for (const typeUrl of XDS_TYPE_URLS) {
      const type = this.types.get(typeUrl);
      if (!type) continue;
      const answer = this.answer(typeUrl, type.names);
      if (answer.key === type.sentKey) continue;
      type.sentKey = answer.key;
      this.nonceCounter += 1;
      type.nonce = `${this.streamId}-${this.nonceCounter}`;
      const writable = this.call.write({
        versionInfo: String(answer.version),
        resources: answer.resources,
        typeUrl,
        nonce: type.nonce,
      });
      if (typeUrl === CLUSTER_LOAD_ASSIGNMENT_TYPE_URL) {
        for (const view of answer.views) this.services.get(view.name)?.record.assigned(view);
      }
      if (!writable) {
        this.waitingForDrain = true;
        this.call.once('drain', () => {
          this.waitingForDrain = false;
          this.pump();
        });
        return;
      }
    }
  }

  private readyWait: (() => void) | undefined;

  /** Before the initial sync, hub wakes for unpublished services never come: wait for markReady. */
  private waitUntilReady(): void {
    if (this.readyWait) return;
    // Any key's subscribers are woken by markReady(); a private key keeps this off real services.
    const unsubscribe = this.deps.hub.subscribe(`\0xds-ready-${this.streamId}`, () => {
      unsubscribe();
      this.readyWait = undefined;
      this.queuePump();
    });
    this.readyWait = unsubscribe;
  }

  /** The full state-of-the-world answer for one type, and a key of what it holds. */
  private answer(
    typeUrl: XdsTypeUrl,
    names: readonly string[],
  ): { key: string; version: number; resources: XdsResource[]; views: ServiceView[] } {
    const resources: XdsResource[] = [];
    const views: ServiceView[] = [];
    const held: [string, number][] = [];
    let version = 0;
    for (const name of names) {
      const service = serviceOfTargetName(name);
      if (service === undefined) continue;
      // A service never registered gets the same chain with an empty assignment (version 0),
      // as lookaside.v1 answers it with an empty list: stock clients then fail calls at once
      // with UNAVAILABLE. Leaving its Listener out (does-not-exist) makes grpc-js-xds 1.14 mark
      // it missing only after 15 s and then still queue calls until their deadline.
      const view = this.deps.hub.latest(service);
      version = Math.max(version, view.version);
      switch (typeUrl) {
        case LISTENER_TYPE_URL:
          held.push([name, 0]);
          resources.push(listenerResource(name, service));
          break;
        case ROUTE_CONFIGURATION_TYPE_URL:
          held.push([name, 0]);
          resources.push(routeConfigurationResource(service));
          break;
        case CLUSTER_TYPE_URL:
          held.push([name, 0]);
          resources.push(clusterResource(service));
          break;
        case CLUSTER_LOAD_ASSIGNMENT_TYPE_URL: {
          held.push([name, view.version]);
          resources.push({ ...this.assignmentOf(view), clusterName: name });
          views.push(view);
          break;
        }
      }
    }
    return { key: JSON.stringify(held), version, resources, views };
  }

  private assignmentOf(view: ServiceView): XdsResource {
    let resource = assignments.get(view);
    if (!resource) {
      const assignment = loadAssignmentResource(view);
      if (assignment.skipped.some((s) => s.reason === 'not-an-ip')) {
        this.deps.logger.warn(
          {
            event: 'xds_skipped_endpoints',
            service: view.name,
            version: view.version,
            skipped: assignment.skipped,
          },
          'endpoints with host names cannot be sent to xDS clients (register IP addresses)',
        );
      }
      resource = assignment.resource;
      assignments.set(view, resource);
    }
    return resource;
  }

  private cleanup(): void {
    if (this.finished) return;
    this.finished = true;
    this.readyWait?.();
    this.untrack?.();
    for (const entry of this.services.values()) {
      entry.unsubscribe();
      entry.record.disconnect();
    }
    this.services.clear();
  }
}
