// Helpers shared by the client-library tests (not a test file itself).

import Delta from 'quill-delta';
import { CollabClient } from '../../src/client/index.js';
import { api } from '../server.mjs';

/** Polls cond() until it is truthy or the deadline passes; throws with msg() then. */
export async function waitFor(cond, msg = 'condition', timeoutMs = 15000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await cond();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${typeof msg === 'function' ? msg() : msg}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** mulberry32: a small seeded PRNG, so a failing seed can be replayed. */
export function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const WORDS = ['a', 'bc', 'def', ' ', 'xyz ', '\n', 'é', '😀', 'long text '];

/** A random valid edit of doc (inserts, deletes, inline and line formats, embeds); never touches the final "\n". */
export function randomEdit(rand, doc) {
  const len = doc.length(); // includes the final "\n"
  const pick = (n) => Math.floor(rand() * n);
  const body = len - 1; // editable positions are [0, body]
  // Positions must not split a surrogate pair: find the text to check.
  const text = doc.ops.map((op) => (typeof op.insert === 'string' ? op.insert : '\u0000')).join('');
  const safe = (i) => {
    while (i > 0 && i < text.length && /[\udc00-\udfff]/.test(text[i])) i--;
    return i;
  };
  const kind = rand();
  if (kind < 0.45 || body === 0) {
    const at = safe(pick(body + 1));
    const d = new Delta().retain(at);
    if (rand() < 0.1) return d.insert({ image: `img${pick(100)}` });
    const attrs = rand() < 0.3 ? { bold: true } : (rand() < 0.2 ? { italic: true, color: '#f00' } : undefined);
    return d.insert(WORDS[pick(WORDS.length)], attrs);
  }
  const a = safe(pick(body));
  let b = safe(a + 1 + pick(Math.min(8, body - a)));
  if (b <= a) b = a + (/[\ud800-\udbff]/.test(text[a]) ? 2 : 1); // one whole character
  if (b > body) return new Delta().retain(a).insert('q');
  if (kind < 0.75) return new Delta().retain(a).delete(b - a);
  if (kind < 0.9) {
    const attrs = rand() < 0.5 ? { bold: rand() < 0.5 ? true : null } : { underline: true, italic: rand() < 0.5 ? true : null };
    return new Delta().retain(a).retain(b - a, attrs);
  }
  // A line format on the final "\n" (or any "\n"), like Quill's headers.
  return new Delta().retain(body).retain(1, { header: rand() < 0.5 ? 1 : null });
}

/** A WebSocket subclass whose instances are recorded and whose traffic a test can filter. */
export function tappedWebSocket({ onIncoming, onOutgoing } = {}) {
  const sockets = [];
  class Tapped extends globalThis.WebSocket {
    constructor(url, protocols) {
      super(url, protocols);
      sockets.push(this);
      this.index = sockets.length - 1;
    }
    /** Hands m to the client as if it had just arrived, bypassing onIncoming. */
    deliver(m) { this._inner({ data: JSON.stringify(m) }); }
    set onmessage(fn) {
      this._inner = fn;
      super.onmessage = fn && ((ev) => {
        if (onIncoming && onIncoming(this, JSON.parse(ev.data)) === false) return;
        fn(ev);
      });
    }
    get onmessage() { return super.onmessage; }
    send(data) {
      if (onOutgoing && onOutgoing(this, JSON.parse(data)) === false) return;
      super.send(data);
    }
  }
  return { WebSocket: Tapped, sockets };
}

export function liveURL(srv, docId) {
  return `${srv.url.replace(/^http/, 'ws')}/v1/documents/${docId}/live`;
}

/**
 * A client with a "view" that follows the events exactly as an editor
 * would (welcome reset, remote deltas, own submits), so tests can check
 * that what the events say equals client.doc.
 */
export function viewClient(opts) {
  const c = new CollabClient({ minBackoff: 20, maxBackoff: 300, connectTimeout: 2000, ...opts });
  const t = { client: c, view: null, errors: [], closed: null, remotes: 0 };
  c.on('welcome', ({ doc, reset }) => { if (reset) t.view = doc; });
  c.on('remote', (d) => { t.view = t.view.compose(d); t.remotes++; });
  c.on('error', (e) => t.errors.push(e));
  c.on('closed', (e) => { t.closed = e; });
  t.edit = (d) => { t.view = t.view.compose(d); c.submit(d); };
  return t;
}

export async function serverContent(srv, token, docId) {
  return api(srv.url, token, 'GET', `/v1/documents/${docId}/content`);
}

export async function allOps(srv, token, docId) {
  const items = [];
  let cursor = '';
  for (let i = 0; i < 1000; i++) {
    const page = await api(srv.url, token, 'GET', `/v1/documents/${docId}/ops?limit=1000${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
    items.push(...page.items);
    if (!page.next_cursor) return items;
    cursor = page.next_cursor;
  }
  throw new Error('too many pages');
}

/** Canonical JSON of a delta (or ops array): object keys sorted, so key order does not matter. */
export const json = (d) => JSON.stringify(d.ops ?? d, (k, v) => (v && typeof v === 'object' && !Array.isArray(v)
  ? Object.fromEntries(Object.keys(v).sort().map((key) => [key, v[key]]))
  : v));
