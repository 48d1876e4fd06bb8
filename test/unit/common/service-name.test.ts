import { serviceOfTargetName, validateServiceName } from '../../../common/service-name';

describe('service names', () => {
  test('a target or resource name is its service, with or without a port', () => {
    expect(serviceOfTargetName('greeter')).toBe('greeter');
    expect(serviceOfTargetName('greeter:443')).toBe('greeter');
    expect(serviceOfTargetName('a/b')).toBeUndefined();
    expect(serviceOfTargetName('')).toBeUndefined();
    expect(serviceOfTargetName(':443')).toBeUndefined();
  });

  test('a name with a character outside letters, digits, ".", "_", "-" is refused with the rule', () => {
    const r = validateServiceName('greeter service');
    expect(r.ok).toBe(false);
    expect(r.ok ? '' : r.reason).toMatch(/letters, digits/);
    expect(validateServiceName('a'.repeat(254)).ok).toBe(false);
    expect(validateServiceName('svc-1.v2_x')).toEqual({ ok: true, value: 'svc-1.v2_x' });
  });
});
