// Drives Debian's chromium with playwright-core through the dashboard of a running siphon daemon
// (started by crates/siphon-cli/tests/dashboard.rs, which also writes the load). Exits non-zero
// with the reason on the first failed check.
//
// Environment:
//   SIPHON_DASHBOARD_URL  what `siphon dashboard` printed (http://host:port/#token=...)
//   SIPHON_EXPECTED       JSON {table: {inserts, updates, deletes}}: the rows the load writes
//   SIPHON_SCREENSHOTS    directory for dashboard.png and dashboard-snapshot.png
//   SIPHON_NODE_DIR       where playwright-core is installed (scripts/setup.sh)
//   SIPHON_CHROMIUM       the browser (/usr/bin/chromium)
//   SIPHON_SECRET         a string that must appear nowhere on the page (the source URL's password)
import { createRequire } from 'node:module';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const env = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set`);
  return v;
};
const require = createRequire(join(env('SIPHON_NODE_DIR'), 'package.json'));
const { chromium } = require('playwright-core');

const dashboardUrl = env('SIPHON_DASHBOARD_URL');
const expected = JSON.parse(env('SIPHON_EXPECTED'));
const shots = env('SIPHON_SCREENSHOTS');
const secret = env('SIPHON_SECRET');
const base = dashboardUrl.split('#')[0];
const token = decodeURIComponent(new URLSearchParams(dashboardUrl.split('#')[1]).get('token'));

const step = (what) => console.log(`check: ${what}`);
function assert(ok, message) {
  if (!ok) throw new Error(`assertion failed: ${message}`);
}

/** Waits until `fn` (run in the page) returns a truthy value; on timeout, says what it saw. */
async function waitFor(page, what, fn, arg, timeout = 60_000) {
  try {
    await page.waitForFunction(fn, arg, { timeout, polling: 200 });
  } catch (e) {
    const seen = await page.evaluate(() => document.getElementById('board')?.innerText ?? document.body.innerText);
    throw new Error(`timed out waiting for ${what}; the page showed:\n${seen}`);
  }
}

const text = (page, selector) => page.locator(selector).innerText();

async function control(method, path) {
  const r = await fetch(base.replace(/\/$/, '') + path, { method, headers: { Authorization: `Bearer ${token}` } });
  assert(r.ok, `${method} ${path} answered ${r.status}`);
}

// A fresh profile (--user-data-dir): playwright passes it to chromium for a persistent context.
const userDataDir = mkdtempSync(join(tmpdir(), 'siphon-chromium-'));
const context = await chromium.launchPersistentContext(userDataDir, {
  executablePath: env('SIPHON_CHROMIUM'),
  headless: true,
  viewport: { width: 1440, height: 1300 },
  args: [
    '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
  ],
});
try {
  const page = await context.newPage();
  const problems = [];
  page.on('console', (m) => { if (m.type() === 'error') problems.push(`console: ${m.text()}`); });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));

  step('the page opens with the token from the fragment, then drops it from the address bar');
  await page.goto(dashboardUrl);
  await waitFor(page, 'the streaming state', () => document.getElementById('state-text')?.textContent === 'streaming');
  assert(!page.url().includes('token'), `the token stays out of the address bar: ${page.url()}`);
  assert(await page.locator('#state.state-streaming').isVisible(), 'the state badge is visible and green');

  step('lag as numbers, and the charts fill');
  await waitFor(page, 'three samples in the lag chart', () => Number(document.querySelector('#chart-lag svg').dataset.points) >= 3);
  assert(/^\d+\.\d s$/.test(await text(page, '#lag-seconds')), `lag in seconds: ${await text(page, '#lag-seconds')}`);
  assert(/^\d+(\.\d)? (B|KiB|MiB|GiB)$/.test(await text(page, '#lag-bytes')), `lag in bytes: ${await text(page, '#lag-bytes')}`);
  assert(/^[0-9A-F]+\/[0-9A-F]+$/.test(await text(page, '#checkpoint')), `checkpoint LSN: ${await text(page, '#checkpoint')}`);
  const polyline = await page.locator('#chart-lag polyline').getAttribute('points');
  assert(polyline && polyline.split(' ').length >= 3, `the lag chart draws a line: ${polyline}`);
  assert(['reserved', 'extended'].includes(await text(page, '#slot-wal-status')), 'the slot\'s wal_status');
  assert((await text(page, '#slot-active')) === 'yes', 'the slot is active while streaming');

  step('pause and resume show up live, as state and as events');
  await control('POST', '/v1/pause');
  await waitFor(page, 'the paused state', () => document.getElementById('state-text').textContent === 'paused');
  assert(await page.locator('#state.state-paused').isVisible(), 'the paused badge');
  await waitFor(page, 'the pipeline.paused event', () =>
    [...document.querySelectorAll('#events li .name')].some((e) => e.textContent === 'pipeline.paused'));
  await waitFor(page, 'a paused band in the chart', () => document.querySelector('#chart-lag rect.band-paused'));
  await control('POST', '/v1/resume');
  await waitFor(page, 'streaming again', () => document.getElementById('state-text').textContent === 'streaming');
  await waitFor(page, 'the pipeline.resumed event', () =>
    [...document.querySelectorAll('#events li .name')].some((e) => e.textContent === 'pipeline.resumed'));
  const events = await page.locator('#events li .name').allInnerTexts();
  assert(events.includes('pipeline.started'), `the start event is listed: ${events}`);
  assert(events.indexOf('pipeline.resumed') < events.indexOf('pipeline.paused'), `newest first: ${events}`);

  step('per-table rows match what was written');
  await waitFor(page, `the rows written (${JSON.stringify(expected)})`, (want) => {
    const cell = (t, c) => document.querySelector(`#tables tr[data-table="${t}"] td[data-col="${c}"]`)?.textContent.replace(/,/g, '');
    return Object.entries(want).every(([t, ops]) => Object.entries(ops).every(([op, n]) => cell(t, op) === String(n)));
  }, expected, 90_000);
  for (const table of Object.keys(expected)) {
    const last = await text(page, `#tables tr[data-table="${table}"] td[data-col="last_change"]`);
    assert(/ ago$/.test(last), `${table}'s last change: ${last}`);
  }
  await waitFor(page, 'throughput in the rate chart', () =>
    document.querySelector('#chart-rate polyline')?.getAttribute('points').split(' ').some((p) => Number(p.split(',')[1]) < 129));
  await page.screenshot({ path: join(shots, 'dashboard.png'), fullPage: true });

  step('no secret on the page');
  const html = await page.content();
  assert(!html.includes(secret), 'the source URL\'s password is not on the page');
  assert(!html.includes(token), 'the token is not on the page');

  step('snapshot progress (the field the snapshot code fills) renders as a progress bar');
  const table = Object.keys(expected)[0];
  await page.route('**/v1/status', async (route) => {
    const response = await route.fetch();
    const status = await response.json();
    status.state = 'snapshotting';
    status.tables[table].snapshot = {
      state: 'copying', rows_copied: 4500, rows_estimate: 10000, chunks_done: 3, chunks_total: 8, rows_per_s: 1200, eta_s: 5,
    };
    await route.fulfill({ response, json: status });
  });
  const snapshotCell = `#tables tr[data-table="${table}"] td[data-col="snapshot"]`;
  await waitFor(page, 'the snapshot progress', (sel) => document.querySelector(sel)?.textContent.includes('copying 45%'), snapshotCell);
  assert(await page.locator(`${snapshotCell} .progress`).isVisible(), 'a progress bar');
  const detail = await text(page, '#state-detail');
  assert(detail.includes('snapshot 45%'), `the state badge sums the snapshot up: ${detail}`);
  await page.screenshot({ path: join(shots, 'dashboard-snapshot.png'), fullPage: true });
  await page.unroute('**/v1/status');
  await waitFor(page, 'the real state again', () => document.getElementById('state-text').textContent === 'streaming');

  step('a failed pipeline: red state and its error');
  await page.route('**/v1/status', async (route) => {
    const response = await route.fetch();
    const status = await response.json();
    await route.fulfill({ response, json: { ...status, state: 'failed', last_error: 'injected: <b>not markup</b>' } });
  });
  await waitFor(page, 'the failed state', () => document.getElementById('state-text').textContent === 'failed');
  assert(await page.locator('#state.state-failed').isVisible(), 'the failed badge');
  assert((await page.locator('#error-panel h2').textContent()) === 'Error', 'a current error');
  assert((await text(page, '#last-error')) === 'injected: <b>not markup</b>', 'the error as text, never markup');
  await page.unroute('**/v1/status');
  await waitFor(page, 'the real state again', () => document.getElementById('state-text').textContent === 'streaming');

  step('a daemon that stops answering is shown as such, not as its last state');
  await page.route('**/v1/**', (route) => route.abort('connectionrefused'));
  await waitFor(page, 'the unreachable banner', () => !document.getElementById('stale').hidden, undefined, 20_000);
  assert((await text(page, '#stale')).startsWith('Cannot reach the daemon since'), await text(page, '#stale'));
  assert(await page.locator('#state.stale').isVisible(), 'the state badge is greyed');
  assert(await page.locator('#board.stale').isVisible(), 'the figures are dimmed');
  await page.screenshot({ path: join(shots, 'dashboard-unreachable.png') });
  await page.unroute('**/v1/**');
  await waitFor(page, 'the banner to go once the daemon answers', () => document.getElementById('stale').hidden);
  problems.splice(0, problems.length, ...problems.filter((p) => !p.includes('ERR_CONNECTION_REFUSED')));

  step('without a token: a form, and no data');
  const stranger = await context.newPage(); // a new tab: its own, empty sessionStorage
  await stranger.goto(base);
  assert(await stranger.locator('#login').isVisible(), 'the token form');
  assert(await stranger.locator('#board').isHidden(), 'no board');
  await stranger.fill('#token-input', 'wrong-token');
  await stranger.click('#login button');
  await waitFor(stranger, 'the refusal', () => !document.getElementById('login-error').hidden);
  assert((await text(stranger, '#login-error')).includes('refused'), 'the wrong token is refused');

  assert(problems.length === 0, `no errors in the page (CSP included):\n${problems.join('\n')}`);
  console.log('check: all passed');
} finally {
  await context.close();
  rmSync(userDataDir, { recursive: true, force: true });
}
