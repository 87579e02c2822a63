/* convo -- the console's conversation thread in headless Chromium, as a user would use it:
 *   node tests/browser/convo.js '{"url": URL, "key": KEY, "question": "...", "follow_up": "...",
 *                                 "clarify": "...", "option": "...", "gone": "...",
 *                                 "failing": "...", "save": "...", "screenshots": DIR}'
 * the question (the key given when the service asks for it), then follow_up typed in the same
 * box: two turns; turn 1's result shown again from the thread; a reload restores the thread;
 * "New conversation" clears it; clarify is asked back with its options as buttons, the one
 * whose label holds option is reached by Tab and pressed; then gone is asked in a third
 * conversation that is deleted behind the console's back before a reload, and failing as its
 * follow-up (an error, kept as a turn), then save as one more that is saved as a verified
 * example (the key has the admin scope). Prints what the
 * page showed at each step next to the /query answers it got. */
'use strict';

const {launch, until, screenshot, run, snapshot, unlabelled, storage, watchQueries, get, ask} =
  require('./lib');

/* The thread as shown, turn by turn. */
function thread(page) {
  return page.evaluate(() => ({
    hidden: document.getElementById('thread-box').hidden,
    live: document.getElementById('thread').getAttribute('aria-live'),
    turns: [...document.querySelectorAll('#thread .turn')].map((li) => {
      const pre = li.querySelector('details pre');
      return {
        n: Number(li.dataset.turn),
        question: li.querySelector('.question .text').textContent,
        sql: pre ? pre.textContent : null,
        sqlOpen: pre ? li.querySelector('details').open : null,
        explanation: li.querySelector('.explain') ? li.querySelector('.explain').textContent : null,
        answer: li.querySelector('.answer').textContent,
        current: li.getAttribute('aria-current') === 'true',
        show: !!li.querySelector('button.show'),
        options: [...li.querySelectorAll('.options button')].map((b) => ({
          label: b.textContent, title: b.title, type: b.type, tabIndex: b.tabIndex,
          group: b.parentElement.getAttribute('aria-label')})),
      };
    }),
  }));
}

function box(page) {
  return page.evaluate(() => ({
    label: document.getElementById('q-label').textContent,
    value: document.getElementById('q').value,
    button: document.getElementById('ask-btn').textContent,
    newConversation: !document.getElementById('new-conv').hidden,
    conversation: sessionStorage.getItem('t2sql.conversation'),
    status: document.getElementById('status').textContent,
    resultHidden: document.getElementById('result').hidden,
    focused: document.activeElement ? (document.activeElement.id || document.activeElement.textContent) : null,
  }));
}

async function view(page, lastQuery) {
  const v = await snapshot(page);
  v.api = await lastQuery();
  v.thread = await thread(page);
  v.box = await box(page);
  return v;
}

/* Waits for n turns, the page idle, and (when rows) the table of the turn marked current. */
function settled(page, n, rows) {
  return until(page, (a) => {
    const turns = document.querySelectorAll('#thread .turn');
    if (turns.length !== a[0] || document.getElementById('ask-btn').disabled) return false;
    if (/…$/.test(document.getElementById('status').textContent)) return false;
    if (!a[1]) return true;
    return !!document.querySelector('#thread .turn[aria-current=true]') &&
      !document.getElementById('result').hidden && document.querySelectorAll('#table tbody tr').length > 0;
  }, [n, rows]);
}

/* The first question; with auth on, the key when the service asks for it. */
async function firstQuestion(page, args) {
  await ask(page, args.question);
  if (args.key) {
    await until(page, () => !document.getElementById('key-form').hidden);
    await page.keyboard.type(args.key);
    await page.keyboard.press('Enter');
  }
}

/* The same page 390 px wide: out[key + '390'] is the screenshot var/test/screenshots/<file>-390.png. */
async function narrow(page, out, dir, key, file) {
  await page.setViewport({width: 390, height: 844});
  await new Promise((r) => setTimeout(r, 300)); /* the chart follows its container's size */
  out.scrollWidth390 = await page.evaluate(() => document.documentElement.scrollWidth);
  out[key + '390'] = await screenshot(page, dir, file + '-390');
  await page.setViewport({width: 1280, height: 900});
}

/* Tab from the focused element until a button whose text holds label has the focus. */
async function tabTo(page, label) {
  for (let i = 0; i < 10; i++) {
    if (await page.evaluate((l) => document.activeElement.tagName === 'BUTTON' &&
                            document.activeElement.textContent.includes(l), label)) return i;
    await page.keyboard.press('Tab');
  }
  throw new Error('no button "' + label + '" reached by Tab');
}

async function followUps(page, args, out, lastQuery) {
  await firstQuestion(page, args);
  await settled(page, 1, true);
  out.first = await view(page, lastQuery);
  await ask(page, args.follow_up); /* typed in the same box, now "Ask a follow-up" */
  await settled(page, 2, true);
  out.followUp = await view(page, lastQuery);
  out.unlabelled = await unlabelled(page);
  out.thread1280 = await screenshot(page, args.screenshots, 'conversation-1280');
  await narrow(page, out, args.screenshots, 'thread', 'conversation');
  await page.click('#thread .turn:first-child button.show');
  await until(page, () => document.querySelector('#thread .turn:first-child[aria-current=true]') &&
    document.getElementById('status').textContent === '');
  out.earlier = await view(page, lastQuery);
}

async function reloadAndClear(page, out, lastQuery) {
  await page.reload({waitUntil: 'load'});
  await settled(page, 2, true);
  out.restored = await view(page, lastQuery);
  await page.click('#new-conv');
  out.cleared = await view(page, lastQuery);
  out.cleared.storage = await storage(page);
}

async function clarification(page, args, out, lastQuery) {
  await ask(page, args.clarify);
  await until(page, () => document.querySelectorAll('#thread .turn .options button').length > 0);
  out.clarify = await view(page, lastQuery);
  out.clarify1280 = await screenshot(page, args.screenshots, 'conversation-clarify-1280');
  await narrow(page, out, args.screenshots, 'clarify', 'conversation-clarify');
  await page.focus('#thread .turn:last-child .options button'); /* as the answer left it */
  out.tabs = await tabTo(page, args.option);
  out.pressed = await page.evaluate(() => document.activeElement.textContent);
  await page.keyboard.press('Enter');
  await settled(page, 2, true);
  out.clarified = await view(page, lastQuery);
  out.clarified1280 = await screenshot(page, args.screenshots, 'conversation-clarified-1280');
}

/* A conversation deleted elsewhere (here: by DELETE from outside the page), then a reload. */
async function gone(page, args, out, lastQuery) {
  await page.click('#new-conv');
  await ask(page, args.gone);
  await settled(page, 1, true);
  const id = await page.evaluate(() => sessionStorage.getItem('t2sql.conversation'));
  const headers = args.key ? {Authorization: 'Bearer ' + args.key} : {};
  out.deleted = await get(args.url + '/conversations/' + id, {method: 'DELETE', headers});
  out.deleted.id = id;
  await page.reload({waitUntil: 'load'});
  await until(page, () => document.getElementById('status').dataset.note === 'conversation-gone');
  out.gone = await view(page, lastQuery);
  await ask(page, args.gone); /* the next question starts a new conversation */
  await settled(page, 1, true);
  out.afterGone = await view(page, lastQuery);
  await ask(page, args.failing); /* a follow-up the service cannot answer: a failed turn */
  await settled(page, 2, false);
  out.failedTurn = await view(page, lastQuery);
  await ask(page, args.save); /* answered, then saved as a verified example (an admin key) */
  await settled(page, 3, true);
  const posted = page.waitForResponse((r) => r.request().method() === 'POST' &&
                                      new URL(r.url()).pathname === '/examples');
  await page.click('#save-example');
  const r = await posted;
  out.saved = {status: r.status(), body: await r.json(), id: await page.evaluate(
    () => sessionStorage.getItem('t2sql.conversation'))};
}

run(async (args) => {
  const {browser, close} = await launch();
  const out = {pageErrors: [], requests: []};
  try {
    const page = await browser.newPage();
    page.on('pageerror', (e) => out.pageErrors.push(String(e)));
    page.on('request', (r) => out.requests.push(r.url()));
    const lastQuery = watchQueries(page);
    await page.goto(args.url + '/console', {waitUntil: 'load'});
    out.start = await box(page);
    await followUps(page, args, out, lastQuery);
    await reloadAndClear(page, out, lastQuery);
    await clarification(page, args, out, lastQuery);
    await gone(page, args, out, lastQuery);
    return out;
  } finally {
    await close();
  }
});
