// Shared helpers for the console's pages: API calls with the session cookie, a DOM builder
// that only ever makes text nodes from data (so nothing from a prompt or an upstream is HTML),
// formatting, and the live job feed.

export const csrf = () => document.querySelector('meta[name="csrf-token"]').content;
export const isAdmin = () => document.querySelector('meta[name="vidgate-admin"]').content === 'true';

export class ApiError extends Error {
  constructor(status, body) {
    const error = (body && body.error) || {};
    super(error.message || `HTTP ${status}`);
    this.status = status;
    this.code = error.code || null;
    this.param = error.param || null;
  }
}

// Calls the gateway's API with the session cookie; unsafe methods send the CSRF token.
// `body` that is a FormData goes as multipart, anything else as JSON.
export async function api(path, { method = 'GET', body, query, headers = {} } = {}) {
  const url = query ? `${path}?${qs(query)}` : path;
  const init = { method, credentials: 'same-origin', headers: { accept: 'application/json', ...headers } };
  if (method !== 'GET' && method !== 'HEAD') init.headers['x-csrf-token'] = csrf();
  if (body instanceof FormData) init.body = body;
  else if (body !== undefined) {
    init.headers['content-type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  const response = await fetch(url, init);
  const here = encodeURIComponent(location.pathname + location.search);
  if (response.status === 401) location.assign(`/ui/signin?next=${here}`);
  const type = response.headers.get('content-type') || '';
  const data = type.includes('json') ? await response.json() : await response.text();
  if (!response.ok) {
    const error = new ApiError(response.status, data);
    // Signed out and in again in another tab: this page's CSRF token is stale; a reload gets
    // the new one (the change was not made).
    if (error.code === 'csrf_failed') location.reload();
    throw error;
  }
  return data;
}

// The query string of an object, leaving out empty values.
export function qs(params) {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== '') search.set(name, String(value));
  }
  return search.toString();
}

// h('td', {class: 'x', dataset: {id: 1}}, 'text', child) — strings become text nodes.
export function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name === 'dataset') Object.assign(node.dataset, value);
    else if (name.startsWith('on') && typeof value === 'function') node.addEventListener(name.slice(2), value);
    else if (name === 'text') node.textContent = String(value);
    else node.setAttribute(name, value === true ? '' : String(value));
  }
  append(node, children);
  return node;
}

function append(node, children) {
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

export function clear(node, ...children) {
  node.replaceChildren();
  append(node, children);
  return node;
}

export const $ = (selector, root = document) => root.querySelector(selector);
export const $$ = (selector, root = document) => [...root.querySelectorAll(selector)];

export function usd(value, digits = 2) {
  if (value === null || value === undefined) return '—';
  const shown = Math.abs(value) < 0.01 && value !== 0 ? 4 : digits;
  return `$${Number(value).toFixed(shown)}`;
}

export function ago(unixSeconds) {
  if (!unixSeconds) return '—';
  const seconds = Math.max(0, Date.now() / 1000 - unixSeconds);
  if (seconds < 60) return `${Math.round(seconds)}s ago`;
  if (seconds < 3600) return `${Math.round(seconds / 60)}m ago`;
  if (seconds < 86400) return `${Math.round(seconds / 3600)}h ago`;
  return `${Math.round(seconds / 86400)}d ago`;
}

export function when(unixSeconds) {
  if (!unixSeconds) return '—';
  return new Date(unixSeconds * 1000).toISOString().replace('T', ' ').slice(0, 19);
}

export function ms(value) {
  if (value === null || value === undefined) return '—';
  return value >= 1000 ? `${(value / 1000).toFixed(1)} s` : `${Math.round(value)} ms`;
}

export function statusBadge(status, progress) {
  const label = status === 'in_progress' && progress ? `in progress ${progress}%` : status.replace('_', ' ');
  return h('span', { class: `badge ${status}`, dataset: { status } }, label);
}

// A message at the top of the page (errors in red); replaces the last one.
export function flash(message, kind = 'info') {
  const box = document.getElementById('flash');
  box.className = `flash ${kind}`;
  box.textContent = message;
  box.hidden = !message;
}

export function reportError(error) {
  flash(error instanceof ApiError ? `${error.message}` : String(error), 'error');
}

// Server-sent `video.updated` events for the caller's jobs (or one job): calls onVideo with
// each Video object. Returns the EventSource so a page can close it.
export function watchVideos(onVideo, params = {}) {
  const source = new EventSource(`/v1/videos/events?${qs(params)}`);
  source.addEventListener('video.updated', (event) => onVideo(JSON.parse(event.data)));
  return source;
}

// A form's fields as an object of non-empty strings.
export function formValues(form) {
  const values = {};
  for (const [name, value] of new FormData(form).entries()) {
    if (typeof value === 'string' && value.trim() !== '') values[name] = value.trim();
  }
  return values;
}
