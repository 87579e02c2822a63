/* lib -- what every browser script shares: Debian's Chromium started headless by
 * puppeteer-core (which downloads no browser), with a fresh empty profile that is removed at
 * the end, and none of Chromium's own connections to the outside (the machine may have no
 * network). A script exports main(args) -> a JSON-able result; run() prints it as one line on
 * stdout for the pytest side to assert on, or the error on stderr with exit status 1. */
'use strict';

const fs = require('fs');
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

module.exports = {launch, until, screenshot, run};
