import { MAX_ORCA_RATE, validateOrcaReport } from '../../../../lb-server/io/orca-subscriber';

describe('validateOrcaReport', () => {
  test('a well-formed report becomes an OrcaLoad; missing fields are 0', () => {
    expect(validateOrcaReport({ application_utilization: 0.5, rps_fractional: 120, eps: 2 }, 7)).toEqual({
      ok: true,
      load: { applicationUtilization: 0.5, cpuUtilization: 0, rpsFractional: 120, eps: 2, receivedAtMs: 7 },
    });
  });

  test.each([
    ['NaN utilization', { application_utilization: Number.NaN }],
    ['Infinity cpu', { cpu_utilization: Number.POSITIVE_INFINITY }],
    ['negative rps', { rps_fractional: -1 }],
    ['negative eps', { eps: -0.5 }],
    ['absurd utilization', { application_utilization: 101 }],
    ['absurd rps', { rps_fractional: MAX_ORCA_RATE * 10 }],
    ['a string', { eps: '3' }],
  ])('%s is rejected with the field named', (_name, raw) => {
    const v = validateOrcaReport(raw, 0);
    expect(v.ok).toBe(false);
    if (!v.ok) expect(v.reason).toMatch(Object.keys(raw)[0] as string);
  });
});
