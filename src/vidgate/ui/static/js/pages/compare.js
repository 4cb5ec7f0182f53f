// Compare: one prompt on 2–4 models side by side. Each model gets the common seconds/size when
// all chosen models allow one, else its own defaults; each column follows its job live
// (server-sent events) and shows the time taken, the cost and the video once done.
import {
  api, h, clear, usd, ms, statusBadge, flash, reportError, watchVideos,
} from '../lib.js';

const view = document.getElementById('view');
const MAX = 4;
const sources = [];

function common(chosen, key) {
  if (!chosen.length) return [];
  return chosen.map((m) => m.capabilities[key].map(String))
    .reduce((acc, values) => acc.filter((v) => values.includes(v)));
}

function plan(chosen) {
  const seconds = common(chosen, 'seconds');
  const sizes = common(chosen, 'sizes');
  const first = chosen[0];
  const pick = (values, preferred) => (values.includes(String(preferred)) ? String(preferred) : values[0]);
  return chosen.map((m) => ({
    model: m,
    seconds: seconds.length ? pick(seconds, first.capabilities.default_seconds) : String(m.capabilities.default_seconds),
    size: sizes.length ? pick(sizes, first.capabilities.default_size) : m.capabilities.default_size,
  }));
}

function stat(value, label, id) {
  return h('div', { class: 'stat' }, h('span', { class: 'value', dataset: { stat: id } }, value), h('span', { class: 'label' }, label));
}

function drawColumn(column, entry, video) {
  const done = video.status === 'completed';
  const failed = video.status === 'failed';
  if (done && entry.finished === undefined) entry.finished = performance.now();
  const serverTime = done && video.completed_at ? video.completed_at - video.created_at : null;
  const measured = entry.finished !== undefined ? entry.finished - entry.started : null;
  const taken = measured !== null ? ms(measured) : '—';
  const parts = [
    h('h3', {}, h('span', {}, entry.model.id), statusBadge(video.status, video.progress)),
    h('p', { class: 'small muted' }, `${video.seconds} s · ${video.size} · `, h('a', { href: `/ui/jobs/${encodeURIComponent(video.id)}` }, video.id)),
  ];
  if (done) {
    const player = h('video', { class: 'player', controls: true, muted: true, loop: true, preload: 'auto', src: `/v1/videos/${encodeURIComponent(video.id)}/content` });
    player.muted = true;
    parts.push(player);
  } else if (failed) {
    parts.push(h('div', { class: 'placeholder failed' }, `${video.error?.code || 'failed'}: ${video.error?.message || ''}`));
  } else {
    parts.push(h('div', { class: 'placeholder' }, `${video.status.replace('_', ' ')} ${video.progress || 0}%`));
    parts.push(h('progress', { max: 100, value: video.progress || 0 }));
  }
  parts.push(h('div', { class: 'stats' },
    stat(taken, serverTime !== null ? `time taken (server: ${serverTime} s)` : 'time taken', 'time'),
    stat(done || failed ? usd(video.usage && video.usage.cost_usd) : '—', 'cost', 'cost')));
  clear(column, ...parts);
  column.dataset.status = video.status;
}

async function run(form, results, models) {
  const chosen = models.filter((m) => form.querySelector(`input[data-model="${CSS.escape(m.id)}"]`).checked);
  const prompt = form.elements.prompt.value.trim();
  if (chosen.length < 2 || chosen.length > MAX) { flash(`Choose 2 to ${MAX} models.`, 'error'); return; }
  if (!prompt) { flash('Write a prompt first.', 'error'); return; }
  flash('');
  while (sources.length) sources.pop().close();
  const entries = plan(chosen);
  const columns = entries.map((entry) => h('div', { class: 'panel column', dataset: { model: entry.model.id } },
    h('h3', {}, entry.model.id), h('div', { class: 'placeholder' }, 'Submitting…')));
  clear(results, ...columns);
  await Promise.all(entries.map(async (entry, i) => {
    entry.started = performance.now();
    try {
      const video = await api('/v1/videos', { method: 'POST', body: { model: entry.model.id, prompt, seconds: entry.seconds, size: entry.size } });
      drawColumn(columns[i], entry, video);
      if (video.status === 'completed' || video.status === 'failed') return;
      const source = watchVideos((update) => {
        drawColumn(columns[i], entry, update);
        if (update.status === 'completed' || update.status === 'failed') source.close();
      }, { video_id: video.id, until: 'terminal' });
      sources.push(source);
    } catch (error) {
      clear(columns[i], h('h3', {}, entry.model.id), h('div', { class: 'placeholder failed' }, error.message));
      columns[i].dataset.status = 'refused';
    }
  }));
}

function describePlan(box, models, form) {
  const chosen = models.filter((m) => form.querySelector(`input[data-model="${CSS.escape(m.id)}"]`).checked);
  if (chosen.length < 2) { box.textContent = `Choose 2 to ${MAX} models.`; return; }
  if (chosen.length > MAX) { box.textContent = `At most ${MAX} models.`; return; }
  box.textContent = plan(chosen).map((p) => `${p.model.id}: ${p.seconds} s at ${p.size}`).join(' · ');
}

async function start() {
  let models;
  try {
    models = (await api('/v1/models')).data.filter((m) => (m.capabilities.operations || []).includes('create') && !m.alias_for);
  } catch (error) { reportError(error); return; }
  const checks = models.map((m, i) => h('label', {}, h('input', { type: 'checkbox', dataset: { model: m.id }, checked: i < 2 }), m.id));
  const planBox = h('p', { class: 'small muted', id: 'plan' });
  const form = h('form', { class: 'compose', id: 'compare-form' },
    h('fieldset', {}, h('legend', {}, `Models (2 to ${MAX})`), h('div', { class: 'checks' }, checks)),
    planBox,
    h('label', { class: 'field' }, 'Prompt', h('textarea', { name: 'prompt', id: 'compare-prompt', required: true, maxlength: 32000, placeholder: 'The same prompt goes to every model' })),
    h('div', { class: 'actions' }, h('button', { type: 'submit', id: 'compare' }, 'Compare')));
  const results = h('div', { class: 'compare-cols', id: 'results' });
  form.addEventListener('change', () => describePlan(planBox, models, form));
  form.addEventListener('submit', (event) => { event.preventDefault(); run(form, results, models); });
  clear(view, h('div', { class: 'panel' }, form), results);
  describePlan(planBox, models, form);
}

start();
