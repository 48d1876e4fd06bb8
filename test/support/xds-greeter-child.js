/* global require, process, __dirname */
/* eslint-disable @typescript-eslint/no-require-imports */
// A stock @grpc/grpc-js-xds client in a child process, driven by the tests over stdin/stdout.
// grpc-js-xds reads its bootstrap (GRPC_XDS_BOOTSTRAP_CONFIG, set by the parent) once per
// process, hence a process per LB server under test. One JSON command a line on stdin, one JSON
// answer a line on stdout (same "id"):
//   {"id":1,"op":"calls","target":"xds:///greeter","n":800}   -> {"id":1,"byBackend":{},"failures":[]}
//   {"id":2,"op":"load-start","target":"...","concurrency":4} -> {"id":2}
//   {"id":3,"op":"load-stop"}                                  -> {"id":3,"byBackend":{},"failures":[],"calls":N}
// Calls use helloworld.Greeter/SayHello; the greeter answers "Hello <name> from <address>".
'use strict';
const path = require('node:path');
const readline = require('node:readline');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');
require('@grpc/grpc-js-xds').register();

const definition = protoLoader.loadSync('helloworld/helloworld.proto', {
  includeDirs: [path.join(__dirname, '..', '..', 'proto')],
});
const Greeter = grpc.loadPackageDefinition(definition).helloworld.Greeter;
const clients = new Map();

function client(target) {
  let c = clients.get(target);
  if (!c) {
    c = new Greeter(target, grpc.credentials.createInsecure());
    clients.set(target, c);
  }
  return c;
}

function sayHello(target, deadlineMs) {
  return new Promise((resolve) => {
    client(target).SayHello({ name: 'xds' }, { deadline: Date.now() + deadlineMs }, (err, reply) => {
      if (err) resolve({ ok: false, code: err.code, details: err.details });
      else resolve({ ok: true, backend: reply.message.slice(reply.message.lastIndexOf(' from ') + 6) });
    });
  });
}

function tally() {
  return { byBackend: {}, failures: [], calls: 0 };
}

function add(t, r) {
  t.calls += 1;
  if (r.ok) t.byBackend[r.backend] = (t.byBackend[r.backend] ?? 0) + 1;
  else if (t.failures.length < 50) t.failures.push({ code: r.code, details: r.details });
  else t.failures.push({ code: r.code });
}

let load;

async function handle(cmd) {
  const deadlineMs = cmd.deadlineMs ?? 5000;
  switch (cmd.op) {
    case 'calls': {
      const t = tally();
      for (let i = 0; i < cmd.n; i++) add(t, await sayHello(cmd.target, deadlineMs));
      return t;
    }
    case 'load-start': {
      const t = tally();
      let stopped = false;
      const workers = Array.from({ length: cmd.concurrency ?? 4 }, async () => {
        while (!stopped && t.calls < 200_000) add(t, await sayHello(cmd.target, deadlineMs));
      });
      load = { t, stop: () => ((stopped = true), Promise.all(workers)) };
      return {};
    }
    case 'load-stop': {
      if (!load) return { error: 'no load running' };
      await load.stop();
      const t = load.t;
      load = undefined;
      return t;
    }
    case 'load-peek':
      return load
        ? { calls: load.t.calls, byBackend: load.t.byBackend, failures: load.t.failures.length }
        : {};
    default:
      return { error: `unknown op ${cmd.op}` };
  }
}

readline.createInterface({ input: process.stdin }).on('line', (line) => {
  const cmd = JSON.parse(line);
  handle(cmd).then(
    (answer) => process.stdout.write(JSON.stringify({ id: cmd.id, ...answer }) + '\n'),
    (err) => process.stdout.write(JSON.stringify({ id: cmd.id, error: String(err) }) + '\n'),
  );
});
process.stdin.on('end', () => process.exit(0));
