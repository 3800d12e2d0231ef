// The editor page: Quill 2 bound to the live protocol through the client
// library, with remote cursors, avatars, a status that tells the truth,
// version history and sharing.
//
// Everything runs on the page's main thread; the page's mutable state
// (closed, role, everConnected, …) lives in editorPage's closure and is
// dropped by the cleanup it returns.
import Quill from 'quill';
import QuillCursors from 'quill-cursors/core';
import { CollabClient } from '../client/index.js';
import { avatar, h } from './dom.js';
import { speedUpParchment, speedUpPlainLoad } from './fastlist.js';
import { historyPanel } from './history.js';
import { api } from './rest.js';
import { setGuard, toLogin } from './router.js';
import { shareDialog } from './share.js';
import { errorText, notify, openDialog } from './ui.js';

Quill.register('modules/cursors', QuillCursors, true);

// Undo and redo buttons in the toolbar (Quill has the actions, not the icons).
const icons = Quill.import('ui/icons');
icons.undo = '<svg viewBox="0 0 18 18"><polygon class="ql-fill ql-stroke" points="6 10 4 12 2 10 6 10"/><path class="ql-stroke" d="M8.09,13.91A4.6,4.6,0,0,0,9,14,5,5,0,1,0,4,9"/></svg>';
icons.redo = '<svg viewBox="0 0 18 18"><polygon class="ql-fill ql-stroke" points="12 10 14 12 16 10 12 10"/><path class="ql-stroke" d="M9.91,13.91A4.6,4.6,0,0,1,9,14a5,5,0,1,1,5-5"/></svg>';

const TOOLBAR = [
  ['undo', 'redo'],
  [{ header: [1, 2, 3, false] }],
  ['bold', 'italic', 'underline', 'strike'],
  [{ color: [] }, { background: [] }],
  [{ list: 'ordered' }, { list: 'bullet' }, { list: 'check' }],
  [{ indent: '-1' }, { indent: '+1' }, { align: [] }],
  ['blockquote', 'code-block', 'link'],
  ['clean'],
];

// closedMessage explains a terminal close of the live connection.
function closedMessage({ code, reason }) {
  switch (code) {
    case 4404: return 'This document was deleted.';
    case 4403: return 'Your access to this document was removed.';
    case 4401: return 'You are no longer logged in. Log in again to keep editing.';
    case 1008: return `The server closed this document${reason ? `: ${reason}` : '.'}`;
    default: return `The connection to this document was closed${reason ? `: ${reason}` : ` (code ${code}).`}`;
  }
}

function liveURL(id) {
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${scheme}//${location.host}/v1/documents/${encodeURIComponent(id)}/live`;
}

export function editorPage(root, { id }) {
  document.title = 'collabd';
  let meta = null; // the document's REST metadata; title kept current
  let closed = false; // terminal: deleted, revoked, or the page is leaving
  let leaving = false;
  let everConnected = false;
  let welcomed = false;

  // --- DOM ---------------------------------------------------------------
  const title = h('input', {
    class: 'doc-title', testid: 'doc-title', 'aria-label': 'Document title', maxlength: 200,
    readOnly: true, spellcheck: 'false', value: '',
  });
  const status = h('span', { class: 'status', testid: 'status', role: 'status', 'aria-live': 'polite', dataset: { state: 'connecting' } }, 'Connecting…');
  const avatars = h('div', { class: 'avatars', testid: 'avatars' });
  const historyButton = h('button', { type: 'button', class: 'btn btn-quiet', testid: 'history-button', title: 'Version history', 'aria-expanded': 'false' }, 'History');
  const shareButton = h('button', { type: 'button', class: 'btn btn-primary', testid: 'share-button' }, 'Share');
  const download = downloadMenu(id);
  const closedBox = h('div', { class: 'banner banner-error', testid: 'editor-closed', role: 'alert', hidden: true });
  const roleBanner = h('div', { class: 'banner banner-info', testid: 'readonly-banner', hidden: true }, 'You can view this document but not edit it.');
  const editorEl = h('div', { id: 'editor' });
  const shell = h('div', { class: 'editor-shell' }, editorEl);
  const previewHost = h('div', { class: 'preview-host', hidden: true });
  const side = h('div', { class: 'side-host' });
  const page = h('div', { class: 'editor-page' },
    h('header', { class: 'topbar editor-bar' },
      h('a', { href: '/', class: 'home', title: 'All documents', 'aria-label': 'All documents' }, h('span', { class: 'brand-mark' })),
      h('div', { class: 'title-block' }, title, status),
      h('div', { class: 'spacer' }),
      avatars, historyButton, download.el, shareButton,
    ),
    closedBox, roleBanner,
    h('div', { class: 'editor-body' }, h('div', { class: 'editor-main' }, shell, previewHost), side),
  );
  root.replaceChildren(page);

  // --- Quill -------------------------------------------------------------
  const quill = new Quill(editorEl, {
    theme: 'snow',
    placeholder: 'Start writing…',
    readOnly: true, // until the welcome says what we may do
    modules: {
      toolbar: {
        container: TOOLBAR,
        handlers: {
          undo() { this.quill.history.undo(); },
          redo() { this.quill.history.redo(); },
        },
      },
      // Undo only this user's edits; Quill transforms its stack through
      // the remote ('api') changes.
      history: { userOnly: true, delay: 700, maxStack: 500 },
      cursors: { hideDelayMs: 2000, hideSpeedMs: 300, selectionChangeSource: null, transformOnTextChange: false },
    },
  });
  for (const [cls, label] of [['ql-undo', 'Undo'], ['ql-redo', 'Redo']]) {
    const b = shell.querySelector(`.${cls}`);
    if (b) {
      b.title = label;
      b.setAttribute('aria-label', label);
    }
  }
  const cursors = quill.getModule('cursors');
  speedUpParchment(quill);
  speedUpPlainLoad(quill);

  const client = new CollabClient({ url: liveURL(id) });
  window.collabd = { quill, client };

  // The role: whichever of the welcome and the REST metadata came last
  // (sharing changes are not announced on the live connection).
  let currentRole = null;
  const role = () => currentRole;
  const canEdit = () => !closed && (role() === 'editor' || role() === 'owner');

  // --- status ------------------------------------------------------------
  function setStatus(state, text) {
    if (status.dataset.state !== state) status.dataset.state = state;
    if (status.textContent !== text) status.textContent = text;
    const dirty = client.hasPending;
    document.title = `${dirty ? '• ' : ''}${meta ? meta.title : 'Document'} – collabd`;
  }

  function updateStatus() {
    if (closed) return setStatus('closed', 'Closed');
    const pending = client.hasPending;
    switch (client.status) {
      case 'synced':
        if (pending) return setStatus('saving', 'Saving…');
        if (!canEdit() && welcomed) return setStatus('readonly', 'View only');
        return setStatus('saved', 'Saved');
      case 'saving':
        return setStatus('saving', 'Saving…');
      case 'offline':
        return setStatus('offline', pending ? 'Offline — your changes are kept' : 'Offline');
      case 'connecting':
        if (everConnected) return setStatus('reconnecting', pending ? 'Reconnecting… your changes are kept' : 'Reconnecting…');
        return setStatus('connecting', 'Connecting…');
      case 'closed':
        return setStatus('closed', 'Closed');
      default:
        return setStatus('connecting', 'Connecting…');
    }
  }

  function applyRole() {
    const editable = canEdit();
    quill.enable(editable && welcomed);
    page.classList.toggle('readonly', !editable);
    // Only an owner renames; editors and viewers see a read-only title.
    title.readOnly = closed || role() !== 'owner';
    roleBanner.hidden = closed || !welcomed || editable;
    hist.setRole(role());
    updateStatus();
  }

  // --- presence: avatars and cursors ---------------------------------------
  const shownRanges = new Map(); // clientId -> "index:length" last drawn
  let shownPeople = ''; // the avatars drawn, so edits (which move ranges) do not redraw them
  function renderPresence() {
    const peers = client.peers || new Map();
    renderCursors(peers);
    const you = closed ? null : client.you;
    const people = JSON.stringify([you && [you.client, you.user], ...(closed ? [] : [...peers].map(([cid, p]) => [cid, p.user]))]);
    if (people === shownPeople) return;
    shownPeople = people;
    const items = [];
    if (you) {
      items.push(avatar(you.user, { testid: 'avatar', class: 'avatar avatar-self', title: you.user?.name, dataset: { client: you.client, self: 'true' } }));
    }
    for (const [cid, p] of peers) {
      if (closed) break;
      const el = avatar(p.user, { testid: 'avatar', title: p.user?.name, dataset: { client: cid }, role: 'button', tabindex: '0' });
      el.addEventListener('click', () => scrollToPeer(cid));
      el.addEventListener('keydown', (e) => {
        if (e.key === 'Enter') scrollToPeer(cid);
      });
      items.push(el);
    }
    avatars.replaceChildren(...items);
  }

  function renderCursors(peers) {
    const seen = new Set();
    if (!closed) {
      const len = quill.getLength();
      for (const [cid, p] of peers) {
        if (!p.range) continue;
        seen.add(cid);
        const index = Math.max(0, Math.min(p.range.index, len - 1));
        const length = Math.max(0, Math.min(p.range.length, len - 1 - index));
        const key = `${index}:${length}`;
        cursors.createCursor(cid, p.user?.name || 'Someone', p.user?.color || '#888');
        if (shownRanges.get(cid) !== key) {
          shownRanges.set(cid, key);
          cursors.moveCursor(cid, { index, length });
          flashFlag(cid);
        }
      }
    }
    for (const c of cursors.cursors()) {
      if (!seen.has(c.id)) {
        cursors.removeCursor(c.id);
        shownRanges.delete(c.id);
      }
    }
  }

  // scrollToPeer brings a collaborator's cursor into view (avatar click).
  function scrollToPeer(cid) {
    const p = client.peers && client.peers.get(cid);
    if (!p || !p.range || shell.hidden) return;
    const b = quill.getBounds(Math.min(p.range.index, quill.getLength() - 1));
    if (!b) return;
    const top = quill.container.getBoundingClientRect().top + window.scrollY + b.top;
    window.scrollTo({ top: Math.max(0, top - window.innerHeight / 3), behavior: 'smooth' });
    flashFlag(cid);
  }

  // flashFlag shows a remote cursor's name for a moment after it moves,
  // the way Google Docs does.
  const flagTimers = new Map();
  function flashFlag(cid) {
    cursors.toggleFlag(cid, true);
    clearTimeout(flagTimers.get(cid));
    flagTimers.set(cid, setTimeout(() => {
      flagTimers.delete(cid);
      cursors.toggleFlag(cid, false);
    }, 1500));
  }

  // --- live events -----------------------------------------------------------
  const offs = [];
  offs.push(client.on('welcome', ({ doc, reset }) => {
    if (closed) return;
    welcomed = true;
    everConnected = true;
    currentRole = client.role || currentRole;
    // Role first: enabling the editor restyles it, cheaper before a large
    // document is in it than after.
    applyRole();
    if (reset) {
      const sel = quill.hasFocus() ? quill.getSelection() : null;
      // Marks for measuring how fast a large document opens.
      performance.mark('collabd:welcome');
      quill.setContents(doc, 'api');
      performance.measure('collabd:setContents', 'collabd:welcome');
      requestAnimationFrame(() => setTimeout(() => performance.measure('collabd:rendered', 'collabd:welcome'), 0));
      // Undoing across a snapshot would apply stale inverses.
      quill.history.clear();
      if (sel) {
        const len = quill.getLength();
        quill.setSelection(Math.min(sel.index, len - 1), Math.min(sel.length, Math.max(0, len - 1 - sel.index)), 'silent');
      }
    }
    renderPresence();
  }));
  offs.push(client.on('remote', (delta) => {
    if (closed) return;
    // Quill re-sets the selection start-to-end after a change, which would
    // turn a selection the user is extending backwards (Shift+Left) around.
    const backward = selectionIsBackward(quill);
    quill.updateContents(delta, 'api');
    if (backward) restoreBackward(quill);
    checkView();
    hist.onVersion();
  }));
  offs.push(client.on('ack', () => {
    updateStatus();
    hist.onVersion();
  }));
  offs.push(client.on('status', updateStatus));
  offs.push(client.on('presence', () => renderPresence()));
  offs.push(client.on('error', (e) => {
    if (closed) return;
    if (e.code === 'forbidden') {
      notify(`You can no longer edit this document: ${e.message}`);
      currentRole = 'viewer';
      applyRole();
      refreshMeta();
      return;
    }
    if (e.code === 'rate_limited' || e.code === 'unavailable') {
      // The client library sends it again by itself; nothing is lost.
      notify(e.code === 'rate_limited'
        ? 'You are typing faster than the server accepts; your changes are kept and sent in a moment.'
        : 'The server cannot save right now; your changes are kept and sent again.', 'info');
      return;
    }
    notify(`The server refused a change: ${e.message}${e.code ? ` (${e.code})` : ''}`);
  }));
  offs.push(client.on('closed', (e) => {
    if (leaving) return;
    const unsaved = client.hasPending;
    closed = true;
    quill.disable();
    closedBox.replaceChildren(
      h('strong', {}, closedMessage(e)),
      unsaved ? ' Your last changes could not be saved.' : '',
      ' ',
      h('a', { href: '/', testid: 'back-to-list' }, 'Back to your documents'),
    );
    closedBox.hidden = false;
    shareButton.disabled = true;
    download.disable();
    title.readOnly = true;
    roleBanner.hidden = true;
    hist.close();
    renderPresence();
    applyRole();
  }));

  // Renames and role changes are not announced on the live connection:
  // the metadata is read again when the page gets focus, and every minute.
  async function refreshMeta() {
    if (closed) return;
    try {
      gotMeta(await api.getDocument(id));
    } catch {
      // keep what we had; a deleted document closes the live connection
    }
  }
  function gotMeta(d) {
    if (closed) return;
    meta = d;
    currentRole = d.role;
    // The server gives live connections a new role at once but does not
    // say so on them; the client library refuses a viewer's edits itself,
    // so it must learn the role too.
    if (welcomed && d.role && client.role !== d.role) client.role = d.role;
    if (document.activeElement !== title && !title.dataset.saving) title.value = d.title;
    applyRole();
  }
  const onFocus = () => refreshMeta();
  window.addEventListener('focus', onFocus);
  const metaTimer = setInterval(() => {
    if (document.visibilityState === 'visible') refreshMeta();
  }, 60000);

  // Local edits and selection go to the server.
  quill.on('text-change', (delta, _old, source) => {
    scheduleCursorRedraw();
    if (source !== 'user' || closed) return;
    try {
      client.submit(delta);
    } catch (err) {
      // The view and the client's document disagree (a bug): show the
      // document as the client holds it rather than edit a phantom.
      console.error('collabd: submit failed', err);
      resetView('Your last change could not be applied');
      return;
    }
    checkView();
    updateStatus();
  });

  // checkView makes sure the editor shows the client's document: a cheap
  // length check after every change, and a reset (said out loud) if not.
  let checking = true; // off once a reset could not make them agree
  function checkView() {
    if (checking && quill.getLength() !== client.doc.length()) {
      console.error('collabd: editor length', quill.getLength(), 'document length', client.doc.length());
      resetView('The editor got out of step with the document');
    }
  }
  function resetView(why) {
    notify(`${why}; it now shows the document as this page holds it.`);
    quill.setContents(client.doc, 'api');
    quill.history.clear();
    if (quill.getLength() !== client.doc.length()) {
      // Content Quill cannot show (an unknown embed): say so once.
      checking = false;
      notify('This document has content this editor cannot show; editing it may misplace changes.');
    }
  }
  // A format change moves carets without changing their index: redraw
  // them once per frame after any change.
  let redrawFrame = 0;
  function scheduleCursorRedraw() {
    if (redrawFrame) return;
    redrawFrame = requestAnimationFrame(() => {
      redrawFrame = 0;
      if (!closed) cursors.update();
    });
  }
  quill.on('editor-change', (type, range) => {
    if (type !== 'selection-change' || closed) return;
    client.setSelection(range ? { index: range.index, length: range.length } : null);
  });

  // --- title -----------------------------------------------------------------
  title.addEventListener('keydown', (e) => {
    if (e.key === 'Enter') {
      e.preventDefault();
      title.blur();
    } else if (e.key === 'Escape') {
      title.value = meta ? meta.title : title.value;
      title.blur();
    }
  });
  title.addEventListener('change', saveTitle);
  async function saveTitle() {
    if (!meta || title.readOnly) return;
    const t = title.value.trim();
    if (t === meta.title) return;
    if (!t) {
      title.value = meta.title;
      notify('The title cannot be empty.');
      return;
    }
    title.dataset.saving = 'true';
    try {
      meta = { ...meta, ...(await api.renameDocument(id, t)) };
      if (document.activeElement !== title) title.value = meta.title;
      updateStatus();
    } catch (err) {
      title.value = meta.title;
      notify(errorText(err, 'Could not rename'));
    } finally {
      delete title.dataset.saving;
    }
  }

  // --- history and share -----------------------------------------------------
  const hist = historyPanel({
    id, host: side, previewHost, shell, button: historyButton, client,
    getMeta: () => meta,
    onRestored: () => {},
  });
  offs.push(() => download.dispose());
  shareButton.addEventListener('click', () => shareDialog({ id, getMeta: () => meta, link: `${location.origin}/d/${encodeURIComponent(id)}` }));

  // --- leaving with unsaved edits asks first ---------------------------------------
  const onBeforeUnload = (e) => {
    if (!closed && client.hasPending) {
      e.preventDefault();
      e.returnValue = '';
    }
  };
  window.addEventListener('beforeunload', onBeforeUnload);
  setGuard(async () => {
    if (closed || !client.hasPending) return true;
    return !!(await openDialog({
      title: 'Leave this page?',
      message: 'Some of your changes are not saved yet. If you leave now they may be lost.',
      okText: 'Leave', cancelText: 'Stay', danger: true,
    }));
  });
  const onKey = (e) => {
    if ((e.ctrlKey || e.metaKey) && e.key === 's') {
      e.preventDefault();
      notify(client.hasPending ? 'Saving… changes are saved automatically.' : 'All changes are saved automatically.', 'info');
    }
  };
  document.addEventListener('keydown', onKey);

  // --- start -----------------------------------------------------------------
  updateStatus();
  client.connect();
  api.getDocument(id).then((d) => {
    if (!leaving) gotMeta(d);
  }, (err) => {
    if (leaving) return;
    if (err.status === 401) {
      leaving = true;
      client.close();
      return toLogin();
    }
    if (err.status === 404) {
      leaving = true;
      client.close();
      closed = true;
      quill.disable();
      root.replaceChildren(h('main', { class: 'not-found' },
        h('h1', {}, 'Document not found'),
        h('p', { testid: 'editor-closed' }, 'This document does not exist, was deleted, or is not shared with you.'),
        h('a', { href: '/', class: 'btn btn-primary' }, 'Back to your documents')));
      return;
    }
    notify(errorText(err, 'Could not load the document'));
  });

  return () => {
    leaving = true;
    closed = true;
    setGuard(null);
    window.removeEventListener('beforeunload', onBeforeUnload);
    window.removeEventListener('focus', onFocus);
    clearInterval(metaTimer);
    document.removeEventListener('keydown', onKey);
    for (const off of offs) off();
    for (const t of flagTimers.values()) clearTimeout(t);
    cancelAnimationFrame(redrawFrame);
    hist.destroy();
    client.close();
    if (window.collabd && window.collabd.client === client) delete window.collabd;
  };
}

// selectionIsBackward tells whether the browser's selection in the editor
// runs from its end to its start (focus before anchor).
function selectionIsBackward(quill) {
  const sel = document.getSelection();
  if (!sel || sel.isCollapsed || !sel.anchorNode || !quill.root.contains(sel.anchorNode)) return false;
  if (sel.anchorNode === sel.focusNode) return sel.focusOffset < sel.anchorOffset;
  return Boolean(sel.anchorNode.compareDocumentPosition(sel.focusNode) & Node.DOCUMENT_POSITION_PRECEDING);
}

// restoreBackward puts Quill's current selection back with its anchor at
// the end, so extending it keeps going the way the user was going.
function restoreBackward(quill) {
  const range = quill.getSelection();
  if (!range || range.length === 0) return;
  let [startNode, startOffset, endNode, endOffset] = quill.selection.rangeToNative(range);
  if (startNode == null || endNode == null) return;
  const unBR = (node, offset) => (node instanceof Element && node.tagName === 'BR'
    ? [node.parentNode, Array.from(node.parentNode.childNodes).indexOf(node)]
    : [node, offset]);
  [startNode, startOffset] = unBR(startNode, startOffset);
  [endNode, endOffset] = unBR(endNode, endOffset);
  document.getSelection().setBaseAndExtent(endNode, endOffset, startNode, startOffset);
}

// downloadMenu is the Download button and its menu of formats: links to
// the REST export of the last saved version (the login cookie
// authenticates them), named after the title when clicked.
const FORMATS = [
  { format: 'markdown', ext: 'md', label: 'Markdown (.md)' },
  { format: 'html', ext: 'html', label: 'Web page (.html)' },
  { format: 'text', ext: 'txt', label: 'Plain text (.txt)' },
];

function downloadMenu(id) {
  const button = h('button', {
    type: 'button', class: 'btn btn-quiet', testid: 'download-button',
    title: 'Download the last saved version', 'aria-haspopup': 'menu', 'aria-expanded': 'false',
  }, 'Download');
  const links = FORMATS.map(({ format, ext, label }) => {
    const a = h('a', {
      role: 'menuitem', class: 'menu-item', testid: `download-${format}`,
      href: `/v1/documents/${encodeURIComponent(id)}/content?format=${format}`,
    }, label);
    a.addEventListener('click', () => {
      a.download = `${fileName(document.querySelector('[data-testid=doc-title]')?.value)}.${ext}`;
      setOpen(false);
    });
    return a;
  });
  const menu = h('div', { class: 'menu', role: 'menu', testid: 'download-menu', hidden: true }, ...links);
  const el = h('div', { class: 'menu-anchor' }, button, menu);
  const setOpen = (open) => {
    menu.hidden = !open;
    button.setAttribute('aria-expanded', String(open));
    button.classList.toggle('active', open);
  };
  button.addEventListener('click', () => setOpen(menu.hidden));
  const onDocClick = (e) => { if (!el.contains(e.target)) setOpen(false); };
  const onKey = (e) => { if (e.key === 'Escape' && !menu.hidden) { setOpen(false); button.focus(); } };
  document.addEventListener('click', onDocClick);
  document.addEventListener('keydown', onKey);
  return {
    el,
    disable() { setOpen(false); button.disabled = true; },
    dispose() {
      document.removeEventListener('click', onDocClick);
      document.removeEventListener('keydown', onKey);
    },
  };
}

// fileName makes a document title safe as a file name.
export function fileName(title) {
  const name = String(title ?? '').replace(/[\\/:*?"<>|\u0000-\u001f]+/g, '-').replace(/^[\s.-]+|[\s.-]+$/g, '').slice(0, 100);
  return name || 'document';
}
