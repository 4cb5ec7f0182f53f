// Requests (master key): the request log, newest first, filtered and paged by the API's
// after_id cursor. The filters live in the page's address, so a filtered view can be shared.
import { $, api, clear, h, ms, reportError, when } from '../lib.js';

const FIELDS = ['route', 'status', 'key_id', 'model', 'request_id', 'after', 'before', 'limit'];
const form = $('#filters');
let cursors = []; // after_id of each page shown before this one
let current = null; // after_id of this page
let next = null;

function statusBadge(code) {
  const kind = code >= 500 ? 'bad' : code >= 400 ? 'warn' : 'ok';
  return h('span', { class: `badge ${kind}`, dataset: { status: String(code) } }, String(code));
}

// datetime-local values are the browser's local time; the API takes Unix seconds.
const toSeconds = (value) => (value ? String(Math.floor(new Date(value).getTime() / 1000)) : '');

function filters() {
  const query = {};
  for (const name of FIELDS) {
    const value = form.elements[name].value.trim();
    if (!value) continue;
    query[name] = name === 'after' || name === 'before' ? toSeconds(value) : value;
  }
  return query;
}

function row(r) {
  return h('tr', { dataset: { seq: String(r.seq), status: String(r.status_code) } },
    h('td', { class: 'nowrap' }, when(r.at)),
    h('td', { class: 'clip' }, h('code', {}, r.method), ' ', h('span', { class: 'mono route' }, r.route),
      r.error_code ? h('span', { class: 'cell-sub' }, r.error_code) : null,
      r.moderation ? h('span', { class: 'cell-sub', dataset: { moderation: r.moderation } }, `moderation: ${r.moderation}`) : null),
    h('td', { class: 'status' }, statusBadge(r.status_code)),
    h('td', { class: 'num' }, ms(r.latency_ms)),
    h('td', { class: 'mono small' }, r.key_id || '—'),
    h('td', {}, r.model || h('span', { class: 'muted' }, '—'),
      r.deployment_id ? h('span', { class: 'cell-sub' }, r.deployment_id) : null),
    h('td', { class: 'mono small' }, r.request_id || '—',
      r.job_id ? h('span', { class: 'cell-sub' }, h('a', { href: `/ui/jobs/${encodeURIComponent(r.job_id)}` }, r.job_id)) : null),
  );
}

async function load() {
  const query = { ...filters(), after_id: current || undefined };
  try {
    const page = await api('/admin/requests', { query });
    clear($('#requests tbody'), page.data.length ? page.data.map(row)
      : h('tr', { class: 'empty-row' }, h('td', { colspan: 7 }, 'No requests match these filters.')));
    next = page.has_more ? page.last_id : null;
    $('#next-page').disabled = !next;
    $('#prev-page').disabled = cursors.length === 0;
    $('#first-page').disabled = cursors.length === 0;
    const shown = page.data.length;
    $('#page-note').textContent = shown
      ? `Page ${cursors.length + 1} · ${shown} request${shown === 1 ? '' : 's'}${page.has_more ? ' · more older' : ''}`
      : '';
  } catch (error) {
    reportError(error);
  }
}

function keepInAddress() {
  const params = new URLSearchParams();
  for (const name of FIELDS) {
    const value = form.elements[name].value.trim();
    if (value && !(name === 'limit' && value === '50')) params.set(name, value);
  }
  const search = params.toString();
  history.replaceState(null, '', search ? `?${search}` : location.pathname);
}

function restoreFromAddress() {
  const params = new URLSearchParams(location.search);
  for (const name of FIELDS) {
    if (params.has(name)) form.elements[name].value = params.get(name);
  }
}

form.addEventListener('submit', (event) => {
  event.preventDefault();
  cursors = [];
  current = null;
  keepInAddress();
  load();
});
$('#clear-filters').addEventListener('click', () => {
  form.reset();
  cursors = [];
  current = null;
  keepInAddress();
  load();
});
$('#next-page').addEventListener('click', () => {
  if (!next) return;
  cursors.push(current);
  current = next;
  load();
});
$('#prev-page').addEventListener('click', () => {
  current = cursors.pop() ?? null;
  load();
});
$('#first-page').addEventListener('click', () => {
  cursors = [];
  current = null;
  load();
});

restoreFromAddress();
load();
