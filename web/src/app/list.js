// The document list: newest activity first, paged with "Load more".
import { ago, avatar, fullTime, h } from './dom.js';
import { api } from './rest.js';
import { navigate, toLogin } from './router.js';
import { errorText, header, notify, openDialog } from './ui.js';

const roleRank = { viewer: 1, editor: 2, owner: 3 };
const may = (role, need) => (roleRank[role] || 0) >= roleRank[need];

export async function logout() {
  try {
    await api.logout();
  } catch (err) {
    notify(errorText(err, 'Could not log out'));
    return;
  }
  navigate('/login', { replace: true });
}

export function listPage(root) {
  document.title = 'Documents – collabd';
  let alive = true;
  const list = h('ul', { class: 'doc-list', testid: 'doc-list', 'aria-busy': 'true' });
  const empty = h('p', { class: 'empty', testid: 'doc-empty', hidden: true }, 'No documents yet. Create one to start writing.');
  const more = h('button', { type: 'button', class: 'btn', testid: 'load-more', hidden: true }, 'Load more');
  const newDoc = h('button', { type: 'button', class: 'btn btn-primary', testid: 'new-doc' }, h('span', { class: 'plus' }, '+'), 'New document');
  const loadError = h('p', { class: 'form-error', testid: 'list-error', role: 'alert', hidden: true });
  let cursor = null;
  let loaded = 0;

  const main = h('main', { class: 'list-page' },
    h('div', { class: 'list-head' }, h('h1', {}, 'Documents'), newDoc),
    loadError,
    h('div', { class: 'list-columns', 'aria-hidden': 'true' }, h('span', {}, 'Title'), h('span', {}, 'Owner'), h('span', {}, 'Last change'), h('span', {})),
    list, empty, h('div', { class: 'more' }, more),
  );
  root.replaceChildren(header(null, logout), main);

  function row(doc) {
    const link = h('a', { href: `/d/${encodeURIComponent(doc.id)}`, class: 'doc-link', testid: 'doc-link' }, doc.title);
    const updated = h('span', { class: 'doc-time', title: fullTime(doc.updated_at) }, ago(doc.updated_at));
    const rename = h('button', {
      type: 'button', class: 'btn btn-small', testid: 'doc-rename', disabled: !may(doc.role, 'owner'),
      title: may(doc.role, 'owner') ? 'Rename' : 'Only owners can rename',
    }, 'Rename');
    const del = h('button', {
      type: 'button', class: 'btn btn-small btn-danger-quiet', testid: 'doc-delete', disabled: !may(doc.role, 'owner'),
      title: may(doc.role, 'owner') ? 'Delete' : 'Only owners can delete',
    }, 'Delete');
    const li = h('li', { class: 'doc-item', testid: 'doc-item', dataset: { id: doc.id, role: doc.role } },
      h('span', { class: 'doc-title' }, h('span', { class: 'doc-icon', 'aria-hidden': 'true' }), link,
        doc.role !== 'owner' ? h('span', { class: `role-badge role-${doc.role}` }, doc.role) : null),
      h('span', { class: 'doc-owner' }, avatar(doc.owner, { class: 'avatar avatar-small' }), h('span', {}, doc.owner?.name || '')),
      updated,
      h('span', { class: 'doc-actions' }, rename, del),
    );
    rename.addEventListener('click', async () => {
      const title = await openDialog({
        title: 'Rename document', okText: 'Rename', input: { value: link.textContent, maxlength: 200, label: 'Title' },
        validate: (v) => (v.trim() ? null : 'The title cannot be empty.'),
      });
      if (title == null) return;
      try {
        const d = await api.renameDocument(doc.id, title.trim());
        link.textContent = d.title;
      } catch (err) {
        notify(errorText(err, 'Could not rename'));
      }
    });
    del.addEventListener('click', async () => {
      const ok = await openDialog({
        title: 'Delete document?', okText: 'Delete', danger: true,
        message: `“${link.textContent}” will be deleted for everyone it is shared with. This cannot be undone.`,
      });
      if (!ok) return;
      try {
        await api.deleteDocument(doc.id);
        li.remove();
        loaded--;
        empty.hidden = loaded > 0 || !more.hidden;
        notify(`Deleted “${link.textContent}”`, 'info');
      } catch (err) {
        notify(errorText(err, 'Could not delete'));
      }
    });
    return li;
  }

  async function load() {
    more.disabled = true;
    loadError.hidden = true;
    try {
      const page = await api.listDocuments(cursor);
      if (!alive) return;
      list.append(...page.items.map(row));
      loaded += page.items.length;
      cursor = page.next_cursor || null;
      more.hidden = !cursor;
      empty.hidden = loaded > 0;
    } catch (err) {
      if (err.status === 401) return toLogin();
      if (!alive) return;
      loadError.textContent = errorText(err, 'Could not load your documents');
      loadError.hidden = false;
    } finally {
      more.disabled = false;
      list.setAttribute('aria-busy', 'false');
    }
  }

  newDoc.addEventListener('click', async () => {
    newDoc.disabled = true;
    try {
      const d = await api.createDocument('Untitled document');
      navigate(`/d/${encodeURIComponent(d.id)}`);
    } catch (err) {
      if (err.status === 401) return toLogin();
      notify(errorText(err, 'Could not create a document'));
      newDoc.disabled = false;
    }
  });
  more.addEventListener('click', load);

  api.me().then((me) => {
    if (alive) main.previousElementSibling.replaceWith(header(me, logout));
  }, (err) => {
    if (err.status === 401) toLogin();
  });
  load();
  return () => {
    alive = false;
  };
}
