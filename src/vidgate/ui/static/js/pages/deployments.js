// Deployments (master key): the router's view of every deployment, refreshed every few
// seconds, and the config in force (secrets masked) with a reload button.
import { $, api, clear, flash, h, ms, reportError, when } from '../lib.js';

const REFRESH_MS = 2000;
const body = $('#deployments tbody');
let rows = [];

function countdown(until) {
  const left = Math.max(0, Math.ceil(until - Date.now() / 1000));
  return left >= 60 ? `${Math.floor(left / 60)}m ${left % 60}s left` : `${left}s left`;
}

function health(row) {
  if (row.state === 'cooling_down') return h('span', { class: 'badge bad', dataset: { health: 'cooling_down' } }, 'cooling down');
  if (row.state === 'probing') return h('span', { class: 'badge warn', dataset: { health: 'probing' } }, 'probing');
  return h('span', { class: `badge ${row.healthy ? 'ok' : 'warn'}`, dataset: { health: row.healthy ? 'healthy' : 'unhealthy' } },
    row.healthy ? 'healthy' : 'unhealthy');
}

function breaker(state) {
  return { ok: 'closed', cooling_down: 'open', probing: 'half-open (probing)' }[state] || state;
}

function errorRate(row) {
  const rate = row.recent_requests ? `${Math.round((100 * row.recent_failures) / row.recent_requests)}%` : '—';
  const recent = row.recent_requests ? `${row.recent_failures} of ${row.recent_requests} failed` : 'no recent creates';
  return [rate, h('span', { class: 'cell-sub nowrap', title: `${row.successes} succeeded, ${row.errors} failed since start` }, recent)];
}

function lastError(error) {
  if (!error) return h('span', { class: 'muted' }, 'none');
  return [
    h('code', {}, error.code || 'error'),
    h('span', { class: 'cell-sub', title: error.message || '' }, error.message || ''),
    error.at ? h('span', { class: 'cell-sub' }, when(error.at)) : null,
  ];
}

function of(used, limit) {
  return limit ? `${used} / ${limit}` : `${used}`;
}

function row(d) {
  const until = d.cooling_down_until;
  return h('tr', { dataset: { deployment: d.id, state: d.state } },
    h('td', {}, h('strong', {}, d.id), h('span', { class: 'cell-sub' }, `${d.model_name} · ${d.provider}/${d.model}`)),
    h('td', {}, health(d)),
    h('td', { class: 'nowrap cooldown', dataset: { until: until || '' } },
      until ? [countdown(until), h('span', { class: 'cell-sub' }, when(until))] : h('span', { class: 'muted' }, '—')),
    h('td', { class: 'breaker' }, breaker(d.state)),
    h('td', { class: 'num' }, errorRate(d)),
    h('td', { class: 'clip' }, lastError(d.last_error)),
    h('td', { class: 'num' }, ms(d.latency_ms)),
    h('td', { class: 'num' }, of(d.running_jobs, d.max_concurrent_jobs)),
    h('td', { class: 'num' }, of(d.rpm_used, d.rpm)),
  );
}

async function refresh() {
  try {
    const data = await api('/health/deployments');
    rows = data.deployments;
    $('#healthy-count').textContent = String(data.healthy_count);
    $('#unhealthy-count').textContent = String(data.unhealthy_count);
    clear(body, rows.length ? rows.map(row) : h('tr', { class: 'empty-row' }, h('td', { colspan: 9 }, 'No deployments.')));
    $('#refreshed').textContent = `Updated ${new Date().toLocaleTimeString()} · every ${REFRESH_MS / 1000} s`;
  } catch (error) {
    reportError(error);
  }
}

function tick() {
  for (const cell of document.querySelectorAll('td.cooldown[data-until]')) {
    const until = Number(cell.dataset.until);
    if (until && cell.firstChild && cell.firstChild.nodeType === Node.TEXT_NODE) {
      cell.firstChild.textContent = countdown(until);
    }
  }
}

async function loadConfig() {
  try {
    $('#config').textContent = JSON.stringify(await api('/config'), null, 2);
  } catch (error) {
    $('#config').textContent = `Could not read the config: ${error.message}`;
  }
}

function plural(count, word) {
  return `${count} ${word}`;
}

$('#reload').addEventListener('click', async (event) => {
  const button = event.currentTarget;
  button.disabled = true;
  try {
    const result = await api('/config/reload', { method: 'POST' });
    const names = (list) => (list.length ? ` (${list.join(', ')})` : '');
    flash(`Config reloaded: ${plural(result.added.length, 'added')}${names(result.added)}, `
      + `${plural(result.changed.length, 'changed')}${names(result.changed)}, `
      + `${plural(result.removed.length, 'removed')}${names(result.removed)}.`, 'ok');
    await Promise.all([refresh(), loadConfig()]);
  } catch (error) {
    flash(`Reload failed: ${error.message}`, 'error');
  } finally {
    button.disabled = false;
  }
});

refresh();
loadConfig();
setInterval(refresh, REFRESH_MS);
setInterval(tick, 1000);
