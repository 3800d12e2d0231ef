// Small DOM helpers: the app is plain DOM, no framework.

// h builds an element: h('button', { class: 'x', onclick: fn, dataset: {testid: 'y'} }, 'text', child).
// Attributes with value null, undefined or false are left out.
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v == null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') {
      el.addEventListener(k.slice(2), v);
    } else if (k === 'dataset') {
      Object.assign(el.dataset, v);
    } else if (k === 'testid') {
      el.dataset.testid = v;
    } else if (k === 'value' || k === 'checked' || k === 'disabled' || k === 'readOnly') {
      el[k] = v;
    } else {
      el.setAttribute(k, v === true ? '' : String(v));
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c == null || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : String(c));
  }
}

// initials of a display name, for avatars: "Ada Lovelace" -> "AL".
export function initials(name) {
  const parts = String(name || '?').trim().split(/\s+/).filter(Boolean);
  if (parts.length === 0) return '?';
  const first = [...parts[0]][0];
  const last = parts.length > 1 ? [...parts[parts.length - 1]][0] : '';
  return (first + last).toUpperCase();
}

// avatar is a coloured circle with a user's initials.
export function avatar(user, attrs = {}) {
  const el = h('span', { class: 'avatar', title: user?.name || user?.username || '', ...attrs }, initials(user?.name || user?.username));
  el.style.background = user?.color || '#888';
  return el;
}

const rtf = typeof Intl !== 'undefined' && Intl.RelativeTimeFormat ? new Intl.RelativeTimeFormat(undefined, { numeric: 'auto' }) : null;

// ago shows a time relative to now ("5 minutes ago"), falling back to the date.
export function ago(iso) {
  const t = new Date(iso);
  if (Number.isNaN(t.getTime())) return '';
  const s = Math.round((t.getTime() - Date.now()) / 1000);
  const abs = Math.abs(s);
  if (!rtf || abs > 7 * 86400) return t.toLocaleString();
  if (abs < 45) return 'just now';
  if (abs < 3600) return rtf.format(Math.round(s / 60), 'minute');
  if (abs < 86400) return rtf.format(Math.round(s / 3600), 'hour');
  return rtf.format(Math.round(s / 86400), 'day');
}

// fullTime is the exact local time, for tooltips.
export function fullTime(iso) {
  const t = new Date(iso);
  return Number.isNaN(t.getTime()) ? '' : t.toLocaleString();
}
