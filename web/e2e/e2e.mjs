// End-to-end test of the dashboard in headless Chromium (Debian's /usr/bin/chromium driven by
// playwright-core) against a real `pirus server` and dockerd: install the example pipeline by
// drag-and-drop, upload inputs, run a job through the generated form (a bad value refused in
// the page, then corrected), watch progress and logs live, download the output, pause /
// resume / cancel, check accessibility (axe-core) and layout, take screenshots, and measure
// the initial load and the jobs list with 10,000 jobs.
//
//   node e2e.mjs --pirus BUILD/pirus --source REPO --out DIR
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { createRequire } from 'node:module';
import { chromium } from 'playwright-core';

const require = createRequire(import.meta.url);
const axeSource = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

const args = Object.fromEntries(process.argv.slice(2).reduce((acc, a, i, all) =>
  (a.startsWith('--') ? [...acc, [a.slice(2), all[i + 1]]] : acc), []));
const PIRUS = resolve(args.pirus);
const SOURCE = resolve(args.source || join(dirname(new URL(import.meta.url).pathname), '../..'));
const OUT = resolve(args.out || join(dirname(PIRUS), 'web-screenshots'));
const EXAMPLE = join(SOURCE, 'examples/pipelines/seqstats');

let failures = 0;
const t0 = Date.now();
function log(...m) { console.log(`[e2e ${((Date.now() - t0) / 1000).toFixed(1)}s]`, ...m); }
function check(cond, what) {
  if (cond) log('ok  ', what);
  else { failures++; log('FAIL', what); }
  return cond;
}

rmSync(OUT, { recursive: true, force: true });
mkdirSync(OUT, { recursive: true });
const work = mkdtempSync(join(tmpdir(), 'pirus-e2e-'));

// --- server ---------------------------------------------------------------------------------
const server = spawn(PIRUS, ['server', '--data-dir', join(work, 'data'), '--listen', '127.0.0.1:0',
  '--set', 'jobs.monitoring_interval=0.5'], { stdio: ['ignore', 'pipe', 'pipe'] });
let serverLog = '';
server.stdout.on('data', (d) => { serverLog += d; });
server.stderr.on('data', (d) => { serverLog += d; });
const port = await new Promise((res, rej) => {
  const timer = setTimeout(() => rej(new Error('the server did not start:\n' + serverLog)), 15000);
  const look = () => {
    const m = serverLog.match(/listening on http:\/\/127\.0\.0\.1:(\d+)/);
    if (m) { clearTimeout(timer); res(Number(m[1])); } else setTimeout(look, 50);
  };
  server.on('exit', (c) => rej(new Error('the server exited with ' + c + ':\n' + serverLog)));
  look();
});
const BASE = `http://127.0.0.1:${port}`;
log('server at', BASE, 'data in', work);

async function apiGet(path) {
  const r = await fetch(BASE + path);
  return r.json();
}
async function waitFor(fn, what, timeoutMs = 60000) {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error('timed out waiting for ' + what);
    await new Promise((r) => setTimeout(r, 200));
  }
}

const zipPath = join(work, 'seqstats.zip');
execFileSync('zip', ['-qr', zipPath, '.', '-x', 'test-data/*'], { cwd: EXAMPLE });

const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
    '--disable-component-update', '--disable-sync'],
});
const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, acceptDownloads: true,
  bypassCSP: true });  // lets the test inject axe-core; the app itself runs under the CSP
const page = await context.newPage();
page.on('pageerror', (e) => { failures++; log('FAIL page error:', e.message); });
page.on('console', (m) => { if (m.type() === 'error') log('console error:', m.text()); });
page.setDefaultTimeout(30000);

async function axe(name) {
  await page.addScriptTag({ content: axeSource });
  const result = await page.evaluate(async () => window.axe.run(document, { resultTypes: ['violations'] }));
  const bad = result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  for (const v of bad) log('     axe', v.impact, v.id, v.help, v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(' | '));
  check(bad.length === 0, `${name}: no serious or critical accessibility violation (axe-core)`);
}
async function layout(name) {
  const over = await page.evaluate(() => {
    const w = document.documentElement.clientWidth;
    const out = [];
    for (const el of document.querySelectorAll('body *')) {
      if (el.closest('.table-wrap, pre, svg, .visually-hidden, input[type=file]')) continue;
      const r = el.getBoundingClientRect();
      if (r.width && (r.right > w + 1 || r.left < -1) && getComputedStyle(el).position !== 'absolute') {
        out.push(el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') + (el.className ? '.' + el.className : ''));
      }
    }
    return { out: out.slice(0, 5), scroll: document.documentElement.scrollWidth > w };
  });
  check(over.out.length === 0 && !over.scroll, `${name}: no element overflows the viewport ${over.out.join(' ')}`);
}
async function shot(name) {
  await page.screenshot({ path: join(OUT, name + '.png'), fullPage: true });
}
async function review(name) {
  await layout(name);
  await axe(name);
  await shot(name);
}

try {
  // --- initial load: transfer size and time to interactive ---------------------------------
  const cdp = await context.newCDPSession(page);
  await cdp.send('Network.enable');
  await cdp.send('Network.setCacheDisabled', { cacheDisabled: true });
  let transferred = 0;
  cdp.on('Network.loadingFinished', (e) => { transferred += e.encodedDataLength; });
  const start = Date.now();
  await page.goto(BASE + '/');
  await page.getByText('No pipeline is installed yet').waitFor();
  const tti = Date.now() - start;
  const firstLoadBytes = transferred;
  // Again with a warm browser (the first navigation also starts Chromium's renderer), still
  // without the HTTP cache; measured from the navigation start inside the page.
  await page.reload();
  await page.getByText('No pipeline is installed yet').waitFor();
  const warm = Math.round(await page.evaluate(() => performance.now()));
  await cdp.send('Network.setCacheDisabled', { cacheDisabled: false });
  log(`MEASURE initial load: ${(firstLoadBytes / 1024).toFixed(1)} KB transferred (gzip), interactive in ${tti} ms (first navigation of a new browser), ${warm} ms (reload, no cache)`);
  check(firstLoadBytes < 300 * 1024, 'initial load under 300 KB');
  // The target is the page's: the reload. The first navigation also pays for Chromium
  // starting its renderer, so it gets a looser bound (2 cores shared with a build can double it).
  check(warm < 1000, 'interactive in under 1 s');
  check(tti < 3000, 'first navigation of a new browser interactive in under 3 s');
  check(await page.getByText('Live updates on').isVisible(), 'the event stream is connected');
  await review('pipelines-empty');
  await page.keyboard.press('Tab');
  check(await page.evaluate(() => document.activeElement.textContent) === 'Skip to content', 'the first Tab reaches the skip link');
  await page.keyboard.press('Tab');
  check(await page.evaluate(() => document.activeElement.textContent) === 'Pirus', 'keyboard focus moves through the header');

  // --- install the example pipeline by drag-and-drop ---------------------------------------
  const zipB64 = readFileSync(zipPath).toString('base64');
  await page.evaluate((b64) => {
    const bin = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
    const dt = new DataTransfer();
    dt.items.add(new File([bin], 'seqstats.zip', { type: 'application/zip' }));
    const zone = document.querySelector('.drop');
    zone.dispatchEvent(new DragEvent('dragover', { dataTransfer: dt, bubbles: true, cancelable: true }));
    zone.dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
  }, zipB64);
  await page.locator('pre.log').filter({ hasText: 'Step' }).waitFor();
  check(true, 'the live build log shows build steps');
  await page.locator('section.card .badge.ready').first().waitFor({ timeout: 120000 });
  check(await page.locator('tr[data-pipeline] .badge.ready').count() === 1, 'the pipeline is listed as ready');
  await review('pipelines');

  await page.getByRole('link', { name: 'seqstats' }).first().click();
  await page.getByRole('heading', { name: 'Form preview' }).waitFor();
  check(await page.locator('#preview-delay_ms').isDisabled(), 'the pipeline page previews the generated form');
  await review('pipeline-detail');

  // --- upload inputs (TUS, two at once) ----------------------------------------------------
  await page.getByRole('link', { name: 'Files' }).click();
  await page.getByText('No files yet').waitFor();
  await page.locator('input[type=file]').setInputFiles([join(EXAMPLE, 'test-data/sample1.fa'), join(EXAMPLE, 'test-data/sample2.fq')]);
  await waitFor(async () => (await page.locator('.uploads li').filter({ hasText: 'uploaded' }).count()) === 2, 'two uploads');
  await page.locator('tr[data-file]').nth(1).waitFor();
  check(await page.locator('tr[data-file]').count() === 2, 'both uploaded files are listed without a reload');
  await review('files');

  // --- run a job through the generated form -------------------------------------------------
  await page.getByRole('link', { name: 'New job' }).first().click();
  await page.locator('#param-delay_ms').waitFor();
  await page.getByRole('checkbox', { name: /^sample1\.fa / }).check();
  await page.getByRole('checkbox', { name: /^sample2\.fq / }).check();
  await page.locator('#param-report_title').waitFor();
  await page.locator('#param-report_title').fill('E2E report');
  await page.locator('#param-delay_ms').fill('-5');
  await page.getByRole('button', { name: 'Start the job' }).click();
  await page.locator('#param-delay_ms-error', { hasText: 'Must be at least 0' }).waitFor();
  check(new URL(page.url()).pathname === '/jobs/new', 'a bad value is rejected in the page');
  check(await page.locator('#param-delay_ms').getAttribute('aria-invalid') === 'true', 'the bad field is marked invalid');
  check((await apiGet('/api/v1/jobs')).items.length === 0, 'nothing reached the server');
  await review('new-job');
  await page.locator('#param-delay_ms').fill('2500');
  await page.getByRole('button', { name: 'Start the job' }).click();
  await page.waitForURL(/\/jobs\/\d+$/);
  const jobId = Number(new URL(page.url()).pathname.split('/').pop());
  log('job', jobId, 'started from the form');

  // Live: progress and logs change while we do not reload.
  const navs = [];
  page.on('framenavigated', (f) => { if (f === page.mainFrame()) navs.push(f.url()); });
  await page.locator('#log-stdout').filter({ hasText: 'seqstats 1.0.0' }).waitFor({ timeout: 60000 });
  check(true, 'stdout appears live');
  await waitFor(async () => {
    const t = await page.locator('#job-head .progress .pct').textContent();
    return t && t !== '0%' && t !== '100%';
  }, 'progress between 0 and 100%', 30000);
  check(true, 'progress moves live: ' + await page.locator('#job-head .progress').textContent());
  await page.locator('#job-head .badge.done').waitFor({ timeout: 60000 });
  check(await page.locator('#log-stdout').filter({ hasText: 'wrote report.txt' }).count() === 1, 'the log reaches its end live');
  check(navs.length === 0, 'no reload happened while watching');
  await page.locator('#outputs a', { hasText: 'report.txt' }).waitFor();
  await page.getByLabel('Search the log').fill('N50');
  check(await page.locator('#log-stdout mark').count() >= 2, 'log search highlights matches');
  await review('job-detail');

  const [download] = await Promise.all([page.waitForEvent('download'),
    page.locator('#outputs a', { hasText: 'report.txt' }).click()]);
  const report = readFileSync(await download.path(), 'utf8');
  check(report.includes('E2E report') && report.includes('sample1.fa'), 'the downloaded report has the expected content');
  await page.getByRole('button', { name: 'Preview report.txt' }).click();
  await page.locator('#preview pre', { hasText: 'E2E report' }).waitFor();
  check(true, 'the report is previewed in the page');

  // --- pause, resume, cancel ---------------------------------------------------------------
  await page.getByRole('link', { name: 'New job' }).first().click();
  await page.getByRole('checkbox', { name: /^sample1\.fa / }).check();
  await page.locator('#param-delay_ms').fill('60000');
  await page.locator('#j-name').fill('long run');
  // What only the server can check (its resource limits) comes back into the page.
  await page.locator('#j-cpus').fill('100000');
  await page.getByRole('button', { name: 'Start the job' }).click();
  await page.locator('.alert', { hasText: 'The server refused the job' }).waitFor();
  check(new URL(page.url()).pathname === '/jobs/new', 'a value the server refuses is reported in the page');
  await page.locator('#j-cpus').fill('');
  await page.getByRole('button', { name: 'Start the job' }).click();
  await page.waitForURL(/\/jobs\/\d+$/);
  const longId = Number(new URL(page.url()).pathname.split('/').pop());
  log('job', longId, 'parameters', JSON.stringify((await apiGet('/api/v1/jobs/' + longId)).parameters));
  await page.getByRole('button', { name: 'Pause job ' + longId }).click({ timeout: 60000 });
  await page.locator('#job-head .badge.pause').waitFor();
  check((await apiGet('/api/v1/jobs/' + longId)).status === 'pause', 'pause from the page');
  await page.getByRole('button', { name: 'Resume job ' + longId }).click();
  await page.locator('#job-head .badge.running').waitFor();
  check((await apiGet('/api/v1/jobs/' + longId)).status === 'running', 'resume from the page');
  page.once('dialog', (d) => d.accept());
  await page.getByRole('button', { name: 'Cancel job ' + longId }).click();
  await page.locator('#job-head .badge.canceled').waitFor();
  check((await apiGet('/api/v1/jobs/' + longId)).status === 'canceled', 'cancel from the page');

  await page.getByRole('link', { name: 'Jobs', exact: true }).click();
  await page.locator('tr[data-job]').nth(1).waitFor();
  check(await page.locator('tr[data-job]').count() === 2, 'the jobs list shows both jobs');
  await review('jobs');
  page.once('dialog', (d) => d.accept());
  await page.getByRole('button', { name: 'Delete job ' + longId }).click();
  await waitFor(async () => (await page.locator('tr[data-job]').count()) === 1, 'the deleted job to leave the list');
  check((await fetch(BASE + '/api/v1/jobs/' + longId)).status === 404, 'delete a job from the list');
  await page.getByLabel('Status').selectOption('error');
  await page.getByText('No job matches these filters').waitFor();
  check(new URL(page.url()).search === '?status=error', 'the status filter applies and is kept in the address');
  await page.getByLabel('Status').selectOption('done');
  await page.locator('tr[data-job="' + jobId + '"]').waitFor();
  check(await page.locator('tr[data-job]').count() === 1, 'filtering on done shows the finished job');

  // --- tablet ------------------------------------------------------------------------------
  await page.setViewportSize({ width: 768, height: 1024 });
  for (const [path, name] of [['/jobs', 'jobs-tablet'], ['/jobs/' + jobId, 'job-detail-tablet'], ['/jobs/new', 'new-job-tablet']]) {
    await page.goto(BASE + path);
    await page.locator('h1').waitFor();
    await page.waitForLoadState('networkidle').catch(() => {});
    await layout(name);
    await shot(name);
  }
  await page.setViewportSize({ width: 1280, height: 800 });

  // --- 10,000 jobs ---------------------------------------------------------------------------
  // Finished rows written straight into the database (no containers), as 10,000 real jobs
  // would take the whole CI budget to run.
  execFileSync('sqlite3', [join(work, 'data/pirus.db'), `
    PRAGMA busy_timeout = 5000;
    WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 10000)
    INSERT INTO jobs (pipeline_id, name, status, created_at, started_at, ended_at, updated_at, progress)
      SELECT (SELECT pipeline_id FROM jobs WHERE id = ${jobId}), 'bulk ' || i, 'done',
             (SELECT created_at FROM jobs WHERE id = ${jobId}), (SELECT started_at FROM jobs WHERE id = ${jobId}),
             (SELECT ended_at FROM jobs WHERE id = ${jobId}), (SELECT updated_at FROM jobs WHERE id = ${jobId}), 1
      FROM n;`]);
  const listStart = Date.now();
  await page.goto(BASE + '/jobs');
  await page.locator('tr[data-job]').nth(49).waitFor();
  const listMs = Date.now() - listStart;
  const nextStart = Date.now();
  await page.getByRole('button', { name: 'Next page' }).click();
  await page.getByText('Page 2').waitFor();
  await page.locator('tr[data-job]').nth(49).waitFor();
  const nextMs = Date.now() - nextStart;
  const rows = await page.locator('tr[data-job]').count();
  log(`MEASURE jobs list with 10,001 jobs: first page in ${listMs} ms, next page in ${nextMs} ms, ${rows} rows in the DOM`);
  check(rows === 50 && listMs < 1500 && nextMs < 1000, 'the jobs list stays fast with 10,000 jobs (server-side pages of 50)');
  await shot('jobs-10000');

  // --- uninstall -------------------------------------------------------------------------------
  await page.goto(BASE + '/pipelines/1');
  page.once('dialog', (d) => d.accept());
  await page.getByRole('button', { name: 'Uninstall' }).click();
  await page.getByText('No pipeline is installed yet').waitFor({ timeout: 60000 });
  check((await apiGet('/api/v1/pipelines')).items.length === 0, 'uninstall from the pipeline page');
} catch (e) {
  failures++;
  log('FAIL', e.stack || e);
  await shot('failure').catch(() => {});
} finally {
  await browser.close();
  const exited = new Promise((r) => server.on('exit', (code, signal) => r(signal || code)));
  server.kill('SIGTERM');
  // A clean stop (exit 0) also means no sanitizer report in an ASan build.
  check(await exited === 0, 'the server stops cleanly');
  try {
    const inst = execFileSync('sqlite3', [join(work, 'data/pirus.db'), "select value from meta where key='instance_id'"]).toString().trim();
    if (inst) {
      const ids = execFileSync('docker', ['image', 'ls', '-q', '--filter', `reference=pirus-${inst.slice(0, 8)}-pipeline-*`]).toString().split('\n').filter(Boolean);
      if (ids.length) execFileSync('docker', ['rmi', '-f', ...ids], { stdio: 'ignore' });
    }
  } catch { /* best effort */ }
  if (failures) console.log(serverLog.split('\n').slice(-40).join('\n'));
  if (!failures || !existsSync(work)) rmSync(work, { recursive: true, force: true });
}
log(`screenshots in ${OUT}`);
log(failures ? `${failures} check(s) FAILED` : 'all checks passed');
process.exit(failures ? 1 : 0);
