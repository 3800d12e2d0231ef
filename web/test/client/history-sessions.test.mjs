// The history panel's grouping of versions into editing sessions.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { GAP, SPAN, sessionsOf } from '../../src/app/sessions.js';

const at = (ms) => new Date(Date.UTC(2026, 0, 1) + ms).toISOString();
const versions = (list) => list.map(([version, ms]) => ({ version, created_at: at(ms) }));
const shape = (sessions) => sessions.map((s) => s.map((op) => op.version));

test('versions less than GAP apart are one session; a longer pause starts another', () => {
  const ops = versions([
    [6, 2 * GAP + 1000], [5, 2 * GAP], // after a pause of more than GAP
    [4, GAP - 1000], [3, GAP / 2], [2, 1000], [1, 0],
  ]);
  assert.deepEqual(shape(sessionsOf(ops)), [[6, 5], [4, 3, 2, 1]]);
});

test('a pause of exactly GAP still joins; one more millisecond does not', () => {
  assert.deepEqual(shape(sessionsOf(versions([[2, GAP], [1, 0]]))), [[2, 1]]);
  assert.deepEqual(shape(sessionsOf(versions([[2, GAP + 1], [1, 0]]))), [[2], [1]]);
});

test('no session runs longer than SPAN, however steady the typing', () => {
  const ops = [];
  const step = GAP / 2;
  const n = Math.ceil((2 * SPAN) / step) + 1;
  for (let i = n; i >= 1; i--) ops.push({ version: i, created_at: at(i * step) });
  const sessions = sessionsOf(ops);
  assert.ok(sessions.length >= 2, `${sessions.length} session(s) over twice SPAN`);
  for (const s of sessions) {
    const span = Date.parse(s[0].created_at) - Date.parse(s[s.length - 1].created_at);
    assert.ok(span <= SPAN, `a session spans ${span} ms`);
  }
  assert.deepEqual(sessions.flat().map((op) => op.version), ops.map((op) => op.version), 'every version once, in order');
});

test('no versions, no sessions', () => {
  assert.deepEqual(sessionsOf([]), []);
});
