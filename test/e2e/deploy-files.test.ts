import { execFileSync, spawn } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  symlinkSync,
} from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { healthClient, type HealthClient } from '../support/health-client';
import { load, loadAll } from 'js-yaml';
import pino from 'pino';
import { z } from 'zod';
import { listenAddress } from '../../cli/flag-parsers';
import { installLookaside } from '../../client-sdk';
import { startGreeterServer, type GreeterServer } from '../../demo-service';
import { HEALTH_SERVICE_NAMES } from '../../lb-server';
import {
  LbServerMetrics,
  type LbServerMetricsSources,
} from '../../lb-server/frontends/metrics/lb-server-metrics';
import { registerService, type Registration } from '../../registrar';
import { CliProcess, MARKER_VAR, newMarker, processesWithMarker } from '../support/cli';
import { TestEtcd } from '../support/etcd';
import { freePort } from '../../etcd/etcd-process';
import { greeterClient, GreeterLoad, sayHello } from '../support/greeter-load';
import { waitFor } from '../support/wait-for';
import { flagsParsedWith, portOf, readInvocation, type Invocation } from './cli-invocation';
import { copyParts, dockerfileStages, execForm, lastOf, type DockerStage } from './dockerfile-stages';
import { promqlReferences } from './promql-references';

installLookaside();

const ROOT = path.resolve(__dirname, '../..');
const K8S_DIR = path.join(ROOT, 'deploy/kubernetes');
const DASHBOARD = path.join(ROOT, 'deploy/grafana/lookaside-dashboard.json');
const logger = pino({ level: process.env.LOG_LEVEL ?? 'silent' });

// The parts of the manifests the checks read (zod strips the rest).
const labels = z.record(z.string(), z.string());
const probe = z.object({
  grpc: z.object({ port: z.number().int(), service: z.string().optional() }).optional(),
  periodSeconds: z.number().int().optional(),
});
const envVar = z.object({
  name: z.string(),
  value: z.string().optional(),
  valueFrom: z
    .object({
      secretKeyRef: z.object({ name: z.string(), key: z.string() }).optional(),
      configMapKeyRef: z.object({ name: z.string(), key: z.string() }).optional(),
    })
    .optional(),
});
const container = z.object({
  name: z.string(),
  image: z.string(),
  command: z.array(z.string()).optional(),
  args: z.array(z.string()).optional(),
  ports: z.array(z.object({ name: z.string(), containerPort: z.number().int() })),
  env: z.array(envVar).default([]),
  envFrom: z
    .array(
      z.object({
        configMapRef: z.object({ name: z.string() }).optional(),
        secretRef: z.object({ name: z.string() }).optional(),
      }),
    )
    .default([]),
  readinessProbe: probe,
  livenessProbe: probe,
  volumeMounts: z.array(z.object({ name: z.string(), mountPath: z.string() })).default([]),
});
const deploymentSchema = z.object({
  apiVersion: z.literal('apps/v1'),
  kind: z.literal('Deployment'),
  spec: z.object({
    replicas: z.number().int(),
    selector: z.object({ matchLabels: labels }),
    template: z.object({
      metadata: z.object({ labels, annotations: labels.default({}) }),
      spec: z.object({
        securityContext: z.object({ runAsNonRoot: z.boolean(), runAsUser: z.number().int() }),
        containers: z.array(container).length(1),
        volumes: z
          .array(
            z.object({
              name: z.string(),
              secret: z
                .object({
                  secretName: z.string(),
                  items: z.array(z.object({ key: z.string(), path: z.string() })).optional(),
                })
                .optional(),
            }),
          )
          .default([]),
      }),
    }),
  }),
});
const serviceSchema = z.object({
  apiVersion: z.literal('v1'),
  kind: z.literal('Service'),
  spec: z.object({
    selector: labels,
    ports: z.array(
      z.object({ name: z.string(), port: z.number().int(), targetPort: z.union([z.string(), z.number()]) }),
    ),
  }),
});
const pdbSchema = z.object({
  apiVersion: z.literal('policy/v1'),
  kind: z.literal('PodDisruptionBudget'),
  spec: z.object({ minAvailable: z.number().int(), selector: z.object({ matchLabels: labels }) }),
});
const configMapSchema = z.object({
  apiVersion: z.literal('v1'),
  kind: z.literal('ConfigMap'),
  metadata: z.object({ name: z.string() }),
  data: z.record(z.string(), z.string()),
});
const objectSchema = z.object({
  apiVersion: z.string(),
  kind: z.string(),
  metadata: z.object({ name: z.string().min(1) }),
});

type Deployment = z.infer<typeof deploymentSchema>;

interface Manifests {
  /** Every object of every manifest file, by kind. */
  readonly byKind: Map<string, unknown[]>;
  readonly files: string[];
}

function readManifests(): Manifests {
  const files = readdirSync(K8S_DIR).filter((f) => /\.ya?ml$/.test(f) && f !== 'kustomization.yaml');
  const byKind = new Map<string, unknown[]>();
  for (const file of files) {
    for (const doc of loadAll(readFileSync(path.join(K8S_DIR, file), 'utf8'), null, { filename: file })) {
      if (doc === null || doc === undefined) continue;
      const o = objectSchema.parse(doc);
      byKind.set(o.kind, [...(byKind.get(o.kind) ?? []), doc]);
    }
  }
  return { byKind, files };
}

function one<T>(m: Manifests, kind: string, schema: z.ZodType<T>): T {
  const objects = m.byKind.get(kind) ?? [];
  expect({ kind, count: objects.length }).toEqual({ kind, count: 1 });
  return schema.parse(objects[0]);
}

/** The Dockerfile's stages: the runtime one (the last) and the one its dist/ is copied from. */
function dockerfile(): { runtime: DockerStage; build: DockerStage; entrypoint: string[]; cmd: string[] } {
  const stages = dockerfileStages(readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8'));
  const runtime = stages[stages.length - 1];
  const fromStages = runtime.instructions
    .filter((i) => i.op === 'COPY')
    .map((i) => copyParts(i).from)
    .filter((f): f is string => f !== undefined);
  const build = stages.find((s) => s.name !== undefined && fromStages.includes(s.name));
  if (!build) throw new Error('the runtime stage copies from no earlier stage: not a multi-stage build');
  const entrypoint = lastOf(runtime, 'ENTRYPOINT');
  const cmd = lastOf(runtime, 'CMD');
  if (!entrypoint || !cmd) throw new Error('the runtime stage needs an ENTRYPOINT and a CMD');
  return { runtime, build, entrypoint: execForm(entrypoint), cmd: execForm(cmd) };
}

/** The container's environment: env (a secret's value is undefined: set, not known) over envFrom ConfigMaps. */
function containerEnv(m: Manifests, c: z.infer<typeof container>): Map<string, string | undefined> {
  const configMaps = (m.byKind.get('ConfigMap') ?? []).map((o) => configMapSchema.parse(o));
  const configMap = (name: string) => {
    const found = configMaps.find((cm) => cm.metadata.name === name);
    if (!found) throw new Error(`the container reads ConfigMap ${name}, which no manifest defines`);
    return found;
  };
  const env = new Map<string, string | undefined>();
  for (const from of c.envFrom) {
    if (from.secretRef) throw new Error('envFrom a Secret: its variable names cannot be checked here');
    if (from.configMapRef)
      for (const [k, v] of Object.entries(configMap(from.configMapRef.name).data)) env.set(k, v);
  }
  for (const e of c.env) {
    if (e.value !== undefined) env.set(e.name, e.value);
    else if (e.valueFrom?.secretKeyRef) env.set(e.name, undefined);
    else if (e.valueFrom?.configMapKeyRef) {
      const ref = e.valueFrom.configMapKeyRef;
      env.set(e.name, configMap(ref.name).data[ref.key]);
    } else throw new Error(`env ${e.name} has neither a value nor a secret or ConfigMap reference`);
  }
  return env;
}

/** What the Deployment's container runs: its command/args over the image's ENTRYPOINT/CMD, as Kubernetes does. */
function containerArgv(
  c: z.infer<typeof container>,
  image: { entrypoint: string[]; cmd: string[] },
): string[] {
  const entrypoint = c.command ?? image.entrypoint;
  const args = c.args ?? (c.command ? [] : image.cmd);
  return [...entrypoint, ...args];
}

function lbContainer(deployment: Deployment): z.infer<typeof container> {
  return deployment.spec.template.spec.containers[0];
}

function invocationOf(m: Manifests): { invocation: Invocation; argv: string[] } {
  const d = one(m, 'Deployment', deploymentSchema);
  const c = lbContainer(d);
  const argv = containerArgv(c, dockerfile());
  return { invocation: readInvocation(argv.slice(2), containerEnv(m, c)), argv };
}

describe('deployment files', () => {
  it('the Kubernetes manifests parse as YAML and kustomization.yaml lists every one of them', () => {
    const m = readManifests();
    const kustomization = z
      .object({ resources: z.array(z.string()) })
      .parse(load(readFileSync(path.join(K8S_DIR, 'kustomization.yaml'), 'utf8')));
    expect([...kustomization.resources].sort()).toEqual([...m.files].sort());
    expect([...m.byKind.keys()].sort()).toEqual([
      'ConfigMap',
      'Deployment',
      'PodDisruptionBudget',
      'Service',
    ]);
  });

  it('a Deployment of two non-root replicas; the Service and the PodDisruptionBudget select its pods', () => {
    const m = readManifests();
    const d = one(m, 'Deployment', deploymentSchema);
    const podLabels = d.spec.template.metadata.labels;
    const selects = (selector: Record<string, string>) =>
      Object.keys(selector).length > 0 && Object.entries(selector).every(([k, v]) => podLabels[k] === v);
    expect(d.spec.replicas).toBe(2);
    expect(selects(d.spec.selector.matchLabels)).toBe(true);
    expect(d.spec.template.spec.securityContext.runAsNonRoot).toBe(true);
    expect(d.spec.template.spec.securityContext.runAsUser).toBeGreaterThan(0);
    const svc = one(m, 'Service', serviceSchema);
    expect(selects(svc.spec.selector)).toBe(true);
    const pdb = one(m, 'PodDisruptionBudget', pdbSchema);
    expect(selects(pdb.spec.selector.matchLabels)).toBe(true);
    expect(pdb.spec.minAvailable).toBeGreaterThanOrEqual(1);
    expect(pdb.spec.minAvailable).toBeLessThan(d.spec.replicas);
  });

  it("the container runs the image's `lookaside lb-server` with flags and environment variables the CLI accepts", () => {
    const m = readManifests();
    const image = dockerfile();
    const { invocation, argv } = invocationOf(m);
    expect(argv.slice(0, image.entrypoint.length)).toEqual(image.entrypoint);
    expect(invocation.subcommand).toBe('lb-server');
    expect(invocation.problems).toEqual([]);
    // The manifest's comment says its args are the image's CMD, spelled out: keep that true.
    expect(lbContainer(one(m, 'Deployment', deploymentSchema)).args).toEqual(image.cmd);
  });

  it('the TLS and etcd client files the flags name are keys of Secrets mounted at those paths', () => {
    const m = readManifests();
    const d = one(m, 'Deployment', deploymentSchema);
    const c = lbContainer(d);
    const { invocation } = invocationOf(m);
    const fileValues = [...invocation.values].filter(([flag]) => invocation.fileFlags.has(flag));
    for (const required of [
      '--tls-cert',
      '--tls-key',
      '--tls-client-ca',
      '--etcd-ca',
      '--etcd-cert',
      '--etcd-key',
    ]) {
      expect(fileValues.map(([flag]) => flag)).toContain(required);
    }
    const problems: string[] = [];
    const used = new Set<string>();
    for (const [flag, { value }] of fileValues) {
      const mount = c.volumeMounts.find((vm) => path.posix.dirname(value) === vm.mountPath);
      const volume = d.spec.template.spec.volumes.find((v) => v.name === mount?.name);
      if (!mount || !volume?.secret) {
        problems.push(`${flag} ${value}: no Secret is mounted at ${path.posix.dirname(value)}`);
        continue;
      }
      used.add(mount.name);
      const items = volume.secret.items;
      if (!items?.some((i) => i.path === path.posix.basename(value))) {
        problems.push(`${flag} ${value}: Secret ${volume.secret.secretName} has no item with that path`);
      }
    }
    for (const vm of c.volumeMounts)
      if (!used.has(vm.name)) problems.push(`volume ${vm.name} is mounted but no flag reads it`);
    expect(problems).toEqual([]);
    // Secrets' values come from Secrets, never from the manifest's text.
    for (const flag of ['--etcd-password', '--admin-token']) {
      expect({ flag, from: invocation.values.get(flag)?.from }).toEqual({ flag, from: 'env' });
      const envName = flag === '--etcd-password' ? 'ETCD_PASSWORD' : 'LOOKASIDE_ADMIN_TOKEN';
      expect(c.env.find((e) => e.name === envName)?.valueFrom?.secretKeyRef).toBeDefined();
    }
  });

  it('liveness and readiness are gRPC probes of a health service name the LB server reports, on its plaintext health port', () => {
    const m = readManifests();
    const c = lbContainer(one(m, 'Deployment', deploymentSchema));
    const { invocation } = invocationOf(m);
    const listen = invocation.values.get('--listen')?.value;
    const healthListen = invocation.values.get('--health-listen')?.value;
    expect(listen).toBeDefined();
    // The kubelet's gRPC probes dial plaintext without a client certificate: with TLS on the
    // main port they need the health-only listener.
    const tls = invocation.values.has('--tls-cert');
    const healthPort = healthListen !== undefined ? portOf(healthListen) : tls ? undefined : portOf(listen!);
    expect(healthPort).toBeDefined();
    for (const [which, p] of [
      ['readinessProbe', c.readinessProbe],
      ['livenessProbe', c.livenessProbe],
    ] as const) {
      expect({ which, port: p.grpc?.port }).toEqual({ which, port: healthPort });
      expect(HEALTH_SERVICE_NAMES as readonly string[]).toContain(p.grpc?.service ?? '');
    }
    expect(c.ports.map((p) => p.containerPort)).toContain(healthPort);
  });

  it('the Service exposes the gRPC and metrics ports; the metrics port is named and annotated for scraping', () => {
    const m = readManifests();
    const d = one(m, 'Deployment', deploymentSchema);
    const c = lbContainer(d);
    const svc = one(m, 'Service', serviceSchema);
    const { invocation } = invocationOf(m);
    const grpcPort = portOf(invocation.values.get('--listen')!.value);
    const metricsPort = portOf(invocation.values.get('--metrics-listen')!.value);
    const named = (name: string) => c.ports.find((p) => p.name === name)?.containerPort;
    expect(named('grpc')).toBe(grpcPort);
    expect(named('metrics')).toBe(metricsPort);
    const annotations = d.spec.template.metadata.annotations;
    expect(annotations['prometheus.io/scrape']).toBe('true');
    expect(annotations['prometheus.io/port']).toBe(String(metricsPort));
    expect(annotations['prometheus.io/path']).toBe('/metrics');
    const target = (t: string | number) => (typeof t === 'number' ? t : named(t));
    expect(svc.spec.ports.map((p) => ({ name: p.name, target: target(p.targetPort) }))).toEqual(
      expect.arrayContaining([
        { name: 'grpc', target: grpcPort },
        { name: 'metrics', target: metricsPort },
      ]),
    );
  });

  it('the Dockerfile is multi-stage, installs only runtime dependencies, runs as non-root, and runs `lookaside lb-server` with accepted flags', () => {
    const image = dockerfile();
    const runs = (s: DockerStage) => s.instructions.filter((i) => i.op === 'RUN').map((i) => i.args);
    expect(runs(image.build).some((r) => /\bnpm run build\b/.test(r))).toBe(true);
    expect(runs(image.runtime).some((r) => /\bnpm ci\b.*--omit=dev/.test(r))).toBe(true);
    expect(runs(image.runtime).some((r) => /\bnpm (run build|install|ci)\b(?!.*--omit=dev)/.test(r))).toBe(
      false,
    );
    const user = lastOf(image.runtime, 'USER')?.args.split(':')[0];
    expect(user).toBeDefined();
    expect(['root', '0']).not.toContain(user);
    // Numeric, so that Kubernetes' runAsNonRoot can verify it.
    expect(user).toMatch(/^\d+$/);

    const pkg = z
      .object({ bin: z.object({ lookaside: z.string() }) })
      .parse(JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')));
    const workdir = lastOf(image.runtime, 'WORKDIR')?.args;
    expect(image.entrypoint).toEqual(['node', path.posix.join(workdir ?? '/', pkg.bin.lookaside)]);
    const invocation = readInvocation(image.cmd, new Map());
    expect(invocation.subcommand).toBe('lb-server');
    // Everything but the etcd endpoints, which come from ETCD_ENDPOINTS where the image runs.
    expect(invocation.problems).toEqual(['--etcd is required']);
    const exposed = (lastOf(image.runtime, 'EXPOSE')?.args ?? '').split(/\s+/).map(Number);
    for (const flag of ['--listen', '--health-listen', '--metrics-listen']) {
      expect(exposed).toContain(portOf(invocation.values.get(flag)!.value));
    }
    const ignored = readFileSync(path.join(ROOT, '.dockerignore'), 'utf8').split('\n');
    for (const p of ['node_modules', 'dist', '.git']) expect(ignored).toContain(p);
  });

  it("the Grafana dashboard parses; every panel queries Prometheus and the README's metrics all have a panel", () => {
    const dashboard = dashboardQueries();
    expect(dashboard.panelsWithoutQuery).toEqual([]);
    const queried = new Set(dashboard.queries.flatMap((q) => [...promqlReferences(q).metrics]));
    const missing = readmeMetrics().filter((name) => !queried.has(name) && !queried.has(`${name}_bucket`));
    expect(missing).toEqual([]);
  });
});

/** Every PromQL query of the dashboard (panels' targets and the template variables' queries). */
function dashboardQueries(): { queries: string[]; panelsWithoutQuery: string[] } {
  const target = z.object({ expr: z.string().min(1), datasource: z.object({ uid: z.string() }) });
  interface Panel {
    type: string;
    title: string;
    targets?: unknown[];
    panels?: Panel[];
  }
  const panel: z.ZodType<Panel> = z.lazy(() =>
    z.object({
      type: z.string(),
      title: z.string(),
      targets: z.array(z.unknown()).optional(),
      panels: z.array(panel).optional(),
    }),
  );
  const json = z
    .object({
      uid: z.string().min(1),
      title: z.string().min(1),
      panels: z.array(panel),
      templating: z.object({
        list: z.array(
          z.object({
            name: z.string(),
            type: z.string(),
            query: z.union([z.string(), z.object({ query: z.string() })]).optional(),
          }),
        ),
      }),
    })
    .parse(JSON.parse(readFileSync(DASHBOARD, 'utf8')));
  const datasourceVar = json.templating.list.find((v) => v.type === 'datasource');
  expect(datasourceVar?.query).toBe('prometheus');
  const queries: string[] = [];
  const panelsWithoutQuery: string[] = [];
  const walk = (panels: Panel[]): void => {
    for (const p of panels) {
      if (p.type === 'row') {
        walk(p.panels ?? []);
        continue;
      }
      const targets = (p.targets ?? []).map((t) => target.parse(t));
      if (targets.length === 0) panelsWithoutQuery.push(p.title);
      for (const t of targets) {
        expect(t.datasource.uid).toBe(`\${${datasourceVar!.name}}`);
        queries.push(t.expr);
      }
    }
  };
  walk(json.panels);
  for (const v of json.templating.list) {
    if (v.type !== 'query') continue;
    queries.push(typeof v.query === 'string' ? v.query : v.query!.query);
  }
  return { queries, panelsWithoutQuery };
}

/** The metric names README's "5. Metrics" lists: its table, and the process metrics named after it. */
function readmeMetrics(): string[] {
  const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const start = readme.indexOf('### 5. Metrics');
  const section = readme.slice(start, readme.indexOf('```', start));
  const names = new Set<string>();
  for (const line of section.split('\n')) {
    if (line.startsWith('| `')) names.add(/^\| `([a-z_]+)`/.exec(line)![1]);
  }
  const processMetrics = /^plus prom-client's[^]*?(?:\n\n|$)/m.exec(section)?.[0] ?? '';
  for (const mm of processMetrics.matchAll(/`([a-z_]+)`/g)) names.add(mm[1]);
  expect(names.size).toBeGreaterThan(10);
  return [...names];
}

/** `.dockerignore`'s patterns (no `!` exceptions, no `**`): does it keep `rel` out of the build context? */
function dockerIgnored(rel: string): boolean {
  const patterns = readFileSync(path.join(ROOT, '.dockerignore'), 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
  if (patterns.some((p) => p.startsWith('!') || p.includes('**'))) {
    throw new Error('.dockerignore uses ! or **: teach dockerIgnored() to read it');
  }
  const glob = (p: string) =>
    new RegExp(`^${p.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*')}(/.*)?$`);
  return patterns.some((p) => glob(p.replace(/^\/|\/$/g, '')).test(rel));
}

/**
 * Replays one Dockerfile stage into `dir`, which stands for the stage's WORKDIR: COPYs from the
 * build context (the repository) or from an earlier replayed stage, and the RUN steps this
 * project's Dockerfile has, with `npm ci` replaced by the packages it would install taken from
 * this checkout's node_modules (these machines reach no base image, and tests fetch nothing).
 * A RUN it does not know fails the test: teach it rather than skip it.
 */
function replayStage(
  stage: DockerStage,
  dir: string,
  stages: Map<string, { workdir: string; dir: string }>,
): string {
  let workdir = '/';
  const local = (p: string, base: string, baseDir: string) => {
    const abs = path.posix.resolve(workdir, p);
    const rel = path.posix.relative(base, abs);
    if (rel.startsWith('..'))
      throw new Error(`${p}: outside the stage's WORKDIR ${base}, which the replay maps`);
    return path.join(baseDir, rel);
  };
  for (const ins of stage.instructions) {
    if (ins.op === 'WORKDIR') {
      workdir = path.posix.resolve(workdir, ins.args);
      mkdirSync(dir, { recursive: true });
    } else if (ins.op === 'COPY') {
      const { from, sources, dest } = copyParts(ins);
      const into = dest.endsWith('/') || sources.length > 1;
      const destPath = local(dest, workdir, dir);
      for (const src of sources) {
        let srcPath: string;
        if (from !== undefined) {
          const s = stages.get(from);
          if (!s) throw new Error(`COPY --from=${from}: no such stage replayed`);
          srcPath = local(src, s.workdir, s.dir);
        } else {
          if (dockerIgnored(src))
            throw new Error(`COPY ${src}: .dockerignore keeps it out of the build context`);
          srcPath = path.join(ROOT, src);
        }
        if (!existsSync(srcPath)) throw new Error(`COPY ${src}: no such file`);
        cpSync(srcPath, into ? path.join(destPath, path.basename(src)) : destPath, { recursive: true });
      }
    } else if (ins.op === 'RUN') {
      for (const step of ins.args.split('&&').map((s) => s.trim())) replayRun(step, dir);
    }
  }
  return workdir;
}

function replayRun(step: string, dir: string): void {
  if (/^npm ci\b/.test(step) && step.includes('--omit=dev')) {
    // What `npm ci --omit=dev` installs: the lockfile's packages that are not dev-only.
    const lock = z
      .object({
        packages: z.record(
          z.string(),
          z.object({ dev: z.boolean().optional(), link: z.boolean().optional() }),
        ),
      })
      .parse(JSON.parse(readFileSync(path.join(dir, 'package-lock.json'), 'utf8')));
    for (const [where, entry] of Object.entries(lock.packages)) {
      if (where === '' || entry.dev) continue;
      if (entry.link) throw new Error(`${where}: a workspace link; teach the replay about workspaces`);
      const src = path.join(ROOT, where);
      if (!existsSync(src))
        throw new Error(`${where} is not installed here: node_modules does not match the lockfile`);
      const real = realpathSync(src);
      // Nested node_modules are entries of their own (some of them dev-only).
      cpSync(real, path.join(dir, where), {
        recursive: true,
        filter: (p) => !path.relative(real, p).split(path.sep).includes('node_modules'),
      });
    }
  } else if (/^npm ci\b/.test(step)) {
    symlinkSync(realpathSync(path.join(ROOT, 'node_modules')), path.join(dir, 'node_modules'));
  } else if (step === 'npm run build') {
    execFileSync('npm', ['run', '--silent', 'build'], { cwd: dir, stdio: 'pipe', timeout: 120_000 });
  } else if (step === 'npm cache clean --force') {
    // Nothing cached by the replay.
  } else {
    throw new Error(`the replay does not know RUN ${step}`);
  }
}

/** A Prometheus text exposition: declared metric types, and the label names seen on each metric's samples. */
function readExposition(text: string): {
  types: Map<string, string>;
  sampleLabels: Map<string, Set<string>>;
} {
  const types = new Map<string, string>();
  const sampleLabels = new Map<string, Set<string>>();
  for (const line of text.split('\n')) {
    const type = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (type) types.set(type[1], type[2]);
    const sample = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? \S+$/.exec(line);
    if (!sample) continue;
    const names = sampleLabels.get(sample[1]) ?? new Set<string>();
    for (const l of (sample[2] ?? '').matchAll(/([a-zA-Z_]\w*)="(?:[^"\\]|\\.)*"/g)) names.add(l[1]);
    sampleLabels.set(sample[1], names);
  }
  return { types, sampleLabels };
}

/** The label names each LB server metric is defined with (read from the definitions, nothing scraped). */
function definedLabels(): Map<string, string[]> {
  // The constructor only defines the metrics; the sources are read at scrape time, never here.
  const metrics = new LbServerMetrics({
    etcdConnected: () => false,
    processMetrics: false,
  } as unknown as LbServerMetricsSources);
  const out = new Map<string, string[]>();
  for (const m of metrics.registry.getMetricsAsArray()) {
    const def = m as unknown as { name: string; labelNames?: string[] };
    out.set(def.name, def.labelNames ?? []);
  }
  return out;
}

/** Labels Prometheus itself puts on every series it scrapes. */
const TARGET_LABELS = ['job', 'instance'];

function check(c: HealthClient, service: string): Promise<string> {
  return new Promise((resolve, reject) =>
    c.Check({ service }, { deadline: Date.now() + 2000 }, (err, res) =>
      err ? reject(err) : resolve(res?.status ?? 'none'),
    ),
  );
}

describe('the Dockerfile replayed here (no image build: these machines reach no base image)', () => {
  const marker = newMarker();
  const dirs: string[] = [];
  const cleanups: Array<() => unknown> = [];
  let etcd: TestEtcd;

  beforeAll(async () => {
    etcd = await TestEtcd.start();
  });

  afterAll(async () => {
    for (const c of cleanups.reverse()) await c();
    await etcd?.close();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
    await waitFor('no LB server left running', () => processesWithMarker(marker).length === 0);
  });

  it("builds from the COPYed files alone, starts with only runtime packages, serves health on the probes' port and every metric the dashboard queries", async () => {
    const image = dockerfile();
    const stages = new Map<string, { workdir: string; dir: string }>();
    const tmp = (name: string) => {
      const d = mkdtempSync(path.join(os.tmpdir(), `lookaside-${name}-`));
      dirs.push(d);
      return d;
    };
    const buildDir = tmp('build');
    stages.set(image.build.name!, { workdir: replayStage(image.build, buildDir, stages), dir: buildDir });
    const appDir = tmp('runtime');
    const appWorkdir = replayStage(image.runtime, appDir, stages);
    expect(existsSync(path.join(appDir, 'node_modules/@grpc/grpc-js'))).toBe(true);
    expect(existsSync(path.join(appDir, 'node_modules/typescript'))).toBe(false);

    // The image's command, its listen addresses moved to free loopback ports.
    const [node, script] = image.entrypoint;
    expect(node).toBe('node');
    const scriptPath = path.join(appDir, path.posix.relative(appWorkdir, script));
    const ports = new Map<number, number>();
    const listenFlags = flagsParsedWith('lb-server', listenAddress);
    const args: string[] = [];
    for (let i = 0; i < image.cmd.length; i++) {
      const [flag, inline] = image.cmd[i].split(/=(.*)/s);
      if (!listenFlags.has(flag)) {
        args.push(image.cmd[i]);
        continue;
      }
      const value = inline ?? image.cmd[++i];
      const port = await freePort();
      ports.set(portOf(value), port);
      args.push(flag, `127.0.0.1:${port}`);
    }
    const { invocation } = invocationOf(readManifests());
    const lb = new CliProcess(
      spawn(process.execPath, [scriptPath, ...args], {
        cwd: appDir,
        stdio: ['ignore', 'pipe', 'pipe'],
        env: {
          PATH: process.env.PATH,
          ETCD_ENDPOINTS: etcd.endpoints.join(','),
          // Faster than the defaults, so that load-aware weights take ORCA in a few seconds.
          LOOKASIDE_CLIENT_STATS_INTERVAL_MS: '200',
          LOOKASIDE_ORCA_INTERVAL_MS: '200',
          LOOKASIDE_LOAD_UPDATE_MS: '200',
          LOOKASIDE_LOAD_BLACKOUT_MS: '0',
          LOG_LEVEL: 'info',
          [MARKER_VAR]: marker,
        },
      }),
    );
    cleanups.push(() => lb.stop('SIGKILL'));
    const c = lbContainer(one(readManifests(), 'Deployment', deploymentSchema));
    const probePort = ports.get(c.readinessProbe.grpc!.port);
    expect(probePort).toBeDefined();
    const health = healthClient(`127.0.0.1:${probePort}`);
    cleanups.push(() => health.close());
    await waitFor(
      "SERVING on the readiness probe's port, for its service name",
      async () => (await check(health, c.readinessProbe.grpc!.service ?? '')) === 'SERVING',
      { timeoutMs: 20_000, intervalMs: 100 },
    );
    expect(await check(health, c.livenessProbe.grpc!.service ?? '')).toBe('SERVING');

    // Traffic, so that the labelled metrics have samples: two greeters reporting ORCA, and steady
    // calls that keep them busy (load-aware weights use ORCA once two endpoints report it busy).
    for (const id of ['a', 'b']) {
      const greeter: GreeterServer = await startGreeterServer({
        port: 0,
        maxConcurrent: 1,
        serviceTimeMs: 20,
        loadReportIntervalMs: 200,
      });
      cleanups.push(() => greeter.forceClose());
      const reg: Registration = await registerService({
        etcd: etcd.endpoints,
        service: 'greeter',
        instanceId: id,
        address: greeter.address,
        logger,
      });
      cleanups.push(() => reg.close());
    }
    const lbPort = ports.get(portOf(invocation.values.get('--listen')!.value));
    const client = greeterClient(`lookaside://127.0.0.1:${lbPort}/greeter`);
    cleanups.push(() => client.close());
    await waitFor('a first call', async () => (await sayHello(client)).ok, { timeoutMs: 20_000 });
    const load = new GreeterLoad(client, { concurrency: 2, maxCalls: 5000 });
    cleanups.push(() => load.stop());
    const metricsUrl = `http://127.0.0.1:${ports.get(portOf(invocation.values.get('--metrics-listen')!.value))}/metrics`;
    const wanted = [
      'lookaside_streams',
      'lookaside_client_calls_total',
      'lookaside_endpoint_utilization',
      'lookaside_endpoint_health',
      'lookaside_endpoint_effective_weight',
    ];
    const exposition = await waitFor(
      `samples of ${wanted.join(', ')}`,
      async () => {
        const e = readExposition(await (await fetch(metricsUrl)).text());
        const missing = wanted.filter((n) => !e.sampleLabels.has(n));
        if (missing.length > 0) throw new Error(`no samples yet of ${missing.join(', ')}`);
        return e;
      },
      { timeoutMs: 30_000, intervalMs: 200 },
    );

    const defined = definedLabels();
    const labelsOf = (metric: string): Set<string> => {
      const base = metric.replace(/_(bucket|sum|count)$/, '');
      return new Set([
        ...TARGET_LABELS,
        ...(exposition.sampleLabels.get(metric) ?? []),
        ...(defined.get(metric) ?? defined.get(base) ?? []),
        ...(metric.endsWith('_bucket') ? ['le'] : []),
      ]);
    };
    const declared = (metric: string): boolean => {
      if (exposition.types.has(metric)) return true;
      const m = /^(.*)_(bucket|sum|count)$/.exec(metric);
      return m !== null && ['histogram', 'summary'].includes(exposition.types.get(m[1]) ?? '');
    };
    const problems: string[] = [];
    for (const q of dashboardQueries().queries) {
      const refs = promqlReferences(q);
      if (refs.metrics.size === 0 && refs.grouped.size === 0) problems.push(`no metric in ${q}`);
      for (const metric of refs.metrics)
        if (!declared(metric)) problems.push(`${metric} is not on /metrics (${q})`);
      for (const { metric, label } of refs.matched) {
        if (metric !== undefined && !labelsOf(metric).has(label))
          problems.push(`${metric} has no label ${label} (${q})`);
      }
      const anyLabels = new Set([...refs.metrics].flatMap((m) => [...labelsOf(m)]));
      for (const label of refs.grouped)
        if (!anyLabels.has(label)) problems.push(`no metric of ${q} has label ${label}`);
    }
    expect(problems).toEqual([]);
    // The README's promise, on the same server: every metric it lists is exported.
    expect(readmeMetrics().filter((n) => !declared(n))).toEqual([]);

    const exit = await lb.stop('SIGTERM');
    expect({ code: exit.code, stderr: exit.code === 0 ? '' : exit.stderr }).toEqual({ code: 0, stderr: '' });
  }, 120_000);
});
