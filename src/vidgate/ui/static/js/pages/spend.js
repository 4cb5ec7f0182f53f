// Spend: totals, a chart by day and breakdowns over a date range, the report by one group as a
// table and as CSV, and the budgets the caller can see. Every number comes from
// GET /spend/report, which scopes a virtual key to its own spend server-side.
import { $, $$, api, clear, h, isAdmin, qs, reportError, usd, when } from '../lib.js';
import { bars, columns } from '../chart.js';

const GROUPS = ['day', 'model', 'provider', 'key', 'team', 'user', 'end_user'];
const LABELS = { day: 'Day', model: 'Model', provider: 'Provider', key: 'Key', team: 'Team', user: 'User', end_user: 'End user' };
const NONE = { team: '(no team)', user: '(no user)', end_user: '(no end user)' };
const DAY_MS = 86_400_000;
const BUDGETS_SHOWN = 8;
const form = $('#range');
let keyNames = new Map();

const isoDay = (date) => date.toISOString().slice(0, 10);

function setRange(days) {
  const today = new Date();
  form.end.value = isoDay(today);
  form.start.value = isoDay(new Date(today.getTime() - (days - 1) * DAY_MS));
}

function params() {
  return { start: form.start.value, end: form.end.value };
}

function seconds(value) {
  return `${Number(value || 0).toLocaleString('en-US', { maximumFractionDigits: 1 })} s`;
}

// A row's label; an end user is one key's, so with several keys' end users the key is named.
function groupName(group, value, row = {}, keys = 1) {
  const name = value === null || value === undefined ? NONE[group] || '—' : group === 'key' ? keyNames.get(value) || value : value;
  return group === 'end_user' && keys > 1 && row.key_id ? `${name} · ${keyNames.get(row.key_id) || row.key_id}` : name;
}

const keyCount = (report) => new Set(report.rows.map((row) => row.key_id)).size;

// Every day from start to end (UTC dates), with 0 where the report has no row.
function everyDay(rows, start, end) {
  const found = new Map(rows.map((row) => [row.group, row.cost_usd]));
  const first = Date.parse(`${start}T00:00:00Z`), last = Date.parse(`${end}T00:00:00Z`);
  if (!(last >= first) || (last - first) / DAY_MS > 731) return rows.map((r) => ({ label: r.group, value: r.cost_usd }));
  const points = [];
  for (let t = first; t <= last; t += DAY_MS) {
    const day = new Date(t).toISOString().slice(0, 10);
    points.push({ label: day.slice(5), value: found.get(day) || 0, day });
  }
  return points;
}

function drawTotals(totals) {
  const stat = (label, value, name) => h('div', { class: 'stat', dataset: { stat: name } },
    h('span', { class: 'value' }, value), h('span', { class: 'label' }, label));
  clear($('#totals'),
    stat('Spend', usd(totals.cost_usd), 'spend'),
    stat('Jobs', String(totals.jobs), 'jobs'),
    stat('Completed / failed', `${totals.completed} / ${totals.failed}`, 'outcomes'),
    stat('Seconds of video', seconds(totals.seconds), 'seconds'),
    stat('Per job', totals.jobs ? usd(totals.cost_usd / totals.jobs) : '—', 'average'));
  $('#range-label').textContent = `${form.start.value} → ${form.end.value} (UTC)`;
}

function drawBreakdown(group, report) {
  const box = $(`#breakdowns [data-group="${group}"] .chart-box`);
  if (!report.rows.length) return clear(box, h('p', { class: 'muted empty' }, 'No spend in this range.'));
  const rows = report.rows.slice(0, 12).map((row) => ({
    label: groupName(group, row.group, row, keyCount(report)), value: row.cost_usd, note: `${row.jobs} job${row.jobs === 1 ? '' : 's'}`,
  }));
  clear(box, bars(rows, { format: usd, width: box.clientWidth || 600, title: `Spend by ${group}` }),
    report.rows.length > 12 ? h('p', { class: 'muted small' }, `and ${report.rows.length - 12} more (see the report below)`) : null);
}

function drawReport(group, report) {
  $('#report-group').textContent = LABELS[group].toLowerCase();
  $('#report-group-head').textContent = LABELS[group];
  const total = report.totals.cost_usd || 0;
  const tbody = $('#report-table tbody');
  clear(tbody, report.rows.map((row) => h('tr', { dataset: { group: row.group ?? '' } },
    h('td', {}, groupName(group, row.group, row, keyCount(report))),
    h('td', { class: 'num' }, String(row.jobs)),
    h('td', { class: 'num' }, String(row.completed)),
    h('td', { class: 'num' }, String(row.failed)),
    h('td', { class: 'num' }, seconds(row.seconds)),
    h('td', { class: 'num' }, usd(row.cost_usd)),
    h('td', {}, h('meter', { class: 'share', min: 0, max: 1, value: total ? row.cost_usd / total : 0 })))));
  if (!report.rows.length) tbody.append(h('tr', {}, h('td', { colspan: 7, class: 'muted' }, 'No spend in this range.')));
  clear($('#report-table tfoot'), h('tr', {},
    h('th', {}, 'Total'), h('th', { class: 'num' }, String(report.totals.jobs)),
    h('th', { class: 'num' }, String(report.totals.completed)), h('th', { class: 'num' }, String(report.totals.failed)),
    h('th', { class: 'num' }, seconds(report.totals.seconds)), h('th', { class: 'num' }, usd(total)), h('th', {})));
}

// One budget: spent and held against the limit, as text and a <meter>.
function budgetRow({ kind, name, max, spend, reserved, period, resetAt, id }) {
  const left = max === null || max === undefined ? null : Math.max(0, max - spend - reserved);
  const used = spend + reserved;
  return h('div', { class: 'budget', dataset: { budget: id } },
    h('div', { class: 'budget-head' },
      h('span', { class: 'badge queued' }, kind), h('strong', {}, name),
      period ? h('span', { class: 'muted small' }, `resets every ${period}${resetAt ? `, next ${when(resetAt)}` : ''}`) : null),
    max === null || max === undefined
      ? h('div', { class: 'budget-text' }, `spent ${usd(spend)} · held ${usd(reserved)} · no limit`)
      : h('div', { class: 'budget-line' },
        h('meter', { min: 0, max, value: Math.min(used, max), low: max * 0.7, high: max * 0.9, optimum: 0, title: `${usd(used)} of ${usd(max)} used or held` }),
        h('span', { class: 'budget-text' }, `spent ${usd(spend)} of ${usd(max)} · held ${usd(reserved)} · left ${usd(left)}`)));
}

async function drawBudgets() {
  const box = $('#budgets');
  if (isAdmin()) {
    const { keys } = await api('/key/list');
    keyNames = new Map(keys.map((k) => [k.key_id, k.key_alias || k.key_id]));
    const live = keys.filter((k) => !k.revoked);
    if (!live.length) return clear(box, h('p', { class: 'muted' }, 'No keys yet. The master key has no budget.'));
    // The keys nearest their limit first, then the unlimited ones by spend.
    const used = (k) => (k.max_budget ? (k.spend + k.reserved) / k.max_budget : -1 / (1 + k.spend));
    live.sort((a, b) => used(b) - used(a));
    const shown = live.slice(0, BUDGETS_SHOWN);
    return clear(box, h('p', { class: 'muted small' }, 'Every key’s budget, nearest its limit first (the master key has none).'),
      shown.map((k) => budgetRow({
        kind: 'key', name: k.key_alias || k.key_id, id: `key:${k.key_id}`, max: k.max_budget, spend: k.spend,
        reserved: k.reserved, period: k.budget_duration, resetAt: k.budget_reset_at,
      })),
      live.length > shown.length ? h('p', { class: 'muted small' }, `and ${live.length - shown.length} more keys: `, h('a', { href: '/ui/keys' }, 'see Keys')) : null);
  }
  const { info } = await api('/key/info');
  keyNames = new Map([[info.key_id, info.key_alias || info.key_id]]);
  const rows = info.budgets || [];
  if (!rows.length) return clear(box, h('p', { class: 'muted' }, 'This key has no budget.'));
  clear(box, rows.map((b) => budgetRow({
    kind: b.budget, name: b.budget === 'key' ? info.key_alias || b.name : b.name, id: b.id, max: b.max_budget,
    spend: b.spend, reserved: b.reserved,
    period: b.budget === 'key' ? info.budget_duration : null, resetAt: b.budget === 'key' ? info.budget_reset_at : null,
  })));
}

async function load() {
  const range = params();
  const chosen = form.group_by.value;
  history.replaceState(null, '', `?${qs({ ...range, group_by: chosen })}`);
  $('#csv').href = `/spend/report?${qs({ ...range, group_by: chosen, format: 'csv' })}`;
  $('#csv').setAttribute('download', `spend-${chosen}-${range.start}-${range.end}.csv`);
  await drawBudgets().catch(reportError);
  const reports = await Promise.all(GROUPS.map((group) => api('/spend/report', { query: { ...range, group_by: group } })));
  const byGroup = Object.fromEntries(GROUPS.map((group, i) => [group, reports[i]]));
  drawTotals(byGroup.day.totals);
  const day = $('#by-day');
  clear(day, columns(everyDay(byGroup.day.rows, range.start, range.end), { format: usd, width: day.clientWidth || 960, title: 'Spend by day' }));
  for (const group of GROUPS.slice(1)) drawBreakdown(group, byGroup[group]);
  drawReport(chosen, byGroup[chosen]);
  document.body.dataset.loaded = 'true';
}

function start() {
  const given = new URLSearchParams(location.search);
  setRange(30);
  if (given.get('start')) form.start.value = given.get('start');
  if (given.get('end')) form.end.value = given.get('end');
  form.group_by.value = GROUPS.includes(given.get('group_by')) ? given.get('group_by') : 'day';
  form.addEventListener('submit', (event) => { event.preventDefault(); load().catch(reportError); });
  form.group_by.addEventListener('change', () => load().catch(reportError));
  for (const button of $$('[data-days]', form)) {
    button.addEventListener('click', () => { setRange(Number(button.dataset.days)); load().catch(reportError); });
  }
  load().catch(reportError);
}

start();
