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
 *     as buttons; clicking the first asks it and shows its rows
 *   node tests/browser/console.js '{"scenario": "tools", "url": URL, "question": "...",
 *                                   "sort": COLUMN, "sql": "...", "unsafe_sql": "...",
 *                                   "screenshots": DIR}'
 *     10 rows a page: a click on COLUMN's header sorts by it (ascending), a second click
 *     descending, then page 2 of that; "Edit and run" with sql, then with unsafe_sql (an error)
 *   node tests/browser/console.js '{"scenario": "example", "url": URL, "key": KEY,
 *                                   "question": "...", "screenshots": DIR}'
 *     with auth on: the key, the question, then "Save as verified example" */
'use strict';

const fs = require('fs');
const os = require('os');
const path = require('path');
const {launch, until, screenshot, run, snapshot, unlabelled, storage, watchQueries, get, ask} =
  require('./lib');

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
    /* another subject: a new conversation, not a follow-up */
    if (await page.$eval('#new-conv', (e) => !e.hidden)) await page.click('#new-conv');
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
  out.clicked.question = await page.$eval('#thread li:last-child .question .text', (e) => e.textContent);
  return out;
}

async function openConsole(browser, args, out) {
  const page = await browser.newPage();
  page.on('pageerror', (e) => out.pageErrors.push(String(e)));
  const lastQuery = watchQueries(page);
  await page.goto(args.url + '/console', {waitUntil: 'load'});
  /* the buttons the API's contract switches on */
  await until(page, () => /serviceSort/.test(document.body.dataset.features || ''));
  return {page, lastQuery};
}

/* Clicks the header of column and waits for the page sorted that way. */
async function clickHeader(page, column, dir) {
  const ths = await page.$$('#table thead th button');
  for (const b of ths)
    if (await b.evaluate((e) => e.textContent) === column) { await b.click(); break; }
  await until(page, (a) => {
    const th = document.querySelector('#table thead th[aria-sort]');
    return th && th.textContent === a[0] && th.getAttribute('aria-sort') === a[1] &&
      document.getElementById('status').textContent === '';
  }, [column, dir]);
}

/* Runs sql through "Edit and run this SQL"; waits for the answer or the error. */
async function editAndRun(page, sql) {
  await page.click('#edit-sql');
  await until(page, () => document.activeElement.id === 'sql-edit');
  await page.$eval('#sql-edit', (e) => { e.value = ''; });
  await page.keyboard.type(sql);
  await page.keyboard.down('Control');
  await page.keyboard.press('Enter');
  await page.keyboard.up('Control');
  await until(page, (q) => !document.getElementById('error').hidden ||
    (document.getElementById('sql').textContent === q && !document.getElementById('sql').hidden), sql);
}

/* Sorting by a header, page 2 of the sorted result, edit and run, an unsafe edit. */
async function toolsScenario(browser, args) {
  const out = {pageErrors: []};
  const {page, lastQuery} = await openConsole(browser, args, out);
  await page.select('#page-size', '10');
  await ask(page, args.question);
  await until(page, () => document.querySelectorAll('#table tbody tr').length > 0);
  out.unsorted = await snapshot(page);
  out.unsorted.api = await lastQuery();
  await clickHeader(page, args.sort, 'ascending');
  out.asc = await snapshot(page);
  out.asc.api = await lastQuery();
  await clickHeader(page, args.sort, 'descending');
  out.desc = await snapshot(page);
  out.desc.api = await lastQuery();
  out.shotSorted = await screenshot(page, args.screenshots, 'console-sorted');
  await page.click('#next');
  await until(page, () => document.getElementById('page-info').textContent.startsWith('Page 2'));
  out.desc2 = await snapshot(page);
  out.desc2.api = await lastQuery();
  out.desc2.sortedHeader = await page.$eval('#table thead th[aria-sort]',
    (th) => [th.textContent, th.getAttribute('aria-sort')]);

  await editAndRun(page, args.sql);
  out.edited = await snapshot(page);
  out.edited.api = await lastQuery();
  out.edited.editorHidden = await page.$eval('#sql-editor', (e) => e.hidden);
  out.shotEdited = await screenshot(page, args.screenshots, 'console-edit-sql');

  await editAndRun(page, args.unsafe_sql);
  out.unsafe = await snapshot(page);
  out.unsafe.api = await lastQuery();
  out.unsafe.editorShown = await page.$eval('#sql-editor', (e) => !e.hidden);
  out.unsafe.editText = await page.$eval('#sql-edit', (e) => e.value);
  out.shotUnsafe = await screenshot(page, args.screenshots, 'console-unsafe-sql');
  return out;
}

/* With auth on and an admin key: the question answered, then saved as a verified example. */
async function exampleScenario(browser, args) {
  const out = {pageErrors: []};
  const {page, lastQuery} = await openConsole(browser, args, out);
  await ask(page, args.question);
  await until(page, () => !document.getElementById('key-form').hidden);
  await page.keyboard.type(args.key);
  await page.keyboard.press('Enter');
  await until(page, () => document.querySelectorAll('#table tbody tr').length > 0);
  out.answered = await snapshot(page);
  out.answered.api = await lastQuery();
  out.answered.saveShown = await page.$eval('#save-example', (e) => !e.hidden);
  const posted = page.waitForResponse((r) => r.request().method() === 'POST' &&
                                      new URL(r.url()).pathname === '/examples');
  await page.click('#save-example');
  const r = await posted;
  out.saved = {status: r.status(), body: await r.json()};
  await until(page, () => /Saved as verified example/.test(document.getElementById('status').textContent));
  out.saved.statusText = await page.$eval('#status', (e) => e.textContent);
  out.shot = await screenshot(page, args.screenshots, 'console-example-saved');
  return out;
}

run(async (args) => {
  const {browser, close} = await launch();
  try {
    if (args.scenario === 'auth') return await authScenario(browser, args);
    if (args.scenario === 'declined') return await declinedScenario(browser, args);
    if (args.scenario === 'tools') return await toolsScenario(browser, args);
    if (args.scenario === 'example') return await exampleScenario(browser, args);
    return await mainScenario(browser, args);
  } finally {
    await close();
  }
});
