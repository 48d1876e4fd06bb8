#!/usr/bin/env node
// Assembles the two publishable packages from a built dist/ (run `npm run build` first) and packs
// each with `npm pack`:
//   lookaside         the client SDK (`lookaside`) and the registrar (`lookaside/registrar`): only
//                     the dist files those two entry points reach, dependencies @grpc/proto-loader
//                     and zod, peers @grpc/grpc-js and (optional, for the registrar) etcd3.
//   lookaside-server  the LB server, the `lookaside` CLI, the demo service and the client entry
//                     points: all of dist/, with every runtime dependency.
// Both ship LICENSE and README.md and no source maps (the TypeScript sources are not shipped, so
// the maps would point at nothing). The repository root stays the private development package.
//   node scripts/pack.js [out-dir]      (default: pack/)
// Prints one JSON line: {"lookaside":"<out>/lookaside-<v>.tgz","lookaside-server":"<out>/..."}.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const { execFileSync } = require('node:child_process');
const { builtinModules } = require('node:module');

const root = path.resolve(__dirname, '..');
const dist = path.join(root, 'dist');
const out = path.resolve(process.argv[2] ?? path.join(root, 'pack'));
const rootPkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));

/** The client's runtime dependencies; everything else in the root's list is server-side. */
const CLIENT_DEPENDENCIES = ['@grpc/proto-loader', 'zod'];
const CLIENT_ENTRIES = ['client-sdk/index', 'registrar/index'];

function fail(message) {
  console.error(`pack: ${message}`);
  process.exit(1);
}

/** Every file under `dir` (relative to dist/), recursively. */
function walk(dir) {
  return fs.readdirSync(path.join(dist, dir), { withFileTypes: true }).flatMap((e) => {
    const rel = path.posix.join(dir, e.name);
    return e.isDirectory() ? walk(rel) : [rel];
  });
}

/** The dist file a relative specifier in `from` names, for a .js (`kind` js) or .d.ts file. */
function resolveRelative(from, spec, kind) {
  const base = path.posix.normalize(path.posix.join(path.posix.dirname(from), spec));
  const candidates =
    kind === 'js' ? [base, `${base}.js`, `${base}/index.js`] : [`${base}.d.ts`, `${base}/index.d.ts`, base];
  const hit = candidates.find(
    (c) => fs.existsSync(path.join(dist, c)) && fs.statSync(path.join(dist, c)).isFile(),
  );
  if (!hit) fail(`${from} imports ${spec}, which is not in dist/`);
  return hit;
}

/**
 * The dist files the entry points reach through relative require()s (.js) and imports (.d.ts),
 * and the bare package names they name.
 */
function closure(entries) {
  const files = new Set();
  const bare = new Map();
  const queue = entries.flatMap((e) => [`${e}.js`, `${e}.d.ts`]);
  while (queue.length > 0) {
    const file = queue.pop();
    if (files.has(file)) continue;
    files.add(file);
    if (file.endsWith('.json')) continue;
    const kind = file.endsWith('.d.ts') ? 'dts' : 'js';
    const text = fs.readFileSync(path.join(dist, file), 'utf8');
    const pattern =
      kind === 'js' ? /require(?:\.resolve)?\("([^"]+)"\)/g : /(?:from |import\(|import )["']([^"']+)["']/g;
    for (const [, spec] of text.matchAll(pattern)) {
      if (spec.startsWith('.')) {
        queue.push(resolveRelative(file, spec, kind));
      } else {
        const name = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0];
        if (!bare.has(name)) bare.set(name, file);
      }
    }
  }
  return { files, bare };
}

function copyInto(dir, files) {
  for (const rel of files) {
    const dst = path.join(dir, 'dist', rel);
    fs.mkdirSync(path.dirname(dst), { recursive: true });
    fs.copyFileSync(path.join(dist, rel), dst);
  }
  for (const doc of ['LICENSE', 'README.md']) fs.copyFileSync(path.join(root, doc), path.join(dir, doc));
}

/** Writes package.json into a fresh `dir` and returns the tarball npm pack made of it. */
function pack(dir, pkg) {
  fs.writeFileSync(path.join(dir, 'package.json'), `${JSON.stringify(pkg, null, 2)}\n`);
  const [result] = JSON.parse(
    execFileSync('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', out], {
      cwd: dir,
      encoding: 'utf8',
    }),
  );
  return path.join(out, result.filename);
}

function pick(from, names) {
  return Object.fromEntries(names.map((n) => [n, from[n] ?? fail(`package.json has no ${n}`)]));
}

if (!fs.existsSync(path.join(dist, 'client-sdk/index.js'))) fail('no dist/: run `npm run build` first');
fs.rmSync(out, { recursive: true, force: true });
fs.mkdirSync(out, { recursive: true });

const common = {
  version: rootPkg.version,
  license: rootPkg.license,
  engines: rootPkg.engines,
};
const grpcPeer = pick(rootPkg.peerDependencies, ['@grpc/grpc-js']);

// lookaside: what the two client entry points reach, and the contracts' .proto files.
const client = closure(CLIENT_ENTRIES);
const protos = walk('proto').filter((f) => f.endsWith('.proto'));
const clientPeers = { ...grpcPeer, etcd3: `^${rootPkg.dependencies.etcd3}` };
const allowed = new Set([...CLIENT_DEPENDENCIES, ...Object.keys(clientPeers)]);
for (const [name, file] of client.bare) {
  if (!allowed.has(name) && !builtinModules.includes(name.replace(/^node:/, ''))) {
    fail(`${file} imports ${name}, which the lookaside package does not depend on`);
  }
}
const clientDir = path.join(out, 'lookaside');
copyInto(clientDir, [...client.files, ...protos]);
const clientTarball = pack(clientDir, {
  name: 'lookaside',
  description:
    'gRPC lookaside load balancing for @grpc/grpc-js: the client SDK (lookaside:// targets, weighted round-robin straight to backends) and the service registrar',
  ...common,
  main: 'dist/client-sdk/index.js',
  types: 'dist/client-sdk/index.d.ts',
  exports: pick(rootPkg.exports, ['.', './registrar', './package.json']),
  dependencies: pick(rootPkg.dependencies, CLIENT_DEPENDENCIES),
  peerDependencies: clientPeers,
  peerDependenciesMeta: { etcd3: { optional: true } },
});

// lookaside-server: all of dist/ but the source maps.
const serverDir = path.join(out, 'lookaside-server');
copyInto(
  serverDir,
  walk('.').filter((f) => !f.endsWith('.map')),
);
const serverTarball = pack(serverDir, {
  name: 'lookaside-server',
  description:
    'The lookaside LB server (watches etcd v3, serves lookaside.v1, xDS and grpclb), the lookaside CLI and the demo service',
  ...common,
  main: rootPkg.main,
  types: rootPkg.types,
  exports: rootPkg.exports,
  bin: rootPkg.bin,
  dependencies: rootPkg.dependencies,
  peerDependencies: grpcPeer,
});

console.log(JSON.stringify({ lookaside: clientTarball, 'lookaside-server': serverTarball }));
