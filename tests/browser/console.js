/* console -- drives the web console (/console) in headless Chromium as a user would, by
 * keyboard and clicks, and prints what the page showed next to what the API answered it.
 *   node tests/browser/console.js '{"scenario": "main", "url": URL, "question": "...",
 *                                   "screenshots": DIR}'
 *     ask, read table + chart, switch and hide the chart, copy the page as CSV and TSV, page 2,
 *     export to SUCCESS and follow the download link, then the same page at 390 px wide; then
 *     each question of "shapes" (the chart chosen for other shapes of result)
 *   node tests/browser/console.js '{"scenario": "auth", "url": URL, "key": KEY,
 *                                   "question": "...", "long_question": "...", "screenshots": DIR}'
 *     a 401 asks for the key, the key is kept in sessionStorage and the question retried; then a
 *     question over the service's length limit shows the 422
 *   node tests/browser/console.js '{"scenario": "declined", "url": URL, "question": "...",
 *                                   "screenshots": DIR}'
 *     a question the service cannot answer shows the 422 cannot_answer with its suggestions
 *     as buttons; clicking the first asks it and shows its rows */
'use strict';

const fs = require('fs');
const http = require('http');
const os = require('os');
const path = require('path');
const {launch, until, screenshot, run} = require('./lib');

/* What the page shows now. */
function snapshot(page) {
  return page.evaluate(() => {
    const $ = (id) => document.getElementById(id);
    const chart = typeof Chart !== 'undefined' ? Chart.getChart('chart') : null;
    return {
      columns: [...document.querySelectorAll('#table thead th')].map((t) => t.textContent),
      cells: [...document.querySelectorAll('#table tbody tr')].map(
        (tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent)),
      chartKind: $('chart-box').dataset.chart || null,
      chart: chart && !$('chart-wrap').hidden ? {
        type: chart.config.type,
        points: chart.data.datasets.map((d) => d.data.length),
        labels: chart.data.labels ? chart.data.labels.length : null,
        labelList: chart.data.labels ? chart.data.labels.slice(0, 100) : null,
        values: chart.data.datasets[0].data.slice(0, 100),
        width: chart.width,
      } : null,
      chartAreaHidden: $('chart-area').hidden,
      bignum: $('bignum').hidden ? null : $('bignum-value').textContent,
      pageInfo: $('page-info').textContent,
      prevDisabled: $('prev').disabled,
      nextDisabled: $('next').disabled,
      sql: $('sql').textContent,
      source: $('source').textContent,
      error: $('error').hidden ? null : {text: $('error').textContent, status: $('error').dataset.status,
                                         code: $('error').dataset.code},
      keyFormShown: !$('key-form').hidden,
      focused: document.activeElement ? document.activeElement.id : null,
    };
  });
}

/* Every form control the user can reach has a label. */
function unlabelled(page) {
  return page.evaluate(() => [...document.querySelectorAll('input, select, textarea, button')]
    .filter((e) => e.offsetParent !== null)
    .filter((e) => !(e.labels && e.labels.length) && !e.getAttribute('aria-label') &&
                   !(e.tagName === 'BUTTON' && e.textContent.trim()))
    .map((e) => e.id || e.outerHTML.slice(0, 80)));
}

function storage(page) {
  return page.evaluate(() => ({
    session: Object.fromEntries(Object.keys(sessionStorage).map((k) => [k, sessionStorage.getItem(k)])),
    local: Object.keys(localStorage), cookie: document.cookie,
  }));
}

/* The last JSON answer to POST /query the page received. */
function watchQueries(page) {
  const seen = [];
  page.on('response', (r) => {
    if (r.request().method() !== 'POST' || new URL(r.url()).pathname !== '/query') return;
    seen.push(r.text().then((t) => ({status: r.status(), body: JSON.parse(t)}),
                            () => ({status: r.status(), body: null})));
  });
  return async () => (seen.length ? seen[seen.length - 1] : null);
}

function get(url) {
  return new Promise((resolve, reject) => {
    http.get(url, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({status: res.statusCode, text: Buffer.concat(chunks).toString()}));
    }).on('error', reject);
  });
}

async function ask(page, question) {
  await page.focus('#q');
  await page.$eval('#q', (e) => { e.value = ''; });
  await page.keyboard.type(question);
  await page.keyboard.press('Enter');
}

/* Clicks the download link and returns what the browser got: a downloaded file, or the
 * page it opened. */
async function download(browser, page, dir) {
  const cdp = await browser.target().createCDPSession();
  await cdp.send('Browser.setDownloadBehavior', {behavior: 'allow', downloadPath: dir});
  const opened = new Promise((resolve) => browser.once('targetcreated', resolve));
  await page.click('#export-link');
  const end = Date.now() + 20000;
  let target = null;
  opened.then((t) => { target = t; });
  while (Date.now() < end) {
    const files = fs.readdirSync(dir).filter((f) => !f.endsWith('.crdownload'));
    if (files.length)
      return {via: 'file', name: files[0], text: fs.readFileSync(path.join(dir, files[0]), 'utf8')};
    if (target && target.type() === 'page') {
      const p = await target.page();
      try {
        await p.waitForFunction(() => document.body && document.body.innerText.length > 0, {timeout: 3000});
        return {via: 'page', text: await p.evaluate(() => document.body.innerText)};
      } catch (e) { /* not a page with text: a download; keep waiting for the file */ }
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {via: 'none'};
}

async function mainScenario(browser, args) {
  const out = {pageErrors: [], requests: []};
  await browser.defaultBrowserContext().overridePermissions(args.url,
    ['clipboard-read', 'clipboard-write', 'clipboard-sanitized-write']);
  const page = await browser.newPage();
  page.on('pageerror', (e) => out.pageErrors.push(String(e)));
  page.on('request', (r) => out.requests.push(r.url()));
  const lastQuery = watchQueries(page);
  await page.goto(args.url + '/console', {waitUntil: 'load'});
  out.focusedAtStart = await page.evaluate(() => document.activeElement.id);
  out.unlabelled = await unlabelled(page);

  await ask(page, args.question);
  await until(page, () => document.querySelectorAll('#table tbody tr').length > 0);
  out.first = await snapshot(page);
  out.first.api = await lastQuery();
  out.focusedAfterAnswer = out.first.focused;

  await page.select('#chart-type', 'bar');
  out.switched = (await snapshot(page)).chart;
  await page.select('#chart-type', 'auto');
  await page.click('#chart-toggle');
  out.hidden = await snapshot(page);
  await page.click('#chart-toggle');
  out.shown = await snapshot(page);
  out.shot1280 = await screenshot(page, args.screenshots, 'console-1280');

  await page.click('#copy-csv');
  await until(page, () => /Copied .* CSV/.test(document.getElementById('status').textContent));
  out.csv = await page.evaluate(() => navigator.clipboard.readText());
  await page.click('#copy-tsv');
  await until(page, () => /Copied .* TSV/.test(document.getElementById('status').textContent));
  out.tsv = await page.evaluate(() => navigator.clipboard.readText());

  await page.click('#next');
  await until(page, () => document.getElementById('page-info').textContent.startsWith('Page 2'));
  out.second = await snapshot(page);
  out.second.api = await lastQuery();

  await page.evaluate(() => { /* every status line the export shows, in order */
    window.exportSeen = [];
    new MutationObserver(() => window.exportSeen.push(document.getElementById('export-status').textContent))
      .observe(document.getElementById('export-status'), {childList: true, characterData: true, subtree: true});
  });
  await page.select('#export-format', 'csv');
  await page.click('#export-start');
  await until(page, () => ['SUCCESS', 'FAILED', 'CANCELLED'].includes(
    document.getElementById('export-status').dataset.status), undefined, 90000);
  out.export = await page.evaluate(() => ({
    status: document.getElementById('export-status').dataset.status,
    seen: window.exportSeen,
    link: document.getElementById('export-done').hidden ? null : document.getElementById('export-link').href,
    linkText: document.getElementById('export-link').textContent,
  }));
  if (out.export.link) {
    out.export.fetched = await get(out.export.link);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 't2sql-download-'));
    try { out.export.download = await download(browser, page, dir); } finally { fs.rmSync(dir, {recursive: true, force: true, maxRetries: 10, retryDelay: 200}); }
  }
  await page.bringToFront();

  await page.setViewport({width: 390, height: 844});
  await new Promise((r) => setTimeout(r, 300)); /* the chart follows its container's size */
  out.narrow = await snapshot(page);
  out.narrow.scrollWidth = await page.evaluate(() => document.documentElement.scrollWidth);
  out.shot390 = await screenshot(page, args.screenshots, 'console-390');
  out.storage = await storage(page);

  await page.setViewport({width: 1280, height: 900});
  out.shapes = []; /* the chart chosen for other shapes of result */
  for (const q of args.shapes || []) {
    const before = await lastQuery();
    await ask(page, q);
    await until(page, (b) => document.getElementById('sql').textContent !== b, out.narrow.sql);
    await page.waitForFunction((prev) => document.getElementById('source').textContent !== prev,
                               {timeout: 30000}, out.narrow.source);
    const snap = await snapshot(page);
    snap.api = await lastQuery();
    snap.question = q;
    snap.changed = snap.api !== before;
    out.shapes.push(snap);
    out.narrow.sql = snap.sql;
    out.narrow.source = snap.source;
  }
  return out;
}

async function authScenario(browser, args) {
  const out = {pageErrors: []};
  const page = await browser.newPage();
  page.on('pageerror', (e) => out.pageErrors.push(String(e)));
  const lastQuery = watchQueries(page);
  await page.goto(args.url + '/console', {waitUntil: 'load'});
  await ask(page, args.question);
  await until(page, () => !document.getElementById('key-form').hidden);
  out.asked = await snapshot(page);
  out.asked.api = await lastQuery();
  out.shot401 = await screenshot(page, args.screenshots, 'console-401');
  await page.keyboard.type(args.key); /* the key box has the focus */
  await page.keyboard.press('Enter');
  await until(page, () => document.querySelectorAll('#table tbody tr').length > 0);
  out.answered = await snapshot(page);
  out.answered.api = await lastQuery();
  out.storage = await storage(page);

  await ask(page, args.long_question);
  await until(page, () => !document.getElementById('error').hidden);
  out.tooLong = await snapshot(page);
  out.tooLong.api = await lastQuery();
  out.shot422 = await screenshot(page, args.screenshots, 'console-422');

  const other = await browser.newPage(); /* another tab: session storage is per tab */
  await other.goto(args.url + '/console', {waitUntil: 'load'});
  out.otherTab = await storage(other);
  return out;
}

/* A question the service cannot answer: the 422 cannot_answer with its suggestions as
 * buttons; clicking one asks it. */
async function declinedScenario(browser, args) {
  const out = {pageErrors: []};
  const page = await browser.newPage();
  page.on('pageerror', (e) => out.pageErrors.push(String(e)));
  const lastQuery = watchQueries(page);
  await page.goto(args.url + '/console', {waitUntil: 'load'});
  await ask(page, args.question);
  await until(page, () => !document.getElementById('error').hidden);
  out.declined = await snapshot(page);
  out.declined.api = await lastQuery();
  out.declined.buttons = await page.$$eval('#error button', (bs) => bs.map((b) => b.textContent));
  out.shot = await screenshot(page, args.screenshots, 'console-cannot-answer');
  await page.click('#error button');
  await until(page, () => document.querySelectorAll('#table tbody tr').length > 0);
  out.clicked = await snapshot(page);
  out.clicked.api = await lastQuery();
  out.clicked.question = await page.$eval('#q', (e) => e.value);
  return out;
}

run(async (args) => {
  const {browser, close} = await launch();
  try {
    if (args.scenario === 'auth') return await authScenario(browser, args);
    if (args.scenario === 'declined') return await declinedScenario(browser, args);
    return await mainScenario(browser, args);
  } finally {
    await close();
  }
});
