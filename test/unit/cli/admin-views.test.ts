import { clientsView, overridesView, serviceView, servicesView } from '../../../cli/admin-views';
import { textTable } from '../../../cli/text-table';

describe('admin views', () => {
  it('aligns columns and right-aligns numbers', () => {
    expect(
      textTable(
        ['NAME', 'N'],
        [
          ['a', 5],
          ['bbb', 10],
        ],
      ),
    ).toBe('NAME   N\na      5\nbbb   10');
  });

  it('shows each endpoint with its share of the effective weight and its state', () => {
    const text = serviceView({
      name: 'greeter',
      version: 7,
      clients: 2,
      endpoints: [
        {
          instanceId: 'a',
          key: 'k/a',
          address: '127.0.0.1:8181',
          weight: 100,
          effectiveWeight: 100,
          zone: '',
          metadata: {},
          draining: false,
          format: 'lookaside',
          lease: '1',
          modRevision: 2,
        },
        {
          instanceId: 'b',
          key: 'k/b',
          address: '127.0.0.1:8282',
          weight: 300,
          effectiveWeight: 300,
          zone: 'z1',
          metadata: {},
          draining: false,
          format: 'lookaside',
          lease: '1',
          modRevision: 3,
        },
        {
          instanceId: 'c',
          key: 'k/c',
          address: '127.0.0.1:8383',
          weight: 100,
          effectiveWeight: 0,
          zone: '',
          metadata: {},
          draining: true,
          format: 'etcd-naming',
          lease: '1',
          modRevision: 4,
          eligible: false,
          reasons: ['draining', 'unhealthy'],
          health: 'not-serving',
        },
        {
          instanceId: 'e',
          key: 'k/e',
          address: '127.0.0.1:8585',
          weight: 100,
          effectiveWeight: 0,
          zone: '',
          metadata: {},
          draining: false,
          format: 'lookaside',
          lease: '1',
          modRevision: 6,
          eligible: false,
          reasons: ['ejected'],
          health: 'serving',
          ejectionRule: 'failure-percentage',
          ejectedSinceMs: Date.UTC(2026, 0, 1, 12, 0, 0),
          ejectedUntilMs: Date.UTC(2026, 0, 1, 12, 1, 0),
          consecutiveEjections: 2,
          callsPerSecond: 12.34,
          failureRate: 0.9,
          loadSource: 'orca',
          loadFactor: 0.3125,
          utilization: 0.8,
          qps: 100,
        },
        {
          instanceId: 'd',
          key: 'k/d',
          address: '127.0.0.1:8484',
          weight: 0,
          effectiveWeight: 0,
          zone: '',
          metadata: {},
          draining: false,
          format: 'lookaside',
          lease: '1',
          modRevision: 5,
        },
      ],
      rejected: [{ key: 'k/bad', reason: 'value is not JSON', modRevision: 5 }],
    });
    expect(text).toContain('service greeter   version 7   clients 2');
    expect(text).toMatch(/127\.0\.0\.1:8181\s+100\s+100\s+25\.0%\s+serving/);
    expect(text).toMatch(/127\.0\.0\.1:8282\s+300\s+300\s+75\.0%\s+serving\s+-\s+-\s+-\s+-\s+-\s+-\s+z1/);
    expect(text).toMatch(
      /127\.0\.0\.1:8585\s+100\s+0\s+0\.0%\s+ejected\s+serving\s+failure-percentage until 12:01:00Z \(x2\)\s+12\.3\s+90\.0%\s+orca x0\.31 \(util 0\.80, 100 qps\)/,
    );
    // The server's reasons when it sends them; derived from the record for an older server.
    expect(text).toMatch(/127\.0\.0\.1:8383\s+100\s+0\s+0\.0%\s+draining,unhealthy\s+not-serving/);
    expect(text).toMatch(/127\.0\.0\.1:8484\s+0\s+0\s+0\.0%\s+weight-0/);
    expect(text).toMatch(/rejected records \(1\):\n.*\nk\/bad\s+value is not JSON/);
  });

  it('shows a duplicate of an address with share 0 and the instance clients use', () => {
    const row = (instanceId: string, weight: number, extra: object) => ({
      instanceId,
      key: `k/${instanceId}`,
      address: '10.0.0.1:8181',
      weight,
      effectiveWeight: weight,
      zone: '',
      metadata: {},
      draining: false,
      format: 'lookaside',
      lease: '1',
      modRevision: 2,
      eligible: true,
      reasons: [],
      ...extra,
    });
    const text = serviceView({
      name: 'greeter',
      version: 3,
      clients: 0,
      endpoints: [
        row('10.0.0.1:8181', 100, {
          format: 'etcd-naming',
          effectiveWeight: 0,
          eligible: false,
          reasons: ['duplicate'],
          duplicateOf: 'ours',
        }),
        row('ours', 300, {}),
      ],
      rejected: [],
    });
    expect(text).toMatch(/10\.0\.0\.1:8181\s+10\.0\.0\.1:8181\s+100\s+0\s+0\.0%\s+duplicate of ours\s/);
    expect(text).toMatch(/ours\s+10\.0\.0\.1:8181\s+300\s+300\s+100\.0%\s+serving/);
  });

  it('shows the registered weight, the override (who, expiry) and the result, and dangling overrides', () => {
    const override = {
      service: 'greeter',
      instanceId: 'a',
      key: '/lookaside/overrides/greeter/a',
      draining: true,
      who: 'alice',
      reason: 'disk',
      atMs: Date.UTC(2026, 0, 1, 12, 0, 0),
      expiresAtMs: Date.UTC(2026, 0, 1, 14, 0, 0),
      dangling: false,
      modRevision: 9,
    };
    const text = serviceView({
      name: 'greeter',
      version: 3,
      clients: 0,
      endpoints: [
        {
          instanceId: 'a',
          key: 'k/a',
          address: '10.0.0.1:8181',
          weight: 40,
          effectiveWeight: 0,
          zone: '',
          metadata: {},
          draining: false,
          format: 'lookaside',
          lease: '0',
          modRevision: 2,
          eligible: false,
          reasons: ['overridden'],
          override,
        },
      ],
      danglingOverrides: [{ ...override, instanceId: 'later', weight: 5, draining: false, dangling: true }],
      rejected: [],
    });
    expect(text).toMatch(/OVERRIDE/);
    expect(text).toMatch(
      /10\.0\.0\.1:8181\s+40\s+0\s+-\s+overridden\s.*drain until 14:00:00Z by alice \(disk\)/,
    );
    expect(text).toMatch(/dangling overrides \(1, no record yet/);
    expect(text).toMatch(/later\s+weight 5 until 14:00:00Z by alice\s+disk/);

    const list = overridesView(
      {
        overrides: [
          override,
          { ...override, instanceId: 'b', weight: 0, draining: false, expiresAtMs: 0, dangling: true },
        ],
      },
      Date.UTC(2026, 0, 1, 12, 0, 30),
    );
    expect(list).toMatch(/SERVICE\s+INSTANCE\s+OVERRIDE\s+WHO\s+REASON\s+SET\s+EXPIRES\s+DANGLING/);
    expect(list).toMatch(/greeter\s+a\s+drain\s+alice\s+disk\s+30s ago\s+14:00:00Z\s+no/);
    expect(list).toMatch(/greeter\s+b\s+weight 0\s+alice\s+disk\s+30s ago\s+never\s+yes/);
    expect(overridesView({ overrides: [] })).toBe('(no overrides)');
  });

  it('shows held endpoints and an active self-preservation', () => {
    const until = Date.UTC(2026, 0, 1, 12, 0, 0);
    const summary = {
      name: 'greeter',
      version: 9,
      endpoints: 2,
      servingEndpoints: 2,
      drainingEndpoints: 0,
      rejectedRecords: 0,
      clients: 1,
      heldEndpoints: 2,
      heldUntilMs: until,
    };
    const services = servicesView({
      services: [summary],
      synced: true,
      etcdConnected: true,
      selfPreservationGraceMs: 15_000,
      selfPreservationThreshold: 0.5,
      selfPreservationActive: true,
    });
    expect(services).toMatch(
      /SELF-PRESERVATION ACTIVE: removals held for greeter \(2 until 2026-01-01T12:00:00.000Z\)/,
    );
    const endpoint = {
      instanceId: 'a',
      key: 'k/a',
      address: '127.0.0.1:8181',
      weight: 100,
      effectiveWeight: 100,
      zone: '',
      metadata: {},
      draining: false,
      format: 'lookaside',
      lease: '1',
      modRevision: 2,
      held: true,
      heldUntilMs: until,
    };
    const text = serviceView({
      name: 'greeter',
      version: 9,
      clients: 1,
      endpoints: [endpoint],
      rejected: [],
      heldEndpoints: 1,
      heldUntilMs: until,
    });
    expect(text).toMatch(
      /self-preservation: 1 endpoint\(s\) removed from etcd are held until 2026-01-01T12:00:00.000Z/,
    );
    expect(text).toMatch(/127\.0\.0\.1:8181\s+100\s+100\s+100\.0%\s+held/);
  });

  it('lists rejected records that belong to no service under the services', () => {
    const text = servicesView({
      services: [],
      synced: true,
      etcdConnected: true,
      unattributedRejected: [
        { key: '/lookaside/services/bad name/x', reason: 'service name must …', modRevision: 3 },
      ],
      rejectedRecords: 1,
    });
    expect(text).toContain('rejected records outside any service (1):');
    expect(text).toMatch(/\/lookaside\/services\/bad name\/x\s+service name must/);
  });

  it('says when there is nothing to show', () => {
    expect(servicesView({ services: [], synced: false, etcdConnected: false })).toBe(
      'synced: no   etcd: DISCONNECTED\n(no services)',
    );
    expect(clientsView({ clients: [] })).toBe('(no clients connected)');
  });

  it('lists clients with their assignment version and reported calls', () => {
    const now = 1_000_000;
    const text = clientsView(
      {
        clients: [
          {
            clientId: 'c1',
            service: 'greeter',
            peer: 'ipv4:127.0.0.1:5000',
            zone: '',
            connectedAtMs: now - 30_000,
            assignedVersion: 4,
            assignedAtMs: now - 2000,
            protocol: 'lookaside.v1',
            nacks: 0,
            lastStatsAtMs: now,
            stats: [
              {
                address: '127.0.0.1:8181',
                callsStarted: 10,
                callsSucceeded: 9,
                callsFailed: 1,
                latencyMsSum: 3,
                failedByStatus: [{ code: 13, count: 1 }],
              },
            ],
          },
        ],
      },
      now,
    );
    expect(text).toMatch(
      /c1\s+greeter\s+-\s+lookaside\.v1\s+ipv4:127\.0\.0\.1:5000\s+30s ago\s+v4 2s ago\s+127\.0\.0\.1:8181=10 \(1 failed: INTERNAL 1\)/,
    );
  });

  it('shows the replica of every client; a client of another replica has "—" for what only its replica knows', () => {
    const now = 1_000_000;
    const base = {
      service: 'greeter',
      zone: 'z1',
      connectedAtMs: now - 5000,
      protocol: 'lookaside.v1',
      nacks: 0,
      lastStatsAtMs: 0,
      subset: [],
    };
    const text = clientsView(
      {
        clients: [
          {
            ...base,
            clientId: 'mine',
            peer: 'ipv4:127.0.0.1:5000',
            assignedVersion: 3,
            assignedAtMs: now - 1000,
            stats: [],
            replica: 'lb-a',
            local: true,
          },
          {
            ...base,
            clientId: 'theirs',
            peer: '',
            assignedVersion: 0,
            assignedAtMs: 0,
            stats: [],
            replica: 'lb-b',
            local: false,
          },
        ],
      },
      now,
    );
    expect(text).toMatch(
      /mine\s+greeter\s+lb-a \(this\)\s+lookaside\.v1\s+ipv4:127\.0\.0\.1:5000\s+5s ago\s+v3 1s ago\s+-/,
    );
    expect(text).toMatch(/theirs\s+greeter\s+lb-b\s+lookaside\.v1\s+—\s+5s ago\s+—\s+—/);
    expect(text).toContain('served by another replica');
  });

  it('shows the service config, its source, and a rejected setting with its reason', () => {
    const text = serviceView({
      name: 'greeter',
      version: 1,
      clients: 0,
      endpoints: [],
      rejected: [],
      config: { subsetSize: 3, zoneAware: false, zoneMinEndpoints: 6, source: 'etcd' },
      rejectedConfig: {
        key: '/lookaside/config/greeter',
        reason: 'subsetSize: expected an integer >= 0 (0: off)',
        modRevision: 7,
      },
    });
    expect(text).toContain(
      'config: subset-size 3, zone-aware off, zone-min-endpoints 6 (from etcd over the defaults)',
    );
    expect(text).toContain(
      'REJECTED CONFIG /lookaside/config/greeter: subsetSize: expected an integer >= 0 (0: off) (the config above stays in force)',
    );
    const plain = serviceView({
      name: 'greeter',
      version: 1,
      clients: 0,
      endpoints: [],
      rejected: [],
      config: { subsetSize: 0, zoneAware: true, zoneMinEndpoints: 6, source: 'default' },
      rejectedConfig: null,
    });
    expect(plain).toContain('config: subset-size off, zone-aware on, zone-min-endpoints 6 (defaults)');
    expect(plain).not.toContain('REJECTED');
  });
});
