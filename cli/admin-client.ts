import * as grpc from '@grpc/grpc-js';
import { loadProtos } from '../proto/protos';
import type { AdminClient as GeneratedAdminClient } from '../proto/gen/lookaside/v1/Admin';
import type { ListServicesResponse__Output } from '../proto/gen/lookaside/v1/ListServicesResponse';
import type { GetServiceResponse__Output } from '../proto/gen/lookaside/v1/GetServiceResponse';
import type { ListClientsResponse__Output } from '../proto/gen/lookaside/v1/ListClientsResponse';
import type { GetAssignmentResponse__Output } from '../proto/gen/lookaside/v1/GetAssignmentResponse';
import type { SetOverrideRequest } from '../proto/gen/lookaside/v1/SetOverrideRequest';
import type { SetOverrideResponse__Output } from '../proto/gen/lookaside/v1/SetOverrideResponse';
import type { ClearOverrideResponse__Output } from '../proto/gen/lookaside/v1/ClearOverrideResponse';
import type { ListOverridesResponse__Output } from '../proto/gen/lookaside/v1/ListOverridesResponse';

/** A failed admin call, with the method and the LB server it went to. */
export class AdminCallError extends Error {
  constructor(
    readonly method: string,
    readonly target: string,
    readonly code: grpc.status,
    details: string,
  ) {
    super(`${method} on ${target} failed: ${grpc.status[code] ?? code}: ${details}`);
    this.name = 'AdminCallError';
  }
}

export interface AdminClientOptions {
  /** LB server "host:port". */
  readonly target: string;
  /** Bearer token, when the LB server requires one. */
  readonly token?: string;
  readonly credentials?: grpc.ChannelCredentials;
  /** Deadline for each call; default 5 s. */
  readonly timeoutMs?: number;
}

/**
 * A promise-based client of `lookaside.v1.Admin`, used by `lookaside admin` and the demo.
 * The owner calls close().
 */
export class AdminClient {
  private readonly client: GeneratedAdminClient;
  private readonly metadata = new grpc.Metadata();

  constructor(private readonly options: AdminClientOptions) {
    const Admin = loadProtos().admin.Admin;
    this.client = new Admin(options.target, options.credentials ?? grpc.credentials.createInsecure(), {
      'grpc.enable_http_proxy': 0,
    });
    if (options.token) this.metadata.set('authorization', `Bearer ${options.token}`);
  }

  listServices(): Promise<ListServicesResponse__Output> {
    return this.call('ListServices', (m, o, cb) => this.client.ListServices({}, m, o, cb));
  }

  getService(name: string): Promise<GetServiceResponse__Output> {
    return this.call('GetService', (m, o, cb) => this.client.GetService({ name }, m, o, cb));
  }

  listClients(service = ''): Promise<ListClientsResponse__Output> {
    return this.call('ListClients', (m, o, cb) => this.client.ListClients({ service }, m, o, cb));
  }

  getAssignment(service: string, clientId = ''): Promise<GetAssignmentResponse__Output> {
    return this.call('GetAssignment', (m, o, cb) =>
      this.client.GetAssignment({ service, clientId }, m, o, cb),
    );
  }

  /** Sets (replaces) an instance's operator override. */
  setOverride(request: SetOverrideRequest): Promise<SetOverrideResponse__Output> {
    return this.call('SetOverride', (m, o, cb) => this.client.SetOverride(request, m, o, cb));
  }

  /** Clears an instance's operator override (cleared: false when it had none). */
  clearOverride(service: string, instanceId: string, who = ''): Promise<ClearOverrideResponse__Output> {
    return this.call('ClearOverride', (m, o, cb) =>
      this.client.ClearOverride({ service, instanceId, who }, m, o, cb),
    );
  }

  listOverrides(service = ''): Promise<ListOverridesResponse__Output> {
    return this.call('ListOverrides', (m, o, cb) => this.client.ListOverrides({ service }, m, o, cb));
  }

  close(): void {
    this.client.close();
  }

  private call<T>(
    method: string,
    invoke: (metadata: grpc.Metadata, options: grpc.CallOptions, cb: grpc.requestCallback<T>) => void,
  ): Promise<T> {
    const deadline = new Date(Date.now() + (this.options.timeoutMs ?? 5000));
    return new Promise<T>((resolve, reject) => {
      invoke(this.metadata.clone(), { deadline }, (err, value) => {
        if (err)
          reject(
            new AdminCallError(method, this.options.target, err.code ?? grpc.status.UNKNOWN, err.details),
          );
        else if (value === undefined)
          reject(new AdminCallError(method, this.options.target, grpc.status.INTERNAL, 'empty answer'));
        else resolve(value);
      });
    });
  }
}
