// The log-in and sign-up pages.
import { h } from './dom.js';
import { api } from './rest.js';
import { navigate } from './router.js';

// nextPath is where to go after logging in: ?next= when it is a page of ours.
function nextPath() {
  const next = new URLSearchParams(location.search).get('next') || '/';
  return next.startsWith('/') && !next.startsWith('//') ? next : '/';
}

function authPage(root, { signup }) {
  document.title = signup ? 'Sign up – collabd' : 'Log in – collabd';
  const error = h('p', { class: 'form-error', testid: 'form-error', role: 'alert', hidden: true });
  const username = h('input', {
    class: 'input', name: 'username', id: 'username', autocomplete: 'username', required: true,
    autocapitalize: 'none', spellcheck: 'false', minlength: signup ? 2 : null, maxlength: 32,
  });
  const name = signup ? h('input', { class: 'input', name: 'name', id: 'name', autocomplete: 'name', maxlength: 100 }) : null;
  const password = h('input', {
    class: 'input', name: 'password', id: 'password', type: 'password', required: true,
    autocomplete: signup ? 'new-password' : 'current-password', minlength: signup ? 8 : null, maxlength: 72,
  });
  const submit = h('button', { type: 'submit', class: 'btn btn-primary btn-block' }, signup ? 'Create account' : 'Log in');
  const next = nextPath();
  const otherHref = (signup ? '/login' : '/signup') + (next !== '/' ? `?next=${encodeURIComponent(next)}` : '');
  const form = h('form', { class: 'auth-form', novalidate: true },
    h('label', { for: 'username' }, 'Username'), username,
    signup ? h('p', { class: 'hint' }, '2–32 letters, digits, “.”, “_” or “-”.') : null,
    signup ? [h('label', { for: 'name' }, 'Display name ', h('span', { class: 'optional' }, '(optional)')), name] : null,
    h('label', { for: 'password' }, 'Password'), password,
    signup ? h('p', { class: 'hint' }, 'At least 8 characters.') : null,
    error,
    submit,
  );
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    error.hidden = true;
    const u = username.value.trim();
    if (!u || !password.value) {
      error.textContent = 'Enter your username and password.';
      error.hidden = false;
      return;
    }
    submit.disabled = true;
    submit.textContent = signup ? 'Creating account…' : 'Logging in…';
    try {
      if (signup) await api.signup(u, password.value, name.value.trim());
      else await api.login(u, password.value);
      navigate(next, { replace: true });
    } catch (err) {
      error.textContent = err.message || String(err);
      error.hidden = false;
      submit.disabled = false;
      submit.textContent = signup ? 'Create account' : 'Log in';
      (err.code === 'duplicate' || err.code === 'invalid' && /username/.test(err.message) ? username : password).focus();
    }
  });
  root.replaceChildren(
    h('main', { class: 'auth' },
      h('div', { class: 'auth-card' },
        h('div', { class: 'brand brand-big' }, h('span', { class: 'brand-mark' }), 'collabd'),
        h('h1', {}, signup ? 'Create your account' : 'Log in'),
        form,
        h('p', { class: 'auth-switch' },
          signup ? 'Already have an account? ' : 'New here? ',
          h('a', { href: otherHref, testid: signup ? 'to-login' : 'to-signup' }, signup ? 'Log in' : 'Create an account')),
      ),
    ),
  );
  username.focus();
}

export function loginPage(root) {
  authPage(root, { signup: false });
}

export function signupPage(root) {
  authPage(root, { signup: true });
}
