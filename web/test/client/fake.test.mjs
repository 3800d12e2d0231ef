// The client library against an in-process fake server and network: many
// seeded interleavings of edits, deliveries and dropped connections, and
// the close codes, presence throttling and snapshot handling, without a
// real server. The fake server transforms like collabd (server edits win
// ties: h.transform(op, true)) and dedupes by (client, seq).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import Delta from 'quill-delta';
import { CollabClient } from '../../src/client/index.js';
import { DocState, transformRange } from '../../src/client/state.js';
import { waitFor, rng, randomEdit, json } from './helpers.mjs';

class FakeServer {
  constructor(text = 'hello\n') {
    this.doc = new Delta().insert(text);
    this.history = []; // [{ version, delta, client, seq, user }]
    this.conns = new Set();
    this.snapshotOnly = false; // answer every hello with the whole document
  }

  get version() { return this.history.length; }

  welcome(ws, hello) {
    const user = { id: 'u1', name: 'user', color: '#000' };
    const w = { type: 'welcome', version: this.version, you: { client: hello.client, user, role: 'editor' }, peers: [] };
    if (hello.version === null || this.snapshotOnly) w.doc = this.doc.ops;
    else w.ops = this.history.slice(hello.version);
    ws.client = hello.client;
    this.conns.add(ws);
    ws.toClient.push(w);
  }

  op(ws, m) {
    const dup = this.history.find((h) => h.client === ws.client && h.seq === m.seq);
    if (dup) { ws.toClient.push({ type: 'ack', seq: m.seq, version: dup.version }); return; }
    let d = new Delta(m.delta);
    for (const h of this.history.slice(m.version)) d = new Delta(h.delta).transform(d, true);
    this.doc = this.doc.compose(d);
    const e = { version: this.version + 1, delta: d.ops, client: ws.client, seq: m.seq, user: { id: 'u1', name: 'user', color: '#000' } };
    this.history.push(e);
    ws.toClient.push({ type: 'ack', seq: m.seq, version: e.version });
    for (const o of this.conns) if (o !== ws) o.toClient.push({ type: 'op', ...e });
  }

  receive(ws, m) {
    if (m.type === 'hello') this.welcome(ws, m);
    else if (m.type === 'op') this.op(ws, m);
  }
}

/** A WebSocket whose frames wait in queues until the test delivers them. */
function fakeNet(server) {
  const sockets = [];
  class FakeWS {
    constructor(url) {
      this.url = url;
      this.readyState = 0;
      this.toServer = [];
      this.toClient = [];
      this.sent = [];
      sockets.push(this);
    }
    send(data) {
      if (this.readyState !== 1) throw new Error('send on a socket that is not open');
      const m = JSON.parse(data);
      this.sent.push(m);
      this.toServer.push(m);
    }
    close() {
      this.readyState = 3;
      server.conns.delete(this);
    }
    // Test side.
    open() { this.readyState = 1; this.onopen?.(); }
    deliverToServer() { server.receive(this, this.toServer.shift()); }
    deliverToClient() { this.onmessage?.({ data: JSON.stringify(this.toClient.shift()) }); }
    drop(code = 1006) {
      this.readyState = 3;
      server.conns.delete(this);
      this.toServer = [];
      this.toClient = [];
      this.onclose?.({ code, reason: '' });
    }
  }
  return { FakeWS, sockets };
}

function makeClient(FakeWS, extra = {}) {
  const c = new CollabClient({ url: 'ws://fake/v1/documents/d/live', WebSocket: FakeWS, minBackoff: 1, maxBackoff: 4, ...extra });
  const t = { client: c, view: null, errors: [] };
  c.on('welcome', ({ doc, reset }) => { if (reset) t.view = doc; });
  c.on('remote', (d) => { t.view = t.view.compose(d); });
  c.on('error', (e) => t.errors.push(e));
  t.edit = (d) => { t.view = t.view.compose(d); c.submit(d); };
  return t;
}

const live = (sockets) => sockets.filter((s) => s.readyState !== 3);
const tick = () => new Promise((r) => setTimeout(r, 0));

for (let seed = 1; seed <= 40; seed++) {
  test(`three clients converge through a lossy fake network (seed ${seed})`, async () => {
    const rand = rng(seed);
    const server = new FakeServer('The quick brown fox\n');
    const { FakeWS, sockets } = fakeNet(server);
    const ts = [0, 1, 2].map(() => makeClient(FakeWS));
    for (const t of ts) t.client.connect();
    await waitFor(() => {
      for (const s of live(sockets)) {
        if (s.readyState === 0) s.open();
        while (s.toServer.length) s.deliverToServer();
        while (s.toClient.length) s.deliverToClient();
      }
      return ts.every((t) => t.client.status === 'synced');
    }, 'all welcomed');
    let drops = 0;
    for (let step = 0; step < 300; step++) {
      const r = rand();
      const socks = live(sockets);
      if (r < 0.3) {
        const t = ts[Math.floor(rand() * ts.length)];
        t.edit(randomEdit(rand, t.client.doc));
      } else if (r < 0.97) {
        const s = socks[Math.floor(rand() * socks.length)];
        if (!s) { await tick(); continue; }
        if (s.readyState === 0) s.open();
        else if (rand() < 0.5 && s.toServer.length) s.deliverToServer();
        else if (s.toClient.length) s.deliverToClient();
        else if (s.toServer.length) s.deliverToServer();
      } else if (socks.length) {
        socks[Math.floor(rand() * socks.length)].drop(rand() < 0.5 ? 1006 : 1013);
        drops++;
      }
      if (rand() < 0.05) await tick(); // lets reconnect timers fire
    }
    // Quiesce: deliver everything until every client is synced.
    await waitFor(() => {
      for (let i = 0; i < 1000; i++) {
        let moved = false;
        for (const s of live(sockets)) {
          if (s.readyState === 0) { s.open(); moved = true; }
          if (s.toServer.length) { s.deliverToServer(); moved = true; }
          if (s.toClient.length) { s.deliverToClient(); moved = true; }
        }
        if (!moved) break;
      }
      return ts.every((t) => t.client.status === 'synced' && t.client.version === server.version);
    }, () => `all synced at ${server.version}: ${ts.map((t) => `${t.client.status}/v${t.client.version}`).join(' ')}`, 10000);
    for (const t of ts) {
      assert.equal(json(t.client.doc), json(server.doc), 'client = server');
      assert.equal(json(t.view), json(server.doc), 'events rebuild the server doc');
      assert.deepEqual(t.errors.filter((e) => e.code !== 'timeout'), []);
    }
    // Exactly once: every (client, seq) committed once, seqs of each client 1..n in order.
    for (const t of ts) {
      const seqs = server.history.filter((h) => h.client === t.client.clientId).map((h) => h.seq);
      assert.deepEqual(seqs, seqs.map((_, i) => i + 1), 'seqs committed once, in order');
    }
    assert.ok(server.history.length > 20, 'edits were committed');
    if (seed === 1) assert.ok(drops > 0, 'the run dropped connections');
    for (const t of ts) t.client.close();
  });
}

test('DocState: remote edits win ties against in-flight and buffered inserts', () => {
  const st = new DocState();
  st.reset(new Delta().insert('ab\n'), 0);
  assert.equal(st.local(new Delta().retain(1).insert('X')), true); // in flight
  assert.equal(st.local(new Delta().retain(2).insert('Y')), false); // buffered
  assert.equal(st.status, 'awaiting ack with buffer');
  const applied = st.remote(new Delta().retain(1).insert('R'));
  // The server's R goes before our X at the same position.
  assert.equal(json(st.doc), json(new Delta().insert('aRXYb\n')));
  assert.equal(json(applied), json(new Delta().retain(1).insert('R')));
  assert.equal(json(st.serverDoc), json(new Delta().insert('aRb\n')));
  assert.equal(st.version, 1);
  assert.equal(st.ack(2), true); // the buffer becomes the next op
  assert.equal(st.inflight.seq, 2);
  assert.equal(st.inflight.base, 2);
  assert.equal(json(st.serverDoc), json(new Delta().insert('aRXb\n')));
  assert.throws(() => st.local(new Delta().retain(99).insert('z')), /reads 99/);
  assert.throws(() => st.local(new Delta().retain(5).delete(1)), /not ending/);
  assert.throws(() => st.remote(new Delta().retain(99)), /reads 99/);
});

test('the in-flight op is resent with the same seq, version and delta after a reconnect', async () => {
  const server = new FakeServer();
  const { FakeWS, sockets } = fakeNet(server);
  const t = makeClient(FakeWS);
  const statuses = [];
  t.client.on('status', (s) => statuses.push(s));
  t.client.connect();
  sockets[0].open();
  assert.deepEqual(sockets[0].sent, [{ type: 'hello', client: t.client.clientId, version: null, protocol: 1 }]);
  sockets[0].deliverToServer();
  sockets[0].deliverToClient();
  assert.equal(t.client.status, 'synced');
  t.edit(new Delta().insert('A'));
  assert.equal(t.client.status, 'saving');
  const first = sockets[0].sent.at(-1);
  assert.deepEqual(first, { type: 'op', seq: 1, version: 0, delta: [{ insert: 'A' }] });
  sockets[0].drop(); // lost before the server read it
  assert.equal(t.client.status, 'offline');
  t.edit(new Delta().retain(1).insert('B')); // offline edit: buffered
  assert.equal(t.client.syncState, 'awaiting ack with buffer');
  await waitFor(() => sockets.length === 2, 'redial');
  sockets[1].open();
  assert.deepEqual(sockets[1].sent.at(-1), { type: 'hello', client: t.client.clientId, version: 0, protocol: 1 });
  sockets[1].deliverToServer();
  sockets[1].deliverToClient(); // welcome: resend
  assert.deepEqual(sockets[1].sent.at(-1), first);
  sockets[1].deliverToServer();
  sockets[1].deliverToClient(); // ack 1: the buffer goes out as seq 2
  assert.deepEqual(sockets[1].sent.at(-1), { type: 'op', seq: 2, version: 1, delta: [{ retain: 1 }, { insert: 'B' }] });
  sockets[1].deliverToServer();
  sockets[1].deliverToClient();
  assert.equal(t.client.status, 'synced');
  assert.equal(json(server.doc), json(new Delta().insert('ABhello\n')));
  assert.deepEqual(statuses, ['connecting', 'synced', 'saving', 'offline', 'connecting', 'saving', 'synced']);
  t.client.close();
  assert.equal(t.client.status, 'closed');
});

for (const [code, terminal] of [[4404, true], [4403, true], [1008, true], [1003, true], [1007, true], [1009, true],
  [1001, false], [1011, false], [1013, false], [1006, false], [1000, false]]) {
  test(`close code ${code} ${terminal ? 'ends the client' : 'makes it reconnect'}`, async () => {
    const server = new FakeServer();
    const { FakeWS, sockets } = fakeNet(server);
    const t = makeClient(FakeWS);
    let closed = null;
    t.client.on('closed', (e) => { closed = e; });
    t.client.connect();
    sockets[0].open();
    sockets[0].deliverToServer();
    sockets[0].deliverToClient();
    t.edit(new Delta().insert('kept'));
    sockets[0].drop(code);
    if (terminal) {
      assert.deepEqual(closed, { code, reason: '' });
      assert.equal(t.client.status, 'closed');
      assert.equal(t.client._reconnectTimer, null);
      assert.equal(sockets.length, 1);
    } else {
      assert.equal(closed, null);
      assert.equal(t.client.status, 'offline');
      await waitFor(() => sockets.length === 2, 'redial');
      sockets[1].open();
      sockets[1].deliverToServer();
      sockets[1].deliverToClient();
      sockets[1].deliverToServer();
      sockets[1].deliverToClient();
      assert.equal(t.client.status, 'synced');
      assert.equal(json(server.doc), json(new Delta().insert('kepthello\n')));
      t.client.close();
    }
  });
}

test('presence: throttled, last value wins, in terms of the server version through pending edits', async () => {
  const server = new FakeServer();
  const { FakeWS, sockets } = fakeNet(server);
  const t = makeClient(FakeWS, { presenceInterval: 40 });
  t.client.connect();
  const s = sockets[0];
  s.open();
  s.deliverToServer();
  s.deliverToClient();
  const presences = () => s.sent.filter((m) => m.type === 'presence');
  t.client.setSelection({ index: 1, length: 0 });
  t.client.setSelection({ index: 2, length: 0 });
  t.client.setSelection({ index: 3, length: 1 });
  assert.deepEqual(presences(), [{ type: 'presence', range: { index: 1, length: 0 }, version: 0 }], 'the first goes out at once');
  await waitFor(() => presences().length === 2, 'the coalesced one');
  assert.deepEqual(presences()[1].range, { index: 3, length: 1 }, 'last value wins');
  t.edit(new Delta().retain(2).insert('X')); // in flight: "heXllo"
  t.edit(new Delta().retain(3).insert('YZ')); // buffered: "heXYZllo"
  assert.throws(() => t.client.setSelection({ index: 99, length: 0 }), /outside/);
  // Neither edit is acknowledged: the cursor after them is, in terms of
  // version 0, where they go in; the server moves it past them as they
  // commit. It goes out without waiting for them.
  t.client.setSelection({ index: 5, length: 0 });
  await waitFor(() => presences().length === 3, 'presence while the edits wait');
  assert.deepEqual(presences()[2], { type: 'presence', range: { index: 2, length: 0 }, version: 0 });
  await waitFor(() => Date.now() > t.client._presenceNext, 'throttle window over');
  t.client.setSelection({ index: 0, length: 7 }); // "heXYZll"
  assert.deepEqual(presences()[3], { type: 'presence', range: { index: 0, length: 4 }, version: 0 }, '"hell" in version 0');
  while (s.toServer.length) s.deliverToServer(); // op X
  s.deliverToClient(); // its ack: the buffer goes out
  assert.equal(t.client.version, 1);
  await waitFor(() => Date.now() > t.client._presenceNext, 'throttle window over');
  t.client.setSelection({ index: 5, length: 0 });
  assert.deepEqual(presences()[4], { type: 'presence', range: { index: 3, length: 0 }, version: 1 }, 'through the buffer alone, now in flight');
  while (s.toServer.length) s.deliverToServer();
  s.deliverToClient();
  assert.equal(t.client.version, 2);
  await waitFor(() => Date.now() > t.client._presenceNext, 'throttle window over');
  t.client.setSelection({ index: 5, length: 0 });
  assert.deepEqual(presences()[5], { type: 'presence', range: { index: 5, length: 0 }, version: 2 }, 'synchronized: as it is');
  t.client.setSelection(null);
  await waitFor(() => presences().length === 7, 'blur');
  assert.equal(presences()[6].range, null);
  t.client.close();
});

test('presence: a selection of text not yet acknowledged goes out again, exact, once it is', async () => {
  const interval = 20;
  const afterThrottle = () => new Promise((r) => setTimeout(r, 3 * interval));
  const cases = [
    // [name, edits, selection, what the first presence says, acks before the resend]
    ['"BC" selected right after typing "ABC"', [new Delta().insert('ABC')], { index: 1, length: 2 }, { index: 0, length: 0 }, 1],
    ['all of "ABC", typed in two edits (in flight and buffered)', [new Delta().insert('A'), new Delta().retain(1).insert('BC')], { index: 0, length: 3 }, { index: 0, length: 0 }, 2],
    ['a cursor after typed text: exact, not sent again', [new Delta().insert('ABC')], { index: 3, length: 0 }, { index: 0, length: 0 }, 0],
  ];
  for (const [name, edits, selection, first, acks] of cases) {
    const server = new FakeServer();
    const { FakeWS, sockets } = fakeNet(server);
    const t = makeClient(FakeWS, { presenceInterval: interval });
    try {
      t.client.connect();
      const s = sockets[0];
      s.open();
      s.deliverToServer();
      s.deliverToClient();
      const presences = () => s.sent.filter((m) => m.type === 'presence');
      for (const e of edits) t.edit(e);
      t.client.setSelection(selection);
      assert.deepEqual(presences(), [{ type: 'presence', range: first, version: 0 }], `${name}: the first, through the pending edits`);
      // Where the server puts a presence: moved through the edits after its version.
      const placed = (p) => server.history.slice(p.version).reduce((r, h) => transformRange(new Delta(h.delta), r), p.range);
      for (let i = 1; i <= edits.length; i++) {
        while (s.toServer.length) s.deliverToServer();
        while (s.toClient.length) s.deliverToClient(); // the ack (then the buffer goes out)
        await afterThrottle();
        if (i < acks) assert.equal(presences().length, 1, `${name}: not sent again while the text is still pending`);
      }
      assert.equal(t.client.syncState, 'synchronized');
      if (acks) {
        assert.equal(presences().length, 2, `${name}: sent again after the ack`);
        assert.deepEqual(presences()[1], { type: 'presence', range: selection, version: edits.length }, `${name}: exact`);
      } else {
        assert.equal(presences().length, 1, `${name}: no presence but the first`);
      }
      assert.deepEqual(placed(presences().at(-1)), selection, `${name}: where the server has it`);
    } finally {
      t.client.close(); // also when an assertion fails: no timers left running
    }
  }
});

test('a snapshot welcome with pending edits: replayed from REST ops, or reported as dropped if that fails', async () => {
  const server = new FakeServer('abc\n');
  const { FakeWS, sockets } = fakeNet(server);
  let fetchOK = true;
  const fetches = [];
  const fakeFetch = async (url, init) => {
    fetches.push({ url, init });
    if (!fetchOK) return { ok: false, status: 503, json: async () => ({}) };
    const u = new URL(url);
    const from = Number(u.searchParams.get('from'));
    const to = Number(u.searchParams.get('to'));
    return { ok: true, status: 200, json: async () => ({ items: server.history.filter((h) => h.version >= from && h.version <= to) }) };
  };
  const t = makeClient(FakeWS, { fetch: fakeFetch, token: 'tok' });
  t.client.connect();
  sockets[0].open();
  sockets[0].deliverToServer();
  sockets[0].deliverToClient();
  // Someone else edits twice; our edit is made before we hear of it.
  server.op({ client: 'other', toClient: [] }, { seq: 1, version: 0, delta: [{ insert: 'O1' }] });
  server.op({ client: 'other', toClient: [] }, { seq: 2, version: 1, delta: [{ retain: 5 }, { insert: 'O2' }] });
  t.edit(new Delta().retain(3).insert('M'));
  sockets[0].drop();
  server.snapshotOnly = true;
  await waitFor(() => sockets.length === 2, 'redial');
  sockets[1].open();
  sockets[1].deliverToServer();
  sockets[1].deliverToClient(); // snapshot at version 2 while our op is pending
  await waitFor(() => t.client.status !== 'connecting', 'catch-up done');
  assert.equal(fetches.length, 1);
  assert.equal(fetches[0].url, 'http://fake/v1/documents/d/ops?from=1&to=2&limit=1000');
  assert.equal(fetches[0].init.headers.Authorization, 'Bearer tok');
  assert.equal(json(t.client.doc), json(new Delta().insert('O1abcO2M\n')), 'the server\'s O2 wins the tie');
  assert.equal(json(t.view), json(t.client.doc));
  assert.deepEqual(sockets[1].sent.at(-1), { type: 'op', seq: 1, version: 0, delta: [{ retain: 3 }, { insert: 'M' }] });
  sockets[1].deliverToServer();
  sockets[1].deliverToClient();
  assert.equal(t.client.status, 'synced');
  assert.equal(json(server.doc), json(t.client.doc));

  // Now the REST read fails: the snapshot wins and the loss is reported.
  fetchOK = false;
  server.op({ client: 'other', toClient: [] }, { seq: 3, version: 3, delta: [{ insert: 'Z' }] });
  t.edit(new Delta().insert('gone'));
  sockets[1].drop();
  await waitFor(() => sockets.length === 3, 'redial');
  sockets[2].open();
  sockets[2].deliverToServer();
  sockets[2].deliverToClient();
  await waitFor(() => t.client.status === 'synced', 'snapshot applied');
  assert.deepEqual(t.errors.map((e) => e.code), ['edits_dropped']);
  assert.equal(json(t.client.doc), json(server.doc));
  assert.equal(json(t.view), json(server.doc));
  t.client.close();
});

test('submit is refused before the first welcome and for edits that do not fit', () => {
  const server = new FakeServer();
  const { FakeWS, sockets } = fakeNet(server);
  const t = makeClient(FakeWS);
  assert.equal(t.client.status, 'offline');
  t.client.connect();
  assert.throws(() => t.client.submit(new Delta().insert('x')), /first welcome/);
  assert.equal(t.client.connectedOnce, false);
  sockets[0].open();
  sockets[0].deliverToServer();
  sockets[0].deliverToClient();
  assert.equal(t.client.connectedOnce, true);
  assert.throws(() => t.client.submit(new Delta().retain(50).insert('x')), /reads 50/);
  assert.throws(() => t.client.submit('nope'), /Delta/);
  assert.equal(t.client.hasPending, false);
  t.client.submit([{ insert: 'ok' }]); // an ops array works too
  assert.equal(t.client.hasPending, true);
  t.client.close();
});
