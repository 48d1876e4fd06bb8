import { clientsPrefix, configPrefix, layoutProblem, prefixRoot } from '../../../common/key-layout';

describe('key layout', () => {
  it('keeps clients and config beside the registry prefix, under its parent', () => {
    expect(prefixRoot('/lookaside/services')).toBe('/lookaside');
    expect(clientsPrefix('/lookaside/services')).toBe('/lookaside/clients/');
    expect(configPrefix('/lookaside/services/')).toBe('/lookaside/config/');
    expect(clientsPrefix('/a/b/registry')).toBe('/a/b/clients/');
    expect(clientsPrefix('/services')).toBe('/clients/');
    expect(layoutProblem('/lookaside/services')).toBeUndefined();
    expect(layoutProblem('/services')).toBeUndefined();
  });

  it('refuses registry prefixes the clients or config folders would overlap', () => {
    for (const p of ['/', '/clients', '/config', '/x/clients']) {
      expect({ p, problem: layoutProblem(p) }).toEqual({
        p,
        problem: expect.stringMatching(/must not overlap/),
      });
    }
  });
});
