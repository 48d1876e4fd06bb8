import { AdminClient } from '../../cli/admin-client';
import { installLookaside } from '../../client-sdk';
import { newMarker, type CliProcess } from '../support/cli';
import { TestEtcd } from '../support/etcd';
import { waitFor } from '../support/wait-for';
import {
  startBackendProcess,
  startLbProcess,
  startLoad,
  stopAll,
  writeScenarioReport,
  type CountedLoad,
  type ServedProcess,
} from './fault-harness';

jest.setTimeout(120_000);
installLookaside();

/** Fault scenarios 4-5: the LB server dies under steady load (real processes on loopback). */
describe('faults: LB servers under load', () => {
  const marker = newMarker();
  let etcd: TestEtcd;
  let procs: CliProcess[];
  let load: CountedLoad | undefined;
  const admins: AdminClient[] = [];

  async function backend(): Promise<ServedProcess> {
    const b = await startBackendProcess(etcd.endpoints, marker);
    procs.push(b.proc);
    return b;
  }

  async function lbServer(port?: number): Promise<ServedProcess> {
    const lb = await startLbProcess(etcd.endpoints, marker, { port });
    procs.push(lb.proc);
    return lb;
  }

  function admin(lb: ServedProcess): AdminClient {
    const a = new AdminClient({ target: lb.address, timeoutMs: 1000 });
    admins.push(a);
    return a;
  }

  beforeEach(async () => {
    etcd = await TestEtcd.start();
    procs = [];
  });

  afterEach(async () => {
    await load?.stop();
    load = undefined;
    for (const a of admins.splice(0)) a.close();
    await stopAll(procs, marker);
    await etcd.close();
  });

  it('4. LB server kill -9: zero failed calls (clients keep the last list); a backend added meanwhile is picked up after it returns', async () => {
    const lb = await lbServer();
    const backends = [await backend(), await backend()];
    const l = (load = await startLoad([lb.address], 4));
    await waitFor('calls on both backends', () => backends.every((b) => l.servedBy(b.address) > 0));
    lb.proc.child.kill('SIGKILL');
    await lb.proc.exited;
    const downAt = Date.now();
    await l.moreSucceeded(300);
    const added = await backend();
    await l.moreSucceeded(300);
    expect(l.servedBy(added.address)).toBe(0); // nobody told the clients yet
    const downMs = Date.now() - downAt;
    const back = Date.now();
    await lbServer(lb.port);
    await waitFor('calls on the backend added while the LB was down', () => l.servedBy(added.address) > 0, {
      timeoutMs: 30_000,
    });
    const pickupMs = Date.now() - back;
    const figures = await l.stop();
    load = undefined;
    expect(figures.callsFailed).toBe(0);
    writeScenarioReport({
      id: '4-lb-kill',
      title: 'LB server kill -9 and restart',
      promise: 'zero failed calls; a backend added while the LB was down gets calls after it returns',
      load: figures,
      figures: {
        lbDownMs: downMs,
        msFromLbRestartToCallsOnAddedBackend: pickupMs,
        failedCalls: figures.callsFailed,
      },
    });
  });

  it('5. two LB replicas in the target: killing the one a client uses moves it to the other; zero failed calls', async () => {
    const a = await lbServer();
    const b = await lbServer();
    const backends = [await backend(), await backend()];
    const l = (load = await startLoad([a.address, b.address], 4));
    await waitFor('calls on both backends', () => backends.every((x) => l.servedBy(x.address) > 0));
    // Clients this replica serves (every replica lists every replica's clients, `local` its own).
    const clientsOf = async (lb: ServedProcess): Promise<number> =>
      (await admin(lb).listClients('greeter')).clients.filter((c) => c.local).length;
    const used = await waitFor('the replica the client uses', async () => {
      if ((await clientsOf(a)) > 0) return a;
      if ((await clientsOf(b)) > 0) return b;
      return undefined;
    });
    const other = used === a ? b : a;
    used.proc.child.kill('SIGKILL');
    await used.proc.exited;
    const killedAt = Date.now();
    await waitFor('the client on the other replica', async () => (await clientsOf(other)) > 0, {
      timeoutMs: 30_000,
    });
    const failoverMs = Date.now() - killedAt;
    // The other replica now serves the client: a new backend reaches it through that replica.
    const added = await backend();
    await waitFor('calls on a backend added after the failover', () => l.servedBy(added.address) > 0);
    const figures = await l.stop();
    load = undefined;
    expect(figures.callsFailed).toBe(0);
    writeScenarioReport({
      id: '5-lb-replica-failover',
      title: 'LB replica failover',
      promise: 'killing the replica a client uses moves it to the other; zero failed calls',
      load: figures,
      figures: { msToReconnectToOtherReplica: failoverMs, failedCalls: figures.callsFailed },
    });
  });
});
