#!/usr/bin/env node
// Generates TypeScript types for every .proto under proto/ with proto-loader-gen-types, using the
// same load options as the runtime loader (proto/load-options.json), so that the types describe
// exactly the objects proto-loader produces. Usage: node scripts/gen-proto-types.js [outDir]
'use strict';
const { execFileSync } = require('node:child_process');
const path = require('node:path');
const fs = require('node:fs');

const root = path.resolve(__dirname, '..');
const protoDir = path.join(root, 'proto');
const outDir = path.resolve(process.argv[2] ?? path.join(protoDir, 'gen'));
const options = JSON.parse(fs.readFileSync(path.join(protoDir, 'load-options.json'), 'utf8'));

const files = [
  'lookaside/v1/load_balancer.proto',
  'lookaside/v1/admin.proto',
  'helloworld/helloworld.proto',
  'grpc/lb/v1/load_balancer.proto',
];
const args = ['--grpcLib=@grpc/grpc-js', `--outDir=${outDir}`, `-I=${protoDir}`, '--includeComments'];
if (options.keepCase) args.push('--keepCase');
if (options.longs) args.push(`--longs=${options.longs}`);
if (options.enums) args.push(`--enums=${options.enums}`);
if (options.defaults) args.push('--defaults');
if (options.oneofs) args.push('--oneofs');

fs.rmSync(outDir, { recursive: true, force: true });
const bin = require.resolve('@grpc/proto-loader/build/bin/proto-loader-gen-types.js');
execFileSync(process.execPath, [bin, ...args, ...files], { cwd: protoDir, stdio: 'inherit' });

// The generator writes each source's absolute path into a comment: make it relative to the
// repository so that the output does not depend on where the checkout lives.
for (const file of walk(outDir)) {
  const text = fs.readFileSync(file, 'utf8');
  fs.writeFileSync(file, text.split(root + path.sep).join(''));
}

function walk(dir) {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    return entry.isDirectory() ? walk(full) : [full];
  });
}
