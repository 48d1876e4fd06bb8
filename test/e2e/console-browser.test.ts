import * as http from 'node:http';
import * as https from 'node:https';
import pino from 'pino';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { installLookaside } from '../../client-sdk';
import { startGreeterServer, type GreeterServer } from '../../demo-service';
import { startLbServer, type LbServer } from '../../lb-server';
import { registerService, type Registration } from '../../registrar';
import { CHROMIUM_ARGS, findChromium } from '../support/chromium';
import { TestEtcd } from '../support/etcd';
import { greeterClient, GreeterLoad, sayHello } from '../support/greeter-load';
import { TestCerts } from '../support/test-certs';
import { waitFor } from '../support/wait-for';

const browserBinary = findChromium();
const describeInBrowser = 'path' in browserBinary ? describe : describe.skip;
if ('missing' in browserBinary) {
  console.warn(`console browser tests skipped: ${browserBinary.missing}`);
}

/** Markup in what registrars write: the console must show it as text and create nothing. */
const HOSTILE_ID = '"><img>evil';
const HOSTILE_ZONE = '<img src=x onerror="window.__pwned=1">';
const HOSTILE_METADATA = '<script>window.__pwned=2</script>';

/** A GET over plain HTTP or HTTPS (trusting `ca`), with its status, headers and body. */
function get(
  url: string,
  headers: Record<string, string> = {},
  ca?: Buffer,
): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const mod = url.startsWith('https:') ? https : http;
    const req = mod.get(url, { headers, timeout: 5000, ...(ca ? { ca } : {}) }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${url} timed out`)));
    req.on('error', reject);
  });
}

/**
 * Evaluates `expression` in the page. A string, not a function: this project compiles without
 * the DOM library, and the page's globals are the browser's.
 */
function inPage<T>(page: Page, expression: string): Promise<T> {
  return page.evaluate(expression) as Promise<T>;
}

interface EndpointRow {
  id: string;
  instanceText: string;
  metadata: string[];
  zone: string;
  registered: string;
  effective: string;
  reasons: string;
  health: string;
  share: string;
  override: string;
}

/** The endpoint rows of the service page, as the page shows them (text only). */
function endpointRows(page: Page): Promise<EndpointRow[]> {
  return inPage(
    page,
    `[...document.querySelectorAll('tr[data-instance]')].map((row) => {
      const text = (sel) => row.querySelector(sel)?.textContent ?? '';
      return {
        id: row.dataset.instance ?? '',
        instanceText: text('.instance-id'),
        metadata: [...row.querySelectorAll('.metadata')].map((m) => m.textContent ?? ''),
        zone: text('.zone'),
        registered: text('.registered-weight'),
        effective: text('.effective-weight'),
        reasons: text('.reasons'),
        health: text('.health'),
        share: text('.share'),
        override: text('.override'),
      };
    })`,
  );
}

describeInBrowser('web console in a real browser (etcd, LB server, greeters, SDK client, Chromium)', () => {
  const logger = pino({ level: 'silent' });
  let etcd: TestEtcd;
  let certs: TestCerts;
  let browser: Browser;
  const cleanups: (() => unknown)[] = [];
  let alpha: GreeterServer;
  let hostile: GreeterServer;
  let lb: LbServer;

  /** Errors each page reported: script errors, console errors (CSP violations among them). */
  const pageErrors = new Map<Page, string[]>();

  async function newPage(options: { ignoreHTTPSErrors?: boolean } = {}): Promise<Page> {
    const context: BrowserContext = await browser.newContext(options);
    cleanups.push(() => context.close());
    const page = await context.newPage();
    page.setDefaultTimeout(15_000);
    const errors: string[] = [];
    pageErrors.set(page, errors);
    page.on('pageerror', (err) => errors.push(err.message));
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(m.text());
    });
    return page;
  }

  beforeAll(async () => {
    installLookaside();
    etcd = await TestEtcd.start();
    certs = TestCerts.create();
    certs.server('lb');
    browser = await chromium.launch({
      executablePath: 'path' in browserBinary ? browserBinary.path : undefined,
      args: CHROMIUM_ARGS,
    });
    alpha = await startGreeterServer({ port: 0 });
    hostile = await startGreeterServer({ port: 0 });
    const registrations: Registration[] = [
      await registerService({
        etcd: etcd.endpoints,
        service: 'greeter',
        instanceId: 'alpha',
        address: alpha.address,
        zone: 'zone-a',
        logger,
      }),
      await registerService({
        etcd: etcd.endpoints,
        service: 'greeter',
        instanceId: HOSTILE_ID,
        address: hostile.address,
        zone: HOSTILE_ZONE,
        metadata: { note: HOSTILE_METADATA },
        logger,
      }),
    ];
    lb = await startLbServer({
      etcd: etcd.endpoints,
      listen: '127.0.0.1:0',
      metricsListen: '127.0.0.1:0',
      clientStatsIntervalMs: 1000,
      // Weights exactly as registered or set: the page's numbers are asserted.
      loadAware: false,
      logger,
    });
    await lb.synced();
    cleanups.push(
      () => lb.close(),
      ...registrations.map((r) => () => r.close()),
      () => alpha.forceClose(),
      () => hostile.forceClose(),
    );
  }, 120_000);

  afterAll(async () => {
    for (const c of cleanups.reverse()) await c();
    await browser?.close();
    await etcd?.close();
    certs?.cleanup();
  });

  it('lists the service, shows weight and health, and a drain from the page moves the calls away', async () => {
    const client = greeterClient(`lookaside://${lb.address}/greeter`);
    cleanups.push(() => client.close());
    await waitFor('a first call through the LB', async () => (await sayHello(client)).ok);
    const load = new GreeterLoad(client, { concurrency: 2 });
    cleanups.push(() => load.stop());
    await waitFor('calls on both backends', () => alpha.served() > 10 && hostile.served() > 10);

    const page = await newPage();
    const url = lb.consoleUrl ?? '';
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/ui\/$/);
    await page.goto(url);
    await page.waitForSelector('tr[data-service="greeter"]');
    const summary = await page.textContent('tr[data-service="greeter"]');
    expect(summary).toContain('greeter');

    await page.click('tr[data-service="greeter"] a');
    await page.waitForSelector('tr[data-instance="alpha"]');
    const shown = await waitFor('alpha served and healthy in the page', async () =>
      (await endpointRows(page)).find((r) => r.id === 'alpha' && r.health === 'serving'),
    );
    expect(shown).toMatchObject({
      registered: '100',
      effective: '100',
      zone: 'zone-a',
      reasons: 'as registered',
    });
    // The chart has a bar per endpoint.
    expect(await page.locator('.chart rect.bar').count()).toBe(2);

    // Drain alpha from the page; the page updates by itself (no reload) and the calls move away.
    await page.fill('#action-reason', 'browser test: drain alpha');
    await page.click('tr[data-instance="alpha"] button[data-action="drain"]');
    // Polled from here (page.evaluate goes through the DevTools protocol): a string predicate of
    // waitForFunction is compiled inside the page, which the console's CSP (no eval) refuses.
    await waitFor('the page says the drain is done', () =>
      inPage<boolean>(
        page,
        "document.getElementById('action-result')?.textContent?.endsWith('done') === true",
      ),
    );
    await waitFor('the page shows alpha draining at weight 0', async () =>
      (await endpointRows(page)).find(
        (r) =>
          r.id === 'alpha' &&
          r.effective === '0' &&
          r.reasons.includes('overridden') &&
          /^drained by console@\S+: browser test: drain alpha$/.test(r.override),
      ),
    );
    // The drain is an operator override in etcd, with who and why, as the CLI's would be.
    expect(lb.overrides.list('greeter')).toEqual([
      expect.objectContaining({
        service: 'greeter',
        instanceId: 'alpha',
        draining: true,
        why: 'browser test: drain alpha',
        who: expect.stringMatching(/^console@/),
      }),
    ]);
    let before = { alpha: alpha.served(), calls: load.calls };
    await waitFor(
      'alpha takes no new calls while 100 more calls are made',
      () => {
        const now = { alpha: alpha.served(), calls: load.calls };
        if (now.alpha !== before.alpha) before = now;
        return now.alpha === before.alpha && now.calls - before.calls >= 100;
      },
      { timeoutMs: 20_000, intervalMs: 100 },
    );
    expect(load.failures).toEqual([]);

    // Undrain: alpha serves again.
    await page.click('tr[data-instance="alpha"] button[data-action="undrain"]');
    const servedAtUndrain = alpha.served();
    await waitFor('alpha serves again after the undrain', () => alpha.served() > servedAtUndrain + 10, {
      timeoutMs: 20_000,
    });

    // A weight from the page: alpha gets three quarters of new calls.
    await page.fill('#action-weight', '300');
    await page.click('tr[data-instance="alpha"] button[data-action="weight"]');
    await waitFor('alpha at weight 300 with a 75% share', async () =>
      (await endpointRows(page)).find(
        (r) => r.id === 'alpha' && r.effective === '300' && r.share === '75.0%',
      ),
    );
    expect(lb.overrides.list('greeter')).toEqual([
      expect.objectContaining({ instanceId: 'alpha', weight: 300, draining: false }),
    ]);

    // The events page lists the overrides: the drain, its clearing, the weight.
    await page.click('nav a[data-page="events"]');
    await waitFor('the override and the drain on the events page', async () => {
      const kinds = await inPage<string[]>(
        page,
        "[...document.querySelectorAll('tr[data-kind]')].map((r) => r.dataset.kind)",
      );
      return kinds.filter((k) => k === 'override_set').length === 2 && kinds.includes('override_cleared')
        ? kinds
        : undefined;
    });

    // The clients page shows the SDK client with what it was sent.
    await page.click('nav a[data-page="clients"]');
    await page.waitForSelector('tr[data-client]');
    expect(await page.textContent('tr[data-client]')).toContain(alpha.address);
    // The page ran under its CSP without a violation or a script error.
    expect(pageErrors.get(page)).toEqual([]);
  }, 120_000);

  it('shows markup from registrars as text and creates no element from it', async () => {
    const page = await newPage();
    await page.goto(`${lb.consoleUrl}#/services/greeter`);
    const row = await waitFor('the hostile endpoint in the page', async () =>
      (await endpointRows(page)).find((r) => r.id === HOSTILE_ID),
    );
    expect(row.instanceText).toBe(HOSTILE_ID);
    expect(row.zone).toBe(HOSTILE_ZONE);
    expect(row.metadata).toEqual([`note=${HOSTILE_METADATA}`]);
    expect(await page.locator('main img, main script').count()).toBe(0);
    expect(await inPage(page, 'window.__pwned')).toBeUndefined();
    // The chart labels are text too.
    expect(await page.locator('.chart text', { hasText: '"><img>evil' }).count()).toBe(1);
    expect(pageErrors.get(page)).toEqual([]);
  }, 60_000);

  it('serves the page with a CSP that allows no inline script, and nosniff', async () => {
    const res = await get(lb.consoleUrl ?? '');
    expect(res.status).toBe(200);
    expect(res.headers['content-security-policy']).toContain("script-src 'self'");
    expect(res.headers['content-security-policy']).not.toContain('unsafe-inline');
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.body).not.toMatch(/<script>|<script [^>]*>[^<]/);
    // /metrics is still there on the same port.
    const metrics = await get(`http://${lb.metricsAddress}/metrics`);
    expect(metrics.status).toBe(200);
    expect(metrics.body).toContain('lookaside_');
  });

  it('with an admin token: the page shows only the prompt, the API answers 401, and the token opens it', async () => {
    const guarded = await startLbServer({
      etcd: etcd.endpoints,
      listen: '127.0.0.1:0',
      metricsListen: '127.0.0.1:0',
      adminToken: 's3cret-token',
      logger,
    });
    cleanups.push(() => guarded.close());
    await guarded.synced();
    const url = guarded.consoleUrl ?? '';

    expect((await get(`${url}api/services`)).status).toBe(401);
    expect((await get(`${url}api/events/stream`)).status).toBe(401);
    expect((await get(`${url}api/services`, { authorization: 'Bearer wrong' })).status).toBe(401);
    expect((await get(`${url}api/services`, { authorization: 'Bearer s3cret-token' })).status).toBe(200);

    const page = await newPage();
    const requests: string[] = [];
    page.on('request', (r) => requests.push(r.url()));
    await page.goto(url);
    await page.waitForSelector('#login', { state: 'visible' });
    expect(await page.isVisible('#nav')).toBe(false);
    expect(await inPage(page, "document.getElementById('main').childElementCount")).toBe(0);

    await page.fill('#token', 'wrong');
    await page.click('#login button[type="submit"]');
    await waitFor('the page shows the login error', () =>
      inPage<boolean>(page, "document.getElementById('login-error').textContent !== ''"),
    );
    expect(await page.isVisible('#login')).toBe(true);

    await page.fill('#token', 's3cret-token');
    await page.click('#login button[type="submit"]');
    await page.waitForSelector('tr[data-service="greeter"]');
    expect(await page.isVisible('#login')).toBe(false);
    // Live stream with the token in its header; never a token in a URL.
    await page.waitForSelector('#live.on');
    expect(requests.filter((r) => r.includes('s3cret'))).toEqual([]);
    expect(await inPage(page, "sessionStorage.getItem('lookaside.console.token')")).toBe('s3cret-token');
  }, 60_000);

  it('with TLS: the console is HTTPS with the LB certificate, plain /ui redirects, plain /metrics stays', async () => {
    const secure = await startLbServer({
      etcd: etcd.endpoints,
      listen: '127.0.0.1:0',
      metricsListen: '127.0.0.1:0',
      tlsCertFile: `${certs.dir}/lb.pem`,
      tlsKeyFile: `${certs.dir}/lb-key.pem`,
      logger,
    });
    cleanups.push(() => secure.close());
    await secure.synced();
    const url = secure.consoleUrl ?? '';
    expect(url).toBe(`https://${secure.metricsAddress}/ui/`);

    // Verified against the test CA: the same certificate as the gRPC port.
    const page = await get(url, {}, certs.ca.cert);
    expect(page.status).toBe(200);
    const plain = await get(`http://${secure.metricsAddress}/ui/`);
    expect(plain.status).toBe(308);
    expect(plain.headers.location).toBe(url);
    const metrics = await get(`http://${secure.metricsAddress}/metrics`);
    expect(metrics.status).toBe(200);
    expect(metrics.body).toContain('lookaside_');

    const tab = await newPage({ ignoreHTTPSErrors: true });
    await tab.goto(url);
    await tab.waitForSelector('tr[data-service="greeter"]');
    expect(tab.url()).toBe(url);
  }, 60_000);
});
