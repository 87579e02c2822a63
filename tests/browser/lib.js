/* lib -- what every browser script shares: Debian's Chromium started headless by
 * puppeteer-core (which downloads no browser), with a fresh empty profile that is removed at
 * the end, and none of Chromium's own connections to the outside (the machine may have no
 * network). A script exports main(args) -> a JSON-able result; run() prints it as one line on
 * stdout for the pytest side to assert on, or the error on stderr with exit status 1. Also
 * what the console's scripts share: what the page shows, the answers it got, asking by keyboard. */
'use strict';

const fs = require('fs');
const http = require('http');
const os = require('os');
const path = require('path');
const puppeteer = require('puppeteer-core');

const CHROMIUM = process.env.T2SQL_CHROMIUM || '/usr/bin/chromium';
const FLAGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
  '--disable-default-apps', '--disable-extensions', '--metrics-recording-only',
  '--disable-dev-shm-usage'];

async function launch() {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 't2sql-chromium-'));
  const browser = await puppeteer.launch({
    executablePath: CHROMIUM, headless: true, userDataDir: profile, args: FLAGS,
    defaultViewport: {width: 1280, height: 900},
  });
  const close = async () => {
    try { await browser.close(); } finally { fs.rmSync(profile, {recursive: true, force: true, maxRetries: 10, retryDelay: 200}); }
  };
  return {browser, close};
}

/* Waits until fn() (run in the page) is truthy; returns its value. */
function until(page, fn, arg, timeout = 30000) {
  return page.waitForFunction(fn, {timeout, polling: 50}, arg).then((h) => h.jsonValue());
}

async function screenshot(page, dir, name) {
  if (!dir) return null;
  fs.mkdirSync(dir, {recursive: true});
  const file = path.join(dir, name + '.png');
  await page.screenshot({path: file, fullPage: true});
  return file;
}

function run(main) {
  let args = {};
  try { args = JSON.parse(process.argv[2] || '{}'); } catch (e) { console.error('bad args: ' + e.message); process.exit(2); }
  main(args).then((r) => { /* exit once a pipe has taken everything */
    process.stdout.write(JSON.stringify(r) + '\n', () => process.exit(0));
  }, (e) => {
    console.error(e && e.stack ? e.stack : String(e));
    process.exit(1);
  });
}

/* ---- the console (/console) --------------------------------------------------------- */

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

/* An HTTP request from outside the page (opts: method, headers) -> {status, text}. */
function get(url, opts) {
  return new Promise((resolve, reject) => {
    http.request(url, opts || {}, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({status: res.statusCode, text: Buffer.concat(chunks).toString()}));
    }).on('error', reject).end();
  });
}

async function ask(page, question) {
  await page.focus('#q');
  await page.$eval('#q', (e) => { e.value = ''; });
  await page.keyboard.type(question);
  await page.keyboard.press('Enter');
}

module.exports = {launch, until, screenshot, run, snapshot, unlabelled, storage, watchQueries, get, ask};
