import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, lstatSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const root = path.resolve(__dirname, '../..');
/** The grpc-js an application brings (the one this repository tests with). */
const GRPC_JS_VERSION = (
  JSON.parse(readFileSync(path.join(root, 'node_modules/@grpc/grpc-js/package.json'), 'utf8')) as {
    version: string;
  }
).version;
/** Packages a client never runs: the LB server's, the CLI's, the registrar's (etcd3) and theirs. */
const SERVER_SIDE = [
  'prom-client',
  'pino',
  'commander',
  'etcd3',
  'cockatiel',
  '@grpc/grpc-js-xds',
  '@grpc/reflection',
  'grpc-health-check',
  'google-auth-library',
];

/** What `npm install` put into one application's node_modules. */
interface Footprint {
  readonly dir: string;
  readonly packages: string[];
  readonly bytes: number;
}

function bytesUnder(dir: string): number {
  return readdirSync(dir, { withFileTypes: true }).reduce((sum, e) => {
    const p = path.join(dir, e.name);
    return sum + (e.isDirectory() ? bytesUnder(p) : lstatSync(p).size);
  }, 0);
}

/** A fresh application under `base` with `specs` installed from the npm cache (no network). */
async function installApp(base: string, name: string, specs: string[]): Promise<Footprint> {
  const dir = path.join(base, name);
  await run('mkdir', ['-p', dir]);
  writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: `app-${name}`, private: true }));
  await run('npm', ['install', '--offline', '--no-audit', '--no-fund', '--ignore-scripts', ...specs], {
    cwd: dir,
    timeout: 60_000,
  });
  // npm's hidden lockfile lists every installed package once, by its node_modules path.
  const lock = JSON.parse(readFileSync(path.join(dir, 'node_modules/.package-lock.json'), 'utf8')) as {
    packages: Record<string, unknown>;
  };
  const packages = Object.keys(lock.packages).map((p) => p.replace(/^.*node_modules\//, ''));
  return { dir, packages: [...new Set(packages)].sort(), bytes: bytesUnder(path.join(dir, 'node_modules')) };
}

async function tarballFiles(tarball: string): Promise<string[]> {
  const { stdout } = await run('tar', ['tzf', tarball]);
  return stdout.split('\n').filter(Boolean);
}

/** The web console's hand-written page, shipped as is in lookaside-server only. */
const CONSOLE_ASSETS = ['index.html', 'console.js', 'console.css'].map(
  (f) => `package/dist/lb-server/frontends/console/assets/${f}`,
);

const mb = (bytes: number) => (bytes / 1e6).toFixed(1);

/**
 * The two packages `npm run pack` makes (scripts/pack.js), installed as an application would:
 * `npm install lookaside @grpc/grpc-js` and `npm install lookaside-server @grpc/grpc-js`.
 */
describe('the published packages', () => {
  let base: string;
  let tarballs: { lookaside: string; 'lookaside-server': string };
  let grpcOnly: Footprint;
  let client: Footprint;
  let server: Footprint;

  beforeAll(async () => {
    base = mkdtempSync(path.join(tmpdir(), 'lookaside-footprint-'));
    const { stdout } = await run(
      process.execPath,
      [path.join(root, 'scripts/pack.js'), path.join(base, 'pack')],
      {
        timeout: 60_000,
      },
    );
    tarballs = JSON.parse(stdout) as typeof tarballs;
    const grpc = `@grpc/grpc-js@${GRPC_JS_VERSION}`;
    grpcOnly = await installApp(base, 'grpc-only', [grpc]);
    client = await installApp(base, 'client', [tarballs.lookaside, grpc]);
    server = await installApp(base, 'server', [tarballs['lookaside-server'], grpc]);
    console.log(
      [
        `footprints (npm install into a fresh app, with @grpc/grpc-js ${GRPC_JS_VERSION}):`,
        `  @grpc/grpc-js alone      ${grpcOnly.packages.length} packages, ${mb(grpcOnly.bytes)} MB`,
        `  lookaside (client)       ${client.packages.length} packages, ${mb(client.bytes)} MB`,
        `  lookaside-server         ${server.packages.length} packages, ${mb(server.bytes)} MB`,
      ].join('\n'),
    );
  }, 150_000);

  afterAll(() => {
    if (base) rmSync(base, { recursive: true, force: true });
  });

  it('lookaside installs no server-side package, only proto-loader and zod beyond grpc-js', () => {
    expect(client.packages.filter((p) => SERVER_SIDE.includes(p))).toEqual([]);
    expect(client.packages.filter((p) => !grpcOnly.packages.includes(p))).toEqual(['lookaside', 'zod']);
    // The list above is real: the server package does install every one of them.
    expect(SERVER_SIDE.filter((p) => !server.packages.includes(p))).toEqual([]);
  });

  it("in that app, require('lookaside') opens a lookaside:// channel and lookaside/registrar asks for etcd3", async () => {
    const script = `
      const grpc = require('@grpc/grpc-js');
      const sdk = require('lookaside');
      sdk.installLookaside();
      const client = new grpc.Client('lookaside://127.0.0.1:1/x', grpc.credentials.createInsecure());
      client.getChannel().getConnectivityState(true);
      client.close();
      let registrar;
      try { require('lookaside/registrar'); registrar = 'loaded'; } catch (err) { registrar = err.message; }
      console.log(JSON.stringify({ exports: Object.keys(sdk).sort(), registrar }));`;
    const { stdout } = await run(process.execPath, ['-e', script], { cwd: client.dir, timeout: 20_000 });
    const report = JSON.parse(stdout) as { exports: string[]; registrar: string };
    expect(report.exports).toEqual(expect.arrayContaining(['installLookaside', 'LookasideChannelOptions']));
    expect(report.registrar).toMatch(/^lookaside\/registrar needs the etcd3 package.*npm install etcd3/);
  });

  it('lookaside declares only proto-loader and zod, and grpc-js (this minor) and an optional etcd3 as peers', () => {
    const pkg = JSON.parse(
      readFileSync(path.join(client.dir, 'node_modules/lookaside/package.json'), 'utf8'),
    ) as {
      dependencies: Record<string, string>;
      peerDependencies: Record<string, string>;
      peerDependenciesMeta: Record<string, { optional?: boolean }>;
    };
    expect(Object.keys(pkg.dependencies).sort()).toEqual(['@grpc/proto-loader', 'zod']);
    expect(pkg.peerDependencies).toEqual({ '@grpc/grpc-js': '>=1.14.7 <1.15.0', etcd3: '^1.1.2' });
    expect(pkg.peerDependenciesMeta).toEqual({ etcd3: { optional: true } });
  });

  it("lookaside's declarations type-check in that app without pino", async () => {
    writeFileSync(
      path.join(client.dir, 'app.ts'),
      [
        "import { installLookaside, type InstallLookasideOptions } from 'lookaside';",
        'const logger: InstallLookasideOptions["logger"] = { debug() {}, info() {}, warn() {} };',
        'installLookaside({ logger });',
      ].join('\n'),
    );
    await run(
      process.execPath,
      [
        path.join(root, 'node_modules/typescript/bin/tsc'),
        '--noEmit',
        '--strict',
        '--module',
        'node16',
        '--moduleResolution',
        'node16',
        '--types',
        'node',
        'app.ts',
      ],
      { cwd: client.dir, timeout: 60_000 },
    );
  });

  it('with etcd3 installed next to it, lookaside/registrar loads', async () => {
    const etcd3 = (
      JSON.parse(readFileSync(path.join(root, 'node_modules/etcd3/package.json'), 'utf8')) as {
        version: string;
      }
    ).version;
    await run(
      'npm',
      ['install', '--offline', '--no-audit', '--no-fund', '--ignore-scripts', `etcd3@${etcd3}`],
      {
        cwd: client.dir,
        timeout: 60_000,
      },
    );
    const { stdout } = await run(
      process.execPath,
      ['-e', "console.log(Object.keys(require('lookaside/registrar')).sort().join(','))"],
      { cwd: client.dir, timeout: 20_000 },
    );
    expect(stdout.trim()).toBe('LoadReporter,RegistrarError,registerService,reportLoad');
  });

  it('lookaside-server installs a working lookaside CLI', async () => {
    const { stdout } = await run(path.join(server.dir, 'node_modules/.bin/lookaside'), ['--help'], {
      cwd: server.dir,
      timeout: 20_000,
    });
    expect(stdout).toMatch(/lb-server/);
  });

  it('both tarballs ship LICENSE and runtime files only: no source maps, sources, tests or scripts', async () => {
    for (const tarball of [tarballs.lookaside, tarballs['lookaside-server']]) {
      const files = await tarballFiles(tarball);
      expect(files).toEqual(expect.arrayContaining(['package/LICENSE', 'package/package.json']));
      const unexpected = files.filter(
        (f) =>
          !['package/LICENSE', 'package/README.md', 'package/package.json'].includes(f) &&
          !/^package\/dist\/.+\.(js|d\.ts|json|proto)$/.test(f) &&
          !CONSOLE_ASSETS.includes(f),
      );
      expect({ tarball: path.basename(tarball), unexpected }).toEqual({
        tarball: path.basename(tarball),
        unexpected: [],
      });
    }
    expect(readFileSync(path.join(root, 'LICENSE'), 'utf8')).toMatch(
      /Apache License\s+Version 2\.0, January 2004/,
    );
  });

  it("lookaside-server ships the console's page and serves it from the installed package; lookaside does not ship it", async () => {
    expect(await tarballFiles(tarballs['lookaside-server'])).toEqual(expect.arrayContaining(CONSOLE_ASSETS));
    expect((await tarballFiles(tarballs.lookaside)).filter((f) => f.includes('/console/'))).toEqual([]);
    // An unreachable etcd is fine: the server listens before its first sync.
    const script = `
      const { startLbServer } = require('lookaside-server/lb-server');
      const pino = require('pino');
      (async () => {
        const lb = await startLbServer({ etcd: ['http://127.0.0.1:1'], listen: '127.0.0.1:0',
          metricsListen: '127.0.0.1:0', logger: pino({ level: 'silent' }) });
        const answers = [];
        for (const p of ['', 'console.js', 'console.css']) {
          const res = await fetch(lb.consoleUrl + p);
          answers.push([p, res.status, res.headers.get('content-type'), (await res.text()).length > 100]);
        }
        console.log(JSON.stringify(answers));
        await lb.close();
        process.exit(0);
      })();`;
    const { stdout } = await run(process.execPath, ['-e', script], { cwd: server.dir, timeout: 30_000 });
    expect(JSON.parse(stdout)).toEqual([
      ['', 200, 'text/html; charset=utf-8', true],
      ['console.js', 200, 'text/javascript; charset=utf-8', true],
      ['console.css', 200, 'text/css; charset=utf-8', true],
    ]);
  });
});
