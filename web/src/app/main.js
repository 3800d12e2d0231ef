// The collabd browser editor: routes to the pages. See DOM.md for the
// test ids the browser tests select by.
import 'quill/dist/quill.snow.css';
import 'quill-cursors/css';
import './style.css';
import { loginPage, signupPage } from './auth.js';
import { editorPage } from './editor.js';
import { listPage } from './list.js';
import { start } from './router.js';
import { clearNotices } from './ui.js';

const root = document.getElementById('app');
let cleanup = null; // the mounted page's teardown

function render(path) {
  if (cleanup) {
    try {
      cleanup();
    } catch (err) {
      console.error(err);
    }
    cleanup = null;
  }
  clearNotices();
  for (const o of document.querySelectorAll('body > .overlay')) o.remove();
  const pathname = path.split('?')[0];
  let m;
  if (pathname === '/login') cleanup = loginPage(root);
  else if (pathname === '/signup') cleanup = signupPage(root);
  else if ((m = /^\/d\/([^/]+)$/.exec(pathname))) cleanup = editorPage(root, { id: decodeURIComponent(m[1]) });
  else if (pathname === '/') cleanup = listPage(root);
  else {
    document.title = 'Not found – collabd';
    const main = document.createElement('main');
    main.className = 'not-found';
    main.innerHTML = '<h1>Page not found</h1><p>There is nothing at this address.</p><a class="btn btn-primary" href="/">Your documents</a>';
    root.replaceChildren(main);
  }
  if (typeof cleanup !== 'function') cleanup = null;
  window.scrollTo(0, 0);
}

start(render);
