// Webhooks: the caller's endpoints (the API scopes them to the key), adding, deleting and
// rotating the signing secret of one (the new secret is shown once; the old keeps signing
// for 24 h), and an endpoint's delivery log with redelivery. The log refreshes every few
// seconds.
import { $, ago, api, clear, flash, h, reportError, when } from '../lib.js';

const REFRESH_MS = 2000;
let endpoints = [];
let selected = null;

const STATUS_BADGE = { delivered: 'ok', pending: 'warn', failed: 'bad', enabled: 'ok', disabled: 'bad' };
const badge = (status) => h('span', { class: `badge ${STATUS_BADGE[status] || ''}`, dataset: { status } }, status);

function deleteButton(endpoint) {
  if (endpoint.source === 'config') return h('span', { class: 'muted small', title: 'Remove it from the config file' }, 'from config');
  const button = h('button', { type: 'button', class: 'danger small delete' }, 'Delete');
  button.addEventListener('click', async (event) => {
    event.stopPropagation();
    if (!button.dataset.armed) { // a second click confirms
      button.dataset.armed = 'true';
      button.textContent = 'Confirm delete';
      return;
    }
    try {
      await api(`/v1/webhooks/${encodeURIComponent(endpoint.id)}`, { method: 'DELETE' });
      flash(`Endpoint ${endpoint.url} deleted.`, 'ok');
      if (selected === endpoint.id) selected = null;
      await loadEndpoints();
    } catch (error) { reportError(error); }
  });
  return button;
}

function rotateButton(endpoint) {
  if (endpoint.source === 'config') return null; // rotated in the config file
  const button = h('button', { type: 'button', class: 'secondary small rotate', title: 'A new signing secret; the current one keeps signing for 24 h' }, 'Rotate secret');
  button.addEventListener('click', async (event) => {
    event.stopPropagation();
    if (!button.dataset.armed) { // a second click confirms
      button.dataset.armed = 'true';
      button.textContent = 'Confirm rotate';
      return;
    }
    try {
      const rotated = await api(`/v1/webhooks/${encodeURIComponent(endpoint.id)}/rotate`, { method: 'POST' });
      $('#secret').textContent = rotated.secret;
      $('#secret-box').hidden = false;
      const until = Math.min(...rotated.secrets.filter((s) => s.expires_at).map((s) => s.expires_at));
      flash(`New signing secret for ${endpoint.url}: deliveries carry both signatures until ${when(until)}.`, 'ok');
      await loadEndpoints();
    } catch (error) { reportError(error); }
  });
  return button;
}

function secretsNote(endpoint) {
  const previous = (endpoint.secrets || []).filter((s) => s.status === 'previous');
  if (!previous.length) return null;
  const title = previous.map((s) => `${s.hint} until ${s.expires_at ? when(s.expires_at) : 'removed'}`).join('\n');
  return h('span', { class: 'cell-sub secrets-note', title }, `signed with ${previous.length + 1} secrets`);
}

function endpointRow(endpoint) {
  const tr = h('tr', { class: endpoint.id === selected ? 'selected' : '', dataset: { endpoint: endpoint.id } },
    h('td', { class: 'clip' }, h('span', { class: 'mono', title: endpoint.url }, endpoint.url),
      h('span', { class: 'cell-sub' }, endpoint.description || endpoint.id)),
    h('td', {}, endpoint.events.join(', ')),
    h('td', {}, badge(endpoint.status), endpoint.disabled_reason ? h('span', { class: 'cell-sub' }, endpoint.disabled_reason) : null, secretsNote(endpoint)),
    h('td', {}, endpoint.source),
    h('td', { class: 'nowrap', title: when(endpoint.created_at) }, ago(endpoint.created_at)),
    h('td', { class: 'nowrap' },
      h('button', { type: 'button', class: 'secondary small show-deliveries', onclick: () => select(endpoint.id) }, 'Deliveries'),
      ' ', rotateButton(endpoint), ' ', deleteButton(endpoint)),
  );
  return tr;
}

async function loadEndpoints() {
  try {
    endpoints = (await api('/v1/webhooks')).data;
  } catch (error) { reportError(error); return; }
  if (selected && !endpoints.some((e) => e.id === selected)) selected = null;
  if (!selected && endpoints.length) selected = endpoints[0].id;
  clear($('#endpoints tbody'), endpoints.length ? endpoints.map(endpointRow)
    : h('tr', { class: 'empty-row' }, h('td', { colspan: 6 }, 'No endpoints yet: add one above.')));
  $('#endpoints-note').textContent = `${endpoints.length} endpoint${endpoints.length === 1 ? '' : 's'}`;
  await loadDeliveries();
}

function select(id) {
  selected = id;
  for (const tr of document.querySelectorAll('#endpoints tbody tr')) tr.classList.toggle('selected', tr.dataset.endpoint === id);
  loadDeliveries();
}

function nextAttempt(delivery) {
  if (!delivery.next_attempt_at) return h('span', { class: 'muted' }, '—');
  const left = Math.round(delivery.next_attempt_at - Date.now() / 1000);
  return [when(delivery.next_attempt_at), h('span', { class: 'cell-sub' }, left > 0 ? `in ${left}s` : 'due now')];
}

function deliveryRow(delivery) {
  const redeliver = h('button', { type: 'button', class: 'secondary small redeliver' }, 'Redeliver');
  redeliver.addEventListener('click', async () => {
    redeliver.disabled = true;
    try {
      await api(`/v1/webhooks/${encodeURIComponent(selected)}/deliveries/${encodeURIComponent(delivery.id)}/redeliver`, { method: 'POST' });
      flash(`Delivery of ${delivery.event_type} queued again (same webhook-id ${delivery.event_id}).`, 'ok');
      await loadDeliveries();
    } catch (error) { reportError(error); redeliver.disabled = false; }
  });
  return h('tr', { dataset: { delivery: delivery.id, status: delivery.status, attempts: String(delivery.attempts) } },
    h('td', {}, delivery.event_type, h('span', { class: 'cell-sub mono' }, delivery.event_id)),
    h('td', {}, h('a', { class: 'mono', href: `/ui/jobs/${encodeURIComponent(delivery.video_id)}` }, delivery.video_id)),
    h('td', {}, badge(delivery.status), delivery.last_error ? h('span', { class: 'cell-sub' }, delivery.last_error) : null),
    h('td', { class: 'num attempts' }, String(delivery.attempts)),
    h('td', { class: 'num last-code' }, delivery.last_status_code === null ? '—' : String(delivery.last_status_code)),
    h('td', { class: 'nowrap' }, nextAttempt(delivery)),
    h('td', { class: 'nowrap', title: when(delivery.created_at) }, ago(delivery.created_at)),
    h('td', {}, redeliver),
  );
}

async function loadDeliveries() {
  const panel = $('#deliveries-panel');
  if (!selected) { panel.hidden = true; return; }
  const endpoint = endpoints.find((e) => e.id === selected);
  panel.hidden = false;
  $('#deliveries-title').textContent = `Deliveries to ${endpoint ? endpoint.url : selected}`;
  const id = selected;
  try {
    const page = await api(`/v1/webhooks/${encodeURIComponent(id)}/deliveries`, { query: { limit: 50 } });
    if (id !== selected) return;
    clear($('#deliveries tbody'), page.data.length ? page.data.map(deliveryRow)
      : h('tr', { class: 'empty-row' }, h('td', { colspan: 8 }, 'No deliveries yet: they appear when a video completes or fails.')));
    $('#deliveries-note').textContent = `Newest first${page.has_more ? ', last 50' : ''} · updated ${new Date().toLocaleTimeString()}`;
  } catch (error) { reportError(error); }
}

$('#create-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  const form = event.currentTarget;
  const data = new FormData(form);
  const events = data.getAll('events');
  if (!events.length) { flash('Pick at least one event.', 'error'); return; }
  const body = { url: String(data.get('url')).trim(), events };
  const description = String(data.get('description') || '').trim();
  if (description) body.description = description;
  try {
    const created = await api('/v1/webhooks', { method: 'POST', body });
    $('#secret').textContent = created.secret || '';
    $('#secret-box').hidden = !created.secret;
    flash(`Endpoint ${created.url} added.`, 'ok');
    form.reset();
    selected = created.id;
    await loadEndpoints();
  } catch (error) { reportError(error); }
});

loadEndpoints();
setInterval(loadDeliveries, REFRESH_MS);
