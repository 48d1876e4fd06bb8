/* global require, process, console, setInterval, clearInterval */
/* eslint-disable @typescript-eslint/no-require-imports */
// Requires one entry point of lookaside in a fresh process, as an application would, and prints
// what that cost as one JSON line: {"exports":[...],"packages":[...],"protoFiles":[...]}.
//   node entry-point-probe.js <module> [channel]
// <module> is a package name ("lookaside", "lookaside/registrar": this package resolves its own
// name through package.json "exports") or a path. "channel" then installs the SDK and opens a
// lookaside:// channel, waiting (10 s deadline) until it has asked for its LB stream.
// packages: the node_modules packages in require.cache; protoFiles: every .proto file read.
'use strict';
const fs = require('node:fs');

const protoFiles = [];
const readFileSync = fs.readFileSync;
// protobufjs (under proto-loader) reads each .proto file with fs.readFileSync.
fs.readFileSync = function (file, ...rest) {
  if (typeof file === 'string' && file.endsWith('.proto')) protoFiles.push(file);
  return readFileSync.call(this, file, ...rest);
};

function loadedPackages() {
  const names = new Set();
  for (const key of Object.keys(require.cache)) {
    const all = [...key.matchAll(/node_modules\/((?:@[^/]+\/)?[^/]+)/g)];
    if (all.length > 0) names.add(all[all.length - 1][1]);
  }
  return [...names].sort();
}

function report() {
  console.log(
    JSON.stringify({ exports: Object.keys(exported).sort(), packages: loadedPackages(), protoFiles }),
  );
}

const [entry, mode] = process.argv.slice(2);
const exported = require(entry);

if (mode === 'channel') {
  const grpc = require('@grpc/grpc-js');
  exported.installLookaside();
  // Nothing listens on port 1: the LB stream fails and is retried, which is all this needs.
  const client = new grpc.Client('lookaside://127.0.0.1:1/greeter', grpc.credentials.createInsecure());
  client.getChannel().getConnectivityState(true);
  const deadline = Date.now() + 10_000;
  const poll = setInterval(() => {
    const asked = protoFiles.some((f) => f.endsWith('load_balancer.proto'));
    if (!asked && Date.now() < deadline) return;
    clearInterval(poll);
    client.close();
    report();
    if (!asked) process.exitCode = 1;
  }, 10);
} else {
  report();
}
