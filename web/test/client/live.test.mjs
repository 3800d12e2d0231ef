// The client library against a real collabd (web/test/server.mjs).
// Run: cd web && node --experimental-websocket --test test/client/

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import Delta from 'quill-delta';
import { startServer, signup, api } from '../server.mjs';
import {
  waitFor, rng, randomEdit, tappedWebSocket, liveURL, viewClient, serverContent, allOps, json,
} from './helpers.mjs';

let srv;
let alice;
let bob;
const clients = [];

before(async () => {
  srv = await startServer();
  alice = await signup(srv.url, 'alice', 'password-a');
  bob = await signup(srv.url, 'bob', 'password-b');
});

after(async () => {
  for (const c of clients) c.close();
  if (srv) await srv.stop();
});

async function newDoc(text = 'hello world') {
  return api(srv.url, alice.token, 'POST', '/v1/documents', { title: 't', text });
}

async function share(docId, username, role) {
  await api(srv.url, alice.token, 'PUT', `/v1/documents/${docId}/members/${username}`, { role });
}

function open(docId, token, extra = {}) {
  const t = viewClient({ url: liveURL(srv, docId), token, ...extra });
  clients.push(t.client);
  t.client.connect();
  return t;
}

const synced = (t) => t.client.status === 'synced' && !t.client.hasPending;

for (const seed of [1, 2, 3, 4, 5]) {
  test(`two clients converge under random concurrent edits and disconnects (seed ${seed})`, async () => {
    const rand = rng(seed);
    const doc = await newDoc('The quick brown fox\njumps\n');
    await share(doc.id, 'bob', 'editor');
    const tapA = tappedWebSocket();
    const tapB = tappedWebSocket();
    const a = open(doc.id, alice.token, { WebSocket: tapA.WebSocket });
    const b = open(doc.id, bob.token, { WebSocket: tapB.WebSocket });
    await waitFor(() => synced(a) && synced(b), 'both clients welcomed');
    let disconnects = 0;
    for (let step = 0; step < 200; step++) {
      const [t, tap] = rand() < 0.5 ? [a, tapA] : [b, tapB];
      t.edit(randomEdit(rand, t.client.doc));
      if (rand() < 0.04) {
        const ws = tap.sockets[tap.sockets.length - 1];
        if (ws.readyState === 1) { ws.close(); disconnects++; }
      }
      // Let messages flow at random points, so edits interleave with acks
      // and remote ops in many orders.
      if (rand() < 0.4) await new Promise((r) => setImmediate(r));
      if (rand() < 0.1) await new Promise((r) => setTimeout(r, 1));
    }
    const state = () => `a=${a.client.status}/v${a.client.version} b=${b.client.status}/v${b.client.version} errors=${JSON.stringify([...a.errors, ...b.errors])}`;
    await waitFor(() => synced(a) && synced(b) && a.client.version === b.client.version, () => `both synced at one version (${state()})`, 30000);
    const content = await serverContent(srv, alice.token, doc.id);
    assert.equal(content.version, a.client.version, 'server version');
    assert.equal(json(a.client.doc), json(content.delta), 'a = server');
    assert.equal(json(b.client.doc), json(content.delta), 'b = server');
    assert.equal(json(a.view), json(a.client.doc), "a's events rebuild a's doc");
    assert.equal(json(b.view), json(b.client.doc), "b's events rebuild b's doc");
    assert.ok(disconnects > 0, 'the run included disconnects');
    assert.ok(tapA.sockets.length + tapB.sockets.length > 2, 'clients reconnected');
    assert.deepEqual([...a.errors, ...b.errors].filter((e) => e.code !== 'rate_limited'), [], 'no errors');
    a.client.close();
    b.client.close();
  });
}

test('edits made while the server is down are kept and sent after it restarts', async () => {
  const doc = await newDoc('abc');
  const a = open(doc.id, alice.token);
  await waitFor(() => synced(a), 'a welcomed');
  a.edit(new Delta().insert('before '));
  await waitFor(() => synced(a), 'first edit acked');
  await srv.restart({
    whileDown: async () => {
      await waitFor(() => ['offline', 'connecting'].includes(a.client.status), 'a sees the server gone');
      a.edit(new Delta().retain(7).insert('offline1 '));
      a.edit(new Delta().retain(a.client.doc.length() - 1).insert(' offline2'));
      assert.equal(a.client.hasPending, true);
      assert.equal(a.client.syncState, 'awaiting ack with buffer');
    },
  });
  await waitFor(() => synced(a), () => `a synced after the restart (status ${a.client.status})`, 30000);
  const content = await serverContent(srv, alice.token, doc.id);
  assert.equal(json(content.delta), json([{ insert: 'before offline1 abc offline2\n' }]));
  assert.equal(content.version, 3);
  assert.equal(json(a.client.doc), json(content.delta));
  assert.equal(json(a.view), json(content.delta));
  a.client.close();
});

test('an op whose ack is lost is applied exactly once, and a duplicate resend is acked harmlessly', async () => {
  const doc = await newDoc('xyz');
  let dropped = 0;
  let injected = 0;
  let lastOp = null;
  const tap = tappedWebSocket({
    onOutgoing: (ws, m) => { if (m.type === 'op') lastOp = m; },
    onIncoming: (ws, m) => {
      if (m.type === 'ack' && dropped === 0) {
        dropped++;
        ws.close(); // the ack never reaches the client
        return false;
      }
      if (m.type === 'welcome' && ws.index === 1 && injected === 0) {
        // After the reconnect, send the lost op again on the new socket,
        // as a client that did not see the welcome's ops would.
        injected++;
        setTimeout(() => ws.send(JSON.stringify(lastOp)), 0);
      }
      return true;
    },
  });
  const a = open(doc.id, alice.token, { WebSocket: tap.WebSocket });
  await waitFor(() => synced(a), 'a welcomed');
  a.edit(new Delta().insert('once '));
  await waitFor(() => dropped === 1 && injected === 1 && synced(a) && tap.sockets.length >= 2, 'ack dropped, reconnected, synced');
  // The duplicate's ack must arrive and be ignored: wait for it by
  // submitting one more edit and seeing it acked in order.
  a.edit(new Delta().retain(5).insert('then '));
  await waitFor(() => synced(a) && a.client.version === 2, 'second edit acked');
  const ops = await allOps(srv, alice.token, doc.id);
  const mine = ops.filter((o) => o.client === a.client.clientId);
  assert.deepEqual(mine.map((o) => [o.seq, o.version]), [[1, 1], [2, 2]], 'seq 1 stored once');
  const content = await serverContent(srv, alice.token, doc.id);
  assert.equal(json(content.delta), json([{ insert: 'once then xyz\n' }]));
  assert.equal(json(a.client.doc), json(content.delta));
  assert.deepEqual(a.errors, [], 'the duplicate ack raised no error');
});

test('an op lost before reaching the server is resent with the same seq after reconnecting', async () => {
  const doc = await newDoc('xyz');
  let swallowed = null;
  const tap = tappedWebSocket({
    onOutgoing: (ws, m) => {
      if (m.type === 'op' && !swallowed) {
        swallowed = m;
        setTimeout(() => ws.close(), 0);
        return false;
      }
      return true;
    },
  });
  const resent = [];
  const a = open(doc.id, alice.token, { WebSocket: tap.WebSocket });
  await waitFor(() => synced(a), 'a welcomed');
  const origSend = tap.WebSocket.prototype.send;
  tap.WebSocket.prototype.send = function send(data) {
    const m = JSON.parse(data);
    if (m.type === 'op') resent.push(m);
    return origSend.call(this, data);
  };
  a.edit(new Delta().retain(3).insert('!'));
  await waitFor(() => synced(a), 'a synced after the resend');
  assert.ok(swallowed, 'the first send was swallowed');
  assert.equal(resent.length, 2, 'sent twice: swallowed, then resent');
  assert.deepEqual(resent[1], swallowed, 'resent with the same seq, version and delta');
  const ops = await allOps(srv, alice.token, doc.id);
  assert.deepEqual(ops.map((o) => [o.client, o.seq]), [[a.client.clientId, 1]]);
  assert.equal(json((await serverContent(srv, alice.token, doc.id)).delta), json([{ insert: 'xyz!\n' }]));
});

test('peer presence ranges follow remote, local and in-flight edits', async () => {
  const doc = await newDoc('0123456789');
  await share(doc.id, 'bob', 'editor');
  // a's incoming messages can be held back and released one by one, in
  // order, to look at ranges while an op is in flight.
  let paused = false;
  const held = [];
  const tapA = tappedWebSocket({
    onIncoming: (ws, m) => {
      if (paused) { held.push([ws, m]); return false; }
      return true;
    },
  });
  const release = () => { const [ws, m] = held.shift(); ws.deliver(m); return m; };
  const a = open(doc.id, alice.token, { WebSocket: tapA.WebSocket });
  const b = open(doc.id, bob.token);
  await waitFor(() => synced(a) && synced(b) && a.client.peers.has(b.client.clientId), 'both welcomed and a sees b');
  const presence = [];
  a.client.on('presence', (peers) => presence.push(peers.get(b.client.clientId)?.range));
  b.client.setSelection({ index: 5, length: 3 });
  const rangeOfB = () => a.client.peers.get(b.client.clientId)?.range;
  await waitFor(() => rangeOfB()?.index === 5, () => `a sees b's selection (${JSON.stringify(rangeOfB())})`);
  assert.deepEqual(rangeOfB(), { index: 5, length: 3 });
  assert.equal(a.client.peers.get(b.client.clientId).user.name, 'bob');

  paused = true;
  // b types inside its own selection; the server commits it as version 1.
  b.edit(new Delta().retain(6).insert('BB'));
  await waitFor(() => synced(b) && b.client.version === 1, "b's edit acked");
  // a edits before it hears of b's edit: b's range moves in a's view at once.
  a.edit(new Delta().insert('xx'));
  assert.deepEqual(rangeOfB(), { index: 7, length: 3 }, 'moved by the in-flight op');
  assert.deepEqual(presence.at(-1), { index: 7, length: 3 }, 'presence event after a local edit');
  await waitFor(() => held.some(([, m]) => m.type === 'ack'), 'a\'s ack is held');
  // b's edit reaches a while a's op is still in flight.
  assert.equal(release().type, 'op');
  assert.equal(a.client.version, 1);
  assert.equal(a.client.hasPending, true);
  // Server coords: b's insert at 6 is inside [5,8) -> {5,5}; then a's 'xx' -> {7,5}.
  assert.deepEqual(rangeOfB(), { index: 7, length: 5 });
  while (held.length) release();
  paused = false;
  await waitFor(() => synced(a) && a.client.version === 2 && b.client.version === 2, 'a acked, b has a\'s edit');
  assert.deepEqual(rangeOfB(), { index: 7, length: 5 }, 'same after the ack, now in server coordinates');
  assert.equal(json(a.client.doc), json([{ insert: 'xx012345BB6789\n' }]));
  assert.equal(json(a.client.doc), json(b.client.doc));

  // A late joiner sees b's range where the server moved it.
  const c = open(doc.id, alice.token);
  await waitFor(() => synced(c) && c.client.peers.get(b.client.clientId)?.range, 'c sees b');
  assert.deepEqual(c.client.peers.get(b.client.clientId).range, { index: 7, length: 5 });

  // Blur and leave.
  b.client.setSelection(null);
  await waitFor(() => rangeOfB() === null, 'a sees b blurred');
  b.client.close();
  await waitFor(() => !a.client.peers.has(b.client.clientId), 'a sees b leave');
  a.client.close();
  c.client.close();
});

test('a viewer gets role viewer; its edits are refused with forbidden and reverted', async () => {
  const doc = await newDoc('read me');
  await share(doc.id, 'bob', 'viewer');
  const v = open(doc.id, bob.token);
  await waitFor(() => synced(v), 'viewer welcomed');
  assert.equal(v.client.role, 'viewer');
  assert.equal(v.client.you.user.name, 'bob');
  v.edit(new Delta().insert('nope '));
  assert.deepEqual(v.errors.map((e) => e.code), ['forbidden']);
  assert.equal(v.client.hasPending, false);
  assert.equal(json(v.view), json([{ insert: 'read me\n' }]), 'the view was reverted');

  // If the client's idea of the role is stale, the server refuses the op.
  v.client.role = 'editor';
  v.edit(new Delta().insert('stale '));
  await waitFor(() => v.errors.length === 2, 'server refusal');
  assert.equal(v.errors[1].code, 'forbidden');
  assert.equal(v.errors[1].seq, 1);
  assert.equal(v.client.role, 'viewer');
  assert.equal(v.client.hasPending, false);
  assert.equal(json(v.view), json([{ insert: 'read me\n' }]));
  assert.equal(json(v.client.doc), json([{ insert: 'read me\n' }]));
  const content = await serverContent(srv, alice.token, doc.id);
  assert.equal(content.version, 0);
  assert.equal(v.client.status, 'synced');
  v.client.close();
});

test('an op the server finds invalid is dropped, reported, and the client resyncs without losing later edits', async () => {
  const doc = await newDoc('abc');
  let corrupt = true;
  let errorSeen = false;
  const tap = tappedWebSocket({
    onOutgoing: (ws, m) => {
      if (m.type === 'op' && corrupt) {
        corrupt = false;
        ws.send(JSON.stringify({ ...m, delta: [{ retain: 100 }, { insert: 'x' }] })); // goes through the tap once more, uncorrupted
        return false;
      }
      return true;
    },
    onIncoming: (ws, m) => {
      if (ws.index !== 0) return true;
      if (errorSeen) return false; // the first connection is about to be dropped anyway
      if (m.type === 'error') {
        // Before a hears of the refusal, someone else edits through REST:
        // the resync's snapshot is then a version ahead of a's pending edit.
        errorSeen = true;
        api(srv.url, alice.token, 'POST', `/v1/documents/${doc.id}/ops`, { version: 0, delta: [{ retain: 3 }, { insert: 'R' }] })
          .then(() => ws.deliver(m));
        return false;
      }
      return true;
    },
  });
  let fetches = 0;
  const countingFetch = (...args) => { fetches++; return fetch(...args); };
  const a = open(doc.id, alice.token, { WebSocket: tap.WebSocket, fetch: countingFetch });
  await waitFor(() => synced(a), 'a welcomed');
  // An edit made right after the refusal (the view is reverted by then),
  // before the resync's snapshot arrives: it must survive the snapshot.
  let viewAtError = null;
  a.client.on('error', (e) => {
    if (e.code !== 'invalid_op') return;
    viewAtError = json(a.view);
    a.edit(new Delta().insert('kept '));
  });
  a.edit(new Delta().insert('lost'));
  await waitFor(() => a.errors.length > 0 && synced(a) && tap.sockets.length === 2 && a.client.version === 2, 'error and resync');
  assert.deepEqual(a.errors.map((e) => e.code), ['invalid_op']);
  assert.equal(viewAtError, json([{ insert: 'abc\n' }]), 'the refused edit was reverted in the view');
  assert.equal(fetches, 1, 'the snapshot with a pending edit was caught up over REST');
  assert.equal(json(a.client.doc), json([{ insert: 'kept abcR\n' }]));
  assert.equal(json(a.view), json(a.client.doc));
  // Still usable after the resync.
  a.edit(new Delta().insert('ok '));
  await waitFor(() => synced(a) && a.client.version === 3, 'next edit acked');
  assert.equal(json((await serverContent(srv, alice.token, doc.id)).delta), json([{ insert: 'ok kept abcR\n' }]));
  a.client.close();
});

test('a deleted document closes the client with 4404 and it does not reconnect', async () => {
  const doc = await newDoc('bye');
  const tap = tappedWebSocket();
  const a = open(doc.id, alice.token, { WebSocket: tap.WebSocket });
  const statuses = [];
  a.client.on('status', (s) => statuses.push(s));
  await waitFor(() => synced(a), 'a welcomed');
  await api(srv.url, alice.token, 'DELETE', `/v1/documents/${doc.id}`);
  await waitFor(() => a.closed, 'closed event');
  assert.equal(a.closed.code, 4404);
  assert.equal(a.client.status, 'closed');
  assert.equal(statuses.at(-1), 'closed');
  assert.equal(tap.sockets.length, 1);
  assert.equal(a.client._reconnectTimer, null, 'no reconnect scheduled');
  a.client.connect(); // a closed client stays closed
  assert.equal(tap.sockets.length, 1);
  assert.throws(() => a.client.submit(new Delta().insert('x')), /closed/);
});

test('an op over the edit rate is resent after a delay and applied once', async () => {
  const slow = await startServer({ args: ['--edit-rate', '2', '--edit-burst', '1'] });
  try {
    const u = await signup(slow.url, 'carol', 'password-c');
    const doc = await api(slow.url, u.token, 'POST', '/v1/documents', { text: '' });
    const a = viewClient({ url: liveURL(slow, doc.id), token: u.token, minBackoff: 100, maxBackoff: 400 });
    clients.push(a.client);
    a.client.connect();
    await waitFor(() => synced(a), 'a welcomed');
    for (let i = 0; i < 4; i++) {
      a.edit(new Delta().retain(i).insert(String(i)));
      await waitFor(() => synced(a), `edit ${i} acked`);
    }
    assert.ok(a.errors.some((e) => e.code === 'rate_limited'), `some op was rate limited (${JSON.stringify(a.errors)})`);
    const ops = await allOps(slow, u.token, doc.id);
    assert.deepEqual(ops.map((o) => o.seq), [1, 2, 3, 4]);
    assert.equal(json((await serverContent(slow, u.token, doc.id)).delta), json([{ insert: '0123\n' }]));
    a.client.close();
  } finally {
    await slow.stop();
  }
});

test('a refused handshake (unknown document, bad token) ends the client instead of retrying forever', async () => {
  const doc = await newDoc('x');
  for (const [docId, token, code] of [['nosuchdoc', alice.token, 4404], [doc.id, 'not-a-token', 4401]]) {
    const tap = tappedWebSocket();
    const t = open(docId, token, { WebSocket: tap.WebSocket });
    await waitFor(() => t.closed, `closed event for ${code}`);
    assert.equal(t.closed.code, code);
    assert.equal(t.client.status, 'closed');
    assert.ok(tap.sockets.length >= 2, 'it retried before asking why');
    assert.equal(t.client._reconnectTimer, null);
  }
});
