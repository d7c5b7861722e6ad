// The siphon dashboard: polls the control API every second and renders it.
//
// Every value comes from the token-protected endpoints GET /v1/status, /v1/history and
// /v1/events (see crates/siphon-runtime/src/dashboard.rs). The token comes from the URL fragment
// (#token=..., never sent to the server) or the form, lives in sessionStorage only, and is sent
// as `Authorization: Bearer`. Values are rendered as text (textContent), never as markup.
'use strict';

(() => {
  const TOKEN_KEY = 'siphon.token';
  const REFRESH_MS = 1000;
  const STALE_MS = 5000;
  const RATE_WINDOW = 3;
  const MIN_WINDOW_MS = 60 * 1000;
  const MAX_WINDOW_MS = 15 * 60 * 1000;
  const SVG_NS = 'http://www.w3.org/2000/svg';

  const STATE_DETAIL = {
    streaming: 'replicating changes',
    snapshotting: 'copying tables',
    paused: 'slot released · siphon resume continues',
    reconnecting: 'source unavailable · retrying',
    failed: 'stopped on an error',
    starting: 'connecting to the source',
    stopped: 'the daemon stopped',
  };
  const EVENT_KIND = {
    'alert.fired': 'bad', 'gap.detected': 'bad', 'replication.error': 'bad', 'verify.mismatch': 'bad',
    'ddl.seen': 'warn', 'pipeline.paused': 'warn',
    'alert.resolved': 'good', 'gap.repaired': 'good', 'pipeline.resumed': 'good', 'pipeline.started': 'good',
    'upgrade.anchored': 'good',
  };

  const $ = (id) => document.getElementById(id);

  class Unauthorized extends Error {}

  let token = null;
  let timer = null;
  let pid = null;
  let samples = [];          // the daemon's history, oldest first
  let lastOk = 0;            // Date.now() of the last complete refresh
  let clockOffset = 0;       // daemon clock minus browser clock (ms)
  let lastStatus = null;

  // --- token -------------------------------------------------------------------------------

  /** The token from the URL fragment (then removed from the address bar) or sessionStorage. */
  function takeToken() {
    const fromUrl = new URLSearchParams(location.hash.slice(1)).get('token');
    if (fromUrl) {
      sessionStorage.setItem(TOKEN_KEY, fromUrl);
      history.replaceState(null, '', location.pathname + location.search);
    }
    return sessionStorage.getItem(TOKEN_KEY);
  }

  function showLogin(message) {
    clearTimeout(timer);
    token = null;
    sessionStorage.removeItem(TOKEN_KEY);
    $('board').hidden = true;
    $('login').hidden = false;
    $('login-error').hidden = !message;
    $('login-error').textContent = message || '';
    $('freshness').textContent = 'no token';
    $('token-input').focus();
  }

  function start() {
    $('login').hidden = true;
    $('board').hidden = false;
    refresh();
  }

  $('login').addEventListener('submit', (e) => {
    e.preventDefault();
    const value = $('token-input').value.trim();
    if (!value) return;
    sessionStorage.setItem(TOKEN_KEY, value);
    $('token-input').value = '';
    token = value;
    start();
  });

  // --- polling -----------------------------------------------------------------------------

  async function api(path) {
    const r = await fetch(path, { headers: { Authorization: `Bearer ${token}` }, cache: 'no-store' });
    if (r.status === 401) throw new Unauthorized();
    if (!r.ok) {
      let message = `${r.status} ${r.statusText}`;
      try {
        const body = await r.json();
        message = body.error + (body.detail ? `: ${body.detail}` : '');
      } catch (_) { /* not JSON: keep the status line */ }
      throw new Error(`${path}: ${message}`);
    }
    return r.json();
  }

  async function refresh() {
    let problem = null;
    try {
      const status = await api('/v1/status');
      if (status.pid !== pid) { // a new daemon: its history starts over
        pid = status.pid;
        samples = [];
      }
      const since = samples.length ? samples[samples.length - 1].at_unix_ms : 0;
      const [hist, ev] = await Promise.all([api(`/v1/history?since=${since}`), api('/v1/events?limit=50')]);
      samples = samples.concat(hist.samples);
      const cutoff = samples.length ? samples[samples.length - 1].at_unix_ms - MAX_WINDOW_MS : 0;
      samples = samples.filter((s) => s.at_unix_ms >= cutoff);
      if (samples.length) clockOffset = samples[samples.length - 1].at_unix_ms - Date.now();
      lastOk = Date.now();
      lastStatus = status;
      render(status, ev.events);
    } catch (e) {
      if (e instanceof Unauthorized) {
        showLogin('The daemon refused this token.');
        return;
      }
      problem = e.message;
    }
    renderFreshness(problem);
    timer = setTimeout(refresh, REFRESH_MS);
  }

  // --- formatting --------------------------------------------------------------------------

  const fmt = (n) => (n == null ? '–' : Number(n).toLocaleString('en-US'));

  function humanBytes(n) {
    if (n == null) return '–';
    const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
    let v = Number(n);
    let i = 0;
    while (Math.abs(v) >= 1024 && i < units.length - 1) { v /= 1024; i += 1; }
    return i === 0 ? `${v} B` : `${v.toFixed(1)} ${units[i]}`;
  }

  function duration(seconds) {
    const s = Math.max(0, Math.round(seconds));
    if (s < 60) return `${s} s`;
    if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
    return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
  }

  /** `45 s`, `2 min`, `7.5 min`: for axis labels. */
  function shortDuration(seconds) {
    if (seconds < 60) return `${Math.round(seconds)} s`;
    const min = seconds / 60;
    return `${Number.isInteger(min) ? min : min.toFixed(1)} min`;
  }

  const serverNow = () => Date.now() + clockOffset;
  const ago = (unixMs) => (unixMs == null ? 'never' : `${duration((serverNow() - unixMs) / 1000)} ago`);
  const clock = (unixMs) => new Date(unixMs).toLocaleTimeString('en-GB');

  function el(tag, attrs, text) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
    if (text != null) e.textContent = text;
    return e;
  }

  // --- rendering ---------------------------------------------------------------------------

  function render(status, events) {
    const state = status.state || 'unknown';
    $('pipeline').textContent = status.pipeline || '';
    document.title = `${state} · ${status.pipeline} · siphon`;

    const badge = $('state');
    badge.className = `state state-${state}`;
    $('state-text').textContent = state;
    $('state-detail').textContent = snapshotSummary(status.tables) || STATE_DETAIL[state] || '';

    const live = state === 'streaming' || state === 'snapshotting';
    for (const id of ['lag-seconds', 'lag-bytes']) $(id).closest('.figure').classList.toggle('not-live', !live);
    $('lag-seconds').textContent = status.lag_seconds == null ? '–' : `${status.lag_seconds.toFixed(1)} s`;
    $('lag-note').textContent = live ? 'source commit to replica' : `at the last commit (${state})`;
    $('lag-bytes').textContent = humanBytes(status.lag_bytes);
    $('checkpoint').textContent = status.checkpoint || status.checkpoint_lsn || '–';
    $('commits').textContent = `${fmt(status.commits)} commits`;
    $('rate').textContent = `${fmt(Math.round(currentRate()))}/s`;
    $('changes').textContent = `${fmt(status.changes_applied)} changes streamed · ${fmt(status.snapshot_rows)} rows snapshotted`;

    renderError(status);
    renderSlot(status);
    renderTables(status.tables || {});
    renderEvents(events || []);
    renderCharts();
  }

  /** "snapshot 45% · 2 min left" over the tables whose snapshot is under way. */
  function snapshotSummary(tables) {
    const running = Object.values(tables || {}).map((t) => t.snapshot).filter((s) => s && s.state !== 'done');
    if (!running.length) return '';
    const copied = running.reduce((a, s) => a + (s.rows_copied || 0), 0);
    const estimate = running.every((s) => s.rows_estimate) ? running.reduce((a, s) => a + s.rows_estimate, 0) : null;
    const eta = Math.max(...running.map((s) => s.eta_s || 0));
    const parts = [estimate ? `snapshot ${Math.min(100, Math.floor((100 * copied) / estimate))}%` : `snapshot ${fmt(copied)} rows`];
    if (eta > 0) parts.push(`${duration(eta)} left`);
    return `${parts.join(' · ')} (${running.length} table${running.length === 1 ? '' : 's'})`;
  }

  function renderError(status) {
    const panel = $('error-panel');
    panel.hidden = !status.last_error;
    if (!status.last_error) return;
    const current = status.state === 'failed' || status.state === 'reconnecting';
    panel.classList.toggle('error-panel', current);
    panel.querySelector('h2').textContent = current ? 'Error' : `Last error (since recovered: ${status.state})`;
    $('last-error').textContent = status.last_error;
  }

  function renderSlot(status) {
    const walStatus = status.slot_wal_status;
    const ws = $('slot-wal-status');
    ws.textContent = walStatus || 'unknown';
    ws.className = { reserved: 'ok', extended: 'warn', unreserved: 'bad', lost: 'bad' }[walStatus] || 'warn';
    $('slot-retained').textContent = humanBytes(status.slot_retained_wal_bytes);
    $('slot-safe').textContent = status.slot_safe_wal_size_bytes == null ? 'unlimited' : humanBytes(status.slot_safe_wal_size_bytes);
    const active = $('slot-active');
    active.textContent = status.slot_active ? 'yes' : 'no';
    active.className = status.slot_active || status.state === 'paused' ? '' : 'warn';
  }

  function renderTables(tables) {
    const names = Object.keys(tables).sort();
    const tbody = $('tables').querySelector('tbody');
    const withSnapshot = names.some((n) => tables[n].snapshot);
    $('tables').classList.toggle('with-snapshot', withSnapshot);
    $('tables-empty').hidden = names.length > 0;
    tbody.replaceChildren(...names.map((name) => {
      const t = tables[name];
      const tr = el('tr', { 'data-table': name });
      tr.append(el('td', { class: 'name' }, name));
      for (const col of ['inserts', 'updates', 'deletes', 'truncates']) {
        tr.append(el('td', { class: 'num', 'data-col': col }, fmt(t[col])));
      }
      const last = el('td', { 'data-col': 'last_change' }, ago(t.last_change_unix_ms));
      if (t.last_change_unix_ms) last.title = new Date(t.last_change_unix_ms).toISOString();
      tr.append(last);
      const snap = el('td', { class: 'snapshot-col', 'data-col': 'snapshot' });
      if (t.snapshot) renderSnapshot(snap, t.snapshot);
      tr.append(snap);
      return tr;
    }));
  }

  function renderSnapshot(td, s) {
    const pct = s.rows_estimate ? Math.min(100, (100 * s.rows_copied) / s.rows_estimate) : (s.state === 'done' ? 100 : null);
    if (pct != null) {
      const bar = el('div', { class: `progress${s.state === 'done' ? ' done' : ''}`, role: 'progressbar', 'aria-valuenow': String(Math.floor(pct)) });
      const fill = el('div');
      fill.style.width = `${pct}%`;
      bar.append(fill);
      td.append(bar);
    }
    const parts = [s.state + (pct != null ? ` ${Math.floor(pct)}%` : '')];
    parts.push(`${fmt(s.rows_copied)}${s.rows_estimate ? ` / ${fmt(s.rows_estimate)}` : ''} rows`);
    if (s.chunks_total) parts.push(`chunk ${fmt(s.chunks_done)}/${fmt(s.chunks_total)}`);
    if (s.rows_per_s != null && s.state !== 'done') parts.push(`${fmt(Math.round(s.rows_per_s))} rows/s`);
    if (s.eta_s != null && s.state !== 'done') parts.push(`${duration(s.eta_s)} left`);
    td.append(el('span', { class: 'snapshot-text' }, parts.join(' · ')));
  }

  function renderEvents(events) {
    $('events-empty').hidden = events.length > 0;
    $('events').replaceChildren(...events.map((e) => {
      const li = el('li', { class: `kind-${EVENT_KIND[e.event] || 'info'}` });
      const at = el('time', {}, e.at_unix_ms ? clock(e.at_unix_ms) : '');
      if (e.at_unix_ms) at.title = `${new Date(e.at_unix_ms).toISOString()} (${ago(e.at_unix_ms)})`;
      const fields = Object.entries(e)
        .filter(([k]) => !['event', 'at_unix_ms', 'pipeline'].includes(k))
        .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
        .join('  ');
      li.append(at, el('span', { class: 'name' }, e.event || '?'), el('span', { class: 'fields' }, fields));
      return li;
    }));
  }

  function renderFreshness(problem) {
    const stale = !lastOk || Date.now() - lastOk > STALE_MS;
    $('freshness').textContent = !lastOk ? 'connecting…'
      : stale ? `last update ${clock(lastOk)}` : `updated ${clock(lastOk)} · every ${REFRESH_MS / 1000} s`;
    const banner = $('stale');
    banner.hidden = !(problem && stale);
    if (problem && stale) {
      banner.textContent = lastOk
        ? `Cannot reach the daemon since ${clock(lastOk)} (${problem}). The figures below are from then.`
        : `Cannot reach the daemon (${problem}).`;
    }
    $('state').classList.toggle('stale', Boolean(problem && stale && lastStatus));
    $('board').classList.toggle('stale', Boolean(problem && stale && lastStatus));
  }

  // --- charts ------------------------------------------------------------------------------

  /** Changes applied per second at each sample, averaged over the RATE_WINDOW samples before it
   *  (flushes are bursty: a per-second rate would jump between 0 and twice the mean). */
  function rates() {
    return samples.map((s, i) => {
      const p = samples[Math.max(0, i - RATE_WINDOW)];
      const dt = (s.at_unix_ms - p.at_unix_ms) / 1000;
      return dt > 0 ? Math.max(0, (s.changes_applied - p.changes_applied) / dt) : 0;
    });
  }

  function currentRate() {
    const r = rates();
    return r.length ? r[r.length - 1] : 0;
  }

  function renderCharts() {
    drawChart($('chart-lag'), samples.map((s) => s.lag_seconds), { min: 1, format: (v) => `${v.toFixed(v < 10 ? 1 : 0)} s` });
    drawChart($('chart-rate'), rates(), { min: 10, format: (v) => `${fmt(Math.round(v))}/s` });
    drawChart($('chart-wal'), samples.map((s) => s.retained_wal_bytes), { min: 1024 * 1024, format: humanBytes, binary: true });
    const shown = new Set(samples.map((s) => s.state));
    const legend = $('legend');
    legend.replaceChildren();
    for (const state of ['starting', 'snapshotting', 'paused', 'reconnecting', 'failed', 'stopped']) {
      if (!shown.has(state)) continue;
      legend.append(el('span', { class: state }), document.createTextNode(state));
    }
  }

  function svg(tag, attrs) {
    const e = document.createElementNS(SVG_NS, tag);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
    return e;
  }

  /** Rounds up to 1, 2 or 5 times a power of ten, in units of `unit` (1024 ** k for bytes). */
  function niceCeil(v, binary) {
    const unit = binary ? 1024 ** Math.max(0, Math.floor(Math.log(v) / Math.log(1024))) : 1;
    const p = 10 ** Math.floor(Math.log10(v / unit));
    return unit * [1, 2, 5, 10].map((m) => m * p).find((c) => c >= v / unit);
  }

  /** A line chart of `values` (one per sample) over the history's window, with bands where the
   *  pipeline was not streaming. */
  function drawChart(figure, values, { min, format, binary = false }) {
    const root = figure.querySelector('svg');
    const width = root.clientWidth || 400;
    const height = root.clientHeight || 150;
    const pad = { left: 62, right: 8, top: 8, bottom: 20 };
    const w = width - pad.left - pad.right;
    const h = height - pad.top - pad.bottom;
    root.setAttribute('viewBox', `0 0 ${width} ${height}`);
    root.replaceChildren();
    const now = samples.length ? samples[samples.length - 1].at_unix_ms : serverNow();
    const span = samples.length ? now - samples[0].at_unix_ms : 0;
    const windowMs = Math.min(MAX_WINDOW_MS, Math.max(MIN_WINDOW_MS, span));
    const x = (t) => pad.left + w * (1 - (now - t) / windowMs);
    const top = niceCeil(Math.max(min, ...values) * 1.1, binary);
    const y = (v) => pad.top + h * (1 - v / top);

    for (const frac of [0, 0.5, 1]) {
      root.append(svg('line', { class: 'grid', x1: pad.left, x2: pad.left + w, y1: y(top * frac), y2: y(top * frac) }));
      const label = svg('text', { class: 'axis', x: pad.left - 6, y: y(top * frac) + 4, 'text-anchor': 'end' });
      label.textContent = format(top * frac);
      root.append(label);
    }
    for (const frac of [0, 0.5, 1]) {
      const label = svg('text', { class: 'axis', x: pad.left + w * frac, y: height - 4, 'text-anchor': ['start', 'middle', 'end'][frac * 2] });
      label.textContent = frac === 1 ? 'now' : `−${shortDuration((windowMs * (1 - frac)) / 1000)}`;
      root.append(label);
    }
    // Bands: runs of samples in a state other than streaming.
    let run = null;
    samples.forEach((s, i) => {
      const end = i === samples.length - 1 || samples[i + 1].state !== s.state;
      if (!run) run = { state: s.state, from: s.at_unix_ms };
      if (end) {
        if (run.state !== 'streaming') {
          const to = i === samples.length - 1 ? s.at_unix_ms : samples[i + 1].at_unix_ms;
          const x1 = Math.max(pad.left, x(run.from));
          root.append(svg('rect', { class: `band-${run.state}`, x: x1, y: pad.top, width: Math.max(2, x(to) - x1), height: h }));
        }
        run = null;
      }
    });
    const points = samples.map((s, i) => `${x(s.at_unix_ms).toFixed(1)},${y(values[i]).toFixed(1)}`);
    root.dataset.points = String(points.length);
    if (points.length) {
      const first = x(samples[0].at_unix_ms).toFixed(1);
      const base = y(0).toFixed(1);
      root.append(svg('polygon', { class: 'area', points: `${first},${base} ${points.join(' ')} ${x(now).toFixed(1)},${base}` }));
      root.append(svg('polyline', { class: 'line', points: points.join(' ') }));
    }
    figure.querySelector('[data-now]').textContent = values.length ? format(values[values.length - 1]) : '';
  }

  // --- start -------------------------------------------------------------------------------

  token = takeToken();
  if (token) start();
  else showLogin();
  window.addEventListener('resize', () => { if (lastStatus) renderCharts(); });
})();
