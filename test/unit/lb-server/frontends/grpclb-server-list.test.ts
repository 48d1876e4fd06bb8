import { assignmentOf, greeterView as viewOf } from '../../../support/assignment-of';
import { grpclbStatsToCounts } from '../../../../lb-server/frontends/grpclb/grpclb-handlers';
import {
  interleave,
  ipBytes,
  repetitions,
  toGrpclbServerList,
} from '../../../../lb-server/frontends/grpclb/grpclb-server-list';

describe('grpclb server lists from registry snapshots', () => {
  test('IP addresses become network-order bytes; host names none', () => {
    expect([...ipBytes('10.1.2.3')!]).toEqual([10, 1, 2, 3]);
    expect([...ipBytes('::1')!]).toEqual([...Array(15).fill(0), 1]);
    expect(ipBytes('2001:db8::ff00:42:8329')!.toString('hex')).toBe('20010db8000000000000ff0000428329');
    expect(ipBytes('::ffff:1.2.3.4')!.toString('hex')).toBe('00000000000000000000ffff01020304');
    expect(ipBytes('localhost')).toBeUndefined();
  });

  test('weights become repetitions, reduced by their divisor and bounded in length', () => {
    expect(repetitions([100, 300])).toEqual([1, 3]);
    expect(repetitions([7, 5])).toEqual([7, 5]);
    const big = repetitions([1, 9999], 100);
    expect(big.reduce((s, c) => s + c, 0)).toBe(100);
    expect(big[0]).toBe(1);
    expect(repetitions([3, 3, 3], 2)).toEqual([1, 1, 1]);
    expect(repetitions([])).toEqual([]);
  });

  test('repetitions are interleaved, not in runs', () => {
    expect(interleave([1, 3])).toEqual([1, 0, 1, 1]);
    expect(interleave([2, 2])).toEqual([0, 1, 0, 1]);
  });

  test('a 1:3 service is a list of 4 with tokens; draining, weight-0 and host names are left out', () => {
    const list = toGrpclbServerList(
      assignmentOf(
        viewOf([
          { id: 'a', value: { address: '127.0.0.1:8181', weight: 100 } },
          { id: 'b', value: { address: '127.0.0.1:8282', weight: 300 } },
          { id: 'c', value: { address: '127.0.0.1:8383', draining: true } },
          { id: 'd', value: { address: '127.0.0.1:8484', weight: 0 } },
          { id: 'e', value: { address: 'localhost:8585' } },
        ]),
      ),
    );
    expect(list.serverList.servers?.map((s) => `${s.port}/${s.loadBalanceToken}`)).toEqual([
      '8282/b',
      '8181/a',
      '8282/b',
      '8282/b',
    ]);
    expect(list.serverList.servers?.every((s) => s.drop === false)).toBe(true);
    expect(list.skipped.map((s) => s.reason)).toEqual(['draining', 'weight-0', 'not-an-ip']);
  });

  test('client stats become a totals row and one row per drop token', () => {
    expect(
      grpclbStatsToCounts({
        timestamp: null,
        numCallsStarted: 10,
        numCallsFinished: 9,
        numCallsFinishedWithClientFailedToSend: 1,
        numCallsFinishedKnownReceived: 8,
        callsFinishedWithDrop: [{ loadBalanceToken: 'x', numCalls: 2 }],
      }),
    ).toEqual([
      { address: '*', callsStarted: 10, callsSucceeded: 8, callsFailed: 1, latencyMsSum: 0 },
      { address: 'drop:x', callsStarted: 0, callsSucceeded: 0, callsFailed: 2, latencyMsSum: 0 },
    ]);
  });
});
