import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';

const root = path.resolve(__dirname, '../..');
const PROBE = path.join(root, 'test/support/entry-point-probe.js');
/** The built client entry (`npm test` builds it first). */
const CLIENT_ENTRY = path.join(root, 'dist/client-sdk/index.js');

/** What one fresh process loaded for an entry point (see test/support/entry-point-probe.js). */
interface ProbeReport {
  readonly exports: string[];
  readonly packages: string[];
  readonly protoFiles: string[];
}

/** Requires `entry` in a child process, as an application would, and returns its report. */
async function probe(entry: string, mode?: 'channel'): Promise<ProbeReport> {
  const { stdout } = await promisify(execFile)(process.execPath, [PROBE, entry, ...(mode ? [mode] : [])], {
    cwd: root,
    timeout: 20_000,
  });
  return JSON.parse(stdout) as ProbeReport;
}

/** The client needs grpc-js (a peer dependency), proto-loader for load_balancer.proto, and zod. */
const CLIENT_DEPENDENCIES = ['@grpc/proto-loader', 'zod'];
const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as {
  dependencies: Record<string, string>;
};
/** Every other dependency is for the LB server, the registrar, the CLI or the demo. */
const serverSideDependencies = Object.keys(pkg.dependencies).filter((d) => !CLIENT_DEPENDENCIES.includes(d));

describe('package entry points', () => {
  it('the dependencies a client must not load include etcd3, commander and prom-client', () => {
    expect(serverSideDependencies).toEqual(expect.arrayContaining(['etcd3', 'commander', 'prom-client']));
  });

  for (const [name, entry] of [
    ["require('lookaside')", 'lookaside'],
    ['the built dist/client-sdk/index.js', CLIENT_ENTRY],
  ]) {
    it(`${name} is the client SDK and loads no server-side dependency`, async () => {
      const report = await probe(entry);
      expect(report.exports).toEqual(expect.arrayContaining(['installLookaside', 'LookasideChannelOptions']));
      expect(report.exports).not.toContain('registerService');
      expect(report.packages.filter((p) => serverSideDependencies.includes(p))).toEqual([]);
      expect(report.protoFiles).toEqual([]);
    });
  }

  it('a lookaside:// channel parses load_balancer.proto and no other contract (no helloworld)', async () => {
    const report = await probe('lookaside', 'channel');
    expect(report.protoFiles.map((f) => path.relative(path.join(root, 'dist/proto'), f))).toEqual([
      'lookaside/v1/load_balancer.proto',
    ]);
    expect(report.packages.filter((p) => serverSideDependencies.includes(p))).toEqual([]);
  });

  it("require('lookaside/registrar') exports registerService and the load reporter, and it is what loads etcd3", async () => {
    const report = await probe('lookaside/registrar');
    expect(report.exports).toEqual(['LoadReporter', 'RegistrarError', 'registerService', 'reportLoad']);
    expect(report.packages).toContain('etcd3');
  });
});
