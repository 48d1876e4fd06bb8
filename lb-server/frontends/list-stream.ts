import * as grpc from '@grpc/grpc-js';
import type { Assignment } from '../assignment/assignment';
import type { AssignmentPipeline, AssignmentSubscription } from '../assignment/assignment-pipeline';
import type {
  BackendCallCounts,
  ClientIdentity,
  ClientRecord,
  ClientRegistry,
} from '../core/client-registry';
import { ClientStream, type ClientStreamDeps } from './client-stream';

/** What a one-service list stream (lookaside.v1 or grpclb BalanceLoad) needs from the server. */
export interface ListStreamDeps extends ClientStreamDeps {
  readonly pipeline: AssignmentPipeline;
  readonly clients: ClientRegistry;
  readonly clientStatsIntervalMs: number;
}

/** What a BalanceLoad-style protocol tells the shared stream. */
export interface ListStreamProtocol<Res> {
  /** The log event and message of a rejected stream. */
  readonly event: string;
  readonly message: string;
  /** The (debug) log event of an accepted stream. */
  readonly openEvent: string;
  /** The response carrying an assignment (cached per assignment: many streams share one). */
  readonly responseFor: (assignment: Assignment) => Res;
}

/** The outcome of a frontend's check of an initial request: the client, or why it is refused. */
export type InitialRequestCheck<Res> =
  | { readonly ok: true; readonly identity: ClientIdentity; readonly initialResponse: Res }
  | { readonly ok: false; readonly reason: string };

/**
 * A BalanceLoad-style stream (lookaside.v1, grpclb): the client names one service in its first
 * message, then gets its assignment at once and on every newer version (versions strictly
 * increase on a stream, none is sent twice; a slow stream skips to the latest). This class owns
 * the rules both protocols share: the initial request comes first and once, client stats only
 * after it, the hub subscription and the client's record. A subclass maps its protocol's oneof
 * onto initial() and stats(); its ListStreamProtocol turns an assignment into its response.
 */
export abstract class ListStream<Req, Res> extends ClientStream<Req, Res> {
  /** The client's record, once its initial request was accepted. */
  protected record: ClientRecord | undefined;
  private subscription: AssignmentSubscription | undefined;
  private sentVersion = -1;

  constructor(
    call: grpc.ServerDuplexStream<Req, Res>,
    protected override readonly deps: ListStreamDeps,
    private readonly listProtocol: ListStreamProtocol<Res>,
  ) {
    super(call, deps, { ...listProtocol, firstRequest: 'initial_request' });
  }

  /**
   * Handles an initial request: refused when it is not the first, or when `check` refuses it;
   * else records the client, writes the initial response and subscribes to its assignment.
   */
  protected initial(check: () => InitialRequestCheck<Res>): void {
    if (this.record) {
      this.fail(grpc.status.INVALID_ARGUMENT, 'initial_request sent twice: send it once, first');
      return;
    }
    const checked = check();
    if (!checked.ok) {
      this.fail(grpc.status.INVALID_ARGUMENT, checked.reason);
      return;
    }
    this.accepted();
    this.record = this.deps.clients.connect(checked.identity);
    this.deps.logger.debug(
      {
        event: this.listProtocol.openEvent,
        service: checked.identity.service,
        clientId: checked.identity.clientId,
        peer: checked.identity.peer,
      },
      'client subscribed',
    );
    this.call.write(checked.initialResponse);
    this.subscription = this.deps.pipeline.subscribe(checked.identity, () => this.pump());
    this.pump();
  }

  /** Handles a client stats report: refused before the initial request. */
  protected stats(deltas: () => readonly BackendCallCounts[]): void {
    if (!this.record) {
      this.fail(
        grpc.status.INVALID_ARGUMENT,
        'client_stats before initial_request: send initial_request first',
      );
      return;
    }
    this.record.addStats(deltas());
  }

  /** Refuses a request that is neither (an empty oneof). */
  protected unexpected(): void {
    this.fail(
      grpc.status.INVALID_ARGUMENT,
      this.record ? 'empty request: expected client_stats' : 'expected initial_request as the first message',
    );
  }

  protected override pump(): void {
    if (this.finished || this.blocked || !this.record || !this.subscription) return;
    const assignment = this.subscription.newerThan(this.sentVersion);
    if (!assignment) return;
    this.sentVersion = assignment.version;
    const response = this.listProtocol.responseFor(assignment);
    this.record.assigned(assignment);
    this.send(response);
  }

  protected override onCleanup(): void {
    this.subscription?.unsubscribe();
    this.record?.disconnect();
  }
}
