import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import pino from 'pino';
import type { ConsoleApiRequest } from '../../../../../lb-server/frontends/console/console-api';
import {
  CONSOLE_CSP,
  ConsoleAssetsError,
  ConsoleHttpHandler,
  isLoopbackAddress,
  type ConsoleHttpOptions,
} from '../../../../../lb-server/frontends/console/console-http-handler';
import { waitFor } from '../../../../support/wait-for';

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** A handler on a loopback HTTP server, with a fake API that records what it was asked. */
async function serve(options: Partial<ConsoleHttpOptions> = {}) {
  const asked: ConsoleApiRequest[] = [];
  const handler = new ConsoleHttpHandler({
    api: async (req) => {
      asked.push(req);
      return { status: 200, body: { ok: true } };
    },
    adminToken: undefined,
    tls: false,
    allowInsecureActions: false,
    logger: pino({ level: 'silent' }),
    ...options,
  });
  const server = http.createServer((req, res) => handler.handle(req, res, false));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const request = (
    method: string,
    path: string,
    { body, headers = {} }: { body?: string; headers?: Record<string, string> } = {},
  ): Promise<Answer> =>
    new Promise((resolve, reject) => {
      const req = http.request(`${base}${path}`, { method, headers, timeout: 5000 }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
      });
      req.on('error', reject);
      req.end(body);
    });
  /** An open event stream: what it received so far, and how to end it. */
  const stream = (headers: Record<string, string> = {}) =>
    new Promise<{ status: number; text: () => string; close: () => void; ended: () => boolean }>(
      (resolve, reject) => {
        const req = http.get(`${base}/ui/api/events/stream`, { headers }, (res) => {
          let text = '';
          let ended = false;
          res.setEncoding('utf8');
          res.on('data', (c: string) => (text += c));
          res.on('end', () => (ended = true));
          res.on('close', () => (ended = true));
          resolve({
            status: res.statusCode ?? 0,
            text: () => text,
            close: () => req.destroy(),
            ended: () => ended,
          });
        });
        req.on('error', (err) => (err.message === 'socket hang up' ? undefined : reject(err)));
      },
    );
  const close = async (): Promise<void> => {
    handler.close();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  return { handler, asked, request, stream, close };
}

describe('console HTTP handler', () => {
  let current: Awaited<ReturnType<typeof serve>> | undefined;
  afterEach(async () => {
    await current?.close();
    current = undefined;
  });

  it('serves the page, its script and stylesheet with a CSP allowing no inline script, and nosniff', async () => {
    const t = (current = await serve());
    const page = await t.request('GET', '/ui/');
    expect(page.status).toBe(200);
    expect(page.headers['content-type']).toMatch(/^text\/html/);
    expect(page.headers['content-security-policy']).toBe(CONSOLE_CSP);
    expect(CONSOLE_CSP).toContain("script-src 'self'");
    expect(page.headers['x-content-type-options']).toBe('nosniff');
    expect(page.body).toContain('<script src="console.js" defer></script>');
    expect((await t.request('GET', '/ui/console.js')).headers['content-type']).toMatch(/^text\/javascript/);
    expect((await t.request('GET', '/ui/console.css')).headers['content-type']).toMatch(/^text\/css/);
    const bare = await t.request('GET', '/ui');
    expect([bare.status, bare.headers.location]).toEqual([308, '/ui/']);
    expect((await t.request('GET', '/ui/nothing')).status).toBe(404);
    expect((await t.request('POST', '/ui/')).status).toBe(405);
  });

  it('hands API requests over with the path, query, JSON body, header, and who is asking', async () => {
    const t = (current = await serve());
    const r = await t.request('POST', '/ui/api/services/greeter/endpoints/a/drain?x=1', {
      body: JSON.stringify({ reason: 'why' }),
      headers: { authorization: 'Bearer t', 'content-type': 'application/json' },
    });
    expect(r.status).toBe(200);
    expect(r.headers['cache-control']).toBe('no-store');
    const [req] = t.asked;
    expect(req).toMatchObject({
      method: 'POST',
      path: '/services/greeter/endpoints/a/drain',
      body: { reason: 'why' },
      authorization: 'Bearer t',
      // Over plain HTTP, but to a loopback address.
      actionsAllowed: true,
    });
    expect(req.query.get('x')).toBe('1');
    expect(req.who).toMatch(/^console@(::ffff:)?127\.0\.0\.1$/);
  });

  it('a body that is not JSON is a 400 naming the body; a body over 16 KiB a 413', async () => {
    const t = (current = await serve());
    const json = { 'content-type': 'application/json' };
    const bad = await t.request('POST', '/ui/api/services/greeter/endpoints/a/drain', {
      body: '{nope',
      headers: json,
    });
    expect(bad.status).toBe(400);
    expect(JSON.parse(bad.body).field).toBe('body');
    const big = await t.request('POST', '/ui/api/services/greeter/endpoints/a/drain', {
      body: 'x'.repeat(17_000),
      headers: json,
    });
    expect(big.status).toBe(413);
    expect(t.asked).toEqual([]);
  });

  it('refuses what another site can send: text/plain actions, cross-site and foreign-origin requests, a rebound host name', async () => {
    const t = (current = await serve());
    const drain = '/ui/api/services/greeter/endpoints/a/drain';
    const body = JSON.stringify({ reason: 'x' });
    // A simple cross-site POST needs no preflight: text/plain.
    const plain = await t.request('POST', drain, { body, headers: { 'content-type': 'text/plain' } });
    expect(plain.status).toBe(415);
    const crossSite = await t.request('POST', drain, {
      body,
      headers: { 'content-type': 'application/json', 'sec-fetch-site': 'cross-site' },
    });
    expect(crossSite.status).toBe(403);
    const foreign = await t.request('POST', drain, {
      body,
      headers: { 'content-type': 'application/json', origin: 'https://evil.example' },
    });
    expect(foreign.status).toBe(403);
    // DNS rebinding: the attacker's name resolves to the console; without a token, refused.
    const rebound = await t.request('GET', '/ui/api/services', { headers: { host: 'evil.example:9100' } });
    expect(rebound.status).toBe(421);
    expect(
      (await t.request('GET', '/ui/api/events/stream', { headers: { host: 'evil.example' } })).status,
    ).toBe(421);
    expect(t.asked).toEqual([]);
    // The page's own requests: same origin, JSON.
    const own = await t.request('POST', drain, { body, headers: { 'content-type': 'application/json' } });
    expect(own.status).toBe(200);
    expect(t.asked).toHaveLength(1);
  });

  it('with an admin token, a DNS name as host is served (the token is what a foreign page lacks)', async () => {
    const t = (current = await serve({ adminToken: 'tok' }));
    const named = await t.request('GET', '/ui/api/services', {
      headers: { host: 'lb.internal:9100', authorization: 'Bearer tok' },
    });
    expect(named.status).toBe(200);
  });

  it('with TLS on, plain HTTP requests are redirected to HTTPS and reach nothing', async () => {
    const t = (current = await serve({ tls: true }));
    const r = await t.request('GET', '/ui/api/services', { headers: { host: 'lb.example:9100' } });
    expect(r.status).toBe(308);
    expect(r.headers.location).toBe('https://lb.example:9100/ui/api/services');
    expect(t.asked).toEqual([]);
  });

  it('the live stream needs the token, says "changed" once for many changes, and ends on close()', async () => {
    const t = (current = await serve({ adminToken: 'tok', pushIntervalMs: 100 }));
    const refused = await t.request('GET', '/ui/api/events/stream');
    expect(refused.status).toBe(401);
    const s = await t.stream({ authorization: 'Bearer tok' });
    expect(s.status).toBe(200);
    await waitFor('the first event', () => s.text().includes('event: change'));
    for (let i = 0; i < 100; i++) t.handler.changed();
    // Coalesced: the next push carries the 100th change, not the first.
    await waitFor('the coalesced push', () => s.text().includes('"change":100'));
    expect(s.text()).not.toContain('"change":1}');
    t.handler.close();
    await waitFor('the stream ended', () => s.ended());
  });

  it('refuses more than maxStreams live streams with 503, and frees a slot when one closes', async () => {
    const t = (current = await serve({ maxStreams: 2 }));
    const a = await t.stream();
    const b = await t.stream();
    expect([a.status, b.status]).toEqual([200, 200]);
    expect((await t.request('GET', '/ui/api/events/stream')).status).toBe(503);
    a.close();
    await waitFor('a slot freed', () => t.handler.streamCount === 1);
    const c = await t.stream();
    expect(c.status).toBe(200);
    b.close();
    c.close();
  });

  it('a missing asset directory is a ConsoleAssetsError naming the file', () => {
    expect(
      () =>
        new ConsoleHttpHandler({
          api: async () => ({ status: 200, body: {} }),
          adminToken: undefined,
          tls: false,
          allowInsecureActions: false,
          logger: pino({ level: 'silent' }),
          assetsDir: '/nonexistent/console-assets',
        }),
    ).toThrow(ConsoleAssetsError);
  });
});

describe('isLoopbackAddress', () => {
  it.each([
    ['127.0.0.1', true],
    ['127.10.0.3', true],
    ['::1', true],
    ['::ffff:127.0.0.1', true],
    ['10.0.0.1', false],
    ['::ffff:10.0.0.1', false],
    ['fe80::1', false],
    ['0.0.0.0', false],
    [undefined, false],
  ])('%s → %s', (address, loopback) => {
    expect(isLoopbackAddress(address)).toBe(loopback);
  });
});
