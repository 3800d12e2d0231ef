// The editor's Download menu: each format is the server's export of the
// last saved version, named after the title; a closed editor offers none.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, test } from 'node:test';
import { api, artifactPath, createDoc, launchBrowser, openDoc, serverFor, userContext, waitStatus } from './helpers.mjs';

let browser;
before(async () => { browser = await launchBrowser(); });
after(async () => { await browser?.close(); });

test('Download saves Markdown, HTML and text of the last saved version, named after the title', { timeout: 90000 }, async (t) => {
  const srv = await serverFor(t);
  const ann = await userContext(t, browser, srv, 'ann');
  const doc = await createDoc(srv, ann.token, {
    title: 'Q3/Q4: plan?',
    content: [
      { insert: 'Plan' }, { insert: '\n', attributes: { header: 1 } },
      { insert: 'ship the ' }, { insert: 'editor', attributes: { bold: true } }, { insert: ' now\n' },
    ],
  });
  const { page } = ann;
  await openDoc(page, srv, doc.id);

  // An edit typed in the page is in the download once it is saved.
  await page.click('#editor .ql-editor');
  await page.keyboard.press('Control+End');
  await page.keyboard.type(' Done.');
  await waitStatus(page, ['saved']);

  const menu = page.locator('[data-testid=download-menu]');
  for (const [format, ext] of [['markdown', 'md'], ['html', 'html'], ['text', 'txt']]) {
    await page.click('[data-testid=download-button]');
    await menu.waitFor({ state: 'visible', timeout: 5000 });
    const [download] = await Promise.all([
      page.waitForEvent('download', { timeout: 15000 }),
      page.click(`[data-testid=download-${format}]`),
    ]);
    assert.equal(download.suggestedFilename(), `Q3-Q4- plan.${ext}`, `${format}: file name`);
    const body = await readFile(await download.path(), 'utf8');
    const want = await api(srv.url, ann.token, 'GET', `/v1/documents/${doc.id}/content?format=${format}`);
    assert.equal(body, want, `${format}: the download is the server's export`);
    assert.match(body, /Done\./, `${format}: the typed edit is in it`);
    assert.ok(await menu.isHidden(), `${format}: the menu closes after a choice`);
  }
  const md = await api(srv.url, ann.token, 'GET', `/v1/documents/${doc.id}/content?format=markdown`);
  assert.match(md, /^# Plan\n/, 'the heading is Markdown');
  assert.match(md, /\*\*editor\*\*/, 'bold is Markdown');

  // Escape and a click elsewhere close the menu.
  await page.click('[data-testid=download-button]');
  await menu.waitFor({ state: 'visible', timeout: 5000 });
  await page.screenshot({ path: artifactPath('download-menu.png') });
  await page.keyboard.press('Escape');
  await menu.waitFor({ state: 'hidden', timeout: 5000 });
  await page.click('[data-testid=download-button]');
  await menu.waitFor({ state: 'visible', timeout: 5000 });
  await page.click('#editor .ql-editor');
  await menu.waitFor({ state: 'hidden', timeout: 5000 });

  // Deleted: the editor closes and the button is disabled.
  await api(srv.url, ann.token, 'DELETE', `/v1/documents/${doc.id}`);
  await waitStatus(page, ['closed']);
  assert.ok(await page.isDisabled('[data-testid=download-button]'), 'Download is disabled once the editor is closed');
  assert.deepEqual(ann.pageErrors, []);
});
