// lookaside web console: one hand-written script, no build step, no network but this LB server.
// Everything shown comes from registrars and clients: the DOM is built with textContent and
// createElement only, never innerHTML. The admin token stays in sessionStorage and travels in
// the Authorization header of every request, the live stream included (read with fetch).
'use strict';

(function () {
  const TOKEN_KEY = 'lookaside.console.token';
  /** Polling period when the live stream is unavailable (503: too many consoles, or an error). */
  const POLL_MS = 5000;
  /** The fewest milliseconds between two refreshes of the page. */
  const MIN_REFRESH_MS = 1000;
  /** The events page keeps at most this many rows. */
  const MAX_EVENT_ROWS = 2000;

  const main = document.getElementById('main');
  const nav = document.getElementById('nav');
  const login = document.getElementById('login');
  const notice = document.getElementById('notice');
  const live = document.getElementById('live');

  let token = sessionStorage.getItem(TOKEN_KEY) || '';
  let session = { tokenRequired: false, actions: 'unavailable' };
  let started = false;
  let refreshTimer = undefined;
  /** A redraw is running (its fetches in flight); another asked for meanwhile waits for it. */
  let refreshing = false;
  let refreshAgain = false;
  let lastRefresh = 0;
  let streamAbort = undefined;
  let pollTimer = undefined;
  /** What the current page redraws on a live change; replaced on navigation. */
  let current = { route: '', refresh: () => Promise.resolve() };

  class Unauthorized extends Error {}

  /** A DOM element with attributes and children (strings become text nodes). */
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k === 'onclick') node.addEventListener('click', v);
      else node.setAttribute(k, String(v));
    }
    for (const c of children.flat(Infinity)) {
      if (c === undefined || c === null) continue;
      node.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return node;
  }

  function svg(tag, attrs, text) {
    const node = document.createElementNS('http://www.w3.org/2000/svg', tag);
    for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function headers(extra) {
    const h = Object.assign({}, extra || {});
    if (token) h.Authorization = 'Bearer ' + token;
    return h;
  }

  /** GET or POST a console API path; rejects with Unauthorized on 401, Error otherwise. */
  async function api(path, options) {
    const init = Object.assign({ cache: 'no-store' }, options || {});
    init.headers = headers(init.body !== undefined ? { 'content-type': 'application/json' } : {});
    const res = await fetch('api' + path, init);
    const body = await res.json().catch(() => ({}));
    if (res.status === 401) {
      showLogin(body.error || 'the admin token is needed');
      throw new Unauthorized(body.error || 'unauthorized');
    }
    if (!res.ok) throw new Error(body.error || 'HTTP ' + res.status);
    return body;
  }

  function showLogin(message) {
    stopLive();
    started = false;
    main.replaceChildren();
    nav.hidden = true;
    login.hidden = false;
    document.getElementById('login-error').textContent = token ? message : '';
    document.getElementById('token').focus();
  }

  login.addEventListener('submit', (ev) => {
    ev.preventDefault();
    token = document.getElementById('token').value.trim();
    sessionStorage.setItem(TOKEN_KEY, token);
    void boot();
  });

  function fmt(n, digits) {
    if (typeof n !== 'number' || !isFinite(n)) return '—';
    return n.toFixed(digits === undefined ? 0 : digits);
  }
  function pct(x) {
    return typeof x === 'number' && isFinite(x) ? (x * 100).toFixed(1) + '%' : '—';
  }
  function time(ms) {
    return ms ? new Date(ms).toLocaleTimeString() : '—';
  }
  function tag(text, kind) {
    return el('span', { class: 'tag' + (kind ? ' ' + kind : '') }, text);
  }
  /** An operator override as text: what it does, who set it and why, until when. */
  function overrideText(o) {
    if (!o) return '—';
    const what = [
      o.draining ? 'drained' : '',
      o.weight !== undefined && o.weight !== null ? 'weight ' + o.weight : '',
    ]
      .filter(Boolean)
      .join(', ');
    const until =
      Number(o.expiresAtMs) > 0 ? ' until ' + new Date(Number(o.expiresAtMs)).toLocaleString() : '';
    return what + ' by ' + o.who + (o.reason ? ': ' + o.reason : '') + until;
  }

  function healthTag(h) {
    if (!h) return tag('not checked');
    return tag(h, h === 'serving' ? 'ok' : h === 'unknown' ? '' : 'bad');
  }
  function table(columns, rows) {
    return el(
      'table',
      {},
      el(
        'thead',
        {},
        el(
          'tr',
          {},
          columns.map((c) => el('th', { class: c.num ? 'num' : undefined }, c.title)),
        ),
      ),
      el('tbody', {}, rows),
    );
  }
  function td(content, cls) {
    return el('td', { class: cls }, content);
  }

  // ---- pages ---------------------------------------------------------------------------------

  async function servicesPage(region) {
    const data = await api('/services');
    const summary = el(
      'p',
      { class: 'summary' },
      data.synced ? 'etcd synced' : 'initial etcd read not done yet',
      ' · ',
      data.etcdConnected ? 'etcd connected' : 'etcd disconnected',
      ' · ',
      data.selfPreservationActive ? 'self-preservation holding removals' : 'no removals held',
      ' · rejected records: ' + data.rejectedRecords,
    );
    const rows = data.services.map((s) =>
      el(
        'tr',
        { 'data-service': s.name },
        td(el('a', { href: '#/services/' + encodeURIComponent(s.name) }, s.name)),
        td(fmt(s.endpoints), 'num'),
        td(fmt(s.servingEndpoints), 'num'),
        td(fmt(s.drainingEndpoints), 'num'),
        td(fmt(s.unhealthyEndpoints), 'num'),
        td(fmt(s.ejectedEndpoints), 'num'),
        td(fmt(s.heldEndpoints), 'num'),
        td(fmt(s.clients), 'num'),
        td(fmt(s.rejectedRecords), 'num'),
        td(s.panic ? tag('panic', 'bad') : ''),
      ),
    );
    const cols = [
      'Service',
      'Endpoints',
      'Serving',
      'Draining',
      'Unhealthy',
      'Ejected',
      'Held',
      'Clients',
      'Rejected',
      '',
    ];
    region.replaceChildren(
      el('h2', {}, 'Services'),
      summary,
      rows.length
        ? table(
            cols.map((t, i) => ({ title: t, num: i > 0 && i < 9 })),
            rows,
          )
        : el('p', {}, 'No services yet: register one, or point a client at one.'),
    );
  }

  /** The traffic shares of new calls, one bar per endpoint. */
  function shareChart(endpoints) {
    const rowH = 22;
    const labelW = 260;
    const barW = 420;
    const chart = svg('svg', {
      width: labelW + barW + 70,
      height: Math.max(1, endpoints.length) * rowH + 4,
      role: 'img',
      'aria-label': 'traffic share of new calls per endpoint',
    });
    endpoints.forEach((e, i) => {
      const y = i * rowH + 2;
      const label = e.instanceId + ' (' + e.address + ')';
      chart.append(svg('text', { x: 0, y: y + 15 }, label.length > 42 ? label.slice(0, 41) + '…' : label));
      chart.append(
        svg('rect', {
          class: 'bar',
          x: labelW,
          y: y + 3,
          height: rowH - 8,
          width: Math.max(0, e.share * barW),
        }),
      );
      chart.append(svg('text', { x: labelW + e.share * barW + 6, y: y + 15 }, pct(e.share)));
    });
    return el('div', { class: 'chart' }, chart);
  }

  function servicePage(name) {
    // The action panel is built once per visit, so live redraws keep what the operator typed.
    const reason = el('input', { id: 'action-reason', placeholder: 'why (required)', size: 30 });
    const forMinutes = el('input', {
      id: 'action-for',
      type: 'number',
      min: 1,
      placeholder: 'until cleared',
      size: 8,
    });
    const weight = el('input', {
      id: 'action-weight',
      type: 'number',
      min: 0,
      max: 10000,
      placeholder: '100',
      size: 6,
    });
    const result = el('span', { id: 'action-result' });
    const panel = el(
      'div',
      { class: 'actions-panel' },
      el('label', {}, 'Reason', reason),
      el('label', {}, 'For (minutes)', forMinutes),
      el('label', {}, 'Weight', weight),
      result,
    );
    const body = el('div', {});
    const container = el(
      'div',
      {},
      el('h2', {}, 'Service ', el('span', { class: 'mono' }, name)),
      panel,
      body,
    );

    async function act(instanceId, action) {
      const payload = {};
      if (action !== 'undrain') {
        payload.reason = reason.value;
        if (forMinutes.value !== '') payload.forMs = Math.round(Number(forMinutes.value) * 60_000);
      }
      if (action === 'weight') payload.weight = weight.value === '' ? NaN : Number(weight.value);
      result.className = '';
      result.textContent = action + ' ' + instanceId + '…';
      try {
        await api(
          '/services/' +
            encodeURIComponent(name) +
            '/endpoints/' +
            encodeURIComponent(instanceId) +
            '/' +
            action,
          { method: 'POST', body: JSON.stringify(payload) },
        );
        result.textContent = action + ' ' + instanceId + ': done';
        scheduleRefresh(0);
      } catch (err) {
        result.className = 'error';
        result.textContent = action + ' ' + instanceId + ': ' + err.message;
      }
    }

    async function refresh() {
      const s = await api('/services/' + encodeURIComponent(name));
      const canAct = session.actions === 'allowed';
      const rows = s.endpoints.map((e) =>
        el(
          'tr',
          { 'data-instance': e.instanceId },
          td(
            [
              el('div', { class: 'instance-id' }, e.instanceId),
              Object.entries(e.metadata || {}).map(([k, v]) =>
                el('div', { class: 'tag metadata' }, k + '=' + v),
              ),
            ],
            'mono instance',
          ),
          td(e.address, 'mono'),
          td(e.zone || '—', 'zone'),
          td(fmt(e.weight), 'num registered-weight'),
          td(fmt(e.effectiveWeight), 'num effective-weight'),
          td(
            e.reasons.length
              ? e.reasons.map((r) => tag(r, r === 'load' || r === 'held' ? 'warn' : 'bad'))
              : tag('as registered', 'ok'),
            'reasons',
          ),
          td(overrideText(e.override), 'override'),
          td(healthTag(e.health), 'health'),
          td(e.loadSource ? fmt(e.loadFactor, 2) + ' (' + e.loadSource + ')' : '—', 'num'),
          td(fmt(e.callsPerSecond, 1), 'num'),
          td(pct(e.failureRate), 'num'),
          td(pct(e.share), 'num share'),
          td(e.assignedClients ? fmt(e.assignedClients) : '—', 'num assigned-clients'),
          td(
            canAct
              ? [
                  el(
                    'button',
                    { onclick: () => act(e.instanceId, 'drain'), 'data-action': 'drain' },
                    'Drain',
                  ),
                  el(
                    'button',
                    { onclick: () => act(e.instanceId, 'undrain'), 'data-action': 'undrain' },
                    'Undrain',
                  ),
                  el(
                    'button',
                    { onclick: () => act(e.instanceId, 'weight'), 'data-action': 'weight' },
                    'Set weight',
                  ),
                ]
              : '',
          ),
        ),
      );
      const cols = [
        'Instance',
        'Address',
        'Zone',
        'Registered',
        'Effective',
        'Why',
        'Override',
        'Health',
        'Load factor',
        'Calls/s',
        'Failures',
        'Share',
        'Clients (subsets)',
        '',
      ];
      const numeric = new Set([3, 4, 8, 9, 10, 11, 12]);
      body.replaceChildren(
        el(
          'p',
          { class: 'summary' },
          'version ' +
            s.version +
            ' · assignment ' +
            s.assignmentVersion +
            ' · ' +
            s.clients +
            ' clients · held ' +
            s.heldEndpoints,
          s.panic ? [' · ', tag('panic: health verdicts ignored', 'bad')] : '',
        ),
        rows.length
          ? table(
              cols.map((t, i) => ({ title: t, num: numeric.has(i) })),
              rows,
            )
          : el('p', {}, 'No endpoints.'),
        el('h2', {}, 'Traffic shares of new calls'),
        shareChart(s.endpoints),
        el('h2', {}, 'Assigned clients'),
        s.assignedClients.length
          ? table(
              [
                { title: 'Client' },
                { title: 'Zone' },
                { title: 'Protocol' },
                { title: 'Version sent', num: true },
              ],
              s.assignedClients.map((c) =>
                el(
                  'tr',
                  {},
                  td(c.clientId, 'mono'),
                  td(c.zone || '—'),
                  td(c.protocol),
                  td(fmt(c.assignedVersion), 'num'),
                ),
              ),
            )
          : el('p', {}, 'No clients connected to this replica.'),
        (s.danglingOverrides || []).length
          ? [
              el('h2', {}, 'Overrides of instances not registered (they apply when it registers)'),
              table(
                [{ title: 'Instance' }, { title: 'Override' }, { title: '' }],
                s.danglingOverrides.map((o) =>
                  el(
                    'tr',
                    { 'data-dangling': o.instanceId },
                    td(o.instanceId, 'mono'),
                    td(overrideText(o)),
                    td(
                      canAct
                        ? el(
                            'button',
                            { onclick: () => act(o.instanceId, 'undrain'), 'data-action': 'undrain' },
                            'Clear',
                          )
                        : '',
                    ),
                  ),
                ),
              ),
            ]
          : '',
        s.rejected.length
          ? [
              el('h2', {}, 'Rejected records'),
              table(
                [{ title: 'Key' }, { title: 'Reason' }],
                s.rejected.map((r) => el('tr', {}, td(r.key, 'mono'), td(r.reason))),
              ),
            ]
          : '',
      );
      if (!canAct) {
        result.textContent =
          session.actions === 'insecure'
            ? 'Actions are refused over plain HTTP to this address (see --console-allow-insecure-actions).'
            : 'Actions are not available on this LB server (no overrides store).';
      }
    }
    return { container, refresh };
  }

  async function clientsPage(region) {
    const data = await api('/clients');
    const rows = data.clients.map((c) =>
      el(
        'tr',
        { 'data-client': c.clientId },
        td(c.clientId, 'mono'),
        td(el('a', { href: '#/services/' + encodeURIComponent(c.service) }, c.service)),
        td(c.zone || '—'),
        td(c.replica, 'mono'),
        td(c.protocol),
        td(c.peer, 'mono'),
        td(time(c.connectedAtMs)),
        td(fmt(c.assignedVersion), 'num'),
        td(c.sent.map((s) => el('div', { class: 'mono' }, s.address + ' w' + s.weight))),
      ),
    );
    region.replaceChildren(
      el('h2', {}, 'Clients'),
      el('p', { class: 'summary' }, rows.length + ' connected to this replica (' + data.replica + ')'),
      rows.length
        ? table(
            ['Client', 'Service', 'Zone', 'Replica', 'Protocol', 'Peer', 'Connected', 'Version', 'Sent'].map(
              (t) => ({
                title: t,
                num: t === 'Version',
              }),
            ),
            rows,
          )
        : el('p', {}, 'No clients connected.'),
    );
  }

  function eventsPage() {
    let since = 0;
    const tbody = el('tbody', {});
    const summary = el('p', { class: 'summary' });
    const container = el(
      'div',
      {},
      el('h2', {}, 'Events'),
      summary,
      el(
        'table',
        {},
        el(
          'thead',
          {},
          el(
            'tr',
            {},
            ['Time', 'Event', 'Service', 'What'].map((t) => el('th', {}, t)),
          ),
        ),
        tbody,
      ),
    );
    async function refresh() {
      const page = await api('/events?since=' + since);
      for (const e of page.events) {
        tbody.prepend(
          el(
            'tr',
            { 'data-kind': e.kind },
            td(time(e.atMs)),
            td(tag(e.kind, /ejected|panic|hold|left|unhealthy/.test(e.kind) ? 'warn' : '')),
            td(e.service || '—'),
            td(e.message),
          ),
        );
      }
      while (tbody.childElementCount > MAX_EVENT_ROWS) tbody.lastElementChild.remove();
      since = page.latestSeq;
      summary.textContent =
        'The last ' +
        Math.round(page.maxAgeMs / 60000) +
        ' minutes, newest first' +
        (page.truncated ? ' (older ones dropped)' : '');
    }
    return { container, refresh };
  }

  // ---- routing and live updates ---------------------------------------------------------------

  function route() {
    const hash = location.hash || '#/services';
    const m = /^#\/services\/(.+)$/.exec(hash);
    for (const a of nav.querySelectorAll('a')) {
      a.classList.toggle('current', hash.startsWith('#/' + a.getAttribute('data-page')));
    }
    let page;
    if (m) {
      let name = m[1];
      try {
        name = decodeURIComponent(m[1]);
      } catch {
        // A malformed escape (#/services/%zz): shown as typed; the API answers it as unknown.
      }
      page = servicePage(name);
    } else if (hash === '#/events') {
      page = eventsPage();
    } else {
      const region = el('div', {});
      const render = hash === '#/clients' ? clientsPage : servicesPage;
      page = { container: region, refresh: () => render(region) };
    }
    main.replaceChildren(page.container);
    current = { route: hash, refresh: page.refresh };
    scheduleRefresh(0);
  }

  /** Redraws the current page soon, at most once per MIN_REFRESH_MS, one redraw at a time. */
  function scheduleRefresh(delayMs) {
    if (refreshTimer !== undefined) return;
    if (refreshing) {
      refreshAgain = true;
      return;
    }
    const wait = Math.max(delayMs, lastRefresh + MIN_REFRESH_MS - Date.now(), 0);
    refreshTimer = setTimeout(async () => {
      refreshTimer = undefined;
      lastRefresh = Date.now();
      const page = current;
      refreshing = true;
      try {
        await page.refresh();
        notice.hidden = true;
      } catch (err) {
        if (err instanceof Unauthorized) return;
        notice.hidden = false;
        notice.textContent = 'Could not load: ' + err.message;
      } finally {
        refreshing = false;
        if (refreshAgain) {
          refreshAgain = false;
          scheduleRefresh(0);
        }
      }
    }, wait);
  }

  function stopLive() {
    if (streamAbort) streamAbort.abort();
    streamAbort = undefined;
    if (pollTimer) clearInterval(pollTimer);
    pollTimer = undefined;
    live.classList.remove('on');
    live.textContent = '';
  }

  function poll() {
    if (pollTimer) return;
    live.textContent = 'polling every ' + POLL_MS / 1000 + ' s';
    pollTimer = setInterval(() => scheduleRefresh(0), POLL_MS);
  }

  /** Reads the server-sent events stream with fetch (so the token goes in a header). */
  async function stream() {
    const abort = new AbortController();
    streamAbort = abort;
    try {
      const res = await fetch('api/events/stream', {
        headers: headers(),
        signal: abort.signal,
        cache: 'no-store',
      });
      if (res.status === 401) return showLogin('the admin token does not match');
      if (!res.ok || !res.body) throw new Error('HTTP ' + res.status);
      live.classList.add('on');
      live.textContent = 'live';
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value;
        let end;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const message = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          if (/^event: change$/m.test(message)) scheduleRefresh(0);
        }
        if (buffer.length > 65536) buffer = '';
      }
      throw new Error('stream ended');
    } catch {
      if (abort.signal.aborted) return;
      live.classList.remove('on');
      poll();
      // Try the stream again later; the polling covers the gap.
      setTimeout(() => {
        if (streamAbort === abort && started) {
          if (pollTimer) clearInterval(pollTimer);
          pollTimer = undefined;
          void stream();
        }
      }, 30_000);
    }
  }

  async function boot() {
    try {
      const res = await fetch('api/session', { headers: headers(), cache: 'no-store' });
      session = await res.json();
    } catch (err) {
      notice.hidden = false;
      notice.textContent = 'The LB server does not answer: ' + err.message;
      return;
    }
    if (session.tokenRequired && !session.authenticated) {
      showLogin('the admin token does not match');
      return;
    }
    login.hidden = true;
    nav.hidden = false;
    if (!started) {
      started = true;
      route();
      void stream();
    }
  }

  window.addEventListener('hashchange', () => {
    if (started) route();
  });
  void boot();
})();
