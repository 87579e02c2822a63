/* cors -- loads the page of another origin (tests/fixtures/origin/) from each given URL and
 * runs its fetch() calls against the API; prints what each origin's page could read.
 *   node tests/browser/cors.js '{"pages": {"allowed": URL, "other": URL}, "api": URL,
 *                                "question": "..."}' */
'use strict';

const {launch, run} = require('./lib');

run(async (args) => {
  const {browser, close} = await launch();
  const out = {};
  try {
    for (const [name, url] of Object.entries(args.pages)) {
      const page = await browser.newPage();
      const consoleErrors = [];
      page.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(m.text()); });
      await page.goto(url, {waitUntil: 'load'});
      out[name] = await page.evaluate((api, q) => window.runChecks(api, q), args.api, args.question);
      out[name].consoleErrors = consoleErrors;
      await page.close();
    }
  } finally {
    await close();
  }
  return out;
});
