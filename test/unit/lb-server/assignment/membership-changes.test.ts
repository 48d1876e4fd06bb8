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
      ...(c.kind === 'duplicate' || c.kind === 'duplicate-resolved' ? [`of=${c.of.instanceId}`] : []),
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

  it('reports a duplicate address once when it appears and once when it resolves', () => {
    const restarted = { id: 'a2', value: { address: '10.0.0.1:80' } };
    const s1 = assignment([a, b]);
    // a2 is newer than a (greeterView gives later records higher revisions): clients use a2.
    const s2 = assignment([a, restarted, b]);
    expect(summary(membershipChanges(s1, s2))).toEqual([
      'joined a2 10.0.0.1:80',
      'duplicate a 10.0.0.1:80 of=a2',
    ]);
    expect(membershipChanges(s2, assignment([a, restarted, b]))).toEqual([]);
    // The old record's lease expires: a left, and is no longer a duplicate.
    expect(summary(membershipChanges(s2, assignment([restarted, b])))).toEqual([
      'left a 10.0.0.1:80 wasDraining=false',
      'duplicate-resolved a 10.0.0.1:80 of=a2',
    ]);
    // The record clients use goes instead: the duplicate is used now.
    expect(summary(membershipChanges(s2, assignment([a, b])))).toEqual([
      'left a2 10.0.0.1:80 wasDraining=false',
      'duplicate-resolved a 10.0.0.1:80 of=a2',
    ]);
  });
});
