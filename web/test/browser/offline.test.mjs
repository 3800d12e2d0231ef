// The server goes away under two typing users and comes back: nothing typed
// is lost. Leaving a page with edits the server has not acknowledged asks
// first.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  createDoc, editorText, eventually, hasPending, launchBrowser, openDoc, placeCaret, serverFor, serverText,
  share, userContext, waitConverged, waitStatus,
} from './helpers.mjs';

let browser;
before(async () => { browser = await launchBrowser(); });
after(async () => { await browser?.close(); });

const offline = ['offline', 'reconnecting'];

test('server restart mid-typing: both go offline, keep typing, reconnect, nothing lost', { timeout: 90000 }, async (t) => {
  const srv = await serverFor(t, { keep: true });
  const a = await userContext(t, browser, srv, 'alice');
  const b = await userContext(t, browser, srv, 'bob');
  const doc = await createDoc(srv, a.token, { text: 'SEP' });
  await share(srv, a.token, doc.id, 'bob', 'editor');
  await Promise.all([openDoc(a.page, srv, doc.id), openDoc(b.page, srv, doc.id)]);
  await placeCaret(a.page, 'start');
  await placeCaret(b.page, 'end');

  // Alice types letters before SEP, bob digits after it.
  const A = ['abcdefghijklmnopqrst', 'uvwxyzabcdefghij', 'klmnopqrstuvwxyz'];
  const B = ['01234567890123456789', '9876543210987654', '1357924680135792'];

  // Phase 1: the server is stopped while both type.
  const typing1 = Promise.all([
    a.page.keyboard.type(A[0], { delay: 40 }),
    b.page.keyboard.type(B[0], { delay: 40 }),
  ]);
  await eventually(async () => assert.ok((await editorText(a.page)).length >= 'SEP\n'.length + 5), { what: 'alice typing' });
  await srv.stop();
  await typing1;
  await Promise.all([waitStatus(a.page, offline), waitStatus(b.page, offline)]);

  // Phase 2: typing while the server is down.
  await Promise.all([
    a.page.keyboard.type(A[1], { delay: 20 }),
    b.page.keyboard.type(B[1], { delay: 20 }),
  ]);
  assert.equal(await hasPending(a.page), true, 'alice has edits the server never saw');
  assert.equal(await hasPending(b.page), true, 'bob has edits the server never saw');
  for (const p of [a.page, b.page]) {
    const state = await p.getAttribute('[data-testid=status]', 'data-state');
    assert.ok(offline.includes(state), `status while the server is down: ${state}`);
    // The words say what matters: nothing typed is thrown away.
    if (state === 'offline') assert.match(await p.innerText('[data-testid=status]'), /kept/i);
  }

  // Phase 3: the server comes back while both type on.
  await Promise.all([
    srv.restart(),
    a.page.keyboard.type(A[2], { delay: 30 }),
    b.page.keyboard.type(B[2], { delay: 30 }),
  ]);
  await Promise.all([waitStatus(a.page, ['saved'], 30000), waitStatus(b.page, ['saved'], 30000)]);
  await waitConverged(srv, a.token, doc.id, [a.page, b.page], 30000);
  assert.equal(await serverText(srv, a.token, doc.id), A.join('') + 'SEP' + B.join('') + '\n');
});

test('leaving with unsaved edits asks first', { timeout: 90000 }, async (t) => {
  const srv = await serverFor(t, { keep: true });
  const a = await userContext(t, browser, srv, 'alice');
  const doc = await createDoc(srv, a.token, { text: 'Keep me' });
  await openDoc(a.page, srv, doc.id);

  // Nothing pending: no question. (A reload, so the page stays ours.)
  // Every dialog is recorded; while nothing should ask it is accepted (so a
  // wrong question fails the assertion, not a navigation timeout), and
  // while an edit is pending it is dismissed (the user stays).
  const dialogs = [];
  let stay = false;
  a.page.on('dialog', (d) => {
    dialogs.push(d.type());
    (stay ? d.dismiss() : d.accept()).catch(() => {});
  });
  await placeCaret(a.page, 'end');
  await a.page.keyboard.type(' saved');
  await waitConverged(srv, a.token, doc.id, [a.page]);
  await a.page.reload();
  await a.page.waitForFunction(() => !!(window.collabd && window.collabd.quill), null, { timeout: 15000 });
  await waitStatus(a.page, ['saved']);
  assert.deepEqual(dialogs, [], 'a dialog came up with nothing pending');

  // Server down and an edit pending: leaving asks, and staying keeps the edit.
  await srv.stop();
  await waitStatus(a.page, offline);
  await placeCaret(a.page, 'end');
  await a.page.keyboard.type(' pending');
  assert.equal(await hasPending(a.page), true);
  stay = true;
  const asked = new Promise((resolve) => {
    a.page.once('dialog', (d) => resolve(d.type()));
    a.page.once('close', () => resolve('the page closed without asking'));
  });
  await a.page.close({ runBeforeUnload: true });
  assert.equal(await asked, 'beforeunload');
  assert.equal(a.page.isClosed(), false, 'the page closed although the user chose to stay');
  await waitStatus(a.page, offline);
  assert.equal(await editorText(a.page), 'Keep me saved pending\n');

  // Back online the edit is saved, and leaving no longer asks.
  await srv.restart();
  await waitStatus(a.page, ['saved'], 30000);
  assert.equal(await serverText(srv, a.token, doc.id), 'Keep me saved pending\n');
  stay = false;
  const closed = new Promise((resolve) => a.page.once('close', resolve));
  const before = dialogs.length;
  await a.page.close({ runBeforeUnload: true });
  await closed;
  assert.equal(dialogs.length - before, 0, 'a dialog came up with nothing pending');
});
