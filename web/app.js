// hark dashboard, first step (issue 14): the queue, job control and upload,
// over the same HTTP API as every other client, on this page's own origin
// (the Content-Security-Policy allows no other: connect-src 'self').
//
// - The queue follows one EventSource on /v1/events (every event of the
//   jobs this token may see): a state or progress event updates its row,
//   a new job's "queued" event reloads the list. The list is loaded when
//   the stream opens (so nothing that happened while it was down is
//   missed) and every RECONCILE_MS (a deleted job has no event). When the
//   stream fails the page polls every SLOW_POLL_MS, and tries a new stream
//   at each poll, from the last event id it saw (?since=).
// - Signing in: without tokens (a loopback server) nothing is asked. With
//   tokens the API answers 401 and the page asks for one; it is kept in
//   sessionStorage (this tab only) and sent as "Authorization: Bearer".
//   EventSource cannot send that header: for each stream the page first
//   trades the token for a stream ticket (POST /v1/stream-tickets; one
//   use, 60 s) and puts the ticket in the stream's URL, never the token.
// - Everything from the server is put in the page as text (textContent),
//   never as HTML: a job's source is whatever name its uploader gave.
'use strict';

const TOKEN_KEY = 'hark.token';
const SLOW_POLL_MS = 10000;
const RECONCILE_MS = 60000;
const LIST_PATH = '/v1/jobs?order=desc&limit=100';
const FINAL = new Set(['succeeded', 'failed', 'cancelled']);

const $ = (id) => document.getElementById(id);
const rows = new Map(); // job id -> {tr, cells, buttons}
let timer = null;
let inFlight = false;
let stream = null; // the EventSource, while it is open or opening
let streamUp = false;
let lastEventId = null; // the last event id seen, as a string
let streamGen = 0; // which openStream call is the current one
let reloadSoon = null;

function token() {
  return sessionStorage.getItem(TOKEN_KEY) || '';
}

class ApiError extends Error {
  constructor(status, message, code) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

// One API call: JSON back, or an ApiError with the server's message.
async function api(method, path, body) {
  const headers = {};
  const t = token();
  if (t) headers.Authorization = 'Bearer ' + t;
  let res;
  try {
    res = await fetch(path, { method, headers, body, cache: 'no-store', credentials: 'omit' });
  } catch (e) {
    throw new ApiError(0, 'cannot reach the server (' + e.message + ')', null);
  }
  const type = res.headers.get('Content-Type') || '';
  const data = type.startsWith('application/json') ? await res.json().catch(() => null) : null;
  if (!res.ok) {
    const err = data && data.error;
    throw new ApiError(res.status, err ? err.message : 'HTTP ' + res.status, err ? err.code : null);
  }
  return data;
}

function say(el, text, isError) {
  el.textContent = text;
  el.classList.toggle('error', !!isError);
}

function showSignin(show) {
  $('signin').hidden = !show;
}

// ---- the queue ----

function makeButton(label, id, action) {
  const b = document.createElement('button');
  b.type = 'button';
  b.textContent = label;
  b.setAttribute('aria-label', label + ' job ' + id);
  b.addEventListener('click', () => control(id, action, b));
  return b;
}

function makeRow(id) {
  const tr = document.createElement('tr');
  const cells = {};
  for (const [key, label] of [
    ['id', 'Job'], ['kind', 'Kind'], ['priority', 'Priority'], ['state', 'State'],
    ['progress', 'Progress'], ['nodes', 'Nodes'], ['actions', 'Actions'],
  ]) {
    const td = document.createElement(key === 'id' ? 'th' : 'td');
    if (key === 'id') td.scope = 'row';
    td.className = key;
    td.dataset.label = label;
    tr.appendChild(td);
    cells[key] = td;
  }
  cells.id.textContent = id;
  const bar = document.createElement('progress');
  bar.max = 1;
  bar.setAttribute('aria-label', 'progress of job ' + id);
  const pct = document.createElement('span');
  pct.className = 'pct';
  cells.progress.append(bar, pct);
  const buttons = {
    pause: makeButton('Pause', id, 'pause'),
    resume: makeButton('Resume', id, 'resume'),
    cancel: makeButton('Cancel', id, 'cancel'),
  };
  cells.actions.append(buttons.pause, buttons.resume, buttons.cancel);
  return { tr, cells, bar, pct, buttons };
}

function updateRow(row, job) {
  row.job = job;
  const c = row.cells;
  c.kind.textContent = job.kind;
  c.priority.textContent = job.priority;
  c.state.textContent = job.state;
  c.state.title = job.error || '';
  const p = typeof job.progress === 'number' ? job.progress : 0;
  row.bar.value = p;
  row.pct.textContent = Math.round(p * 100) + '%';
  c.nodes.textContent = Array.isArray(job.nodes) && job.nodes.length ? job.nodes.join(', ') : '—';
  const final = FINAL.has(job.state);
  row.buttons.pause.disabled = !(job.state === 'queued' || job.state === 'running');
  row.buttons.resume.disabled = job.state !== 'paused';
  row.buttons.cancel.disabled = final;
}

function render(jobs) {
  const body = $('jobs');
  const seen = new Set();
  jobs.forEach((job, i) => {
    seen.add(job.id);
    let row = rows.get(job.id);
    if (!row) {
      row = makeRow(job.id);
      rows.set(job.id, row);
    }
    updateRow(row, job);
    // Move a row only when it is out of place: moving the row that holds
    // the keyboard focus would drop it.
    if (body.children[i] !== row.tr) body.insertBefore(row.tr, body.children[i] || null);
  });
  for (const [id, row] of rows) {
    if (!seen.has(id)) {
      row.tr.remove();
      rows.delete(id);
    }
  }
  $('queue-empty').hidden = jobs.length > 0;
}

async function refresh() {
  if (inFlight) return;
  inFlight = true;
  try {
    const list = await api('GET', LIST_PATH);
    showSignin(false);
    render(list.data || []);
    say($('conn'), (streamUp ? 'live, listed ' : 'updated ') + new Date().toLocaleTimeString(),
      false);
  } catch (e) {
    if (e.status === 401) {
      showSignin(true);
      say($('conn'), token() ? 'the token was refused' : 'an API token is needed', true);
    } else {
      say($('conn'), e.message, true);
    }
  } finally {
    inFlight = false;
  }
}

// ---- the event stream ----

// The state an event leaves its job in, when it changes it.
const EVENT_STATE = {
  queued: 'queued', started: 'running', paused: 'paused', resumed: 'queued',
  preempted: 'queued', retried: 'queued', succeeded: 'succeeded', failed: 'failed',
  cancelled: 'cancelled',
};

function reloadShortly() {
  if (reloadSoon) return;
  reloadSoon = setTimeout(() => {
    reloadSoon = null;
    refresh();
  }, 300);
}

function onEvent(ev) {
  if (ev.lastEventId) lastEventId = ev.lastEventId;
  let data;
  try {
    data = JSON.parse(ev.data);
  } catch (e) {
    return;
  }
  const row = data && rows.get(data.job);
  if (!row) {
    if (ev.type === 'queued') reloadShortly(); // a new job
    return;
  }
  const job = Object.assign({}, row.job);
  if (EVENT_STATE[ev.type]) job.state = EVENT_STATE[ev.type];
  if (ev.type === 'failed') job.error = data.error || job.error;
  if (typeof data.progress === 'number') {
    job.progress = data.progress;
  } else if (typeof data.chunks_done === 'number' && data.n_chunks > 0) {
    job.progress = data.chunks_done / data.n_chunks;
  }
  if (ev.type === 'succeeded') job.progress = 1;
  updateRow(row, job);
  if (ev.type === 'started') reloadShortly(); // its nodes
}

const EVENT_TYPES = [
  'queued', 'started', 'progress', 'chunk_committed', 'stage', 'paused', 'resumed',
  'preempted', 'retried', 'succeeded', 'failed', 'cancelled',
];

function closeStream() {
  if (stream) stream.close();
  stream = null;
  streamUp = false;
}

async function openStream() {
  closeStream();
  const gen = ++streamGen;
  if (document.hidden) return;
  if (!token() && !$('signin').hidden) {
    schedule(); // the server wants a token the page does not have yet
    return;
  }
  const q = new URLSearchParams();
  if (lastEventId) q.set('since', lastEventId);
  if (token()) {
    try {
      const t = await api('POST', '/v1/stream-tickets');
      q.set('ticket', t.ticket);
    } catch (e) {
      if (e.status === 401) showSignin(true);
      schedule();
      return;
    }
    if (gen !== streamGen) return; // another call took over meanwhile
  }
  const qs = q.toString();
  const es = new EventSource('/v1/events' + (qs ? '?' + qs : ''));
  stream = es;
  es.addEventListener('open', () => {
    if (stream !== es) return;
    streamUp = true;
    refresh(); // what happened while no stream was open
    schedule();
  });
  // A ticket opens one stream: the browser's own reconnect would be
  // refused, so the page closes it and opens a new one (new ticket, the
  // last id) at the next slow poll.
  es.addEventListener('error', () => {
    if (stream !== es) return;
    const wasUp = streamUp;
    closeStream();
    if (wasUp) say($('conn'), 'live updates lost: polling', true);
    refresh();
    schedule();
  });
  for (const type of EVENT_TYPES) es.addEventListener(type, onEvent);
}

// A reconcile every RECONCILE_MS while the stream is up; else a slow
// poll that also tries a new stream.
function schedule() {
  clearTimeout(timer);
  timer = null;
  if (document.hidden) return; // resumed when the tab is shown
  timer = setTimeout(async () => {
    await refresh();
    if (!streamUp && !document.hidden) openStream();
    else schedule();
  }, streamUp ? RECONCILE_MS : SLOW_POLL_MS);
}

async function control(id, action, button) {
  button.disabled = true;
  try {
    await api('POST', '/v1/jobs/' + encodeURIComponent(id) + '/' + action);
    say($('queue-status'), action + ': job ' + id, false);
  } catch (e) {
    say($('queue-status'), action + ' job ' + id + ': ' + e.message, true);
  }
  await refresh();
}

// ---- upload ----

async function upload(ev) {
  ev.preventDefault();
  const form = ev.currentTarget;
  const file = $('file').files[0];
  const status = $('upload-status');
  if (!file) {
    say(status, 'choose a recording first', true);
    return;
  }
  const fd = new FormData();
  fd.append('priority', $('priority').value);
  fd.append('file', file, file.name);
  const submit = form.querySelector('button[type="submit"]');
  submit.disabled = true;
  say(status, 'uploading ' + file.name + '…', false);
  try {
    const job = await api('POST', '/v1/jobs', fd);
    say(status, 'submitted ' + file.name + ' as job ' + job.id, false);
    form.reset();
  } catch (e) {
    if (e.status === 401) showSignin(true);
    say(status, 'cannot submit ' + file.name + ': ' + e.message, true);
  } finally {
    submit.disabled = false;
  }
  await refresh();
}

// ---- token ----

function useToken(ev) {
  ev.preventDefault();
  const t = $('token').value.trim();
  if (t) sessionStorage.setItem(TOKEN_KEY, t);
  $('token').value = '';
  lastEventId = null; // another token: another set of jobs
  refresh().then(openStream);
}

function forgetToken() {
  sessionStorage.removeItem(TOKEN_KEY);
  $('token').value = '';
  closeStream();
  lastEventId = null;
  refresh();
  schedule();
}

document.addEventListener('DOMContentLoaded', () => {
  $('upload').addEventListener('submit', upload);
  $('token-form').addEventListener('submit', useToken);
  $('token-forget').addEventListener('click', forgetToken);
  // A hidden tab holds no stream; shown again, it resumes from its last id.
  document.addEventListener('visibilitychange', () => {
    if (document.hidden) {
      closeStream();
      schedule();
    } else {
      refresh().then(openStream);
    }
  });
  refresh().then(openStream);
});
