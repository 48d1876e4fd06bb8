import { countAssignment, exclusionReason } from '../../../../lb-server/assignment/assignment';
import { NO_SIGNALS } from '../../../../lb-server/assignment/assignment-signals';
import { AssignmentStage, type AssignmentPolicy } from '../../../../lb-server/assignment/assignment-stage';
import { RegistryState } from '../../../../lb-server/core/registry-state';

const P = '/lookaside/services';

function viewOf(records: Record<string, object>) {
  const state = new RegistryState(P);
  let rev = 1;
  for (const [id, value] of Object.entries(records)) {
    rev += 1;
    state.put({ key: `${P}/svc/${id}`, value: JSON.stringify(value), modRevision: rev, lease: '0' });
  }
  return state.service('svc');
}

const stage = new AssignmentStage();

describe('AssignmentStage', () => {
  test('serves every record as registered when there is no signal', () => {
    const a = stage.assess(viewOf({ a: { address: '10.0.0.1:1', weight: 30 } }), NO_SIGNALS, 5);
    expect(a).toMatchObject({ service: 'svc', group: '', version: 5 });
    expect(a.endpoints.map((e) => [e.endpoint.instanceId, e.weight, e.eligible, e.reasons])).toEqual([
      ['a', 30, true, []],
    ]);
    expect(a.eligible).toHaveLength(1);
  });

  test('a draining or weight-0 record is sent with weight 0 and the reason, and is not eligible', () => {
    const a = stage.assess(
      viewOf({
        d: { address: '10.0.0.1:1', weight: 30, draining: true },
        z: { address: '10.0.0.2:1', weight: 0 },
        s: { address: '10.0.0.3:1' },
      }),
      NO_SIGNALS,
      1,
    );
    expect(a.endpoints.map((e) => [e.endpoint.instanceId, e.weight, e.eligible, e.reasons])).toEqual([
      ['d', 0, false, ['draining']],
      ['s', 100, true, []],
      ['z', 0, false, ['weight-0']],
    ]);
    expect(a.eligible.map((e) => e.endpoint.instanceId)).toEqual(['s']);
    expect(a.endpoints.map((e) => exclusionReason(e))).toEqual(['draining', undefined, 'weight-0']);
  });

  test('a held endpoint serves at its weight and says it is held', () => {
    const view = viewOf({ h: { address: '10.0.0.1:1', weight: 7 } });
    const a = stage.assess(view, { ...NO_SIGNALS, held: new Set([view.endpoints[0].key]) }, 1);
    expect(a.endpoints[0]).toMatchObject({ weight: 7, eligible: true, reasons: ['held'] });
    expect(countAssignment(a)).toMatchObject({ eligible: 1, byReason: { held: 1 } });
  });

  test('health, overrides and load move weights with their reasons', () => {
    const view = viewOf({
      a: { address: '10.0.0.1:1', weight: 100 },
      b: { address: '10.0.0.2:1', weight: 100 },
      c: { address: '10.0.0.3:1', weight: 100 },
      d: { address: '10.0.0.4:1', weight: 0 },
    });
    const [a, b, c, d] = view.endpoints.map((e) => e.key);
    const out = stage.assess(
      view,
      {
        ...NO_SIGNALS,
        health: new Map([[a, { serving: false }]]),
        overrides: new Map([
          [b, { draining: true }],
          [d, { weight: 50 }],
        ]),
        load: new Map([[c, { factor: 0.25 }]]),
      },
      1,
    );
    expect(out.endpoints.map((e) => [e.weight, e.reasons])).toEqual([
      [0, ['unhealthy']],
      [0, ['overridden']],
      [25, ['load']],
      [50, ['overridden']],
    ]);
    expect(countAssignment(out).excluded).toEqual({
      draining: 0,
      'weight-0': 0,
      unhealthy: 1,
      ejected: 0,
      overridden: 1,
      duplicate: 0,
    });
  });

  test('an ejected endpoint is out with reason "ejected"; below the panic threshold health and ejections are ignored', () => {
    const view = viewOf({
      a: { address: '10.0.0.1:1' },
      b: { address: '10.0.0.2:1' },
      c: { address: '10.0.0.3:1' },
      d: { address: '10.0.0.4:1' },
      e: { address: '10.0.0.5:1', draining: true },
    });
    const [a, b, c] = view.endpoints.map((e) => e.key);
    const ejected = { rule: 'failure-percentage' as const, untilMs: 1 };
    const one = stage.assess(view, { ...NO_SIGNALS, ejections: new Map([[a, ejected]]) }, 1);
    expect(one.panic).toBe(false);
    expect(one.endpoints.map((e) => [e.endpoint.instanceId, e.weight, e.reasons])).toEqual([
      ['a', 0, ['ejected']],
      ['b', 100, []],
      ['c', 100, []],
      ['d', 100, []],
      ['e', 0, ['draining']],
    ]);
    expect(countAssignment(one).excluded.ejected).toBe(1);
    // 4 would serve without verdicts; exactly half left (2 of 4) is not below the threshold 0.5.
    const half = stage.assess(
      view,
      { ...NO_SIGNALS, health: new Map([[b, { serving: false }]]), ejections: new Map([[a, ejected]]) },
      2,
    );
    expect([half.panic, half.eligible.length]).toEqual([false, 2]);
    // One more (health and ejection together) leaves 1 of 4: panic, every verdict ignored, the
    // draining record still out (it is the operator's intent, not a verdict).
    const panic = stage.assess(
      view,
      {
        ...NO_SIGNALS,
        health: new Map([
          [b, { serving: false }],
          [c, { serving: false }],
        ]),
        ejections: new Map([[a, ejected]]),
      },
      3,
    );
    expect(panic.panic).toBe(true);
    expect(panic.eligible.map((e) => e.endpoint.instanceId)).toEqual(['a', 'b', 'c', 'd']);
    expect(
      new AssignmentStage(undefined, 0).assess(
        view,
        {
          ...NO_SIGNALS,
          ejections: new Map([
            [a, ejected],
            [b, ejected],
            [c, ejected],
          ]),
        },
        4,
      ).panic,
    ).toBe(false);
  });

  test('a policy gives groups their own selection; the whole-service group is the assessment itself', () => {
    const byZone: AssignmentPolicy = {
      groupOf: (c) => c.zone,
      select: (entries, group) => entries.filter((e) => e.endpoint.zone === group),
    };
    const zoned = new AssignmentStage(byZone);
    const base = zoned.assess(
      viewOf({ a: { address: '10.0.0.1:1', zone: 'z1' }, b: { address: '10.0.0.2:1', zone: 'z2' } }),
      NO_SIGNALS,
      3,
    );
    expect(zoned.groupOf({ service: 'svc', clientId: 'c', zone: 'z2' })).toBe('z2');
    const z2 = zoned.select(base, 'z2');
    expect(z2).toMatchObject({ service: 'svc', group: 'z2', version: 3 });
    expect(z2.endpoints.map((e) => e.endpoint.instanceId)).toEqual(['b']);
    expect(zoned.select(base, '')).toBe(base);
    expect(Object.isFrozen(z2.endpoints)).toBe(true);
  });
});
