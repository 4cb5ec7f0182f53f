// Keys (master key): list, create (the secret shown once), edit and revoke virtual keys;
// team and end-user budgets. Everything goes through the admin API: /key/*, /team/*, /user/*.
import { $, $$, api, clear, flash, formValues, h, reportError, usd, when } from '../lib.js';

const createForm = $('#create-key');
const editDialog = $('#edit-dialog');
const editForm = $('#edit-key');
const ownerDialog = $('#owner-dialog');
const ownerForm = $('#edit-owner');
let keys = [];
let editing = null;
let editingOwner = null;
const created = { team: new Set(), user: new Set() };

const number = (value) => (value === undefined ? null : Number(value));
const integer = (value) => (value === undefined ? null : Number.parseInt(value, 10));
const selected = (select) => [...select.selectedOptions].map((option) => option.value);

function budgetCell(k) {
  if (k.max_budget === null || k.max_budget === undefined) {
    return h('div', { class: 'budget-cell' }, `${usd(k.spend)} spent`, h('span', { class: 'muted small' }, 'no limit'));
  }
  const used = (k.spend || 0) + (k.reserved || 0);
  return h('div', { class: 'budget-cell' },
    h('span', {}, `${usd(k.spend)} of ${usd(k.max_budget)}`),
    h('meter', { min: 0, max: k.max_budget, value: Math.min(used, k.max_budget), low: k.max_budget * 0.7, high: k.max_budget * 0.9, optimum: 0 }),
    h('span', { class: 'muted small' }, [k.reserved ? `held ${usd(k.reserved)}` : null, k.budget_duration ? `per ${k.budget_duration}` : 'lifetime'].filter(Boolean).join(' · ')));
}

function status(k) {
  if (k.revoked) return h('span', { class: 'badge bad' }, 'revoked');
  if (k.expires && k.expires * 1000 < Date.now()) return h('span', { class: 'badge warn' }, 'expired');
  return h('span', { class: 'badge ok' }, 'active');
}

function keyRow(k) {
  return h('tr', { dataset: { id: k.key_id }, class: k.revoked ? 'revoked' : null },
    h('td', { class: 'alias' }, h('strong', {}, k.key_alias || '(no alias)'), h('br'),
      h('span', { class: 'mono small muted' }, `${k.key_id} · ${k.key_hint}`)),
    h('td', { title: when(k.created_at) }, when(k.created_at).slice(0, 16)),
    h('td', {}, k.expires ? when(k.expires).slice(0, 16) : 'never'),
    h('td', {}, status(k)),
    h('td', {}, k.models.length ? h('div', { class: 'tags' }, k.models.map((m) => h('span', { class: 'tag' }, m))) : h('span', { class: 'muted' }, 'all')),
    h('td', {}, budgetCell(k)),
    h('td', { class: 'num' }, k.rpm_limit ?? '—'),
    h('td', { class: 'num' }, k.max_parallel_requests ?? '—'),
    h('td', {}, k.team_id ?? '—'),
    h('td', {}, k.user_id ?? '—'),
    h('td', {}, k.revoked ? null : h('div', { class: 'row-actions' },
      h('button', { type: 'button', class: 'secondary edit', onclick: () => openEdit(k) }, 'Edit'),
      h('button', { type: 'button', class: 'danger revoke', onclick: () => revoke(k) }, 'Revoke'))));
}

function drawKeys() {
  const shown = $('#show-revoked').checked ? keys : keys.filter((k) => !k.revoked);
  const tbody = $('#keys-table tbody');
  clear(tbody, [...shown].reverse().map(keyRow));
  if (!shown.length) tbody.append(h('tr', {}, h('td', { colspan: 11, class: 'muted' }, 'No keys yet: create one above.')));
}

async function loadKeys() {
  ({ keys } = await api('/key/list'));
  drawKeys();
  await loadOwners();
}

// Teams and users have no list route: the ones keys name and the ones made here, each read
// with /team/info or /user/info (a name with no budget row shows as such).
async function loadOwners() {
  for (const kind of ['team', 'user']) {
    const field = `${kind}_id`;
    const names = new Set([...keys.map((k) => k[field]).filter(Boolean), ...created[kind]]);
    clear($(`#${kind}-ids`), [...names].map((name) => h('option', { value: name })));
    const rows = await Promise.all([...names].sort().map((name) => api(`/${kind}/info`, { query: { [field]: name } })
      .catch((error) => (error.status === 404 ? { [field]: name, missing: true } : Promise.reject(error)))));
    const tbody = $(`[data-owner="${kind}"] tbody`);
    clear(tbody, rows.map((row) => ownerRow(kind, row)));
    if (!rows.length) tbody.append(h('tr', {}, h('td', { colspan: 5, class: 'muted' }, `No ${kind}s yet.`)));
  }
}

function ownerRow(kind, row) {
  const name = row[`${kind}_id`];
  const count = keys.filter((k) => !k.revoked && k[`${kind}_id`] === name).length;
  return h('tr', { dataset: { id: name } },
    h('td', { class: 'mono' }, name),
    h('td', {}, row.missing ? h('span', { class: 'muted' }, 'no budget row') : budgetCell(row)),
    h('td', {}, row.missing ? '—' : row.budget_duration || 'lifetime'),
    h('td', { class: 'num' }, String(count)),
    h('td', {}, h('button', { type: 'button', class: 'secondary', onclick: () => openOwner(kind, name, row) }, row.missing ? 'Set budget' : 'Edit')));
}

function fillModels(models) {
  for (const select of $$('select.model-select')) {
    clear(select, models.map((m) => h('option', { value: m.id }, m.id)));
    select.size = Math.min(8, Math.max(3, models.length));
  }
}

function showSecret(result) {
  const secret = h('code', { class: 'secret', id: 'new-secret' }, result.key);
  const copy = h('button', { type: 'button', id: 'copy-secret' }, 'Copy');
  copy.addEventListener('click', async () => {
    try {
      await navigator.clipboard.writeText(result.key);
      copy.textContent = 'Copied';
    } catch {
      getSelection().selectAllChildren(secret);
      copy.textContent = 'Press Ctrl+C';
    }
  });
  const box = h('div', { class: 'secret-box', id: 'new-key', role: 'alert' },
    h('strong', {}, `Key “${result.key_alias || result.key_id}” created.`),
    h('div', { class: 'secret-row' }, secret, copy),
    h('p', { class: 'warning' }, 'Copy this key now: it is shown only this once. The gateway keeps only its hash; if it is lost, revoke it and create another.'),
    h('div', { class: 'actions' }, h('button', { type: 'button', class: 'secondary', onclick: () => clear($('#secret-slot')) }, 'I have copied it')));
  clear($('#secret-slot'), box);
  box.scrollIntoView({ block: 'start' });
}

function limits(values) {
  return {
    max_budget: number(values.max_budget),
    rpm_limit: integer(values.rpm_limit),
    max_parallel_requests: integer(values.max_parallel_requests),
    team_id: values.team_id ?? null,
    user_id: values.user_id ?? null,
  };
}

async function createKey(event) {
  event.preventDefault();
  const values = formValues(createForm);
  const body = { key_alias: values.key_alias, ...limits(values), models: selected(createForm.models) };
  if (values.budget_duration) body.budget_duration = values.budget_duration;
  if (values.duration) body.duration = values.duration;
  try {
    const result = await api('/key/generate', { method: 'POST', body });
    createForm.reset();
    flash('');
    showSecret(result);
    await loadKeys();
  } catch (error) { reportError(error); }
}

function openEdit(k) {
  editing = k;
  $('#edit-name').textContent = k.key_alias || k.key_id;
  editForm.key_alias.value = k.key_alias || '';
  editForm.max_budget.value = k.max_budget ?? '';
  editForm.budget_duration.value = k.budget_duration || '';
  editForm.rpm_limit.value = k.rpm_limit ?? '';
  editForm.max_parallel_requests.value = k.max_parallel_requests ?? '';
  editForm.team_id.value = k.team_id || '';
  editForm.user_id.value = k.user_id || '';
  // A model the key names that is no longer configured stays listed (and selected), so saving
  // the dialog never drops it — an empty selection would mean "every model".
  for (const option of [...editForm.models.options]) if (option.dataset.gone) option.remove();
  const listed = new Set([...editForm.models.options].map((option) => option.value));
  for (const model of k.models) {
    if (!listed.has(model)) editForm.models.append(h('option', { value: model, dataset: { gone: '1' } }, `${model} (not configured)`));
  }
  for (const option of editForm.models.options) option.selected = k.models.includes(option.value);
  editDialog.showModal();
}

async function saveEdit(event) {
  event.preventDefault();
  const values = formValues(editForm);
  const body = { key: editing.key_id, key_alias: values.key_alias ?? null, ...limits(values) };
  const models = selected(editForm.models);
  const same = models.length === editing.models.length && models.every((m) => editing.models.includes(m));
  if (!same) body.models = models;  // sent only when changed
  if ((values.budget_duration || null) !== (editing.budget_duration || null)) body.budget_duration = values.budget_duration || null;
  try {
    await api('/key/update', { method: 'POST', body });
    editDialog.close();
    flash(`Key “${values.key_alias || editing.key_id}” updated.`, 'ok');
    await loadKeys();
  } catch (error) { reportError(error); editDialog.close(); }
}

async function revoke(k) {
  const name = k.key_alias || k.key_id;
  if (!confirm(`Revoke the key “${name}”? Every client using it gets 401 from now on. This cannot be undone.`)) return;
  try {
    await api('/key/delete', { method: 'POST', body: { keys: [k.key_id] } });
    flash(`Key “${name}” revoked.`, 'ok');
    await loadKeys();
  } catch (error) { reportError(error); }
}

function openOwner(kind, name, row) {
  editingOwner = { kind, name, missing: Boolean(row.missing) };
  $('#owner-name').textContent = `${kind} ${name}`;
  ownerForm.max_budget.value = row.max_budget ?? '';
  ownerForm.budget_duration.value = row.budget_duration || '';
  ownerDialog.showModal();
}

async function saveOwner(event) {
  event.preventDefault();
  const { kind, name, missing } = editingOwner;
  const values = formValues(ownerForm);
  const body = { [`${kind}_id`]: name, max_budget: number(values.max_budget), budget_duration: values.budget_duration || null };
  try {
    await api(`/${kind}/${missing ? 'new' : 'update'}`, { method: 'POST', body });
    ownerDialog.close();
    flash(`The ${kind} ${name} is saved.`, 'ok');
    await loadOwners();
  } catch (error) { reportError(error); ownerDialog.close(); }
}

async function createOwner(event) {
  event.preventDefault();
  const form = event.currentTarget;
  const kind = form.dataset.kind;
  const values = formValues(form);
  const body = { max_budget: number(values.max_budget) };
  if (values[`${kind}_id`]) body[`${kind}_id`] = values[`${kind}_id`];
  if (values.budget_duration) body.budget_duration = values.budget_duration;
  try {
    const row = await api(`/${kind}/new`, { method: 'POST', body });
    created[kind].add(row[`${kind}_id`]);
    form.reset();
    flash(`Created the ${kind} ${row[`${kind}_id`]}.`, 'ok');
    await loadOwners();
  } catch (error) { reportError(error); }
}

async function start() {
  createForm.addEventListener('submit', createKey);
  editForm.addEventListener('submit', saveEdit);
  ownerForm.addEventListener('submit', saveOwner);
  $('#edit-cancel').addEventListener('click', () => editDialog.close());
  $('#owner-cancel').addEventListener('click', () => ownerDialog.close());
  $('#show-revoked').addEventListener('change', drawKeys);
  for (const form of $$('form.owner-form')) form.addEventListener('submit', createOwner);
  try {
    const models = await api('/v1/models');
    fillModels(models.data);
    await loadKeys();
    document.body.dataset.loaded = 'true';
  } catch (error) { reportError(error); }
}

start();
