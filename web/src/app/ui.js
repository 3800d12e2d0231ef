// Shared page pieces: in-page dialogs (never window.confirm/prompt, so
// they can be styled and tested), notices, and the header.
import { avatar, h } from './dom.js';

// openDialog shows a modal dialog and resolves with true (or the input's
// value when `input` is given) on OK, or null on cancel.
//   [data-testid=dialog], [data-testid=dialog-input], [data-testid=confirm-ok], [data-testid=confirm-cancel]
export function openDialog({ title, message, okText = 'OK', cancelText = 'Cancel', danger = false, input = null, validate = null }) {
  return new Promise((resolve) => {
    const prev = document.activeElement;
    const error = h('p', { class: 'form-error', testid: 'dialog-error', role: 'alert', hidden: true });
    const field = input
      ? h('input', { class: 'input', type: 'text', testid: 'dialog-input', value: input.value ?? '', maxlength: input.maxlength, 'aria-label': input.label || title })
      : null;
    const ok = h('button', { type: 'submit', class: danger ? 'btn btn-danger' : 'btn btn-primary', testid: 'confirm-ok' }, okText);
    const cancel = h('button', { type: 'button', class: 'btn', testid: 'confirm-cancel' }, cancelText);
    const form = h('form', { class: 'dialog', role: 'dialog', 'aria-modal': 'true', 'aria-label': title, testid: 'dialog' },
      h('h2', {}, title),
      message ? h('p', { class: 'dialog-message' }, message) : null,
      field,
      error,
      h('div', { class: 'dialog-actions' }, cancel, ok),
    );
    const overlay = h('div', { class: 'overlay' }, form);
    const done = (v) => {
      overlay.remove();
      document.removeEventListener('keydown', onKey, true);
      if (prev && prev.focus) prev.focus();
      resolve(v);
    };
    const onKey = (e) => {
      if (e.key === 'Escape') {
        e.preventDefault();
        done(null);
      }
    };
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      if (field) {
        const msg = validate ? validate(field.value) : null;
        if (msg) {
          error.textContent = msg;
          error.hidden = false;
          return;
        }
        done(field.value);
      } else {
        done(true);
      }
    });
    cancel.addEventListener('click', () => done(null));
    overlay.addEventListener('mousedown', (e) => {
      if (e.target === overlay) done(null);
    });
    document.addEventListener('keydown', onKey, true);
    document.body.append(overlay);
    if (field) {
      field.focus();
      field.select();
    } else {
      ok.focus();
    }
  });
}

let noticeBox = null;

// notify shows a message at the bottom of the page: [data-testid=notice]
// with data-kind=error|info. Errors stay until dismissed; the rest fade.
export function notify(message, kind = 'error') {
  if (!noticeBox || !noticeBox.isConnected) {
    noticeBox = h('div', { class: 'notices', 'aria-live': 'polite' });
    document.body.append(noticeBox);
  }
  const close = h('button', { type: 'button', class: 'notice-close', 'aria-label': 'Dismiss', title: 'Dismiss' }, '×');
  const el = h('div', { class: `notice notice-${kind}`, testid: 'notice', dataset: { kind }, role: kind === 'error' ? 'alert' : 'status' },
    h('span', {}, message), close);
  close.addEventListener('click', () => el.remove());
  noticeBox.append(el);
  // Keep the box short: the oldest go first.
  while (noticeBox.children.length > 4) noticeBox.firstElementChild.remove();
  if (kind !== 'error') setTimeout(() => el.remove(), 4000);
  return el;
}

export function clearNotices() {
  if (noticeBox) noticeBox.replaceChildren();
}

// errorText turns an ApiError (or anything thrown) into a sentence.
export function errorText(err, what) {
  const msg = err && err.message ? err.message : String(err);
  return what ? `${what}: ${msg}` : msg;
}

// header is the top bar of the list page: the app name, the user, log out.
export function header(me, onLogout, ...extra) {
  return h('header', { class: 'topbar' },
    h('a', { href: '/', class: 'brand', dataset: { link: '' } }, h('span', { class: 'brand-mark' }), 'collabd'),
    ...extra,
    h('div', { class: 'spacer' }),
    me ? h('span', { class: 'me' }, avatar(me, { testid: 'me' }), h('span', { class: 'me-name' }, me.name || me.username)) : null,
    h('button', { type: 'button', class: 'btn btn-quiet', testid: 'logout', onclick: onLogout }, 'Log out'),
  );
}
