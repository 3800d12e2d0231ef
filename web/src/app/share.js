// The share dialog: members with their roles, add one by username, copy
// the link.
import { avatar, h } from './dom.js';
import { api } from './rest.js';
import { errorText } from './ui.js';

const ROLES = [
  ['viewer', 'Viewer'],
  ['editor', 'Editor'],
  ['owner', 'Owner'],
];

function roleSelect(attrs, value) {
  return h('select', { class: 'select', ...attrs },
    ROLES.map(([v, label]) => h('option', { value: v, selected: v === value }, label)));
}

// copyText puts text on the clipboard: the async API where allowed (secure
// contexts), else a selected text field and execCommand.
export async function copyText(text, field) {
  try {
    if (navigator.clipboard && window.isSecureContext) {
      await navigator.clipboard.writeText(text);
      return true;
    }
  } catch {
    // fall through to the old way
  }
  try {
    field.focus();
    field.select();
    return document.execCommand('copy');
  } catch {
    return false;
  }
}

export function shareDialog({ id, getMeta, link }) {
  const meta = getMeta();
  const isOwner = meta?.role === 'owner';
  const prev = document.activeElement;

  const username = h('input', {
    class: 'input', testid: 'share-username', placeholder: 'Username', autocomplete: 'off',
    autocapitalize: 'none', spellcheck: 'false', 'aria-label': 'Username to share with', disabled: !isOwner,
  });
  const role = roleSelect({ testid: 'share-role', 'aria-label': 'Role', disabled: !isOwner }, 'editor');
  const add = h('button', { type: 'submit', class: 'btn btn-primary', testid: 'share-add', disabled: !isOwner }, 'Share');
  const error = h('p', { class: 'form-error', testid: 'share-error', role: 'alert', hidden: true });
  const members = h('ul', { class: 'share-members', testid: 'share-members', 'aria-busy': 'true' });
  const linkField = h('input', { class: 'input link-field', testid: 'share-link', readOnly: true, value: link, 'aria-label': 'Link to this document' });
  const copy = h('button', { type: 'button', class: 'btn', testid: 'share-copy-link' }, 'Copy link');
  const copied = h('span', { class: 'copied', testid: 'share-copied', role: 'status', hidden: true }, 'Link copied');
  const close = h('button', { type: 'button', class: 'btn', testid: 'share-close' }, 'Done');

  const form = h('form', { class: 'share-add-row' }, username, role, add);
  const dialog = h('div', { class: 'dialog share-dialog', role: 'dialog', 'aria-modal': 'true', 'aria-label': 'Share', testid: 'share-dialog' },
    h('h2', {}, `Share “${meta?.title || 'this document'}”`),
    isOwner ? form : h('p', { class: 'hint', testid: 'share-not-owner' }, 'Only owners can add people or change roles.'),
    error,
    h('h3', {}, 'People with access'),
    members,
    h('h3', {}, 'Link'),
    h('p', { class: 'hint' }, 'Only people with access can open it.'),
    h('div', { class: 'link-row' }, linkField, copy),
    copied,
    h('div', { class: 'dialog-actions' }, close),
  );
  const overlay = h('div', { class: 'overlay' }, dialog);

  function showError(err, what) {
    error.textContent = errorText(err, what);
    error.hidden = false;
  }

  function memberRow(m) {
    const isCreator = meta?.owner?.id === m.user.id;
    const row = h('li', { class: 'share-member', testid: 'share-member', dataset: { username: m.user.username, role: m.role } },
      avatar(m.user, { class: 'avatar avatar-small' }),
      h('span', { class: 'member-names' }, h('span', { class: 'member-name' }, m.user.name), h('span', { class: 'muted' }, `@${m.user.username}`)));
    if (isOwner && !isCreator) {
      const sel = roleSelect({ testid: 'share-member-role', 'aria-label': `Role of ${m.user.username}` }, m.role);
      sel.addEventListener('change', async () => {
        error.hidden = true;
        try {
          await api.setMember(id, m.user.username, sel.value);
          row.dataset.role = sel.value;
        } catch (err) {
          sel.value = row.dataset.role;
          showError(err, `Could not change ${m.user.username}'s role`);
        }
      });
      const remove = h('button', { type: 'button', class: 'btn btn-small btn-danger-quiet', testid: 'share-remove', title: `Remove ${m.user.username}` }, 'Remove');
      remove.addEventListener('click', async () => {
        error.hidden = true;
        remove.disabled = true;
        try {
          await api.removeMember(id, m.user.username);
          row.remove();
        } catch (err) {
          remove.disabled = false;
          showError(err, `Could not remove ${m.user.username}`);
        }
      });
      row.append(sel, remove);
    } else {
      row.append(h('span', { class: `role-badge role-${m.role}` }, isCreator ? 'owner (creator)' : m.role));
    }
    return row;
  }

  async function loadMembers() {
    try {
      const page = await api.members(id);
      members.replaceChildren(...page.items.map(memberRow));
    } catch (err) {
      showError(err, 'Could not load the members');
    } finally {
      members.setAttribute('aria-busy', 'false');
    }
  }

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    error.hidden = true;
    const name = username.value.trim().replace(/^@/, '');
    if (!name) {
      showError('Enter the username of the person to share with.');
      username.focus();
      return;
    }
    add.disabled = true;
    try {
      const m = await api.setMember(id, name, role.value);
      const existing = [...members.children].find((li) => li.dataset.username === m.user.username);
      if (existing) existing.replaceWith(memberRow(m));
      else members.append(memberRow(m));
      username.value = '';
      username.focus();
    } catch (err) {
      showError(err, `Could not share with ${name}`);
    } finally {
      add.disabled = false;
    }
  });

  copy.addEventListener('click', async () => {
    const ok = await copyText(link, linkField);
    copied.textContent = ok ? 'Link copied' : 'Copy the link above with Ctrl+C';
    copied.hidden = false;
    if (!ok) {
      linkField.focus();
      linkField.select();
    }
  });

  const done = () => {
    overlay.remove();
    document.removeEventListener('keydown', onKey, true);
    if (prev && prev.focus) prev.focus();
  };
  const onKey = (e) => {
    if (e.key === 'Escape') {
      e.preventDefault();
      done();
    }
  };
  close.addEventListener('click', done);
  overlay.addEventListener('mousedown', (e) => {
    if (e.target === overlay) done();
  });
  document.addEventListener('keydown', onKey, true);
  document.body.append(overlay);
  (isOwner ? username : copy).focus();
  loadMembers();
  return done;
}
