// Client-side routing with history.pushState. The server answers
// index.html for every page route (/, /login, /signup, /d/{id}).
//
// Owned by the main thread like everything here; state: the mounted page's
// cleanup, and its navigation guard.

let render = null; // (path) => void, set by start
let guard = null; // () => Promise<boolean>: the mounted page may hold navigation

export function start(fn) {
  render = fn;
  window.addEventListener('popstate', () => render(location.pathname + location.search));
  // Same-origin links navigate in the page.
  document.addEventListener('click', (e) => {
    if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    const a = e.target.closest && e.target.closest('a[href]');
    if (!a || a.target || a.hasAttribute('download')) return;
    const url = new URL(a.href, location.href);
    if (url.origin !== location.origin || url.pathname.startsWith('/v1/') || url.pathname.startsWith('/assets/')) return;
    e.preventDefault();
    navigate(url.pathname + url.search);
  });
  render(location.pathname + location.search);
}

// navigate shows path; the mounted page's guard (unsaved edits) may hold it.
export async function navigate(path, { replace = false } = {}) {
  if (guard && !(await guard())) return;
  if (replace) history.replaceState(null, '', path);
  else history.pushState(null, '', path);
  render(path);
}

// setGuard installs fn as the mounted page's navigation guard (null removes it).
export function setGuard(fn) {
  guard = fn;
}

// toLogin sends a visitor who is not logged in to the log-in page, and back
// here after.
export function toLogin() {
  if (location.pathname === '/login') return;
  const here = location.pathname + location.search;
  const next = here === '/' || here.startsWith('/login') || here.startsWith('/signup') ? '' : `?next=${encodeURIComponent(here)}`;
  setGuard(null);
  navigate(`/login${next}`, { replace: true });
}
