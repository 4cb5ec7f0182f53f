// Playground: a create form built from the chosen model's capabilities (GET /v1/models), a live
// cost estimate (POST /v1/videos/estimate, debounced), then the job's progress and playback.
import {
  api, h, clear, usd, ms, statusBadge, flash, reportError, watchVideos, ApiError,
} from '../lib.js';

const view = document.getElementById('view');
let models = [];
let timer = null;
let asked = 0;
let source = null;

const ROLE_LABELS = { first_frame: 'First frame', last_frame: 'Last frame', reference: 'Reference images' };

function select(name, values, chosen, labels = {}) {
  return h('select', { name, id: `f-${name}` },
    values.map((v) => h('option', { value: String(v), selected: String(v) === String(chosen) }, labels[v] || String(v))));
}

function optionField(name, spec) {
  const id = `opt-${name}`;
  const hint = [];
  let input;
  if (spec.choices && spec.choices.length) {
    input = h('select', { id, dataset: { option: name, kind: spec.kind } },
      h('option', { value: '' }, '(default)'),
      spec.choices.map((c) => h('option', { value: JSON.stringify(c) }, String(c))));
  } else if (spec.kind === 'boolean') {
    input = h('select', { id, dataset: { option: name, kind: 'boolean' } },
      h('option', { value: '' }, '(default)'), h('option', { value: 'true' }, 'true'), h('option', { value: 'false' }, 'false'));
  } else if (spec.kind === 'integer' || spec.kind === 'number') {
    input = h('input', {
      id, type: 'number', dataset: { option: name, kind: spec.kind },
      min: spec.minimum ?? undefined, max: spec.maximum ?? undefined, step: spec.kind === 'integer' ? 1 : 'any',
    });
    if (spec.minimum !== null || spec.maximum !== null) hint.push(`${spec.minimum ?? '…'} to ${spec.maximum ?? '…'}`);
  } else if (spec.kind === 'string') {
    input = h('input', { id, type: 'text', dataset: { option: name, kind: 'string' }, maxlength: spec.max_length ?? undefined });
  } else {
    input = h('textarea', { id, dataset: { option: name, kind: spec.kind }, placeholder: 'JSON', rows: 2 });
  }
  return h('label', { class: 'field', title: spec.description || '' }, name, input,
    hint.length || spec.description ? h('span', { class: 'hint' }, [...hint, spec.description].filter(Boolean).join(' · ')) : null);
}

function imageField(role) {
  return h('label', { class: 'field' }, ROLE_LABELS[role] || role,
    h('input', { type: 'file', accept: 'image/png,image/jpeg,image/webp', dataset: { role }, multiple: role === 'reference' }));
}

function buildForm(model) {
  const caps = model.capabilities;
  const fields = [
    h('label', { class: 'field' }, 'Seconds', select('seconds', caps.seconds, caps.default_seconds)),
    h('label', { class: 'field' }, 'Size', select('size', caps.sizes, caps.default_size)),
  ];
  if (caps.fps && caps.fps.length > 1) fields.push(h('label', { class: 'field' }, 'FPS', select('fps', caps.fps, caps.fps[0])));
  if (caps.seed) fields.push(h('label', { class: 'field' }, 'Seed', h('input', { type: 'number', name: 'seed', id: 'f-seed', min: 0, step: 1, placeholder: 'random' })));
  const roles = caps.image_roles || (caps.input_reference ? ['first_frame'] : []);
  const options = Object.entries(caps.option_fields || {});
  return [
    h('div', { class: 'fields' }, fields),
    roles.length ? h('fieldset', { id: 'images' }, h('legend', {}, 'Images'), h('div', { class: 'fields' }, roles.map(imageField))) : null,
    options.length ? h('fieldset', { id: 'options' }, h('legend', {}, `Options of ${model.id}`),
      h('div', { class: 'fields' }, options.map(([name, spec]) => optionField(name, spec)))) : null,
  ];
}

function readFile(file) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(reader.result);
    reader.onerror = () => reject(reader.error);
    reader.readAsDataURL(file);
  });
}

async function body(form, forEstimate) {
  const data = new FormData(form);
  const prompt = String(data.get('prompt') || '').trim();
  const request = { model: data.get('model'), prompt: prompt || (forEstimate ? 'estimate' : ''), seconds: data.get('seconds'), size: data.get('size') };
  if (data.get('fps')) request.fps = Number(data.get('fps'));
  if (data.get('seed')) request.seed = Number(data.get('seed'));
  const metadata = {};
  for (const input of form.querySelectorAll('[data-option]')) {
    const raw = input.value.trim();
    if (raw === '') continue;
    const { option, kind } = input.dataset;
    if (input.tagName === 'SELECT') metadata[option] = JSON.parse(raw);
    else if (kind === 'integer' || kind === 'number') metadata[option] = Number(raw);
    else if (kind === 'string') metadata[option] = raw;
    else {
      try { metadata[option] = JSON.parse(raw); } catch { throw new Error(`Option '${option}' must be JSON.`); }
    }
  }
  for (const input of form.querySelectorAll('input[type=file][data-role]')) {
    const files = [...input.files];
    if (!files.length) continue;
    // The estimate needs only the fact of an image, not its bytes.
    const uris = forEstimate ? files.map(() => TINY_PNG) : await Promise.all(files.map(readFile));
    const role = input.dataset.role;
    if (role === 'first_frame') request.input_reference = { image_url: uris[0] };
    else if (role === 'last_frame') metadata.last_frame = { image_url: uris[0] };
    else metadata.reference_images = uris.map((url) => ({ image_url: url }));
  }
  if (Object.keys(metadata).length) request.metadata = metadata;
  return request;
}

const TINY_PNG = 'data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==';

function drawEstimate(box, estimate) {
  const items = [h('span', { class: 'cost', id: 'estimate-cost' }, usd(estimate.estimated_cost_usd)),
    h('span', { class: 'muted' }, `for ${estimate.seconds} s at ${estimate.size}${estimate.priced ? '' : ' (unpriced)'}`),
    estimate.admitted ? h('span', { class: 'badge ok', id: 'estimate-admitted' }, 'would be admitted') : h('span', { class: 'badge bad', id: 'estimate-refused' }, 'would be refused')];
  for (const budget of estimate.budgets || []) {
    items.push(h('span', { class: 'small' }, `${budget.budget} budget: ${usd(budget.left)} left of ${usd(budget.max_budget)}`));
  }
  const limits = estimate.limits || {};
  if (limits.max_parallel_jobs) items.push(h('span', { class: 'small muted' }, `${limits.running}/${limits.max_parallel_jobs} jobs running`));
  if (!estimate.admitted) items.push(h('ul', {}, (estimate.reasons || []).map((r) => h('li', {}, r.message))));
  clear(box, ...items);
}

function scheduleEstimate(form) {
  clearTimeout(timer);
  timer = setTimeout(() => estimate(form), 250);
}

async function estimate(form) {
  const box = document.getElementById('estimate');
  const ticket = ++asked;
  box.dataset.state = 'pending';
  try {
    const result = await api('/v1/videos/estimate', { method: 'POST', body: await body(form, true) });
    if (ticket !== asked) return;
    drawEstimate(box, result);
    box.dataset.state = 'ready';
  } catch (error) {
    if (ticket !== asked) return;
    clear(box, h('span', { class: 'badge bad' }, 'invalid'), h('span', { class: 'error', id: 'estimate-error' }, error.message));
    box.dataset.state = 'error';
  }
}

function drawJob(panel, video, started) {
  const done = video.status === 'completed';
  const failed = video.status === 'failed';
  const link = h('a', { href: `/ui/jobs/${encodeURIComponent(video.id)}`, id: 'job-link' }, video.id);
  const parts = [
    h('div', { class: 'head-row' }, h('h2', {}, 'Result'), statusBadge(video.status, video.progress)),
    h('p', {}, 'Job ', link, ` · ${video.model} · ${video.seconds} s · ${video.size}`),
  ];
  if (done) {
    const player = h('video', { class: 'player', controls: true, muted: true, loop: true, preload: 'auto', src: `/v1/videos/${encodeURIComponent(video.id)}/content` });
    player.muted = true;
    parts.push(player);
    parts.push(h('div', { class: 'stats' },
      h('div', { class: 'stat' }, h('span', { class: 'value', id: 'result-cost' }, usd(video.usage && video.usage.cost_usd)), h('span', { class: 'label' }, 'cost')),
      h('div', { class: 'stat' }, h('span', { class: 'value' }, ms(performance.now() - started)), h('span', { class: 'label' }, 'time to result'))));
  } else if (failed) {
    parts.push(h('div', { class: 'placeholder failed' }, `${video.error?.code || 'failed'}: ${video.error?.message || ''}`));
  } else {
    parts.push(h('progress', { id: 'result-progress', max: 100, value: video.progress || 0 }));
  }
  clear(panel, ...parts);
  panel.dataset.status = video.status;
}

async function create(form, panel) {
  const submit = form.querySelector('button[type=submit]');
  submit.disabled = true;
  try {
    const request = await body(form, false);
    if (!request.prompt) throw new Error('Write a prompt first.');
    const started = performance.now();
    const video = await api('/v1/videos', { method: 'POST', body: request });
    drawJob(panel, video, started);
    if (source) source.close();
    source = watchVideos((update) => {
      drawJob(panel, update, started);
      if (update.status === 'completed' || update.status === 'failed') source.close();
    }, { video_id: video.id, until: 'terminal' });
    flash('');
  } catch (error) {
    reportError(error instanceof ApiError ? error : String(error.message || error));
  } finally {
    submit.disabled = false;
    scheduleEstimate(form);
  }
}

async function start() {
  try {
    models = (await api('/v1/models')).data.filter((m) => (m.capabilities.operations || []).includes('create'));
  } catch (error) { reportError(error); return; }
  if (!models.length) { clear(view, h('p', { class: 'muted' }, 'This key may use no model.')); return; }
  const chosen = models.find((m) => m.default) || models[0];
  const modelSelect = select('model', models.map((m) => m.id), chosen.id);
  const capsBox = h('div', { id: 'caps' }, buildForm(chosen));
  const describe = h('p', { class: 'small muted', id: 'model-description' }, chosen.description || '');
  const form = h('form', { class: 'compose', id: 'create-form' },
    h('label', { class: 'field' }, 'Model', modelSelect), describe,
    h('label', { class: 'field' }, 'Prompt', h('textarea', { name: 'prompt', id: 'f-prompt', required: true, maxlength: 32000, placeholder: 'A lighthouse at dusk, waves rolling in' })),
    capsBox,
    h('div', { class: 'estimate', id: 'estimate' }, h('span', { class: 'muted' }, 'Estimating…')),
    h('div', { class: 'actions' }, h('button', { type: 'submit', id: 'create' }, 'Create video')));
  const panel = h('div', { class: 'panel live', id: 'result' },
    h('h2', { class: 'first' }, 'Result'),
    h('div', { class: 'placeholder' }, 'Your video appears here once it is made.'));
  modelSelect.addEventListener('change', () => {
    const model = models.find((m) => m.id === modelSelect.value);
    clear(capsBox, buildForm(model));
    describe.textContent = model.description || '';
    scheduleEstimate(form);
  });
  form.addEventListener('input', () => scheduleEstimate(form));
  form.addEventListener('change', () => scheduleEstimate(form));
  form.addEventListener('submit', (event) => { event.preventDefault(); create(form, panel); });
  clear(view, h('div', { class: 'grid two' }, h('div', { class: 'panel' }, form), panel));
  estimate(form);
}

start();
