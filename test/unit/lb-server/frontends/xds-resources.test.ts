import { assignmentOf, greeterView as viewOf } from '../../../support/assignment-of';
import {
  CLUSTER_LOAD_ASSIGNMENT_TYPE_URL,
  CLUSTER_TYPE_URL,
  clusterResource,
  isXdsTypeUrl,
  LISTENER_TYPE_URL,
  listenerResource,
  loadAssignmentResource,
  routeConfigurationResource,
} from '../../../../lb-server/frontends/xds/xds-resources';
import { adsServiceDefinition } from '../../../../proto/envoy-protos';

describe('xDS resources from registry snapshots', () => {
  test('only the four served type URLs are xDS types', () => {
    expect(isXdsTypeUrl(LISTENER_TYPE_URL)).toBe(true);
    expect(isXdsTypeUrl('type.googleapis.com/envoy.config.listener.v2.Listener')).toBe(false);
  });

  test('the listener keeps the asked name and routes over ADS to the service', () => {
    const l = listenerResource('greeter:443', 'greeter');
    expect(l.name).toBe('greeter:443');
    expect(l).toMatchObject({
      apiListener: {
        apiListener: {
          rds: { configSource: { ads: {} }, routeConfigName: 'greeter' },
          httpFilters: [{ typedConfig: { '@type': expect.stringContaining('router.v3.Router') } }],
        },
      },
    });
    expect(routeConfigurationResource('greeter')).toMatchObject({
      name: 'greeter',
      virtualHosts: [{ domains: ['*'], routes: [{ match: { prefix: '' }, route: { cluster: 'greeter' } }] }],
    });
    expect(clusterResource('greeter')).toMatchObject({
      '@type': CLUSTER_TYPE_URL,
      type: 'EDS',
      lbPolicy: 'ROUND_ROBIN',
      edsClusterConfig: { edsConfig: { ads: {} }, serviceName: 'greeter' },
    });
  });

  test('each endpoint gets its own locality weighted by its effective weight', () => {
    const view = viewOf([
      { id: 'a', value: { address: '127.0.0.1:8181', weight: 100, zone: 'z1' } },
      { id: 'b', value: { address: '127.0.0.1:8282', weight: 300 } },
    ]);
    const { resource, skipped } = loadAssignmentResource(assignmentOf(view));
    expect(skipped).toEqual([]);
    expect(resource).toMatchObject({
      '@type': CLUSTER_LOAD_ASSIGNMENT_TYPE_URL,
      clusterName: 'greeter',
      endpoints: [
        {
          locality: { zone: 'z1', subZone: 'a' },
          loadBalancingWeight: { value: 100 },
          lbEndpoints: [
            {
              endpoint: { address: { socketAddress: { address: '127.0.0.1', portValue: 8181 } } },
              healthStatus: 'HEALTHY',
              loadBalancingWeight: { value: 100 },
            },
          ],
        },
        { locality: { subZone: 'b' }, loadBalancingWeight: { value: 300 } },
      ],
    });
  });

  test('draining, weight-0 and host-name endpoints are left out, with the reason', () => {
    const view = viewOf([
      { id: 'a', value: { address: '127.0.0.1:8181', draining: true } },
      { id: 'b', value: { address: '127.0.0.1:8282', weight: 0 } },
      { id: 'c', value: { address: 'localhost:8383' } },
      { id: 'd', value: { address: '[::1]:8484' } },
    ]);
    const { resource, skipped } = loadAssignmentResource(assignmentOf(view));
    expect(skipped.map((s) => s.reason)).toEqual(['draining', 'weight-0', 'not-an-ip']);
    expect(resource.endpoints).toHaveLength(1);
    expect(resource).toMatchObject({
      endpoints: [{ lbEndpoints: [{ endpoint: { address: { socketAddress: { address: '::1' } } } }] }],
    });
  });

  test('the resources encode as Envoy messages inside a DiscoveryResponse', () => {
    const view = viewOf([{ id: 'a', value: { address: '127.0.0.1:8181' } }]);
    const method = adsServiceDefinition().StreamAggregatedResources;
    const bytes = method.responseSerialize({
      versionInfo: '20',
      typeUrl: LISTENER_TYPE_URL,
      nonce: 'n1',
      resources: [
        listenerResource('greeter', 'greeter'),
        routeConfigurationResource('greeter'),
        clusterResource('greeter'),
        loadAssignmentResource(assignmentOf(view)).resource,
      ],
    });
    const text = bytes.toString('latin1');
    expect(text).toContain('HttpConnectionManager');
    expect(text).toContain('127.0.0.1');
    expect(bytes.length).toBeGreaterThan(300);
  });
});
