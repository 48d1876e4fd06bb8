import { Etcd3 } from 'etcd3';
import { startEtcd, type EtcdCluster, type EtcdOptions } from '../../etcd/etcd-process';

export { startEtcd, type EtcdCluster };

/**
 * A test's etcd: an ephemeral server (or cluster) plus the clients the test opened on it, all
 * released by close(). When ETCD_ENDPOINTS is set, tests still start their own etcd: they kill and
 * restart it, which they must never do to a shared cluster.
 */
export class TestEtcd {
  private readonly clients: Etcd3[] = [];

  private constructor(readonly cluster: EtcdCluster) {}

  static async start(options: EtcdOptions = {}): Promise<TestEtcd> {
    return new TestEtcd(await startEtcd(options));
  }

  get endpoints(): string[] {
    return this.cluster.endpoints;
  }

  /** A client on every member; closed with the harness. */
  client(): Etcd3 {
    const c = new Etcd3({ hosts: this.endpoints, dialTimeout: 2000 });
    this.clients.push(c);
    return c;
  }

  async close(): Promise<void> {
    for (const c of this.clients.splice(0)) c.close();
    await this.cluster.close();
  }
}
