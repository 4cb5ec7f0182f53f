// Job detail: the video playing inline (Range requests let it seek), its thumbnail and
// spritesheet, live status while it runs, the request as sent, every routing attempt, the
// money (held vs settled), webhook deliveries, and download / remix / delete.
import {
  api, h, clear, usd, when, ms, statusBadge, flash, reportError, watchVideos, isAdmin,
} from '../lib.js';

const view = document.getElementById('view');
const videoId = view.dataset.videoId;
const content = (variant) => `/v1/videos/${encodeURIComponent(videoId)}/content${variant ? `?variant=${variant}` : ''}`;
let source = null;

function fact(label, value) {
  return [h('dt', {}, label), h('dd', {}, value ?? '—')];
}

function seconds(from, to) {
  if (!from || !to) return '—';
  return ms((to - from) * 1000);
}

function media(video) {
  if (video.status === 'completed') {
    return h('video', {
      class: 'player', controls: true, preload: 'metadata', src: content(),
      poster: content('thumbnail'),
    });
  }
  if (video.status === 'failed') {
    const error = video.error || {};
    return h('div', { class: 'placeholder failed' }, `Failed: ${error.code || ''} ${error.message || ''}`);
  }
  return h('div', { class: 'live' },
    h('div', { class: 'placeholder' }, `Rendering… ${video.progress || 0}%`),
    h('progress', { id: 'job-progress', max: 100, value: video.progress || 0 }));
}

function actions(video, models) {
  const row = h('div', { class: 'actions' });
  if (video.status === 'completed') {
    row.append(h('a', { class: 'button secondary', id: 'download', href: content(), download: `${videoId}.mp4` }, 'Download MP4'));
  }
  row.append(h('button', { type: 'button', class: 'danger', id: 'delete', onclick: () => remove() }, 'Delete'));
  const canRemix = video.status === 'completed' && models.some(
    (m) => m.id === video.model && (m.capabilities.operations || []).includes('remix'));
  if (!canRemix) return [row];
  const prompt = h('input', { type: 'text', name: 'prompt', id: 'remix-prompt', placeholder: 'Remix: describe the change', required: true, maxlength: 32000 });
  const form = h('form', { class: 'inline', id: 'remix-form' }, prompt,
    h('button', { type: 'submit' }, 'Remix'));
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    try {
      const made = await api(`/v1/videos/${encodeURIComponent(videoId)}/remix`, { method: 'POST', body: { prompt: prompt.value.trim() } });
      location.assign(`/ui/jobs/${encodeURIComponent(made.id)}`);
    } catch (error) { reportError(error); }
  });
  return [row, form];
}

async function remove() {
  if (!confirm(`Delete ${videoId}? Its video and assets are removed.`)) return;
  try {
    await api(`/v1/videos/${encodeURIComponent(videoId)}`, { method: 'DELETE' });
    location.assign('/ui/jobs');
  } catch (error) { reportError(error); }
}

function attemptsTable(attempts) {
  if (!attempts.length) return h('p', { class: 'muted' }, 'No create attempt was recorded.');
  return h('div', { class: 'table-wrap' }, h('table', { id: 'attempts' },
    h('thead', {}, h('tr', {}, h('th', {}, '#'), h('th', {}, 'Deployment'), h('th', {}, 'Provider'),
      h('th', {}, 'Started'), h('th', { class: 'num' }, 'Latency'), h('th', {}, 'Result'))),
    h('tbody', {}, attempts.map((a, i) => h('tr', {},
      h('td', {}, String(i + 1)), h('td', { class: 'mono' }, a.deployment), h('td', {}, a.provider),
      h('td', {}, when(a.started_at)), h('td', { class: 'num' }, ms(a.latency_ms)),
      a.error
        ? h('td', { class: 'error-cell' }, `${a.error.status ?? ''} ${a.error.code || ''}: ${a.error.message || ''}`.trim())
        : h('td', {}, h('span', { class: 'badge ok' }, 'accepted')))))));
}

function deliveriesTable(deliveries) {
  if (!deliveries.length) return h('p', { class: 'muted', id: 'no-deliveries' }, 'No webhook delivery for this job.');
  const badge = (s) => h('span', { class: `badge ${s === 'delivered' ? 'ok' : s === 'failed' ? 'bad' : 'warn'}` }, s);
  return h('div', { class: 'table-wrap' }, h('table', { id: 'deliveries' },
    h('thead', {}, h('tr', {}, h('th', {}, 'Event'), h('th', {}, 'Endpoint'), h('th', {}, 'Status'),
      h('th', { class: 'num' }, 'Attempts'), h('th', {}, 'Last response'), h('th', {}, 'Created'))),
    h('tbody', {}, deliveries.map((d) => h('tr', {},
      h('td', {}, d.event_type), h('td', { class: 'mono small' }, d.endpoint_id), h('td', {}, badge(d.status)),
      h('td', { class: 'num' }, String(d.attempts)),
      h('td', { class: d.last_error ? 'error-cell' : '' }, d.last_status_code ? `HTTP ${d.last_status_code}` : (d.last_error || '—')),
      h('td', {}, when(d.created_at)))))));
}

function settlement(record) {
  const held = record.reserved_usd;
  const cost = record.cost_usd;
  if (cost === null || cost === undefined) return held ? `${usd(held)} held, not settled yet` : 'not settled yet';
  const diff = held ? held - cost : 0;
  if (!held) return `${usd(cost)} charged (no budget hold)`;
  return diff > 0.00005 ? `${usd(cost)} charged; ${usd(held)} held, ${usd(diff)} released` : `${usd(cost)} charged, as held`;
}

function draw(video, record, models) {
  const facts = h('dl', { class: 'facts', id: 'facts' },
    fact('Status', statusBadge(video.status, video.progress)),
    fact('Model', video.model),
    fact('Size', video.size), fact('Seconds', video.seconds),
    fact('Prompt', video.prompt),
    video.remixed_from_video_id ? fact('Remixed from', h('a', { href: `/ui/jobs/${encodeURIComponent(video.remixed_from_video_id)}` }, video.remixed_from_video_id)) : null,
    fact('Created', when(video.created_at)),
    fact('Completed', when(video.completed_at)),
    fact('Time taken', seconds(video.created_at, video.completed_at)),
    fact('Cost', h('span', { id: 'cost' }, usd(video.usage && video.usage.cost_usd))),
    record ? fact('Settlement', h('span', { id: 'settlement' }, settlement(record))) : null,
    record ? fact('Deployment', h('span', { class: 'mono' }, record.deployment_id)) : null,
    record ? fact('Provider', record.provider) : null,
    record && 'upstream_model' in record ? fact('Upstream model', h('span', { class: 'mono' }, record.upstream_model)) : null,
    record && 'upstream_id' in record ? fact('Upstream id', h('span', { class: 'mono', id: 'upstream-id' }, record.upstream_id ?? '—')) : null,
    record && isAdmin() ? fact('Owner key', h('span', { class: 'mono' }, record.owner_key_id)) : null,
    record && record.end_user ? fact('End user', record.end_user) : null,
    record && record.budget_ids.length ? fact('Budgets', record.budget_ids.join(', ')) : null,
    video.expires_at ? fact('Expires', when(video.expires_at)) : null);

  const left = h('div', { class: 'panel', id: 'media' }, media(video), ...actions(video, models));
  const right = h('div', { class: 'panel' }, h('h2', { class: 'first' }, 'Details'), facts);
  const parts = [h('div', { class: 'grid two' }, left, right)];
  if (video.status === 'completed') {
    parts.push(h('div', { class: 'panel' }, h('h2', { class: 'first' }, 'Thumbnail and spritesheet'),
      h('div', { class: 'media-row' },
        h('img', { class: 'thumbnail', id: 'thumbnail', src: content('thumbnail'), alt: 'Thumbnail' }),
        h('img', { class: 'sprites', id: 'spritesheet', src: content('spritesheet'), alt: 'Spritesheet' }))));
  }
  if (record) {
    parts.push(h('div', { class: 'panel' }, h('h2', { class: 'first' }, `Routing attempts (${record.attempts.length})`), attemptsTable(record.attempts)));
    parts.push(h('div', { class: 'grid two' },
      h('div', { class: 'panel' }, h('h2', { class: 'first' }, 'Request as sent'),
        h('pre', { class: 'json', id: 'request' }, JSON.stringify(record.request, null, 2))),
      h('div', { class: 'panel' }, h('h2', { class: 'first' }, 'Webhook deliveries'), deliveriesTable(record.webhook_deliveries))));
  }
  clear(view, ...parts);
}

function live(video) {
  const bar = document.getElementById('job-progress');
  if (!bar) return;
  bar.value = video.progress || 0;
  const badge = document.querySelector('#facts [data-status]');
  if (badge) badge.replaceWith(statusBadge(video.status, video.progress));
  const label = bar.previousSibling;
  if (label) label.textContent = `Rendering… ${video.progress || 0}%`;
}

async function load() {
  const quiet = (promise) => promise.catch((error) => (error.status === 404 || error.status === 403 ? null : Promise.reject(error)));
  const [video, record, models] = await Promise.all([
    api(`/v1/videos/${encodeURIComponent(videoId)}`),
    quiet(api(`/jobs/${encodeURIComponent(videoId)}`)),
    api('/v1/models').then((list) => list.data).catch(() => []),
  ]);
  draw(video, record, models);
  return video;
}

async function start() {
  try {
    const video = await load();
    if (video.status === 'completed' || video.status === 'failed') return;
    source = watchVideos(async (update) => {
      if (update.status === 'completed' || update.status === 'failed') {
        source.close();
        try { await load(); } catch (error) { reportError(error); }
      } else live(update);
    }, { video_id: videoId, until: 'terminal' });
  } catch (error) {
    if (error.status === 404) {
      clear(view, h('div', { class: 'panel' }, h('p', {}, 'No such job (it may have been deleted). '), h('a', { href: '/ui/jobs' }, 'Back to jobs')));
    }
    reportError(error);
  }
}

window.addEventListener('beforeunload', () => source && source.close());
flash('');
start();
