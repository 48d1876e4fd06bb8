#!/usr/bin/env node
// Screenshots of the web console's main pages for the README, from a real fleet on loopback: a
// throwaway etcd, an LB server with its console, greeters under two services (one draining, one
// failing a share of its calls), SDK clients calling them, and Debian's headless Chromium.
//   npm run --silent build && node scripts/console-screenshots.js [out-dir]   (default docs/console)
// Writes services.png, service.png, clients.png and events.png. Needs /usr/bin/chromium (or
// $CHROMIUM_BIN): scripts/ensure-chromium.sh installs it.
'use strict';
/* global fetch, setTimeout */
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const dist = path.join(root, 'dist');
if (!fs.existsSync(path.join(dist, 'lb-server/index.js'))) {
  console.error('console-screenshots: no dist/: run `npm run build` first');
  process.exit(1);
}
const grpc = require('@grpc/grpc-js');
const pino = require('pino');
const { chromium } = require('playwright-core');
const { startEtcd } = require(path.join(dist, 'etcd/etcd-process'));
const { startLbServer } = require(path.join(dist, 'lb-server'));
const { startGreeterServer } = require(path.join(dist, 'demo-service'));
const { registerService } = require(path.join(dist, 'registrar'));
const { installLookaside } = require(path.join(dist, 'client-sdk'));
const { loadProtos } = require(path.join(dist, 'proto/protos'));

const out = path.resolve(process.argv[2] ?? path.join(root, 'docs/console'));
const browserPath = process.env.CHROMIUM_BIN ?? '/usr/bin/chromium';
const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Calls `client` back to back until `stop.done`; bounded by `max` calls. */
async function callLoop(client, stop, max = 200_000) {
  for (let i = 0; i < max && !stop.done; i++) {
    await new Promise((resolve) =>
      client.SayHello({ name: 'screenshot' }, { deadline: Date.now() + 2000 }, () => resolve()),
    );
  }
}

async function main() {
  if (!fs.existsSync(browserPath))
    throw new Error(`no Chromium at ${browserPath}: run scripts/ensure-chromium.sh`);
  fs.mkdirSync(out, { recursive: true });
  const logger = pino({ level: 'silent' });
  const closers = [];
  const stop = { done: false };
  try {
    const etcd = await startEtcd();
    closers.push(() => etcd.close());
    const { Etcd3 } = require('etcd3');
    const etcdClient = new Etcd3({ hosts: etcd.endpoints });
    closers.push(() => etcdClient.close());

    const fleet = [
      { service: 'greeter', id: 'greeter-eu-1', zone: 'eu-west-1a', weight: 100 },
      {
        service: 'greeter',
        id: 'greeter-eu-2',
        zone: 'eu-west-1b',
        weight: 200,
        metadata: { version: '1.4.2' },
      },
      { service: 'greeter', id: 'greeter-us-1', zone: 'us-east-1a', weight: 100, failureRate: 0.08 },
      { service: 'greeter', id: 'greeter-us-2', zone: 'us-east-1b', weight: 100 },
      { service: 'orders', id: 'orders-1', zone: 'eu-west-1a', weight: 100 },
      { service: 'orders', id: 'orders-2', zone: 'eu-west-1b', weight: 100 },
    ];
    for (const f of fleet) {
      const server = await startGreeterServer({ port: 0, failureRate: f.failureRate ?? 0 });
      closers.push(() => server.forceClose());
      const reg = await registerService({
        etcd: etcd.endpoints,
        service: f.service,
        instanceId: f.id,
        address: server.address,
        zone: f.zone,
        weight: f.weight,
        metadata: f.metadata,
        logger,
      });
      closers.push(() => reg.close());
    }

    const lb = await startLbServer({
      etcd: etcd.endpoints,
      listen: '127.0.0.1:0',
      metricsListen: '127.0.0.1:0',
      clientStatsIntervalMs: 1000,
      // Calls/s and failure rates are per outlier interval: a short one fills them sooner.
      outlierIntervalMs: 2000,
      logger,
    });
    closers.push(() => lb.close());
    await lb.synced();

    installLookaside();
    const { Greeter } = loadProtos().helloworld;
    const loops = [];
    for (const [service, n] of [
      ['greeter', 3],
      ['orders', 1],
    ]) {
      for (let i = 0; i < n; i++) {
        const client = new Greeter(`lookaside://${lb.address}/${service}`, grpc.credentials.createInsecure());
        closers.push(() => client.close());
        loops.push(callLoop(client, stop));
      }
    }
    closers.push(() => Promise.all(loops));
    closers.push(() => (stop.done = true));

    // A drain from the console's own API, so the events page has an override and a drain.
    await sleep(1500);
    const drained = await fetch(`${lb.consoleUrl}api/services/greeter/endpoints/greeter-us-2/drain`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ reason: 'kernel upgrade', forMs: 3_600_000 }),
    });
    if (!drained.ok) throw new Error(`drain failed: ${drained.status} ${await drained.text()}`);
    // Client reports every second, rates every 2 s: give them a few.
    await sleep(7000);

    const browser = await chromium.launch({ executablePath: browserPath, args: ARGS });
    closers.push(() => browser.close());
    const page = await browser.newPage({ viewport: { width: 1360, height: 820 } });
    const shots = [
      ['services.png', '#/services', 'tr[data-service="greeter"]'],
      ['service.png', '#/services/greeter', '.chart rect.bar'],
      ['clients.png', '#/clients', 'tr[data-client]'],
      ['events.png', '#/events', 'tr[data-kind="override_set"]'],
    ];
    for (const [file, hash, ready] of shots) {
      await page.goto(`${lb.consoleUrl}${hash}`);
      await page.waitForSelector(ready, { timeout: 15_000 });
      await page.waitForSelector('#live.on', { timeout: 15_000 });
      await sleep(300);
      await page.screenshot({ path: path.join(out, file), fullPage: true });
      console.log(`console-screenshots: wrote ${path.relative(root, path.join(out, file))}`);
    }
  } finally {
    for (const close of closers.reverse()) {
      try {
        await close();
      } catch (err) {
        console.error(`console-screenshots: cleanup: ${err.message}`);
      }
    }
  }
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(`console-screenshots: ${err.stack ?? err}`);
    process.exit(1);
  },
);
