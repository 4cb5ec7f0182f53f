// Jobs: the caller's jobs (every key's for the master key), filtered, paged and kept live by
// the API's server-sent events — a row's status, progress, cost and thumbnail change in place,
// and a new job appears at the top of the first page.
import { $, api, ago, clear, h, isAdmin, reportError, statusBadge, usd, watchVideos } from '../lib.js';

const PAGE = 50;
const admin = isAdmin();
const form = $('#filters');
const body = $('#jobs-table tbody');
const FILTERS = ['status', 'model', 'provider', 'key_id', 'user', 'after', 'before', 'q'];
let cursors = [];  // the after_id of each page shown so far ('' for the first)
let hasMore = false;
let providers = {};  // model -> provider (its first deployment's), for the provider filter
let refreshing = null;
const rows = new Map();  // id -> the job as its row shows it
const seen = new Set();  // every job id a page or an event has named

function filters() {
  const values = {};
  for (const name of FILTERS) {
    const field = form.elements[name];
    if (field && field.value.trim()) values[name] = field.value.trim();
  }
  return values;
}

// One query for either listing: the master key's /admin/jobs or a key's own /v1/videos.
function query(after) {
  const f = filters();
  if (admin) return { ...f, limit: PAGE, after_id: after || undefined };
  return {
    status: f.status, model: f.model, provider: f.provider, user: f.user, q: f.q,
    created_after: f.after, created_before: f.before, limit: PAGE, after: after || undefined,
  };
}

// A listing row or a Video object (from /v1/videos or an event) as one shape.
function normal(item) {
  const video = item.object === 'video';
  return {
    id: item.id,
    status: item.status,
    progress: item.progress,
    prompt: item.prompt,
    model: item.model,
    provider: item.provider || providers[item.model],
    key: item.owner_key_id,
    user: video ? item.user : item.end_user,
    seconds: item.seconds,
    size: item.size,
    cost: video ? item.usage && item.usage.cost_usd : item.cost_usd,
    created: item.created_at,
  };
}

function thumbnail(job) {
  if (job.status !== 'completed') return h('div', { class: 'thumb empty' }, job.status === 'failed' ? '✕' : '…');
  return h('img', {
    class: 'thumb', loading: 'lazy', alt: '',
    src: `/v1/videos/${encodeURIComponent(job.id)}/content?variant=thumbnail`,
  });
}

function row(job) {
  const link = h('a', { href: `/ui/jobs/${encodeURIComponent(job.id)}`, title: job.prompt || '' }, job.prompt || job.id);
  return h('tr', { dataset: { id: job.id, status: job.status } },
    h('td', { class: 'cell-thumb' }, thumbnail(job)),
    h('td', { class: 'cell-status' }, statusBadge(job.status, job.progress)),
    h('td', { class: 'prompt' }, link, h('div', { class: 'muted small mono' }, job.id)),
    h('td', {}, job.model),
    h('td', {}, job.provider || '—'),
    admin ? h('td', { class: 'mono small' }, job.key || '—') : null,
    h('td', {}, job.user || '—'),
    h('td', { class: 'num' }, job.seconds ?? '—'),
    h('td', {}, job.size || '—'),
    h('td', { class: 'num cell-cost' }, usd(job.cost)),
    h('td', { class: 'muted', title: new Date(job.created * 1000).toISOString() }, ago(job.created)),
  );
}

async function load(after = '') {
  const path = admin ? '/admin/jobs' : '/v1/videos';
  const page = await api(path, { query: query(after) });
  hasMore = page.has_more;
  const jobs = page.data.map(normal);
  rows.clear();
  for (const job of jobs) { rows.set(job.id, job); seen.add(job.id); }
  clear(body, jobs.map(row));
  $('#empty').hidden = page.data.length > 0;
  $('#older').disabled = !hasMore;
  $('#newer').disabled = cursors.length <= 1;
  $('#page-info').textContent = `page ${cursors.length} · ${page.data.length} jobs`;
  return page;
}

async function reload() {
  cursors = [''];
  try { await load(''); } catch (error) { reportError(error); }
}

// An event for a job on the page updates its row. The first event that shows a job not seen
// before matching the filters reloads the first page (at most once a second); other events
// for jobs not shown (progress of jobs on other pages, say) cost nothing.
function onVideo(video) {
  const shown = rows.get(video.id);
  if (shown) {
    const job = { ...shown, status: video.status, progress: video.progress, cost: video.usage && video.usage.cost_usd };
    rows.set(job.id, job);
    body.querySelector(`tr[data-id="${CSS.escape(job.id)}"]`).replaceWith(row(job));
    return;
  }
  if (seen.has(video.id) || !mayMatch(video)) return;
  seen.add(video.id);  // it may match later (a filter on completed): seen only once it does
  if (cursors.length === 1 && !refreshing) {
    refreshing = setTimeout(async () => { refreshing = null; await reload(); }, 1000);
  }
}

function mayMatch(video) {
  const f = filters();
  const running = video.status === 'queued' || video.status === 'in_progress';
  if (f.status && f.status !== video.status && !(f.status === 'running' && running)) return false;
  return !f.model || f.model === video.model;
}

function syncUrl() {
  const params = new URLSearchParams(filters());
  history.replaceState(null, '', params.toString() ? `?${params}` : location.pathname);
}

function fromUrl() {
  const params = new URLSearchParams(location.search);
  for (const name of FILTERS) {
    const field = form.elements[name];
    if (field && params.has(name)) {
      if (field.tagName === 'SELECT' && ![...field.options].some((o) => o.value === params.get(name))) {
        field.append(h('option', { value: params.get(name) }, params.get(name)));
      }
      field.value = params.get(name);
    }
  }
}

async function models() {
  const list = await api('/v1/models');
  const seen = new Set();
  for (const model of list.data) {
    providers[model.id] = model.owned_by;
    form.elements.model.append(h('option', { value: model.id }, model.id));
    if (!seen.has(model.owned_by)) {
      seen.add(model.owned_by);
      form.elements.provider.append(h('option', { value: model.owned_by }, model.owned_by));
    }
  }
}

form.addEventListener('submit', (event) => { event.preventDefault(); syncUrl(); reload(); });
form.addEventListener('reset', () => setTimeout(() => { syncUrl(); reload(); }, 0));
$('#older').addEventListener('click', async () => {
  const last = body.lastElementChild;
  if (!last) return;
  cursors.push(last.dataset.id);
  try { await load(last.dataset.id); } catch (error) { reportError(error); }
});
$('#newer').addEventListener('click', async () => {
  cursors.pop();
  try { await load(cursors[cursors.length - 1]); } catch (error) { reportError(error); }
});

const live = $('#live-state');
try { await models(); } catch (error) { reportError(error); }
fromUrl();
await reload();
const source = watchVideos(onVideo);
source.addEventListener('open', () => { live.textContent = '● live'; });
source.addEventListener('error', () => { live.textContent = 'reconnecting…'; });
