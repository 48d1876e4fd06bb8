import { assignmentOf, greeterView } from '../../../support/assignment-of';
import { toGrpclbServerList } from '../../../../lb-server/frontends/grpclb/grpclb-server-list';
import { toLookasideServerList } from '../../../../lb-server/frontends/lookaside-v1/lookaside-v1-server-list';
import { loadAssignmentResource } from '../../../../lb-server/frontends/xds/xds-resources';

// a and b name one address; b is newer (greeterView gives later records higher revisions).
const view = greeterView([
  { id: 'a', value: { address: '10.0.0.1:80', weight: 100 } },
  { id: 'b', value: { address: '10.0.0.1:80', weight: 300 } },
  { id: 'c', value: { address: '10.0.0.2:80', weight: 100 } },
]);
const assignment = assignmentOf(view);

describe('every frontend sends an address once, with the weight of the record clients use', () => {
  test('lookaside.v1 leaves the duplicate out (an older SDK would keep the first entry)', () => {
    expect(
      toLookasideServerList(assignment).servers!.map((s) => [s.address, s.weight, s.loadBalanceToken]),
    ).toEqual([
      ['10.0.0.1:80', 300, 'b'],
      ['10.0.0.2:80', 100, 'c'],
    ]);
  });

  test('xDS has one locality for the address, weighted 300, not 400', () => {
    const { resource, skipped } = loadAssignmentResource(assignment);
    const localities = (
      resource.endpoints as { locality: { subZone: string }; loadBalancingWeight: { value: number } }[]
    ).map((l) => [l.locality.subZone, l.loadBalancingWeight.value]);
    expect(localities).toEqual([
      ['b', 300],
      ['c', 100],
    ]);
    expect(skipped).toEqual([{ key: '/lookaside/services/greeter/a', reason: 'duplicate' }]);
  });

  test('grpclb repeats the address 3 times to 1, not 4 to 1', () => {
    const { serverList, skipped } = toGrpclbServerList(assignment);
    const tokens = serverList.servers!.map((s) => s.loadBalanceToken);
    expect(tokens.filter((t) => t === 'b')).toHaveLength(3);
    expect(tokens.filter((t) => t === 'c')).toHaveLength(1);
    expect(tokens).not.toContain('a');
    expect(skipped).toEqual([{ key: '/lookaside/services/greeter/a', reason: 'duplicate' }]);
  });
});
