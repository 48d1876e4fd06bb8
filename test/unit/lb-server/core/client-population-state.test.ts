import {
  ClientPopulationState,
  clientKeySegment,
  clientRecordKey,
  encodeClientRecord,
  parseClientRecord,
  type ClientRecordValue,
  type PopulationOp,
} from '../../../../lb-server/core/client-population-state';
import type { RegistryKeyValue } from '../../../../lb-server/core/registry-state';

const FOLDER = '/lookaside/clients/';

function record(patch: Partial<ClientRecordValue> = {}): ClientRecordValue {
  return {
    clientId: 'c1',
    service: 'greeter',
    zone: 'z1',
    replica: 'lb-b',
    protocol: 'lookaside.v1',
    connectedAtMs: 1000,
    subset: [],
    ...patch,
  };
}

let revision = 0;
function kv(v: ClientRecordValue, key = clientRecordKey(FOLDER, v.service, v.clientId)): RegistryKeyValue {
  revision += 1;
  return { key, value: encodeClientRecord(v), modRevision: revision, lease: '1' };
}

function join(state: ClientPopulationState, clientId: string, service = 'greeter', now = 5000): boolean {
  return state.join({ service, clientId, zone: 'z0', protocol: 'xds' }, now);
}

/** Everything owed, in txns of at most `max` ops. */
function drain(state: ClientPopulationState, max = 64): PopulationOp[][] {
  const txns: PopulationOp[][] = [];
  for (let i = 0; i < 1000; i++) {
    const ops = state.takeFlush(max);
    if (ops.length === 0) break;
    txns.push(ops);
  }
  return txns;
}

describe('ClientPopulationState', () => {
  it('shows the records of other replicas and its own local clients, sorted by client id', () => {
    const s = new ClientPopulationState(FOLDER, 'lb-a');
    expect(
      s.replaceAll([kv(record({ clientId: 'zz' })), kv(record({ clientId: 'bb', zone: 'z2' }))], 10),
    ).toEqual(['greeter']);
    expect(join(s, 'mm')).toBe(true);
    const clients = s.clients('greeter');
    expect(clients.map((c) => [c.clientId, c.replica, c.local, c.zone])).toEqual([
      ['bb', 'lb-b', false, 'z2'],
      ['mm', 'lb-a', true, 'z0'],
      ['zz', 'lb-b', false, 'z1'],
    ]);
    expect(s.clients('other')).toEqual([]);
    expect(s.services()).toEqual(['greeter']);
  });

  it("a local client overrides a record of the same id; this replica's own stale records are not shown", () => {
    const s = new ClientPopulationState(FOLDER, 'lb-a');
    s.replaceAll(
      [kv(record({ clientId: 'dup', replica: 'lb-b' })), kv(record({ clientId: 'old', replica: 'lb-a' }))],
      5,
    );
    join(s, 'dup');
    expect(s.clients('greeter').map((c) => [c.clientId, c.replica, c.local])).toEqual([
      ['dup', 'lb-a', true],
    ]);
  });

  it('several streams with one client id are one record, refcounted: only the last leave removes it', () => {
    const s = new ClientPopulationState(FOLDER, 'lb-a');
    expect(join(s, 'c1')).toBe(true);
    expect(join(s, 'c1')).toBe(false);
    expect(drain(s)).toHaveLength(1);
    expect(s.leave('greeter', 'c1')).toBe(false);
    expect(s.clients('greeter')).toHaveLength(1);
    expect(s.takeFlush(64)).toEqual([]);
    expect(s.leave('greeter', 'c1')).toBe(true);
    expect(s.clients('greeter')).toEqual([]);
    expect(s.takeFlush(64)).toEqual([{ kind: 'delete', key: `${FOLDER}greeter/c1` }]);
    // A leave too many is harmless.
    expect(s.leave('greeter', 'c1')).toBe(false);
    expect(s.takeFlush(64)).toEqual([]);
  });

  it('a client that joins and leaves between two flushes causes no write', () => {
    const s = new ClientPopulationState(FOLDER, 'lb-a');
    join(s, 'brief');
    expect(s.pendingCount).toBe(1);
    s.leave('greeter', 'brief');
    expect(s.pendingCount).toBe(0);
    expect(s.takeFlush(64)).toEqual([]);
  });

  it('a join is one put with the full record; a changed subset one more put; the same subset none', () => {
    const s = new ClientPopulationState(FOLDER, 'lb-a');
    join(s, 'c1', 'greeter', 7000);
    const [put] = s.takeFlush(64);
    expect(put.kind).toBe('put');
    const parsed = parseClientRecord(FOLDER, put.key, put.kind === 'put' ? put.value : '');
    expect(parsed).toEqual({
      ok: true,
      value: {
        clientId: 'c1',
        service: 'greeter',
        zone: 'z0',
        replica: 'lb-a',
        protocol: 'xds',
        connectedAtMs: 7000,
        subset: [],
      },
    });
    expect(s.setSubset('greeter', 'c1', ['i1', 'i2'])).toBe(true);
    expect(s.setSubset('greeter', 'c1', ['i1', 'i2'])).toBe(false);
    const ops = s.takeFlush(64);
    expect(ops).toHaveLength(1);
    expect(ops[0].kind === 'put' && JSON.parse(ops[0].value).subset).toEqual(['i1', 'i2']);
    expect(s.clients('greeter')[0].subset).toEqual(['i1', 'i2']);
    // A subset for a client that is not local changes nothing.
    expect(s.setSubset('greeter', 'nobody', ['i1'])).toBe(false);
    expect(s.takeFlush(64)).toEqual([]);
  });

  it('hands out writes in txns of at most the given size, deletes first, every client once', () => {
    const s = new ClientPopulationState(FOLDER, 'lb-a');
    for (let i = 0; i < 150; i++) join(s, `c${String(i).padStart(3, '0')}`);
    const first = drain(s);
    expect(first.map((t) => t.length)).toEqual([64, 64, 22]);
    for (let i = 0; i < 70; i++) s.leave('greeter', `c${String(i).padStart(3, '0')}`);
    join(s, 'new');
    const second = drain(s);
    expect(second.map((t) => t.length)).toEqual([64, 7]);
    expect(second.flat().filter((o) => o.kind === 'delete')).toHaveLength(70);
    expect(second[1][6]).toMatchObject({ kind: 'put', key: `${FOLDER}greeter/new` });
  });

  it('a failed commit is owed again; a client that left meanwhile is deleted instead', () => {
    const s = new ClientPopulationState(FOLDER, 'lb-a');
    join(s, 'a');
    join(s, 'b');
    const ops = s.takeFlush(64);
    s.leave('greeter', 'b');
    // b's delete is already owed (its put was sent); the failed put adds nothing more for it.
    s.flushFailed(ops);
    const again = s.takeFlush(64);
    expect(again.map((o) => [o.kind, o.key])).toEqual([
      ['delete', `${FOLDER}greeter/b`],
      ['put', `${FOLDER}greeter/a`],
    ]);
  });

  it('after a lost lease every local client is owed a put and nothing a delete', () => {
    const s = new ClientPopulationState(FOLDER, 'lb-a');
    join(s, 'a');
    join(s, 'b');
    drain(s);
    s.leave('greeter', 'b');
    s.leaseLost();
    expect(s.takeFlush(64).map((o) => [o.kind, o.key])).toEqual([['put', `${FOLDER}greeter/a`]]);
  });

  it('rewrites a local record that vanished from etcd (its lease expired, another replica deleted it)', () => {
    const s = new ClientPopulationState(FOLDER, 'lb-a');
    join(s, 'a');
    const [put] = s.takeFlush(64);
    s.put({ key: put.key, value: put.kind === 'put' ? put.value : '', modRevision: 3, lease: '9' });
    expect(s.takeFlush(64)).toEqual([]);
    s.delete(put.key, 4);
    expect(s.takeFlush(64).map((o) => o.kind)).toEqual(['put']);
  });

  it('a client that rejoins before its delete went out cancels the delete and is put again', () => {
    const s = new ClientPopulationState(FOLDER, 'lb-a');
    join(s, 'a', 'greeter', 1000);
    drain(s);
    s.leave('greeter', 'a');
    join(s, 'a', 'greeter', 2000);
    const ops = s.takeFlush(64);
    expect(ops.map((o) => o.kind)).toEqual(['put']);
    expect(ops[0].kind === 'put' && JSON.parse(ops[0].value).connectedAtMs).toBe(2000);
  });

  it('reports the services whose visible population changed, not its own records or re-puts', () => {
    const s = new ClientPopulationState(FOLDER, 'lb-a');
    expect(s.put(kv(record({ clientId: 'x', service: 'alpha' })))).toEqual(['alpha']);
    expect(s.put(kv(record({ clientId: 'x', service: 'alpha' })))).toEqual([]);
    expect(s.put(kv(record({ clientId: 'x', service: 'alpha', subset: ['i1'] })))).toEqual(['alpha']);
    expect(s.put(kv(record({ clientId: 'own', service: 'alpha', replica: 'lb-a' })))).toEqual([]);
    expect(s.delete(clientRecordKey(FOLDER, 'alpha', 'x'), 99)).toEqual(['alpha']);
    expect(s.delete(clientRecordKey(FOLDER, 'alpha', 'x'), 100)).toEqual([]);
  });

  it.each([
    ['not JSON', '{', /value is not JSON/],
    ['a missing field', JSON.stringify({ clientId: 'c1', service: 'greeter' }), /zone/],
    ['a replica with "/"', encodeClientRecord(record({ replica: 'a/b' })), /replica: must not contain "\/"/],
    ['a subset of numbers', JSON.stringify({ ...record(), subset: [1] }), /subset\.0/],
    [
      'another service than the key',
      encodeClientRecord(record({ service: 'other' })),
      /names service "other"/,
    ],
    ['another client than the key', encodeClientRecord(record({ clientId: 'c2' })), /names client "c2"/],
  ])('skips and reports a record with %s, keeping the valid ones', (_what, value, reason) => {
    const s = new ClientPopulationState(FOLDER, 'lb-a');
    const key = `${FOLDER}greeter/c1`;
    s.replaceAll([{ key, value, modRevision: 4, lease: '0' }, kv(record({ clientId: 'ok' }))], 4);
    expect(s.clients('greeter').map((c) => c.clientId)).toEqual(['ok']);
    expect(s.rejectedCount).toBe(1);
    expect(s.rejectedRecords()[0]).toMatchObject({ key, modRevision: 4 });
    expect(s.rejectedRecords()[0].reason).toMatch(reason);
    const fresh = s.takeNewRejections();
    expect(fresh.rejected.map((r) => r.key)).toEqual([key]);
    expect(s.takeNewRejections().rejected).toEqual([]);
    // A valid value at the key replaces the rejection; a delete forgets it.
    s.put(kv(record({ clientId: 'c1' })));
    expect(s.rejectedCount).toBe(0);
  });

  it('skips keys that are not <folder><service>/<client-id>', () => {
    const s = new ClientPopulationState(FOLDER, 'lb-a');
    s.put({ key: `${FOLDER}greeter`, value: encodeClientRecord(record()), modRevision: 1, lease: '0' });
    s.put({
      key: `${FOLDER}greeter/c1/extra`,
      value: encodeClientRecord(record()),
      modRevision: 2,
      lease: '0',
    });
    expect(s.rejectedRecords().map((r) => r.reason)).toEqual([
      `key is not ${FOLDER}<service>/<client-id>`,
      `key is not ${FOLDER}<service>/<client-id>`,
    ]);
    expect(s.clients('greeter')).toEqual([]);
  });

  it('gives every client id one key segment, and no two ids the same one', () => {
    expect(clientKeySegment('host-1234-abcd')).toBe('host-1234-abcd');
    expect(clientKeySegment('a/b')).toBe('a%2Fb');
    expect(clientKeySegment('a b')).toBe('a%20b');
    expect(clientKeySegment('a%20b')).toBe('a%2520b');
    expect(clientKeySegment('zoné')).toBe('zon%C3%A9');
    // A client id that needs encoding round-trips through its record.
    const v = record({ clientId: 'a/b c', replica: 'lb-b' });
    const s = new ClientPopulationState(FOLDER, 'lb-a');
    s.put(kv(v));
    expect(s.clients('greeter').map((c) => c.clientId)).toEqual(['a/b c']);
  });
});

describe('ClientPopulationState rejections', () => {
  it('a full read after an outage does not report the same rejected record again; a new revision it does', () => {
    const s = new ClientPopulationState(FOLDER, 'lb-a');
    const bad = { key: `${FOLDER}greeter/x`, value: '{', modRevision: 7, lease: '0' };
    s.put(bad);
    expect(s.takeNewRejections().rejected).toHaveLength(1);
    s.replaceAll([bad], 20);
    expect(s.takeNewRejections().rejected).toEqual([]);
    expect(s.rejectedCount).toBe(1);
    s.replaceAll([{ ...bad, modRevision: 21 }], 21);
    expect(s.takeNewRejections().rejected).toHaveLength(1);
  });
});

describe('ClientPopulationState views', () => {
  it('hands out the same frozen list until a client of the service changes', () => {
    const s = new ClientPopulationState(FOLDER, 'lb-a');
    join(s, 'a');
    const first = s.clients('greeter');
    expect(Object.isFrozen(first)).toBe(true);
    expect(s.clients('greeter')).toBe(first);
    // Another service's change, or one more stream of a known client, keeps it.
    join(s, 'x', 'other');
    join(s, 'a');
    expect(s.clients('greeter')).toBe(first);
    s.setSubset('greeter', 'a', ['i1']);
    const second = s.clients('greeter');
    expect(second).not.toBe(first);
    expect(second[0].subset).toEqual(['i1']);
    s.put(kv(record({ clientId: 'b' })));
    expect(s.clients('greeter').map((c) => c.clientId)).toEqual(['a', 'b']);
    s.delete(clientRecordKey(FOLDER, 'greeter', 'b'), 1000);
    expect(s.clients('greeter').map((c) => c.clientId)).toEqual(['a']);
    s.leave('greeter', 'a');
    s.leave('greeter', 'a');
    expect(s.clients('greeter')).toEqual([]);
    s.replaceAll([kv(record({ clientId: 'c' }))], 2000);
    expect(s.clients('greeter').map((c) => c.clientId)).toEqual(['c']);
  });
});

describe('ClientPopulationState sizes', () => {
  it('bounds a batch by bytes too, always taking at least one op', () => {
    const s = new ClientPopulationState(FOLDER, 'lb-a');
    for (const id of ['a', 'b', 'c']) join(s, id);
    const one = s.takeFlush(64, 10);
    expect(one).toHaveLength(1);
    const rest = s.takeFlush(64, 100_000);
    expect(rest.map((o) => o.key)).toEqual([`${FOLDER}greeter/b`, `${FOLDER}greeter/c`]);
  });

  it('writes a subset too large for a record as [], so that every replica accepts the record', () => {
    const s = new ClientPopulationState(FOLDER, 'lb-a');
    join(s, 'big');
    const huge = Array.from({ length: 2000 }, (_, i) => `instance-${'x'.repeat(30)}-${i}`);
    s.setSubset('greeter', 'big', huge);
    const [op] = s.takeFlush(64);
    const value = op.kind === 'put' ? op.value : '';
    expect(Buffer.byteLength(value)).toBeLessThanOrEqual(64 * 1024);
    const parsed = parseClientRecord(FOLDER, op.key, value);
    expect(parsed.ok && parsed.value.subset).toEqual([]);
    // This replica's own view keeps the subset it was given.
    expect(s.clients('greeter')[0].subset).toHaveLength(2000);
  });
});
