import { experimental, status } from '@grpc/grpc-js';
import { LookasideChannelOptions } from '../../../client-sdk';
import { LookasideContext } from '../../../client-sdk/lookaside-context';
import type { LookasideEndpoint } from '../../../client-sdk/lookaside-endpoint';
import { LookasideResolver } from '../../../client-sdk/lookaside-resolver';
import { LOOKASIDE_WRR_POLICY } from '../../../client-sdk/lookaside-wrr-balancer';
import { startScriptedLbServer, type ScriptedLbServer } from '../../support/scripted-lb-server';
import { waitFor } from '../../support/wait-for';

/** One call of the resolver's listener, as recorded. */
interface Result {
  endpoints: experimental.StatusOr<experimental.Endpoint[]>;
  attributes: { [key: string]: unknown };
  serviceConfig: unknown;
  note: string;
}

/** Drives the resolver directly (as grpc-js would) with a recording listener. */
function resolve(target: string, options: Record<string, unknown> = {}) {
  const results: Result[] = [];
  const [, authority, path] = /^lookaside:\/\/([^/]*)\/(.*)$/.exec(target)!;
  const resolver = new LookasideResolver(
    { scheme: 'lookaside', authority, path },
    (endpoints, attributes, serviceConfig, note) => {
      results.push({ endpoints, attributes, serviceConfig, note });
      return true;
    },
    { [LookasideChannelOptions.RECONNECT_INITIAL_BACKOFF_MS]: 50, ...options },
  );
  const addresses = (r: Result | undefined) =>
    r && r.endpoints.ok
      ? (r.endpoints.value as LookasideEndpoint[]).map((e) => `${e.address}/${e.weight}`)
      : null;
  return { resolver, results, addresses };
}

describe('LookasideResolver (driven directly)', () => {
  let server: ScriptedLbServer;
  const resolvers: LookasideResolver[] = [];

  beforeEach(async () => {
    server = await startScriptedLbServer();
  });
  afterEach(async () => {
    for (const r of resolvers.splice(0)) r.destroy();
    await server.close();
  });

  test('the default authority is the service name, not the LB server', () => {
    expect(
      LookasideResolver.getDefaultAuthority({ scheme: 'lookaside', authority: 'lb:7000', path: 'greeter' }),
    ).toBe('greeter');
  });

  test('does not call the listener before updateResolution, nor synchronously in it', async () => {
    server.setServers('svc', [{ address: '127.0.0.1:1', weight: 1 }]);
    const r = resolve(`lookaside://${server.address}/svc`);
    resolvers.push(r.resolver);
    r.resolver.updateResolution();
    expect(r.results).toHaveLength(0);
    await waitFor('a first result', () => r.results.length === 1);
    expect(server.totalStreams()).toBe(1);
  });

  test('every result selects lookaside_wrr and carries the shared context', async () => {
    server.setServers('svc', [{ address: '127.0.0.1:1', weight: 3, draining: true }]);
    const r = resolve(`lookaside://${server.address}/svc`);
    resolvers.push(r.resolver);
    r.resolver.updateResolution();
    await waitFor('a first result', () => r.results.length === 1);
    const [first] = r.results;
    expect(first.serviceConfig).toEqual({
      ok: true,
      value: { loadBalancingConfig: [{ [LOOKASIDE_WRR_POLICY]: {} }], methodConfig: [] },
    });
    const context = LookasideContext.from(first.attributes);
    expect(context?.service).toBe('svc');
    expect(first.endpoints.ok && first.endpoints.value[0]).toMatchObject({
      address: '127.0.0.1:1',
      weight: 3,
      draining: true,
    });
  });

  test('a list not newer than the last one on the stream is ignored', async () => {
    server.setServers('svc', [{ address: '127.0.0.1:1', weight: 1 }], 10);
    const r = resolve(`lookaside://${server.address}/svc`);
    resolvers.push(r.resolver);
    r.resolver.updateResolution();
    await waitFor('the first list', () => r.results.length === 1);
    server.push('svc', [{ address: '127.0.0.1:2', weight: 1 }], 10);
    server.push('svc', [{ address: '127.0.0.1:3', weight: 1 }], 9);
    server.push('svc', [{ address: '127.0.0.1:4', weight: 1 }], 11);
    await waitFor('the newer list', () => r.results.length >= 2);
    expect(r.results.map(r.addresses)).toEqual([['127.0.0.1:1/1'], ['127.0.0.1:4/1']]);
  });

  test('a new stream accepts its first list whatever its version (versions are per LB server)', async () => {
    server.setServers('svc', [{ address: '127.0.0.1:1', weight: 1 }], 50);
    const r = resolve(`lookaside://${server.address}/svc`);
    resolvers.push(r.resolver);
    r.resolver.updateResolution();
    await waitFor('the first list', () => r.results.length === 1);
    server.setServers('svc', [{ address: '127.0.0.1:2', weight: 1 }], 1);
    server.breakStreams();
    await waitFor('the list of the new stream', () => r.results.length === 2);
    expect(r.addresses(r.results[1])).toEqual(['127.0.0.1:2/1']);
  });

  test('the start-up error is UNAVAILABLE and still selects lookaside_wrr', async () => {
    await server.close();
    const r = resolve(`lookaside://${server.address}/svc`, {
      [LookasideChannelOptions.STARTUP_TIMEOUT_MS]: 100,
    });
    resolvers.push(r.resolver);
    r.resolver.updateResolution();
    await waitFor('the start-up error', () => r.results.length === 1);
    const [first] = r.results;
    expect(first.endpoints.ok).toBe(false);
    expect(!first.endpoints.ok && first.endpoints.error.code).toBe(status.UNAVAILABLE);
    expect(first.serviceConfig).toMatchObject({ ok: true });
  });

  test('no result reaches the listener after destroy()', async () => {
    server.setServers('svc', [{ address: '127.0.0.1:1', weight: 1 }]);
    const r = resolve(`lookaside://${server.address}/svc`);
    r.resolver.updateResolution();
    r.resolver.destroy();
    server.setServers('svc', [{ address: '127.0.0.1:2', weight: 1 }]);
    // A second resolver on the same server shows the list has been pushed and answered.
    const witness = resolve(`lookaside://${server.address}/svc`);
    resolvers.push(witness.resolver);
    witness.resolver.updateResolution();
    await waitFor('the witness result', () => witness.results.length === 1);
    expect(r.results).toEqual([]);
    await waitFor("the destroyed resolver's stream to close", () => server.openStreams() === 1);
  });

  test('an empty first list on a reconnected stream does not wipe the known list if a newer one follows', async () => {
    server.setServers('svc', [{ address: '127.0.0.1:1', weight: 1 }], 5);
    const r = resolve(`lookaside://${server.address}/svc`, {
      [LookasideChannelOptions.STARTUP_TIMEOUT_MS]: 60_000,
    });
    resolvers.push(r.resolver);
    r.resolver.updateResolution();
    await waitFor('the first list', () => r.results.length === 1);
    // A restarted LB server that has not read etcd yet: an empty version-0 list, then the real one.
    server.setServers('svc', [], 0);
    server.breakStreams();
    await waitFor('the new stream', () => server.totalStreams() === 2 && server.openStreams() === 1);
    server.setServers('svc', [{ address: '127.0.0.1:2', weight: 1 }], 1);
    await waitFor('the real list', () => r.results.length === 2);
    expect(r.results.map(r.addresses)).toEqual([['127.0.0.1:1/1'], ['127.0.0.1:2/1']]);
  });

  test('a held empty list applies after the start-up timeout when nothing newer comes', async () => {
    server.setServers('svc', [{ address: '127.0.0.1:1', weight: 1 }], 5);
    const r = resolve(`lookaside://${server.address}/svc`, {
      [LookasideChannelOptions.STARTUP_TIMEOUT_MS]: 200,
    });
    resolvers.push(r.resolver);
    r.resolver.updateResolution();
    await waitFor('the first list', () => r.results.length === 1);
    server.setServers('svc', [], 0);
    server.breakStreams();
    await waitFor('the empty list', () => r.results.length === 2);
    expect(r.addresses(r.results[1])).toEqual([]);
  });
});
