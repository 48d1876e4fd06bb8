import { startGreeterServer, type GreeterServer } from '../../../demo-service';
import { DEFAULT_PREFIX, encodeRecordValue, recordKey } from '../../../common/registry-record';
import { callMany } from '../../support/greeter-load';
import { waitFor } from '../../support/wait-for';
import { useLookasideWithLbServer } from './lookaside-with-lb-server-harness';

/**
 * The end-to-end promises, backend side: real etcd, the real LB server, real greeter
 * backends and a real grpc-js channel on a `lookaside://` target. The LB server side is in
 * lookaside-with-lb-server-lb-lifecycle.test.ts.
 */
describe('lookaside:// with the real LB server: backends', () => {
  const h = useLookasideWithLbServer();

  test('weights 1:2:3 split 600 calls within 5 points of 1/6, 2/6, 3/6', async () => {
    const service = h.newService();
    const lb = await h.lbServer();
    const [a, b, c] = [
      await h.instance(service, 1),
      await h.instance(service, 2),
      await h.instance(service, 3),
    ];
    const cl = h.client(`lookaside://${lb.address}/${service}`);
    await waitFor('all three backends answering', async () => {
      const r = await callMany(cl, 30);
      return Object.keys(r.byBackend).length === 3;
    });
    const { byBackend, failures } = await callMany(cl, 600);
    expect(failures).toEqual([]);
    const share = (x: { greeter: GreeterServer }) => (byBackend[x.greeter.address] ?? 0) / 600;
    expect(Math.abs(share(a) - 1 / 6)).toBeLessThanOrEqual(0.05);
    expect(Math.abs(share(b) - 2 / 6)).toBeLessThanOrEqual(0.05);
    expect(Math.abs(share(c) - 3 / 6)).toBeLessThanOrEqual(0.05);
  });

  test('a new instance starts taking calls without a client restart', async () => {
    const service = h.newService();
    const lb = await h.lbServer();
    const a = await h.instance(service);
    const cl = h.client(`lookaside://${lb.address}/${service}`);
    const l = await h.load(cl);
    await waitFor('a to serve', () => l.servedBy(a.greeter.address) > 20);
    const b = await h.instance(service);
    await waitFor('b to serve', () => l.servedBy(b.greeter.address) > 20);
    await l.stop();
    expect(l.failures).toEqual([]);
  });

  test('a hard-killed instance stops getting calls once its lease expires, and calls keep succeeding', async () => {
    const service = h.newService();
    const lb = await h.lbServer();
    const a = await h.instance(service);
    // The victim registers through a raw lease so it can die like kill -9: no revoke, no drain.
    const victim = await startGreeterServer({ port: 0 });
    h.defer(() => victim.forceClose());
    const admin = h.etcd.client();
    const lease = admin.lease(2, { autoKeepAlive: true });
    h.defer(() => lease.revoke().catch(() => undefined));
    const key = recordKey(DEFAULT_PREFIX, service, 'victim');
    await lease.put(key).value(encodeRecordValue({ address: victim.address }));
    const cl = h.client(`lookaside://${lb.address}/${service}`);
    const l = await h.load(cl);
    await waitFor(
      'both to serve',
      () => l.servedBy(a.greeter.address) > 20 && l.servedBy(victim.address) > 20,
    );
    victim.forceClose();
    lease.release(); // the keepalive stops; the record expires with the TTL
    await waitFor('the record to expire', async () => (await admin.get(key).string()) === null, {
      timeoutMs: 15_000,
    });
    const victimServed = l.servedBy(victim.address);
    const aServed = l.servedBy(a.greeter.address);
    await waitFor('a to serve 100 more calls', () => l.servedBy(a.greeter.address) >= aServed + 100);
    await l.stop();
    expect(l.servedBy(victim.address)).toBe(victimServed);
    // Only calls already on the wire when the process died may fail.
    expect(l.failures.length).toBeLessThanOrEqual(4);
    const after = await callMany(cl, 50);
    expect(after).toEqual({ byBackend: { [a.greeter.address]: 50 }, failures: [] });
  });

  test('drain then close during steady load fails no call', async () => {
    const service = h.newService();
    const lb = await h.lbServer();
    const a = await h.instance(service);
    const b = await h.instance(service);
    const cl = h.client(`lookaside://${lb.address}/${service}`);
    const l = await h.load(cl);
    await waitFor(
      'both to serve',
      () => l.servedBy(a.greeter.address) > 20 && l.servedBy(b.greeter.address) > 20,
    );
    await b.registration.drain({ inFlight: () => b.greeter.inFlight(), timeoutMs: 5000 });
    await waitFor('b to get no new calls while a serves 50', async () => {
      const b0 = b.greeter.served();
      const a0 = a.greeter.served();
      await waitFor('a to serve 50 calls', () => a.greeter.served() >= a0 + 50);
      return b.greeter.served() === b0;
    });
    await b.registration.close();
    await b.greeter.close();
    const a1 = a.greeter.served();
    await waitFor('a to serve 100 more calls', () => a.greeter.served() >= a1 + 100);
    await l.stop();
    expect(l.failures).toEqual([]);
  });
});
