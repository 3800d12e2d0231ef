// The mapping of the local selection back through the client's own
// unacknowledged edits, which presence is sent with (docs/protocol.md:
// presence names the server version its range is in terms of).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import Delta from 'quill-delta';
import { positionBefore, rangeBefore, transformRange } from '../../src/client/state.js';
import { rng, randomEdit } from './helpers.mjs';

test('positionBefore is transformPosition through the inverse, without priority', () => {
  const rand = rng(7);
  for (let round = 0; round < 2000; round++) {
    const base = new Delta().insert('The quick brown fox\n');
    let doc = base;
    let d = null;
    const n = 1 + Math.floor(rand() * 4);
    for (let i = 0; i < n; i++) {
      const e = randomEdit(rand, doc);
      doc = doc.compose(e);
      d = d ? d.compose(e) : e;
    }
    const inverse = d.invert(base);
    for (let pos = 0; pos <= doc.length(); pos++) {
      const want = inverse.transformPosition(pos, false);
      assert.equal(positionBefore(d, pos), want, `round ${round}: edit ${JSON.stringify(d.ops)}, position ${pos}`);
    }
  }
});

test('rangeBefore, moved forward through the edit as the server does, is the local range', () => {
  // The document before the edit is "hello world\n".
  const ins = (at, text) => new Delta().retain(at).insert(text);
  const del = (at, n) => new Delta().retain(at).delete(n);
  const cases = [
    ['cursor after typed text', ins(5, 'XY'), { index: 7, length: 0 }, { index: 5, length: 0 }],
    ['cursor after typing at the start', ins(0, 'X'), { index: 1, length: 0 }, { index: 0, length: 0 }],
    ['cursor after an emoji typed', ins(5, '😀'), { index: 7, length: 0 }, { index: 5, length: 0 }],
    ['cursor after backspace', del(3, 2), { index: 3, length: 0 }, { index: 5, length: 0 }],
    ['cursor after forward delete', del(3, 1), { index: 3, length: 0 }, { index: 4, length: 0 }],
    ['cursor after typing over a selection', new Delta().retain(6).insert('W').delete(5), { index: 7, length: 0 }, { index: 11, length: 0 }],
    ['selection after the typed text', ins(0, 'X'), { index: 7, length: 5 }, { index: 6, length: 5 }],
    ['selection before the typed text', ins(8, 'X'), { index: 0, length: 5 }, { index: 0, length: 5 }],
    ['selection around the typed text', ins(3, 'XY'), { index: 1, length: 6 }, { index: 1, length: 4 }],
    ['selection after a delete', del(0, 6), { index: 0, length: 5 }, { index: 6, length: 5 }],
    ['selection around a delete', del(2, 2), { index: 1, length: 5 }, { index: 1, length: 7 }],
    ['cursor on a format change', new Delta().retain(5, { bold: true }), { index: 3, length: 0 }, { index: 3, length: 0 }],
  ];
  for (const [name, edit, local, server] of cases) {
    const got = rangeBefore(edit, local);
    assert.deepEqual(got, server, `${name}: sent`);
    assert.deepEqual(transformRange(edit, got), local, `${name}: moved forward by the server`);
  }
  assert.equal(rangeBefore(ins(0, 'X'), null), null);
});
