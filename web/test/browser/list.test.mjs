// Signing up and the document list through the UI alone: create, rename,
// delete, newest first; screenshots of the pages as test artifacts.
import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { PASSWORD, api, artifactPath, createDoc, defer, eventually, launchBrowser, openDoc, serverFor, share, userContext, waitStatus } from './helpers.mjs';

let browser;
before(async () => { browser = await launchBrowser(); });
after(async () => { await browser?.close(); });

const docIdFromUrl = (url) => {
  const m = /\/d\/([^/?#]+)$/.exec(new URL(url).pathname);
  assert.ok(m, `not an editor URL: ${url}`);
  return decodeURIComponent(m[1]);
};

test('sign up, then create, rename and delete documents from the list, newest first', { timeout: 90000 }, async (t) => {
  const srv = await serverFor(t);
  const context = await browser.newContext({ viewport: { width: 1100, height: 760 } });
  defer(t, () => context.close());
  const page = await context.newPage();
  const pageErrors = [];
  page.on('pageerror', (err) => pageErrors.push(err.message));

  // Not logged in: the list sends us to the login page, which links to sign-up.
  await page.goto(`${srv.url}/`);
  await page.waitForURL(`${srv.url}/login`, { timeout: 10000 });
  await page.click('a[href="/signup"]');
  await page.waitForURL(`${srv.url}/signup`, { timeout: 10000 });

  // A bad password is refused with the server's message.
  await page.fill('input[name=username]', 'carol');
  await page.fill('input[name=password]', 'short');
  await page.click('button[type=submit]');
  const formError = await page.waitForSelector('[data-testid=form-error]', { state: 'visible', timeout: 10000 });
  assert.match(await formError.innerText(), /password/i);

  await page.fill('input[name=password]', PASSWORD);
  await page.click('button[type=submit]');
  await page.waitForURL(`${srv.url}/`, { timeout: 10000 });
  await page.waitForSelector('[data-testid=doc-list][aria-busy=false]', { state: 'attached', timeout: 10000 });
  assert.equal(await page.locator('[data-testid=doc-item]').count(), 0);
  const token = (await context.cookies(srv.url)).find((c) => c.name === 'collabd_session')?.value;
  assert.ok(token, 'sign-up set no login cookie');

  // Three new documents, each opened in the editor; the first renamed there.
  const ids = [];
  for (let i = 0; i < 3; i++) {
    await page.click('[data-testid=new-doc]');
    await page.waitForURL(/\/d\/[^/]+$/, { timeout: 10000 });
    ids.push(docIdFromUrl(page.url()));
    await page.waitForFunction(() => !!(window.collabd && window.collabd.quill), null, { timeout: 15000 });
    await waitStatus(page, ['saved']);
    assert.equal(await page.inputValue('[data-testid=doc-title]'), 'Untitled document');
    if (i === 0) {
      await page.fill('[data-testid=doc-title]', 'First notes');
      await page.press('[data-testid=doc-title]', 'Tab');
      await eventually(async () => {
        const d = await api(srv.url, token, 'GET', `/v1/documents/${ids[0]}`);
        assert.equal(d.title, 'First notes');
      }, { what: 'the title saved from the editor' });
    }
    await page.goto(`${srv.url}/`);
    await page.waitForSelector('[data-testid=doc-list][aria-busy=false]', { state: 'attached', timeout: 10000 });
  }

  const rows = async () => page.$$eval('[data-testid=doc-item] a[data-testid=doc-link]', (links) =>
    links.map((a) => ({ href: a.getAttribute('href'), title: a.textContent.trim() })));
  const newestFirst = [...ids].reverse();
  assert.deepEqual(await rows(), [
    { href: `/d/${newestFirst[0]}`, title: 'Untitled document' },
    { href: `/d/${newestFirst[1]}`, title: 'Untitled document' },
    { href: `/d/${newestFirst[2]}`, title: 'First notes' },
  ]);
  const listed = await api(srv.url, token, 'GET', '/v1/documents');
  assert.deepEqual(listed.items.map((d) => d.id), newestFirst, 'the server orders them the same');

  // Rename the middle one from the list (in-page dialog).
  const item = (id) => page.locator('[data-testid=doc-item]', { has: page.locator(`a[href="/d/${id}"]`) });
  await item(ids[1]).locator('[data-testid=doc-rename]').click();
  await page.fill('[data-testid=dialog-input]', 'Second thoughts');
  await page.click('[data-testid=confirm-ok]');
  await eventually(async () => {
    assert.equal((await rows())[1].title, 'Second thoughts');
    const d = await api(srv.url, token, 'GET', `/v1/documents/${ids[1]}`);
    assert.equal(d.title, 'Second thoughts');
  }, { what: 'the rename' });

  const shot = artifactPath('list.png');
  await page.screenshot({ path: shot });
  assert.ok(statSync(shot).size > 1000, 'list screenshot is empty');

  // Delete the first one: asked in-page, then gone from the list and the server.
  await item(ids[0]).locator('[data-testid=doc-delete]').click();
  await page.click('[data-testid=confirm-ok]');
  await eventually(async () => assert.deepEqual((await rows()).map((r) => r.href), [`/d/${ids[2]}`, `/d/${ids[1]}`]),
    { what: 'the deleted row to go' });
  await assert.rejects(api(srv.url, token, 'GET', `/v1/documents/${ids[0]}`), (err) => err.status === 404);

  // The list survives a reload in the same order, and logging out leaves it.
  await page.reload();
  await page.waitForSelector('[data-testid=doc-list][aria-busy=false]', { state: 'attached', timeout: 10000 });
  const after = await api(srv.url, token, 'GET', '/v1/documents');
  assert.deepEqual((await rows()).map((r) => r.href), after.items.map((d) => `/d/${d.id}`));
  assert.deepEqual((await rows()).map((r) => r.title).sort(), ['Second thoughts', 'Untitled document']);
  await page.click('[data-testid=logout]');
  await page.waitForURL(`${srv.url}/login`, { timeout: 10000 });
  await page.goto(`${srv.url}/`);
  await page.waitForURL(`${srv.url}/login`, { timeout: 10000 });

  // Logging in again: a wrong password is refused, the right one shows the list.
  await page.fill('input[name=username]', 'carol');
  await page.fill('input[name=password]', 'not the password');
  await page.click('button[type=submit]');
  const loginError = await page.waitForSelector('[data-testid=form-error]', { state: 'visible', timeout: 10000 });
  assert.match(await loginError.innerText(), /wrong username or password/i);
  await page.fill('input[name=password]', PASSWORD);
  await page.click('button[type=submit]');
  await page.waitForURL(`${srv.url}/`, { timeout: 10000 });
  await page.waitForSelector('[data-testid=doc-list][aria-busy=false]', { state: 'attached', timeout: 10000 });
  assert.deepEqual((await rows()).map((r) => r.href), after.items.map((d) => `/d/${d.id}`));
  assert.deepEqual(pageErrors, [], 'uncaught errors in the page');
});

test('only owners are offered rename: an editor sees the title read-only and no rename in the list', { timeout: 60000 }, async (t) => {
  const srv = await serverFor(t);
  const owner = await userContext(t, browser, srv, 'olga');
  const ed = await userContext(t, browser, srv, 'eddie');
  const doc = await createDoc(srv, owner.token, { title: 'Owned', text: 'hello' });
  await share(srv, owner.token, doc.id, 'eddie', 'editor');

  await ed.page.goto(`${srv.url}/`);
  await ed.page.waitForSelector('[data-testid=doc-list][aria-busy=false]', { state: 'attached', timeout: 10000 });
  assert.equal(await ed.page.isDisabled('[data-testid=doc-item] [data-testid=doc-rename]'), true, 'an editor is offered rename in the list');
  await openDoc(ed.page, srv, doc.id);
  assert.notEqual(await ed.page.getAttribute('[data-testid=doc-title]', 'readonly'), null, 'the editor\'s title input is not readonly');
  assert.equal(await ed.page.inputValue('[data-testid=doc-title]'), 'Owned');

  await owner.page.goto(`${srv.url}/`);
  await owner.page.waitForSelector('[data-testid=doc-list][aria-busy=false]', { state: 'attached', timeout: 10000 });
  assert.equal(await owner.page.isDisabled('[data-testid=doc-item] [data-testid=doc-rename]'), false, 'the owner is not offered rename');
  await openDoc(owner.page, srv, doc.id);
  assert.equal(await owner.page.getAttribute('[data-testid=doc-title]', 'readonly'), null, 'the owner\'s title is readonly');
  assert.deepEqual([...owner.pageErrors, ...ed.pageErrors], [], 'uncaught errors in the pages');
});
