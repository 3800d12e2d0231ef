// Helpers for the browser tests: headless Debian Chromium driven by
// playwright-core, a real collabd per test (web/test/server.mjs), users
// signed up over REST whose login cookie is put in a browser context.
//
// Everything here runs on the single Node thread of one test file.

import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { api, signup, startServer } from '../server.mjs';

export { api, signup, startServer };

const here = path.dirname(fileURLToPath(import.meta.url));
export const webRoot = path.resolve(here, '..', '..');

// Screenshots and measurements go here (gitignored by default).
export const artifactsDir = path.resolve(process.env.ARTIFACTS_DIR || path.join(webRoot, 'test', 'artifacts'));

export function artifactPath(name) {
  mkdirSync(artifactsDir, { recursive: true });
  return path.join(artifactsDir, name);
}

export const PASSWORD = 'correct horse battery';

/** Launches Debian's Chromium headless (never a browser a test tool downloads). */
export function launchBrowser() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
      '--disable-quic', '--no-first-run', '--disable-component-update', '--disable-sync'],
  });
}

// defer runs fn when t ends, last deferred first (pages close before their
// server stops).
const stacks = new WeakMap();
export function defer(t, fn) {
  let stack = stacks.get(t);
  if (!stack) {
    stack = [];
    stacks.set(t, stack);
    t.after(async () => {
      const errs = [];
      while (stack.length) {
        try { await stack.pop()(); } catch (err) { errs.push(err); }
      }
      if (errs.length) throw errs[0];
    });
  }
  stack.push(fn);
}

/** Starts a collabd for test t and stops it (removing its data) when t ends. */
export async function serverFor(t, opts = {}) {
  const srv = await startServer(opts);
  defer(t, async () => {
    await srv.stop();
    if (opts.keep) await rm(srv.dataDir, { recursive: true, force: true });
  });
  return srv;
}

/**
 * Signs username up over REST and opens a browser context logged in as
 * them (the login cookie set directly). Closed when t ends. Uncaught page
 * errors are collected in .pageErrors and printed as diagnostics.
 */
export async function userContext(t, browser, srv, username) {
  const { token, user } = await signup(srv.url, username, PASSWORD);
  const context = await browser.newContext({ viewport: { width: 1100, height: 760 } });
  defer(t, () => context.close());
  await context.addCookies([{ name: 'collabd_session', value: token, url: srv.url, httpOnly: true, sameSite: 'Lax' }]);
  const page = await context.newPage();
  const pageErrors = [];
  page.on('pageerror', (err) => pageErrors.push(err));
  defer(t, () => {
    for (const err of pageErrors) t.diagnostic(`${username}: uncaught page error: ${err.message}`);
  });
  return { username, token, user, context, page, pageErrors };
}

/** Creates a document over REST; returns its metadata. */
export function createDoc(srv, token, body = {}) {
  return api(srv.url, token, 'POST', '/v1/documents', body);
}

export function share(srv, token, id, username, role) {
  return api(srv.url, token, 'PUT', `/v1/documents/${encodeURIComponent(id)}/members/${encodeURIComponent(username)}`, { role });
}

/** The server's content of a document as { version, delta } (delta = ops array). */
export function serverContent(srv, token, id, version) {
  const q = version === undefined ? '' : `?version=${version}`;
  return api(srv.url, token, 'GET', `/v1/documents/${encodeURIComponent(id)}/content${q}`);
}

export function serverText(srv, token, id, version) {
  const q = version === undefined ? '' : `&version=${version}`;
  return api(srv.url, token, 'GET', `/v1/documents/${encodeURIComponent(id)}/content?format=text${q}`);
}

export const statusSel = '[data-testid=status]';

/** Waits until the status indicator's data-state is one of states. */
export async function waitStatus(page, states, timeout = 15000) {
  const list = Array.isArray(states) ? states : [states];
  try {
    await page.waitForFunction((want) => {
      const el = document.querySelector('[data-testid=status]');
      return !!el && want.includes(el.getAttribute('data-state'));
    }, list, { timeout, polling: 20 });
  } catch (err) {
    const now = await page.evaluate(() => {
      const el = document.querySelector('[data-testid=status]');
      return el ? `data-state=${el.getAttribute('data-state')} text=${JSON.stringify(el.textContent)}` : 'no [data-testid=status]';
    }).catch(() => 'page gone');
    throw new Error(`status never became ${list.join('|')} within ${timeout} ms (now ${now})`, { cause: err });
  }
}

/** Opens /d/{id} and waits for the editor hook and a status in states. */
export async function openDoc(page, srv, id, states = ['saved']) {
  await page.goto(`${srv.url}/d/${encodeURIComponent(id)}`);
  await page.waitForFunction(() => !!(window.collabd && window.collabd.quill && window.collabd.client), null, { timeout: 15000 });
  await waitStatus(page, states);
}

/** The editor's document as a delta ops array. */
export function editorOps(page) {
  return page.evaluate(() => window.collabd.quill.getContents().ops);
}

export function editorText(page) {
  return page.evaluate(() => window.collabd.quill.getText());
}

export function hasPending(page) {
  return page.evaluate(() => window.collabd.client.hasPending);
}

/** Focuses the editor and puts the caret at index ('start', 'end' or a number). */
export async function placeCaret(page, where) {
  await page.evaluate((w) => {
    const q = window.collabd.quill;
    q.focus();
    const i = w === 'start' ? 0 : w === 'end' ? q.getLength() - 1 : w;
    q.setSelection(i, 0, 'user');
  }, where);
}

/**
 * Polls fn (async, throws while the condition does not hold) until it
 * returns without throwing, or throws its last error after timeout ms.
 */
export async function eventually(fn, { timeout = 15000, interval = 50, what = 'condition' } = {}) {
  const deadline = Date.now() + timeout;
  let last;
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      const e = new Error(`${what} did not hold within ${timeout} ms: ${last && last.message}`);
      e.cause = last;
      throw e;
    }
    await new Promise((r) => setTimeout(r, interval));
  }
}

/**
 * Waits until every page shows the server's latest content, with no edit
 * pending anywhere. Returns the server's { version, delta }.
 */
export async function waitConverged(srv, token, id, pages, timeout = 20000) {
  return eventually(async () => {
    for (const p of pages) assert.equal(await hasPending(p), false, 'an edit is still pending');
    const server = await serverContent(srv, token, id);
    for (const p of pages) assert.deepEqual(await editorOps(p), server.delta, 'editor differs from the server');
    return server;
  }, { timeout, what: 'convergence of the editors with the server' });
}

/** Plain text of a delta (inserts of strings only). */
export function deltaText(ops) {
  return ops.map((op) => (typeof op.insert === 'string' ? op.insert : '')).join('');
}

export function percentile(sorted, p) {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i];
}
