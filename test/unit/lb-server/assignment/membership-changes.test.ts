import { membershipChanges } from '../../../../lb-server/assignment/membership-changes';
import type { RecordValueInput } from '../../../../common/registry-record';
import { assignmentOf, greeterView } from '../../../support/assignment-of';

const assignment = (records: { id: string; value: RecordValueInput }[]) => assignmentOf(greeterView(records));

/** The changes as "kind id address" strings (wasDraining appended to a left one). */
function summary(changes: ReturnType<typeof membershipChanges>): string[] {
  return changes.map((c) =>
    [
      c.kind,
      c.endpoint.instanceId,
      c.endpoint.address,
      ...(c.kind === 'left' ? [`wasDraining=${c.wasDraining}`] : []),
    ].join(' '),
  );
}

describe('membershipChanges', () => {
  const a = { id: 'a', value: { address: '10.0.0.1:80' } };
  const b = { id: 'b', value: { address: '10.0.0.2:80' } };

  it('reports every endpoint as joined when nothing was published before', () => {
    expect(summary(membershipChanges(undefined, assignment([a, b])))).toEqual([
      'joined a 10.0.0.1:80',
      'joined b 10.0.0.2:80',
    ]);
  });

  it('reports nothing when only weights or other fields changed', () => {
    const before = assignment([a, b]);
    const after = assignment([{ id: 'a', value: { address: '10.0.0.1:80', weight: 5, zone: 'z' } }, b]);
    expect(membershipChanges(before, after)).toEqual([]);
    expect(membershipChanges(after, after)).toEqual([]);
  });

  it('reports a join, a drain, and leaves with or without draining', () => {
    const drainingB = { id: 'b', value: { address: '10.0.0.2:80', draining: true } };
    const c = { id: 'c', value: { address: '10.0.0.3:80' } };
    const s1 = assignment([a, b]);
    const s2 = assignment([a, drainingB, c]);
    expect(summary(membershipChanges(s1, s2))).toEqual(['draining b 10.0.0.2:80', 'joined c 10.0.0.3:80']);
    const s3 = assignment([c]);
    expect(summary(membershipChanges(s2, s3))).toEqual([
      'left a 10.0.0.1:80 wasDraining=false',
      'left b 10.0.0.2:80 wasDraining=true',
    ]);
    expect(summary(membershipChanges(s2, assignment([a, b, c])))).toEqual(['undrained b 10.0.0.2:80']);
  });

  it('reports a record that moved to another address as a leave and a join', () => {
    const moved = { id: 'a', value: { address: '10.0.0.9:80' } };
    expect(summary(membershipChanges(assignment([a]), assignment([moved])))).toEqual([
      'left a 10.0.0.1:80 wasDraining=false',
      'joined a 10.0.0.9:80',
    ]);
  });
});
