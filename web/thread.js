/* thread.js -- the console's conversation: the thread of turns (question, SQL, explanation,
 * rows and source, or the clarification asked back with its options as buttons, or the error),
 * the question box as "ask a follow-up" while a conversation is active, "New conversation",
 * and the conversation id kept in sessionStorage so a reload restores the thread from
 * GET /conversations/{id}. An earlier turn's result is shown again by its query_id (page 1,
 * the stored SQL: no new model call, no new turn). Uses console.js's state, api(), render(). */
'use strict';

const CONV_STORE = 't2sql.conversation';

/* A turn as the thread shows it, from a /query answer (n counted here) or a listed turn. */
function turnFromAnswer(question, b) {
  const p = b.pagination || {};
  return {
    n: state.turns.length + 1, question, sql: b.sql || null, query_id: b.query_id || null,
    source: b.source || null, explanation: explanationText(b.explanation),
    row_count: p.total_rows ?? (b.clarification ? null : (b.rows || []).length),
    clarification: b.clarification || null, error: null,
  };
}

function turnFromError(question, res) {
  const b = res.body || {};
  return {n: state.turns.length + 1, question, error: {detail: b.detail, code: b.code, status: res.status}};
}

function turnFromListing(t) {
  return {
    n: t.turn, question: t.question, sql: t.sql || null, query_id: t.query_id || null,
    source: t.source || null, explanation: explanationText(t.explanation),
    row_count: t.row_count ?? null, clarification: t.clarification || null, error: t.error || null,
    standalone: t.standalone_question || null,
  };
}

/* The box reads "ask a follow-up" while a conversation is active. */
function followUpMode() {
  const on = !!state.conversationId;
  $('q-label').textContent = on ? 'Ask a follow-up' : 'Question';
  $('q').placeholder = on ? 'e.g. only members, or by month'
    : 'e.g. total ticket revenue by event category';
  $('ask-btn').textContent = on ? 'Ask follow-up' : 'Ask';
  $('new-conv').hidden = !on;
  $('thread-box').hidden = !on || !state.turns.length;
  document.body.dataset.conversation = state.conversationId || '';
}

function adoptConversation(id) {
  if (!id || id === state.conversationId) return;
  state.conversationId = id;
  sessionStorage.setItem(CONV_STORE, id);
  followUpMode();
}

function forgetConversation() {
  state.conversationId = null;
  state.turns = [];
  state.shownTurn = null;
  sessionStorage.removeItem(CONV_STORE);
  $('thread').replaceChildren();
  followUpMode();
}

/* "New conversation": the thread and its result go; the next question starts afresh. The
 * old conversation stays on the service until its retention ends (DELETE is the API's). */
function newConversation() {
  forgetConversation();
  clearError();
  setStatus('');
  $('result').hidden = true;
  state.body = null;
  state.queryId = null;
  resetExport();
  $('q').value = '';
  $('q').focus();
}

function turnSummary(t) {
  if (t.error) return (t.error.status ? t.error.status + ' ' : '') + (t.error.code || 'error') +
    ': ' + (t.error.detail || 'the question failed');
  if (t.clarification) return 'asked back: ' + (t.clarification.question || 'which one do you mean?');
  const parts = [];
  if (t.row_count !== null && t.row_count !== undefined) parts.push(t.row_count + (t.row_count === 1 ? ' row' : ' rows'));
  if (t.source) parts.push('source ' + t.source);
  return parts.join(' · ');
}

function clarifyButtons(t) {
  const group = el('div', null, 'row options');
  group.setAttribute('role', 'group');
  group.setAttribute('aria-label', 'Answers to: ' + (t.clarification.question || 'which one do you mean?'));
  (t.clarification.options || []).forEach((o) => {
    const btn = el('button', o.label || o.question, 'option');
    btn.type = 'button';
    if (o.question && o.question !== btn.textContent) btn.title = o.question;
    btn.addEventListener('click', () => ask(o.question || o.label));
    group.append(btn);
  });
  return group;
}

function turnItem(t, last) {
  const li = el('li', null, 'turn');
  li.dataset.turn = String(t.n);
  if (t.error) li.classList.add('failed');
  const q = el('p', null, 'question');
  q.append(el('span', t.n + '.', 'n'), document.createTextNode(' '), el('span', t.question, 'text'));
  li.append(q);
  if (t.sql) {
    const d = el('details');
    d.append(el('summary', 'SQL'), el('pre', t.sql));
    li.append(d);
  }
  if (t.explanation) li.append(el('p', t.explanation, 'explain'));
  const foot = el('div', null, 'row');
  foot.append(el('span', turnSummary(t), 'answer meta'));
  if (t.query_id) {
    const btn = el('button', 'Show result', 'show');
    btn.type = 'button';
    btn.setAttribute('aria-label', 'Show the result of turn ' + t.n + ': ' + t.question);
    btn.addEventListener('click', () => showTurn(t));
    foot.append(btn);
  }
  li.append(foot);
  if (t.clarification && last) li.append(clarifyButtons(t));
  return li;
}

/* Redraws the thread; the list is aria-live, so a turn added at the end is announced. */
function renderThread() {
  const ol = $('thread');
  const items = state.turns.map((t, i) => turnItem(t, i === state.turns.length - 1));
  const known = ol.children.length;
  if (known && known < items.length) { /* keep the earlier items: only the new ones are announced */
    const asked = ol.lastElementChild.querySelector('.options'); /* answered by the new turn */
    if (asked) asked.remove();
    items.slice(known).forEach((li) => ol.append(li));
  } else {
    ol.replaceChildren(...items);
  }
  markShown();
  followUpMode();
}

function markShown() {
  [...$('thread').children].forEach((li) => {
    if (state.shownTurn !== null && li.dataset.turn === String(state.shownTurn)) li.setAttribute('aria-current', 'true');
    else li.removeAttribute('aria-current');
  });
}

function addTurn(t) {
  state.turns.push(t);
  if (t.query_id) state.shownTurn = t.n;
  renderThread();
}

/* An earlier (or restored) turn's result: page 1 of its query_id. */
async function showTurn(t) {
  state.question = t.question;
  state.sortBy = null;
  state.queryId = t.query_id;
  if (await run({query_id: t.query_id, page: 1, page_size: state.pageSize, stream: false}, false)) {
    state.shownTurn = t.n;
    markShown();
    $('result-title').focus();
  }
}

/* After a reload: the thread from GET /conversations/{id}, the latest answered turn's result
 * again; a conversation that is gone (404: deleted or expired) starts fresh, saying so. */
async function restoreConversation() {
  const id = sessionStorage.getItem(CONV_STORE);
  if (!id || !FEATURES.conversations) return;
  const res = await api('GET', '/conversations/' + encodeURIComponent(id));
  if (res.status === 404 || res.status === 422) {
    forgetConversation();
    setStatus('The earlier conversation is gone (deleted, or idle past its retention); ' +
              'your next question starts a new one.');
    $('status').dataset.note = 'conversation-gone';
    return;
  }
  if (!res.ok) { failed(res, restoreConversation); return; }
  state.conversationId = res.body.conversation_id || id;
  $('thread').setAttribute('aria-busy', 'true');
  state.turns = (res.body.turns || []).map(turnFromListing);
  renderThread();
  $('thread').removeAttribute('aria-busy');
  const answered = state.turns.filter((t) => t.query_id);
  if (answered.length) await showTurn(answered[answered.length - 1]);
  const last = state.turns[state.turns.length - 1];
  if (last && last.clarification) focusOption();
}

function focusOption() {
  const first = $('thread').querySelector('li:last-child .options button');
  if (first) first.focus();
}

/* The question a verified example keeps for the result shown: a follow-up ("only members")
 * means nothing alone, so its standalone form from the conversation's listing. */
async function exampleQuestion() {
  const i = state.turns.findIndex((t) => t.n === state.shownTurn);
  const t = state.turns[i];
  if (i < 1 || !t.query_id) return state.question; /* a first turn stands alone */
  if (!t.standalone) {
    const res = await api('GET', '/conversations/' + encodeURIComponent(state.conversationId));
    const turns = (res.ok && res.body.turns) || [];
    const lt = turns.filter((x) => x.query_id === t.query_id && x.question === t.question).pop();
    if (lt && lt.standalone_question) t.standalone = lt.standalone_question;
  }
  return t.standalone || t.question;
}

/* A question's answer in the conversation: a turn (rows, clarification or error). Returns
 * true when it was a clarification (no result to show). */
function conversationAnswer(question, res) {
  const b = res.body || {};
  if (!res.ok) {
    /* a refused field is not stored as a turn (nor is the conversation it would start) */
    if (!b.conversation_id || b.code === 'validation_error') return false;
    adoptConversation(b.conversation_id);
    addTurn(turnFromError(question, res));
    return false;
  }
  if (!b.conversation_id) return false;
  adoptConversation(b.conversation_id);
  addTurn(turnFromAnswer(question, b));
  if (b.clarification) { state.shownTurn = null; markShown(); focusOption(); }
  return !!b.clarification;
}

/* A follow-up sent to a conversation that is gone: 404 on conversation_id. */
function conversationGone(res) {
  const b = res.body || {};
  return res.status === 404 && b.field === 'conversation_id' && !!state.conversationId;
}
