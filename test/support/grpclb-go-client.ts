import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

/** Debian packages that build the Go grpclb client offline (grpc-go 1.33, GOPATH mode). */
export const GRPCLB_GO_PACKAGES = [
  'golang-go',
  'golang-google-grpc-dev',
  'golang-github-golang-protobuf-1-5-dev',
  'golang-google-protobuf-dev',
];

const SOURCE_DIR = join(__dirname, '..', 'grpclb-go');
const GOCODE = '/usr/share/gocode';
const GRPCLB_PACKAGE_DIR = join(GOCODE, 'src/google.golang.org/grpc/balancer/grpclb');

/**
 * The built client, or why there is none: `missingToolchain` when Go cannot be installed here
 * (the tests then skip and say so), else a build failure (the tests fail).
 */
export type GrpclbGoBuild =
  { ok: true; binary: string; note: string } | { ok: false; missingToolchain: boolean; reason: string };

function toolchainPresent(): boolean {
  return spawnSync('go', ['version'], { stdio: 'ignore' }).status === 0 && existsSync(GRPCLB_PACKAGE_DIR);
}

/** Installs the packages when running as root with apt-get (CI); else explains what is missing. */
function installToolchain(): string | undefined {
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  const hasApt = spawnSync('apt-get', ['--version'], { stdio: 'ignore' }).status === 0;
  if (!isRoot || !hasApt) {
    return `the Go toolchain is missing and cannot be installed here (root: ${isRoot}, apt-get: ${hasApt}); install: apt-get install ${GRPCLB_GO_PACKAGES.join(' ')}`;
  }
  const install = (): number | null =>
    spawnSync('apt-get', ['install', '-y', '--no-install-recommends', ...GRPCLB_GO_PACKAGES], {
      stdio: 'ignore',
      timeout: 300_000,
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    }).status;
  if (install() !== 0) {
    spawnSync('apt-get', ['update'], { stdio: 'ignore', timeout: 300_000 });
    if (install() !== 0) return `apt-get install ${GRPCLB_GO_PACKAGES.join(' ')} failed`;
  }
  return toolchainPresent() ? undefined : 'the Go packages were installed but go or grpclb is still missing';
}

/**
 * Builds test/grpclb-go (a stock grpc-go 1.33 grpclb client) once per source version into a
 * cache directory under the OS temp dir, installing Debian's Go packages first when they are
 * missing and this is root with apt-get (CI). Synchronous, so that a test file can decide at
 * load time whether to run or skip. Install takes about 15 s, a cold build about 8 s.
 */
export function buildGrpclbGoClient(): GrpclbGoBuild {
  const started = Date.now();
  let installed = false;
  if (!toolchainPresent()) {
    const failure = installToolchain();
    if (failure) return { ok: false, missingToolchain: true, reason: failure };
    installed = true;
  }
  const source = readFileSync(join(SOURCE_DIR, 'main.go'));
  const hash = createHash('sha256').update(source).digest('hex').slice(0, 12);
  const cache = join(tmpdir(), 'lookaside-grpclb-go');
  const binary = join(cache, `grpclb-greeter-${hash}`);
  if (!existsSync(binary)) {
    mkdirSync(join(cache, 'gopath'), { recursive: true });
    const partial = `${binary}.${process.pid}.tmp`;
    const build = spawnSync('go', ['build', '-o', partial, '.'], {
      cwd: SOURCE_DIR,
      encoding: 'utf8',
      timeout: 300_000,
      env: {
        ...process.env,
        GO111MODULE: 'off',
        GOFLAGS: '',
        GOPROXY: 'off',
        GOPATH: `${join(cache, 'gopath')}:${GOCODE}`,
        GOCACHE: join(cache, 'gocache'),
      },
    });
    if (build.status !== 0) {
      return {
        ok: false,
        missingToolchain: false,
        reason: `go build failed: ${build.stderr ?? build.error}`,
      };
    }
    renameSync(partial, binary);
  }
  const note = `${installed ? 'installed the Go packages and ' : ''}built/found ${binary} in ${Date.now() - started} ms`;
  return { ok: true, binary, note };
}

/** The Go client's report after its calls. */
export interface GoCallsResult {
  readonly byBackend: Record<string, number>;
  readonly failures: number;
  readonly firstError?: string;
}

/**
 * One run of the Go client: `calls` calls to `target` through the grpclb LB at `lbAddress`.
 * result() resolves after them; calls(n) makes n more on the same channel (same LB stream, which
 * keeps receiving updates and sending ClientStats) until close().
 */
export class GrpclbGoClient {
  private readonly lines: string[] = [];
  private readonly waiting: ((line: string) => void)[] = [];
  private readonly first: Promise<GoCallsResult>;
  private readonly exited: Promise<void>;
  stderr = '';

  private constructor(private readonly child: ChildProcessWithoutNullStreams) {
    createInterface({ input: child.stdout }).on('line', (line) => {
      const next = this.waiting.shift();
      if (next) next(line);
      else this.lines.push(line);
    });
    child.stderr.on('data', (chunk: Buffer) => {
      if (this.stderr.length < 20_000) this.stderr += chunk.toString();
    });
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
    this.first = this.nextResult();
    this.first.catch(() => undefined);
  }

  static start(binary: string, lbAddress: string, target: string, calls: number): GrpclbGoClient {
    const child = spawn(binary, ['-lb', lbAddress, '-target', target, '-calls', String(calls)], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    return new GrpclbGoClient(child);
  }

  private nextResult(): Promise<GoCallsResult> {
    const queued = this.lines.shift();
    if (queued !== undefined) return Promise.resolve(JSON.parse(queued) as GoCallsResult);
    return new Promise((resolve, reject) => {
      const onExit = (code: number | null): void =>
        reject(new Error(`Go client exited with ${code}: ${this.stderr}`));
      this.child.once('exit', onExit);
      this.waiting.push((line) => {
        this.child.off('exit', onExit);
        resolve(JSON.parse(line) as GoCallsResult);
      });
    });
  }

  /** The first calls' outcome. */
  result(): Promise<GoCallsResult> {
    return this.first;
  }

  /** `n` more calls, one after another, on the same channel. Call after result() resolved. */
  async calls(n: number): Promise<GoCallsResult> {
    await this.first;
    const next = this.nextResult();
    this.child.stdin.write(`${n}\n`);
    return next;
  }

  /** Closes its stdin (it exits), SIGKILL after 2 s; idempotent. */
  async close(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.child.stdin.end();
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 2000);
    await this.exited;
    clearTimeout(timer);
  }
}
