import { AssignmentStage } from '../../../../lb-server/assignment/assignment-stage';
import { NO_SIGNALS } from '../../../../lb-server/assignment/assignment-signals';
import { countAssignment, exclusionReason } from '../../../../lb-server/assignment/assignment';
import { duplicateAddresses, preferredRecord } from '../../../../lb-server/assignment/duplicate-addresses';
import { RegistryState, type RegistryKeyValue } from '../../../../lb-server/core/registry-state';

const P = '/lookaside/services';

/** Service "svc" holding `records` (id → JSON value) at the given mod revisions. */
function viewOf(records: { id: string; value: object; rev: number }[]) {
  const state = new RegistryState(P);
  const kvs: RegistryKeyValue[] = records.map((r) => ({
    key: `${P}/svc/${r.id}`,
    value: JSON.stringify(r.value),
    modRevision: r.rev,
    lease: '0',
  }));
  state.replaceAll(kvs, 100);
  return state.service('svc');
}

const stage = new AssignmentStage();

describe('duplicateAddresses', () => {
  test('is empty when every address is registered once', () => {
    const view = viewOf([
      { id: 'a', value: { address: '10.0.0.1:1' }, rev: 2 },
      { id: 'b', value: { address: '10.0.0.2:1' }, rev: 3 },
    ]);
    expect(duplicateAddresses(view.endpoints).size).toBe(0);
  });

  test('of two records in our format, the newest (highest mod revision) is the one clients use', () => {
    // "a-old" sorts first and is older: an instance restarted on the same port as "b-new".
    const view = viewOf([
      { id: 'a-old', value: { address: '10.0.0.1:1', weight: 10 }, rev: 5 },
      { id: 'b-new', value: { address: '10.0.0.1:1', weight: 20 }, rev: 9 },
    ]);
    const d = duplicateAddresses(view.endpoints);
    expect([...d].map(([key, used]) => [key, used.instanceId])).toEqual([[`${P}/svc/a-old`, 'b-new']]);
  });

  test('a record in our format is used over an etcd Go-format one, even an older one', () => {
    const view = viewOf([
      { id: '10.0.0.1:1', value: { Op: 0, Addr: '10.0.0.1:1' }, rev: 9 },
      { id: 'ours', value: { address: '10.0.0.1:1', weight: 300 }, rev: 5 },
    ]);
    const d = duplicateAddresses(view.endpoints);
    expect([...d].map(([key, used]) => [key, used.instanceId])).toEqual([[`${P}/svc/10.0.0.1:1`, 'ours']]);
  });

  test('records written in one revision are decided by key; the rule is a total order', () => {
    const view = viewOf([
      { id: 'b', value: { address: '10.0.0.1:1' }, rev: 7 },
      { id: 'a', value: { address: '10.0.0.1:1' }, rev: 7 },
      { id: 'c', value: { address: '10.0.0.1:1' }, rev: 7 },
    ]);
    const d = duplicateAddresses(view.endpoints);
    expect([...d.values()].map((e) => e.instanceId)).toEqual(['a', 'a']);
    const [a, b] = view.endpoints;
    expect(preferredRecord(a, b)).toBe(true);
    expect(preferredRecord(b, a)).toBe(false);
  });
});

describe('AssignmentStage with two records of one address', () => {
  test('one is eligible with its own weight (not the sum), the other is a duplicate with weight 0', () => {
    const view = viewOf([
      { id: 'a', value: { address: '10.0.0.1:1', weight: 100 }, rev: 5 },
      { id: 'b', value: { address: '10.0.0.1:1', weight: 300 }, rev: 9 },
      { id: 'c', value: { address: '10.0.0.2:1', weight: 100 }, rev: 3 },
    ]);
    const a = stage.assess(view, NO_SIGNALS, 1);
    expect(
      a.endpoints.map((e) => [e.endpoint.instanceId, e.weight, e.eligible, e.reasons, e.duplicateOf]),
    ).toEqual([
      ['a', 0, false, ['duplicate'], 'b'],
      ['b', 300, true, [], undefined],
      ['c', 100, true, [], undefined],
    ]);
    expect(exclusionReason(a.endpoints[0])).toBe('duplicate');
    expect(a.eligible.map((e) => e.endpoint.instanceId)).toEqual(['b', 'c']);
    expect(countAssignment(a)).toMatchObject({
      endpoints: 3,
      eligible: 2,
      byReason: { duplicate: 1 },
      excluded: { duplicate: 1 },
    });
  });

  test('the record clients use decides, drain included: a draining record of ours drains the address', () => {
    const view = viewOf([
      { id: '10.0.0.1:1', value: { Op: 0, Addr: '10.0.0.1:1' }, rev: 9 },
      { id: 'ours', value: { address: '10.0.0.1:1', draining: true }, rev: 5 },
    ]);
    const a = stage.assess(view, NO_SIGNALS, 1);
    expect(a.endpoints.map((e) => [e.endpoint.instanceId, e.weight, e.reasons, e.duplicateOf])).toEqual([
      ['10.0.0.1:1', 0, ['duplicate'], 'ours'],
      ['ours', 0, ['draining'], undefined],
    ]);
    expect(a.eligible).toEqual([]);
  });

  test('the panic threshold counts addresses, not their duplicates', () => {
    const view = viewOf([
      { id: 'a', value: { address: '10.0.0.1:1' }, rev: 5 },
      { id: 'b', value: { address: '10.0.0.1:1' }, rev: 9 },
      { id: 'c', value: { address: '10.0.0.2:1' }, rev: 3 },
      { id: 'd', value: { address: '10.0.0.3:1' }, rev: 4 },
    ]);
    // c and d unhealthy: 1 of 3 addresses serves, below 0.5 (counting the duplicate, 2 of 4 would not be).
    const health = new Map([
      [`${P}/svc/c`, { serving: false }],
      [`${P}/svc/d`, { serving: false }],
    ]);
    const a = stage.assess(view, { ...NO_SIGNALS, health }, 1);
    expect(a.panic).toBe(true);
    expect(a.eligible.map((e) => e.endpoint.instanceId)).toEqual(['b', 'c', 'd']);
    expect(a.endpoints[0]).toMatchObject({ weight: 0, reasons: ['duplicate'], duplicateOf: 'b' });
  });
});
