/* console.js -- the t2sql console: asks /query, shows the SQL (and explanation, measures),
 * a chart chosen from the result's shape, the rows page by page (by query_id, no new model call), copies a page as CSV/TSV and
 * exports the whole result with live progress; the conversation thread is web/thread.js's.
 * Talks only to its own origin; the API key, when
 * the service asks for one, lives in sessionStorage only. */
'use strict';

const KEY_STORE = 't2sql.apiKey';
const TIME_TYPES = new Set(['date', 'timestamp', 'timestamptz']);
const NUM_TYPES = new Set(['int2', 'int4', 'int8', 'float4', 'float8', 'numeric', 'oid', 'money']);
const POLL_MS = 400;

/* What the API offers, read from /openapi.json (a deployment may run an older service):
 *   serviceSort  QueryRequest.sort: a header click asks the service for page 1 sorted by it
 *   editSql      QueryRequest.sql: run SQL the user edited, checked by the same guard
 *   saveExample  ExampleRequest.sql on POST /examples (admin): save the question + SQL
 *   conversations  QueryRequest.conversation_id: questions form a thread of turns */
const FEATURES = {serviceSort: false, editSql: false, saveExample: false, conversations: false};

const $ = (id) => document.getElementById(id);
const state = {
  question: '', queryId: null, page: 1, pageSize: 50, sortBy: null, conversationId: null,
  baseSql: '', /* the query_id's own SQL (the answer's sql before any sort) */
  body: null, chart: null, chartType: 'auto', chartHidden: false, job: null, pollTimer: null,
  retry: null, turns: [], shownTurn: null,
  ready: null, /* settles once FEATURES are known (and a stored conversation restored) */
};

function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined && text !== null) e.textContent = text;
  if (cls) e.className = cls;
  return e;
}

/* ---- HTTP ------------------------------------------------------------------------------ */

/* -> {status, ok, body, requestId}; body is the parsed JSON or null. Never throws for HTTP
 * errors; a network failure becomes status 0. */
async function api(method, path, body) {
  const headers = {};
  const key = sessionStorage.getItem(KEY_STORE);
  if (key) headers['Authorization'] = 'Bearer ' + key;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let r;
  try {
    r = await fetch(path, {method, headers, body: body === undefined ? undefined : JSON.stringify(body)});
  } catch (e) {
    return {status: 0, ok: false, requestId: null,
            body: {code: 'network', detail: 'the service could not be reached (' + e.message + ')'}};
  }
  let parsed = null;
  const text = await r.text();
  try { parsed = text ? JSON.parse(text) : null; } catch (e) { parsed = {code: 'bad_response', detail: text.slice(0, 200)}; }
  return {status: r.status, ok: r.ok, body: parsed, requestId: r.headers.get('X-Request-Id')};
}

/* ---- status, errors, key --------------------------------------------------------------- */

function setStatus(text) { $('status').textContent = text || ''; }

function clearError() { $('error').hidden = true; $('error').replaceChildren(); }

function showError(res) {
  const b = res.body || {};
  const box = $('error');
  const head = el('strong', (res.status ? res.status + ' ' : '') + (b.code || 'error'), 'code');
  box.replaceChildren(head, document.createTextNode(': ' + (b.detail || 'the request failed')));
  if (b.field) box.append(el('span', ' (field: ' + b.field + ')'));
  if (res.requestId) box.append(el('span', 'request id ' + res.requestId, 'rid'));
  if (Array.isArray(b.suggestions) && b.suggestions.length) {
    const row = el('div', null, 'row');
    row.append(el('span', 'Questions this data can answer:'));
    b.suggestions.forEach((s) => {
      const q = typeof s === 'string' ? s : (s.question || s.label);
      const btn = el('button', typeof s === 'string' ? s : (s.label || s.question));
      btn.type = 'button';
      btn.addEventListener('click', () => { $('q').value = q; ask(q); });
      row.append(btn);
    });
    box.append(row);
  }
  box.hidden = false;
  box.dataset.status = String(res.status);
  box.dataset.code = b.code || '';
}

/* Handles a failed response; a 401 asks for a key and retries `again` once one is given. */
function failed(res, again) {
  setStatus('');
  if (res.status === 401) {
    state.retry = again;
    sessionStorage.removeItem(KEY_STORE);
    keyState();
    showError(res);
    $('key-form').hidden = false;
    $('key').focus();
    return;
  }
  showError(res);
}

function keyState() { $('key-state').hidden = !sessionStorage.getItem(KEY_STORE); }

/* ---- asking and paging ----------------------------------------------------------------- */

/* A question (in the conversation when the API has them: the first one starts it). */
async function ask(question) {
  await state.ready;
  state.question = question;
  state.queryId = null;
  state.page = 1;
  state.sortBy = null;
  const req = {question, page: 1, page_size: state.pageSize, stream: false};
  if (FEATURES.conversations) req.conversation_id = state.conversationId || 'new';
  await run(req, true);
}

async function goPage(page) {
  if (!state.queryId) return;
  const req = {query_id: state.queryId, page, page_size: state.pageSize, stream: false};
  if (FEATURES.serviceSort && state.sortBy) req.sort = [state.sortBy];
  await run(req, false);
}

/* The user's own SQL: checked by the service's guard, then answered like a question (a new
 * query_id, page 1, unsorted). The editor stays open when the service refuses it. */
async function runSql(sql) {
  state.sortBy = null;
  await run({sql, page: 1, page_size: state.pageSize, stream: false}, false);
}

async function run(req, isQuestion) {
  clearError();
  setStatus(isQuestion ? 'Asking…' : 'Loading page ' + req.page + '…');
  $('ask-btn').disabled = true;
  const res = await api('POST', '/query', req);
  $('ask-btn').disabled = false;
  if (isQuestion && conversationGone(res)) { /* deleted or expired meanwhile: start afresh */
    forgetConversation();
    const ok = await run(Object.assign({}, req, {conversation_id: 'new'}), true);
    if (ok) setStatus('The earlier conversation is gone (deleted, or idle past its retention); ' +
                      'this question started a new one.');
    return ok;
  }
  const clarified = isQuestion && conversationAnswer(req.question, res);
  if (!res.ok) { failed(res, () => run(req, isQuestion)); return false; }
  const b = res.body;
  setStatus('');
  /* the question is a turn of the thread now: the box is free for the follow-up */
  if (isQuestion && state.conversationId && $('q').value.trim() === req.question) $('q').value = '';
  if (clarified) return true;
  state.body = b;
  if (b.query_id !== state.queryId || !req.sort) state.baseSql = b.sql || '';
  state.queryId = b.query_id || state.queryId;
  state.page = (b.pagination && b.pagination.page) || req.page;
  render(b, res.requestId);
  if (isQuestion) $('result-title').focus();
  return true;
}

/* ---- rendering ------------------------------------------------------------------------- */

function cellText(v) {
  if (v === null) return 'NULL';
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

function render(b, requestId) {
  $('result').hidden = false;
  $('sql').textContent = b.sql || '';
  const t = b.timing_ms || {};
  $('source').textContent = [b.source && 'source ' + b.source,
    t.generate !== undefined && 'generate ' + t.generate + ' ms',
    t.execute !== undefined && 'execute ' + t.execute + ' ms',
    requestId && 'request ' + requestId].filter(Boolean).join(' · ');
  closeEditor();
  $('save-example').hidden = !FEATURES.saveExample || !state.question;
  renderExplanation(b);
  renderTable(b);
  renderPager(b.pagination);
  renderChart();
  resetExport();
}

function renderExplanation(b) {
  const has = b.explanation || (Array.isArray(b.measures_used) && b.measures_used.length);
  $('explanation').hidden = !has;
  if (!has) return;
  $('explanation-text').textContent = explanationText(b.explanation) || '';
  const ul = $('measures');
  ul.replaceChildren();
  (b.measures_used || []).forEach((m) => {
    ul.append(el('li', typeof m === 'string' ? m
      : [m.name, m.description || m.expression || m.sql].filter(Boolean).join(': ')));
  });
}

/* An explanation as text: the API sends a string (older ones an object). */
function explanationText(ex) {
  if (!ex) return null;
  return typeof ex === 'string' ? ex : ex.text || ex.summary || JSON.stringify(ex);
}

function renderTable(b) {
  const types = b.column_types || [];
  const thead = $('table').tHead, tbody = $('table').tBodies[0];
  const hr = el('tr');
  (b.columns || []).forEach((c, i) => {
    const th = el('th');
    th.scope = 'col';
    if (FEATURES.serviceSort) {
      const btn = el('button', c, 'link');
      btn.type = 'button';
      btn.addEventListener('click', () => sortBy(c));
      th.append(btn);
      if (state.sortBy && state.sortBy.column === c)
        th.setAttribute('aria-sort', state.sortBy.desc ? 'descending' : 'ascending');
    } else {
      th.textContent = c;
    }
    th.title = types[i] || '';
    if (NUM_TYPES.has(types[i])) th.className = 'num';
    hr.append(th);
  });
  thead.replaceChildren(hr);
  const frag = document.createDocumentFragment();
  (b.rows || []).forEach((row) => {
    const tr = el('tr');
    row.forEach((v, i) => {
      const td = el('td', cellText(v));
      if (v === null) td.className = 'null';
      else if (NUM_TYPES.has(types[i])) td.className = 'num';
      tr.append(td);
    });
    frag.append(tr);
  });
  tbody.replaceChildren(frag);
}

/* Sorting is the service's job: page 1 again, sorted by the column (a second click on the
 * same column sorts it descending, a third ascending again). */
function sortBy(column) {
  const desc = !!(state.sortBy && state.sortBy.column === column && !state.sortBy.desc);
  state.sortBy = {column, desc};
  goPage(1);
}

function renderPager(p) {
  p = p || {};
  const total = p.total_rows, pages = p.total_pages;
  const more = p.has_more !== undefined && p.has_more !== null ? p.has_more
    : (pages !== null && pages !== undefined ? p.page < pages : false);
  $('prev').disabled = !(p.page > 1);
  $('next').disabled = !more;
  let info = 'Page ' + p.page;
  if (pages !== null && pages !== undefined) info += ' of ' + pages;
  info += ' · ' + (total !== null && total !== undefined ? total + ' rows' : (more ? 'more rows follow' : 'last page'));
  info += ' · ' + ((state.body && state.body.rows.length) || 0) + ' shown';
  $('page-info').textContent = info;
}

/* ---- charts ---------------------------------------------------------------------------- */

/* The chart the result's shape suggests: a time column and a measure -> line; a category and a
 * measure -> bar (sorted by the measure); two measures -> scatter; one value -> big number. */
function chooseChart(cols, types, rows) {
  const kind = cols.map((c, i) => TIME_TYPES.has(types[i]) ? 'time' : NUM_TYPES.has(types[i]) ? 'num' : 'cat');
  const nums = kind.map((k, i) => k === 'num' ? i : -1).filter((i) => i >= 0);
  const time = kind.indexOf('time'), cat = kind.indexOf('cat');
  if (rows.length === 1 && cols.length === 1 && nums.length === 1) return {type: 'number', value: 0};
  if (!rows.length || !nums.length) return {type: 'none'};
  if (time >= 0) return {type: 'line', x: time, ys: nums};
  if (cat >= 0) return {type: 'bar', x: cat, ys: nums.slice(0, 1)};
  if (nums.length >= 2) return {type: 'scatter', x: nums[0], ys: [nums[1]]};
  return {type: 'bar', x: -1, ys: nums.slice(0, 1)};
}

/* The user's choice applied to this result's columns (falls back to what fits). */
function chartSpec(cols, types, rows) {
  const auto = chooseChart(cols, types, rows);
  const want = state.chartType;
  if (want === 'auto' || want === auto.type || auto.type === 'none') return auto;
  const nums = cols.map((c, i) => NUM_TYPES.has(types[i]) ? i : -1).filter((i) => i >= 0);
  const other = cols.findIndex((c, i) => !NUM_TYPES.has(types[i]));
  if (want === 'number') return {type: 'number', value: nums[0]};
  if (want === 'scatter') return nums.length >= 2 ? {type: 'scatter', x: nums[0], ys: [nums[1]]} : auto;
  return {type: want, x: other, ys: nums.slice(0, want === 'bar' ? 1 : 5)};
}

const PALETTE = ['#1f5fbf', '#d9730d', '#2e8b57', '#b03060', '#6a5acd'];

function renderChart() {
  const b = state.body;
  if (state.chart) { state.chart.destroy(); state.chart = null; }
  $('bignum').hidden = true;
  $('chart-wrap').hidden = true;
  $('chart-area').hidden = state.chartHidden;
  if (!b) return;
  const cols = b.columns || [], types = b.column_types || [], rows = b.rows || [];
  const spec = chartSpec(cols, types, rows);
  $('chart-box').dataset.chart = spec.type;
  if (spec.type === 'none') { $('chart-note').textContent = 'no chart fits this result'; return; }
  $('chart-note').textContent = spec.type + (state.chartType === 'auto' ? ' (chosen from the columns)' : '');
  if (spec.type === 'number') {
    const v = rows.length ? rows[0][spec.value] : null;
    $('bignum-value').textContent = v === null || v === undefined ? 'NULL' : Number(v).toLocaleString('en');
    $('bignum-label').textContent = cols[spec.value] || '';
    $('bignum').hidden = false;
    return;
  }
  if (typeof Chart === 'undefined') { $('chart-note').textContent = 'the charting library is not installed'; return; }
  $('chart-wrap').hidden = false;
  const label = (r, i) => spec.x >= 0 ? cellText(r[spec.x]) : String(i + 1);
  let data;
  if (spec.type === 'scatter') {
    data = {datasets: [{label: cols[spec.ys[0]] + ' by ' + cols[spec.x], backgroundColor: PALETTE[0],
      data: rows.map((r) => ({x: Number(r[spec.x]), y: Number(r[spec.ys[0]])}))}]};
  } else {
    let ordered = rows;
    if (spec.type === 'bar') ordered = rows.slice().sort((a, b2) => Number(b2[spec.ys[0]]) - Number(a[spec.ys[0]]));
    data = {labels: ordered.map(label), datasets: spec.ys.map((y, k) => ({
      label: cols[y], data: ordered.map((r) => r[y] === null ? null : Number(r[y])),
      borderColor: PALETTE[k % PALETTE.length], backgroundColor: PALETTE[k % PALETTE.length],
      pointRadius: rows.length > 100 ? 0 : 2}))};
  }
  state.chart = new Chart($('chart'), {
    type: spec.type, data,
    options: {animation: false, responsive: true, maintainAspectRatio: false,
      plugins: {legend: {display: spec.ys.length > 1 || spec.type === 'scatter'}},
      scales: spec.type === 'scatter'
        ? {x: {title: {display: true, text: cols[spec.x]}}, y: {title: {display: true, text: cols[spec.ys[0]]}}}
        : {x: {title: {display: spec.x >= 0, text: cols[spec.x] || ''}}}},
  });
  $('chart').setAttribute('aria-label', spec.type + ' chart of ' + spec.ys.map((y) => cols[y]).join(', ') +
    (spec.x >= 0 ? ' by ' + cols[spec.x] : '') + ', ' + rows.length + ' points');
}

/* ---- copy ------------------------------------------------------------------------------ */

function pageText(sep) {
  const b = state.body;
  const field = sep === ','
    ? (v) => { const s = v === null ? '' : cellText(v); return /[",\r\n]/.test(s) ? '"' + s.replace(/"/g, '""') + '"' : s; }
    : (v) => (v === null ? '' : cellText(v)).replace(/[\t\r\n]/g, ' ');
  return [b.columns, ...b.rows].map((r) => r.map(field).join(sep)).join('\r\n') + '\r\n';
}

async function copyPage(sep, name) {
  if (!state.body) return;
  const text = pageText(sep);
  try {
    await navigator.clipboard.writeText(text);
  } catch (e) { /* no clipboard permission: the old way */
    const ta = el('textarea');
    ta.value = text;
    document.body.append(ta);
    ta.select();
    document.execCommand('copy');
    ta.remove();
  }
  setStatus('Copied ' + state.body.rows.length + ' rows as ' + name);
}

/* ---- export ---------------------------------------------------------------------------- */

function resetExport() {
  stopPolling();
  state.job = null;
  $('export-start').disabled = !state.queryId;
  $('export-cancel').hidden = true;
  $('export-progress').hidden = true;
  $('export-done').hidden = true;
  $('export-status').textContent = '';
}

function stopPolling() { if (state.pollTimer) { clearTimeout(state.pollTimer); state.pollTimer = null; } }

function bytesText(n) {
  if (n === null || n === undefined) return '';
  const u = ['B', 'KiB', 'MiB', 'GiB'];
  let i = 0, v = n;
  while (v >= 1024 && i < u.length - 1) { v /= 1024; i++; }
  return (i ? v.toFixed(1) : String(v)) + ' ' + u[i];
}

async function startExport() {
  if (!state.queryId) return;
  resetExport();
  const req = {query_id: state.queryId, format: $('export-format').value};
  $('export-start').disabled = true;
  const res = await api('POST', '/export/start', req);
  if (!res.ok) { $('export-start').disabled = false; failed(res, startExport); return; }
  state.job = res.body.job_id;
  $('export-cancel').hidden = false;
  $('export-progress').hidden = false;
  showJob(res.body);
  poll();
}

function showJob(j) {
  const total = state.body && state.body.pagination ? state.body.pagination.total_rows : null;
  const pr = $('export-progress');
  const rows = j.rows_written ?? j.row_count;
  if (total && rows !== undefined && rows !== null) { pr.max = total; pr.value = Math.min(rows, total); }
  else pr.removeAttribute('value');
  const parts = ['Export ' + j.status];
  if (rows !== undefined && rows !== null) parts.push(rows + ' rows');
  if (j.bytes !== undefined && j.bytes !== null) parts.push(bytesText(j.bytes));
  if (j.error) parts.push(j.error);
  const st = $('export-status');
  st.textContent = parts.join(' · ');
  st.dataset.status = j.status;
  if (j.status === 'SUCCESS' && j.download_url) {
    const a = $('export-link');
    a.href = j.download_url;
    a.textContent = 'Download the ' + ($('export-format').value === 'csv.gz' ? 'gzipped CSV' : 'CSV') +
      (j.row_count !== undefined ? ' (' + j.row_count + ' rows)' : '');
    $('export-done').hidden = false;
    pr.hidden = true;
  }
  if (['SUCCESS', 'FAILED', 'CANCELLED'].includes(j.status)) {
    $('export-cancel').hidden = true;
    $('export-start').disabled = false;
    pr.hidden = true;
    return true;
  }
  return false;
}

async function poll() {
  const id = state.job;
  if (!id) return;
  const res = await api('GET', '/export/status/' + encodeURIComponent(id));
  if (state.job !== id) return; /* a newer export or result took over */
  if (!res.ok) { failed(res, poll); return; }
  if (!showJob(res.body)) state.pollTimer = setTimeout(poll, POLL_MS);
}

async function cancelExport() {
  const id = state.job;
  if (!id) return;
  stopPolling();
  const res = await api('POST', '/export/cancel/' + encodeURIComponent(id));
  if (!res.ok && res.status !== 409) { failed(res, cancelExport); return; }
  if (res.ok) showJob(res.body);
  else poll();
}

/* ---- edit and run, save as example ----------------------------------------------------- */

function openEditor() {
  $('sql-edit').value = state.body ? state.body.sql || '' : '';
  $('sql').hidden = true;
  $('sql-editor').hidden = false;
  $('edit-sql').hidden = true;
  $('sql-edit').focus();
}

function closeEditor() {
  $('sql-editor').hidden = true;
  $('sql').hidden = false;
  $('edit-sql').hidden = !FEATURES.editSql;
}

/* POST /examples (admin scope): the question asked (a follow-up's standalone form) and the
 * query_id's SQL, unsorted. */
async function saveExample() {
  if (!state.question || !state.baseSql) return;
  clearError();
  const question = await exampleQuestion();
  const res = await api('POST', '/examples', {question, sql: state.baseSql});
  if (!res.ok) { failed(res, saveExample); return; }
  setStatus('Saved as verified example ' + res.body.id + ': "' + res.body.question + '"');
}

/* ---- features from the API's own contract ---------------------------------------------- */

async function detectFeatures() {
  const res = await api('GET', '/openapi.json');
  if (!res.ok || !res.body || !res.body.components) return;
  const s = res.body.components.schemas || {};
  const q = (s.QueryRequest && s.QueryRequest.properties) || {};
  FEATURES.serviceSort = 'sort' in q;
  FEATURES.editSql = 'sql' in q;
  FEATURES.conversations = 'conversation_id' in q;
  FEATURES.saveExample = !!(s.ExampleRequest && s.ExampleRequest.properties &&
                            'sql' in s.ExampleRequest.properties);
  document.body.dataset.features = Object.keys(FEATURES).filter((k) => FEATURES[k]).join(' ');
}

/* ---- wiring ---------------------------------------------------------------------------- */

function init() {
  keyState();
  state.pageSize = Number($('page-size').value);
  $('ask').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const q = $('q').value.trim();
    if (q) ask(q);
  });
  $('q').addEventListener('keydown', (ev) => {
    if (ev.key === 'Enter' && !ev.shiftKey && !ev.isComposing) { ev.preventDefault(); $('ask').requestSubmit(); }
  });
  $('key-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const k = $('key').value.trim();
    if (!k) return;
    sessionStorage.setItem(KEY_STORE, k);
    $('key').value = '';
    $('key-form').hidden = true;
    keyState();
    clearError();
    const again = state.retry;
    state.retry = null;
    if (again) again();
  });
  $('key-forget').addEventListener('click', () => { sessionStorage.removeItem(KEY_STORE); keyState(); });
  $('new-conv').addEventListener('click', newConversation);
  $('page-size').addEventListener('change', () => {
    state.pageSize = Number($('page-size').value);
    if (state.queryId) goPage(1);
  });
  $('prev').addEventListener('click', () => goPage(state.page - 1));
  $('next').addEventListener('click', () => goPage(state.page + 1));
  $('copy-csv').addEventListener('click', () => copyPage(',', 'CSV'));
  $('copy-tsv').addEventListener('click', () => copyPage('\t', 'TSV'));
  $('chart-type').addEventListener('change', () => { state.chartType = $('chart-type').value; renderChart(); });
  $('chart-toggle').addEventListener('click', () => {
    state.chartHidden = !state.chartHidden;
    $('chart-toggle').setAttribute('aria-pressed', String(state.chartHidden));
    $('chart-toggle').textContent = state.chartHidden ? 'Show chart' : 'Hide chart';
    $('chart-area').hidden = state.chartHidden;
  });
  $('export').addEventListener('submit', (ev) => { ev.preventDefault(); startExport(); });
  $('export-cancel').addEventListener('click', cancelExport);
  $('edit-sql').addEventListener('click', openEditor);
  $('sql-cancel').addEventListener('click', closeEditor);
  $('sql-run').addEventListener('click', () => { const q = $('sql-edit').value.trim(); if (q) runSql(q); });
  $('sql-edit').addEventListener('keydown', (ev) => {
    if (ev.key === 'Enter' && (ev.ctrlKey || ev.metaKey)) { ev.preventDefault(); $('sql-run').click(); }
  });
  $('save-example').addEventListener('click', saveExample);
  $('q').focus();
  state.ready = detectFeatures().then(restoreConversation);
}

document.addEventListener('DOMContentLoaded', init);
