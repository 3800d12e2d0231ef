// The version history panel: the versions newest first, grouped into
// editing sessions (see sessions.js), each
// with its authors, time and size, and expandable to every version in it;
// a read-only preview of any version, and restore.
import Quill from 'quill';
import { ago, avatar, fullTime, h } from './dom.js';
import { api } from './rest.js';
import { sessionsOf } from './sessions.js';
import { errorText, notify } from './ui.js';

const PAGE = 200;

// authorsOf lists the distinct authors of ops, most recent first.
function authorsOf(ops) {
  const seen = new Map();
  for (const op of ops) {
    const key = op.user?.id ?? op.user?.name ?? '?';
    if (!seen.has(key)) seen.set(key, op.user);
  }
  return [...seen.values()];
}

// summary describes edits in a few words: "+12 −3", "formatting".
function summary(...deltas) {
  let ins = 0;
  let del = 0;
  let fmt = 0;
  for (const op of deltas.flat()) {
    if (!op) continue;
    if (typeof op.insert === 'string') ins += [...op.insert].length;
    else if (op.insert != null) ins += 1;
    else if (op.delete) del += op.delete;
    else if (op.retain && op.attributes) fmt += 1;
  }
  const parts = [];
  if (ins) parts.push(`+${ins}`);
  if (del) parts.push(`−${del}`);
  if (!ins && !del && fmt) parts.push('formatting');
  return parts.join(' ');
}

export function historyPanel({ id, host, previewHost, shell, button, client, getMeta }) {
  let open = false;
  let alive = true;
  let role = null;
  let newest = null; // highest version listed
  let oldest = null; // lowest version listed
  let selected = null; // version previewed
  let refreshTimer = null;
  let loading = null; // the load in progress, so loads never overlap
  let previewQuill = null;
  let previewSeq = 0; // drops answers to superseded preview requests
  let ops = []; // every op listed, newest first
  let hasCreated = false; // the list reaches version 0
  const expanded = new Set(); // sessions shown version by version, by oldest version

  const list = h('ol', { class: 'history-list', testid: 'history-list' });
  const more = h('button', { type: 'button', class: 'btn btn-small', testid: 'history-more', hidden: true }, 'Load older versions');
  const error = h('p', { class: 'form-error', testid: 'history-error', role: 'alert', hidden: true });
  const closeButton = h('button', { type: 'button', class: 'btn btn-quiet btn-icon', testid: 'history-close', title: 'Close', 'aria-label': 'Close history' }, '×');
  const panel = h('aside', { class: 'history-panel', testid: 'history-panel', 'aria-label': 'Version history', hidden: true },
    h('div', { class: 'panel-head' }, h('h2', {}, 'Version history'), closeButton),
    error, list, h('div', { class: 'more' }, more));
  host.append(panel);

  const restoreButton = h('button', { type: 'button', class: 'btn btn-primary', testid: 'history-restore' }, 'Restore this version');
  const backButton = h('button', { type: 'button', class: 'btn', testid: 'history-preview-close' }, 'Back to editing');
  const previewInfo = h('div', { class: 'preview-info' });
  const previewBody = h('div', { class: 'preview-body' });
  const preview = h('div', { class: 'history-preview', testid: 'history-preview' }, previewBody);
  previewHost.append(
    h('div', { class: 'preview-bar' }, previewInfo, h('div', { class: 'spacer' }), backButton, restoreButton),
    preview,
  );

  // itemFor is one version's entry; a session's heading passes the
  // session's label, authors and size.
  function itemFor(op, session) {
    const label = session?.label ?? (op.version === 0 ? 'Created' : `Version ${op.version}`);
    const authors = session?.authors ?? [op.user];
    const li = h('li', {
      class: 'history-item', testid: 'history-item', tabindex: '0', role: 'button',
      dataset: { version: String(op.version) }, 'aria-label': label,
    },
    h('div', { class: 'history-line' },
      h('span', { class: 'history-version' }, label),
      h('span', { class: 'history-time', title: fullTime(op.created_at) }, ago(op.created_at))),
    h('div', { class: 'history-line history-sub' },
      h('span', { class: 'history-author' },
        ...authors.slice(0, 3).map((u) => avatar(u, { class: 'avatar avatar-tiny' })),
        h('span', {}, authors.map((u) => u?.name || 'Unknown').join(', '))),
      h('span', { class: 'history-summary' }, session?.summary ?? (op.version === 0 ? '' : summary(op.delta)))));
    if (selected === op.version) li.classList.add('selected');
    const pick = () => showPreview(op, li);
    li.addEventListener('click', pick);
    li.addEventListener('keydown', (e) => {
      if (e.key === 'Enter' || e.key === ' ') {
        e.preventDefault();
        pick();
      }
    });
    return li;
  }

  // sessionFor is an editing session's entry: a heading that previews its
  // newest version and, for more than one version, a toggle that lists
  // each of them.
  function sessionFor(group) {
    const newestOp = group[0];
    const oldestV = group[group.length - 1].version;
    const many = group.length > 1;
    const heading = itemFor(newestOp, {
      label: many ? `Versions ${oldestV}–${newestOp.version}` : `Version ${newestOp.version}`,
      authors: authorsOf(group),
      summary: summary(...group.map((op) => op.delta)),
    });
    const li = h('li', { class: 'history-session', testid: 'history-session', dataset: { from: String(oldestV), to: String(newestOp.version) } });
    const body = h('ol', { class: 'history-list history-versions', hidden: !expanded.has(oldestV) });
    const wrap = h('ol', { class: 'history-list' }, heading);
    li.append(wrap);
    if (many) {
      const toggle = h('button', {
        type: 'button', class: 'btn btn-small btn-quiet history-expand', testid: 'history-expand',
        'aria-expanded': String(expanded.has(oldestV)),
      }, expanded.has(oldestV) ? `Hide ${group.length} versions` : `Show ${group.length} versions`);
      toggle.addEventListener('click', () => {
        const open = body.hidden;
        body.hidden = !open;
        if (open) expanded.add(oldestV);
        else expanded.delete(oldestV);
        toggle.setAttribute('aria-expanded', String(open));
        toggle.textContent = open ? `Hide ${group.length} versions` : `Show ${group.length} versions`;
      });
      body.append(...group.map((op) => itemFor(op)));
      li.append(toggle, body);
    }
    return li;
  }

  // render lists the loaded ops as sessions, then "Created".
  function render() {
    list.replaceChildren(...sessionsOf(ops).map(sessionFor));
    if (hasCreated) list.append(createdItem());
  }

  function createdItem() {
    const meta = getMeta();
    return itemFor({ version: 0, user: meta?.owner, created_at: meta?.created_at, delta: [] });
  }

  // fetchRange returns the ops from..to, oldest first, following cursors.
  async function fetchRange(from, to) {
    const out = [];
    for (let guard = 0; guard < 100 && from <= to; guard++) {
      const page = await api.ops(id, from, to, Math.min(PAGE * 4, to - from + 1));
      out.push(...page.items);
      if (!page.next_cursor || page.items.length === 0) break;
      from = page.items[page.items.length - 1].version + 1;
    }
    return out;
  }

  function currentVersion() {
    if (typeof client.version === 'number') return client.version;
    const meta = getMeta();
    return meta ? meta.version : null;
  }

  function serial(fn) {
    const run = (loading || Promise.resolve()).then(fn, fn);
    loading = run.finally(() => {
      if (loading === run) loading = null;
    });
    return run;
  }

  // loadHead (re)starts the list at the newest version.
  function loadHead() {
    return serial(loadHeadNow);
  }

  async function loadHeadNow() {
    error.hidden = true;
    const top = currentVersion();
    if (top == null) return;
    list.replaceChildren();
    ops = [];
    hasCreated = false;
    newest = top;
    oldest = top + 1;
    more.hidden = true;
    if (top === 0) {
      oldest = 0;
      hasCreated = true;
      render();
      return;
    }
    await loadOlderNow();
  }

  async function loadOlderNow() {
    if (oldest == null || oldest <= 1) return;
    const from = Math.max(1, oldest - PAGE);
    try {
      const older = await fetchRange(from, oldest - 1);
      if (!alive) return;
      ops.push(...older.reverse());
      oldest = from;
      hasCreated = oldest === 1;
      more.hidden = oldest <= 1;
      render();
    } catch (err) {
      error.textContent = errorText(err, 'Could not load the history');
      error.hidden = false;
    }
  }

  // loadNewer adds the versions committed since the list was loaded.
  function loadNewer() {
    return serial(async () => {
      if (!open || newest == null) return;
      const top = currentVersion();
      if (top == null || top <= newest) return;
      if (top - newest > 500) return loadHeadNow();
      try {
        const newer = await fetchRange(newest + 1, top);
        if (!alive) return;
        ops.unshift(...newer.reverse());
        newest = Math.max(newest, top);
        render();
      } catch (err) {
        error.textContent = errorText(err, 'Could not load the history');
        error.hidden = false;
      }
    });
  }

  async function showPreview(op, li) {
    selected = op.version;
    for (const el of list.querySelectorAll('.history-item.selected')) el.classList.remove('selected');
    li.classList.add('selected');
    previewInfo.replaceChildren(
      h('strong', {}, op.version === 0 ? 'As created' : `Version ${op.version}`),
      h('span', { class: 'muted' }, ` · ${op.user?.name || 'Unknown'} · ${fullTime(op.created_at)}`));
    restoreButton.disabled = !(role === 'editor' || role === 'owner');
    restoreButton.title = restoreButton.disabled ? 'Only editors and owners can restore' : '';
    restoreButton.dataset.version = String(op.version);
    shell.hidden = true;
    previewHost.hidden = false;
    preview.setAttribute('aria-busy', 'true');
    preview.dataset.version = String(op.version);
    delete preview.dataset.loaded;
    if (!previewQuill) {
      previewQuill = new Quill(previewBody, { theme: 'snow', readOnly: true, modules: { toolbar: false, history: { userOnly: true } } });
    }
    previewQuill.setContents([{ insert: 'Loading…\n' }], 'silent');
    const seq = ++previewSeq;
    try {
      const c = await api.content(id, op.version);
      if (seq !== previewSeq || !alive) return;
      previewQuill.setContents(c.delta, 'silent');
      preview.dataset.loaded = String(op.version);
    } catch (err) {
      if (seq !== previewSeq) return;
      previewQuill.setContents([{ insert: `${errorText(err, 'Could not load this version')}\n` }], 'silent');
    } finally {
      if (seq === previewSeq) preview.setAttribute('aria-busy', 'false');
    }
  }

  function closePreview() {
    previewSeq++;
    selected = null;
    for (const el of list.querySelectorAll('.history-item.selected')) el.classList.remove('selected');
    previewHost.hidden = true;
    shell.hidden = false;
  }

  restoreButton.addEventListener('click', async () => {
    const v = Number(restoreButton.dataset.version);
    restoreButton.disabled = true;
    try {
      await api.restore(id, v);
      notify(v === 0 ? 'Restored the document as it was created' : `Restored version ${v}`, 'info');
      closePreview();
      // The restore arrives as a live edit; list it once it is in.
      loadNewer();
    } catch (err) {
      notify(errorText(err, 'Could not restore'));
    } finally {
      restoreButton.disabled = !(role === 'editor' || role === 'owner');
    }
  });
  backButton.addEventListener('click', closePreview);

  function setOpen(v) {
    open = v;
    panel.hidden = !v;
    button.setAttribute('aria-expanded', String(v));
    button.classList.toggle('active', v);
    if (v) loadHead();
    else closePreview();
  }
  button.addEventListener('click', () => setOpen(!open));
  closeButton.addEventListener('click', () => setOpen(false));
  more.addEventListener('click', () => serial(loadOlderNow));

  return {
    setRole(r) {
      role = r;
      if (selected != null) restoreButton.disabled = !(role === 'editor' || role === 'owner');
    },
    // onVersion: a new version was committed; the open list follows soon.
    onVersion() {
      if (!open) return;
      clearTimeout(refreshTimer);
      refreshTimer = setTimeout(loadNewer, 600);
    },
    close() {
      if (open) setOpen(false);
      button.disabled = true;
    },
    destroy() {
      alive = false;
      clearTimeout(refreshTimer);
    },
  };
}
