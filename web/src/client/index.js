// CollabClient: the browser editor's side of the collabd live protocol
// (docs/protocol.md, docs/web-client.md). It behaves like the Go client
// (collab/client): one op in flight, later edits composed into one buffer,
// remote edits transformed past them, reconnect with backoff and jitter,
// resend of the in-flight op with the same seq, edits kept while offline.
//
// Everything runs on the one JS thread: socket callbacks, timers and the
// public methods all touch the same fields, never concurrently.

import Delta from 'quill-delta';
import { DocState, transformRange, rangeBefore, clampRange, baseLength } from './state.js';

export { Delta };
export { DocState, transformRange } from './state.js';

// Close codes that end the client for good. 1003/1007/1009 mean this
// client sent something broken: reconnecting would only repeat it.
const TERMINAL_CLOSES = new Set([4404, 4403, 1008, 1003, 1007, 1009]);

// Op errors after which the op is dropped and the document resynced
// (anything not listed in RETRY_CODES or handled on its own).
const RETRY_CODES = new Set(['unavailable', 'rate_limited']);

function randomId() {
  const c = globalThis.crypto;
  if (c && typeof c.randomUUID === 'function') return c.randomUUID().replace(/-/g, '');
  let s = '';
  for (let i = 0; i < 32; i++) s += Math.floor(Math.random() * 16).toString(16);
  return s;
}

function toDelta(d) {
  if (d instanceof Delta) return d;
  if (Array.isArray(d)) return new Delta(d);
  if (d && Array.isArray(d.ops)) return new Delta(d.ops);
  throw new TypeError('submit: want a Delta or an array of ops');
}

export class CollabClient {
  /**
   * @param {object} opts
   * @param {string} opts.url ws:// or wss:// URL of /v1/documents/{id}/live
   * @param {string} [opts.token] bearer token, sent as the access_token query parameter
   * @param {string} [opts.clientId] default random; must be new for every CollabClient
   * @param {Function} [opts.WebSocket] constructor, default globalThis.WebSocket
   * @param {number} [opts.minBackoff=250] @param {number} [opts.maxBackoff=10000] ms
   * @param {number} [opts.presenceInterval=50] ms between two presence messages
   * @param {number} [opts.ackTimeout=30000] ms without any message while an op is in flight before the connection is dropped and redialled
   * @param {number} [opts.connectTimeout=10000] ms from dialing to the welcome before the attempt is abandoned and redialled
   * @param {Function} [opts.fetch] for the REST catch-up after a snapshot (default globalThis.fetch)
   */
  constructor(opts = {}) {
    if (!opts.url || !/^wss?:\/\//.test(opts.url)) throw new Error('CollabClient: url must be a ws:// or wss:// URL');
    this.opts = {
      minBackoff: 250, maxBackoff: 10000, presenceInterval: 50, ackTimeout: 30000, connectTimeout: 10000, ...opts,
    };
    this.opts.maxBackoff = Math.max(this.opts.maxBackoff, this.opts.minBackoff);
    this.clientId = opts.clientId || randomId();
    this._WS = opts.WebSocket || globalThis.WebSocket;
    if (!this._WS) throw new Error('CollabClient: no WebSocket (in Node 20 run with --experimental-websocket, or pass opts.WebSocket)');
    this._fetch = opts.fetch || (globalThis.fetch ? globalThis.fetch.bind(globalThis) : null);

    this._st = new DocState();
    this._hasVersion = false; // false before the first welcome and while resyncing: hello says version null
    this._welcomedOnce = false;
    this._conn = null; // the current connection { ws, welcomed, sentSeq, ... }, null between connections
    this._peers = new Map(); // client -> { client, user, range } with range in server coordinates at version
    this._selection = null; // ours, in local coordinates
    this._selectionDirty = false;
    this._presenceNext = 0;
    this._presenceTimer = null;
    this._presenceLossySeq = 0; // the last presence lost our selection: send it again once this seq is acked (0: it did not)
    this._retryTimer = null; // resend after rate_limited / unavailable
    this._retries = 0;
    this._reconnectTimer = null;
    this._attempt = 0;
    this._started = false;
    this._closed = false;
    this._status = 'offline';
    this._listeners = new Map();
    this.role = null;
    this.you = null;
  }

  // ---- public state ----

  /** The local view: server document + in-flight + buffered edits. */
  get doc() { return this._st.doc; }
  /** The last server version applied. */
  get version() { return this._st.version; }
  get status() { return this._status; }
  /** True while any local edit is not acknowledged. */
  get hasPending() { return this._st.inflight !== null; }
  /** True once a welcome arrived: 'connecting' after it means reconnecting. */
  get connectedOnce() { return this._welcomedOnce; }
  /** Internal state name: 'synchronized' | 'awaiting ack' | 'awaiting ack with buffer'. */
  get syncState() { return this._st.status; }
  /** The local selection (moved by edits since it was set), or null. */
  get selection() { return this._selection ? { ...this._selection } : null; }
  /** Peers with their ranges in local-view coordinates. A new Map each time. */
  get peers() {
    const u = this._st.unacked();
    const out = new Map();
    for (const [id, p] of this._peers) {
      out.set(id, { client: id, user: p.user, range: p.range && u ? transformRange(u, p.range) : (p.range ? { ...p.range } : null) });
    }
    return out;
  }

  on(event, fn) {
    if (!this._listeners.has(event)) this._listeners.set(event, new Set());
    this._listeners.get(event).add(fn);
    return () => this._listeners.get(event)?.delete(fn);
  }

  _emit(event, ...args) {
    const set = this._listeners.get(event);
    if (!set) return;
    for (const fn of [...set]) {
      try {
        fn(...args);
      } catch (err) {
        // A listener's bug must not break the protocol state.
        setTimeout(() => { throw err; }, 0);
      }
    }
  }

  _setStatus() {
    let s;
    if (this._closed) s = 'closed';
    else if (this._conn && this._conn.welcomed) s = this._st.inflight ? 'saving' : 'synced';
    else if (this._conn) s = 'connecting';
    else s = 'offline';
    if (s !== this._status) {
      this._status = s;
      this._emit('status', s);
    }
  }

  // ---- public methods ----

  /** Starts connecting; reconnects by itself until close() or a terminal close. Idempotent. */
  connect() {
    if (this._closed || this._started) return;
    this._started = true;
    this._dial();
  }

  /** Closes for good (1000). Unacknowledged edits are lost: check hasPending first. */
  close() {
    if (this._closed) return;
    this._terminate(1000, 'closed by the client');
  }

  /**
   * A local edit, already applied by the caller to its view, made on
   * this.doc. Throws (nothing changes) if it does not fit this.doc or
   * before the first welcome. A viewer's edit is refused: 'error'
   * (forbidden) and a 'remote' delta that undoes it in the view.
   */
  submit(delta) {
    const d = toDelta(delta);
    if (this._closed) throw new Error('submit: the client is closed');
    if (!this._welcomedOnce) throw new Error('submit: no document yet (wait for the first welcome)');
    if (d.ops.length === 0 || (d.ops.length === 1 && typeof d.ops[0].retain === 'number' && !d.ops[0].attributes)) return;
    if (this.role === 'viewer') {
      if (baseLength(d) <= this._st.doc.length()) {
        this._emit('remote', d.invert(this._st.doc), { client: this.clientId, user: this.you?.user ?? null, version: this._st.version, revert: true });
      }
      this._emit('error', { code: 'forbidden', message: 'a viewer cannot edit this document', seq: null });
      return;
    }
    const becameInflight = this._st.local(d);
    if (this._selection) this._selection = transformRange(d, this._selection);
    if (becameInflight && this._conn && this._conn.welcomed && !this._conn.blocked) this._sendOp();
    this._setStatus();
    if (this._peers.size) this._emit('presence', this.peers);
  }

  /** Our selection in local-view coordinates, or null (blur). Sent as presence, throttled. */
  setSelection(range) {
    if (this._closed) return;
    if (range) {
      const n = this._st.doc.length();
      if (!(Number.isInteger(range.index) && Number.isInteger(range.length)) || range.index < 0 || range.length < 0 || range.index + range.length > n) {
        throw new Error(`setSelection: range ${JSON.stringify(range)} is outside the document (length ${n})`);
      }
      range = { index: range.index, length: range.length };
    }
    this._selection = range || null;
    this._selectionDirty = true;
    this._flushPresence();
  }

  // ---- connection ----

  _url() {
    const u = new URL(this.opts.url);
    if (this.opts.token) u.searchParams.set('access_token', this.opts.token);
    return u.toString();
  }

  _dial() {
    this._reconnectTimer = null;
    if (this._closed) return;
    let ws;
    try {
      ws = new this._WS(this._url());
    } catch (err) {
      this._emit('error', { code: 'connect_failed', message: String(err && err.message || err), seq: null });
      this._scheduleReconnect();
      return;
    }
    const conn = { ws, opened: false, welcomed: false, blocked: false, backlog: [], sentSeq: 0, lastMessage: Date.now(), watchdog: null, connectTimer: null };
    this._conn = conn;
    // A handshake can hang (e.g. a server going down mid-accept): give up and redial.
    conn.connectTimer = setTimeout(() => {
      if (conn !== this._conn || conn.gotWelcome) return;
      this._emit('error', { code: 'timeout', message: `no welcome within ${this.opts.connectTimeout} ms; reconnecting`, seq: null });
      this._reconnect();
    }, this.opts.connectTimeout);
    ws.onopen = () => {
      if (conn !== this._conn) return;
      conn.opened = true;
      conn.lastMessage = Date.now();
      ws.send(JSON.stringify({ type: 'hello', client: this.clientId, version: this._hasVersion ? this._st.version : null, protocol: 1 }));
    };
    ws.onmessage = (ev) => {
      if (conn !== this._conn) return;
      conn.lastMessage = Date.now();
      if (conn.blocked) {
        conn.backlog.push(ev.data);
        return;
      }
      this._onFrame(conn, ev.data);
    };
    ws.onerror = () => {
      // Browsers follow with close 1006; Node 20's WebSocket sends no close
      // after a refused handshake, so treat an error before open as one.
      if (conn === this._conn && !conn.opened) this._onClose(conn, 1006, 'connection failed');
    };
    ws.onclose = (ev) => {
      if (conn !== this._conn) return;
      this._onClose(conn, ev.code, ev.reason || '');
    };
    this._setStatus();
  }

  _onClose(conn, code, reason) {
    this._dropConn(conn);
    if (TERMINAL_CLOSES.has(code)) {
      this._terminate(code, reason);
      return;
    }
    this._failedDials = conn.opened ? 0 : (this._failedDials || 0) + 1;
    this._setStatus();
    this._scheduleReconnect();
    // A refused handshake (401, 403, 404) looks like any network failure
    // to a WebSocket; after two in a row, ask the REST API why.
    if (this._failedDials >= 2) this._probe();
  }

  /** Asks GET /v1/documents/{id} whether the document is still there for us; ends the client if not. */
  async _probe() {
    if (!this._fetch || this._probing) return;
    this._probing = true;
    try {
      const u = new URL(this.opts.url);
      u.protocol = u.protocol === 'wss:' ? 'https:' : 'http:';
      u.pathname = u.pathname.replace(/\/live$/, '');
      u.search = '';
      const headers = this.opts.token ? { Authorization: `Bearer ${this.opts.token}` } : {};
      const res = await this._fetch(u.toString(), { headers, credentials: 'include' });
      if (this._closed || (this._conn && this._conn.opened)) return;
      // 4401 is this library's own code (no WebSocket close carries it).
      const code = { 404: 4404, 403: 4403, 401: 4401 }[res.status];
      if (code) this._terminate(code, `GET ${u.pathname}: HTTP ${res.status}`);
    } catch {
      // Server unreachable: keep reconnecting.
    } finally {
      this._probing = false;
    }
  }

  /** Forgets a connection (closing it if still open) without scheduling anything. */
  _dropConn(conn) {
    if (conn.watchdog) clearInterval(conn.watchdog);
    clearTimeout(conn.connectTimer);
    if (this._conn === conn) this._conn = null;
    clearTimeout(this._retryTimer);
    this._retryTimer = null;
    clearTimeout(this._presenceTimer);
    this._presenceTimer = null;
    const ws = conn.ws;
    ws.onopen = ws.onmessage = ws.onclose = ws.onerror = null;
    try {
      if (ws.readyState === 0 || ws.readyState === 1) ws.close(1000);
    } catch { /* already closing */ }
  }

  /** Drops the current connection and dials again after a backoff (resync when hasVersion was cleared). */
  _reconnect(why) {
    const conn = this._conn;
    if (conn) this._dropConn(conn);
    this._setStatus();
    if (why) this._attempt = 0;
    this._scheduleReconnect();
  }

  _scheduleReconnect() {
    if (this._closed || this._reconnectTimer) return;
    // Full jitter: a random wait in [0, min(max, min·2^attempt)).
    const ceil = Math.min(this.opts.maxBackoff, this.opts.minBackoff * 2 ** Math.min(this._attempt, 30));
    this._attempt++;
    this._reconnectTimer = setTimeout(() => this._dial(), Math.random() * ceil);
  }

  _terminate(code, reason) {
    this._closed = true;
    clearTimeout(this._reconnectTimer);
    this._reconnectTimer = null;
    if (this._conn) this._dropConn(this._conn);
    this._setStatus();
    this._emit('closed', { code, reason });
  }

  _send(msg) {
    const conn = this._conn;
    if (!conn || conn.ws.readyState !== 1) return false;
    conn.ws.send(JSON.stringify(msg));
    return true;
  }

  /** Sends the in-flight op exactly as first made: same seq, base and delta (exactly once). */
  _sendOp() {
    const p = this._st.inflight;
    const conn = this._conn;
    if (!p || !conn || !conn.welcomed || conn.blocked) return;
    if (this._send({ type: 'op', seq: p.seq, version: p.base, delta: p.orig.ops })) {
      conn.sentSeq = p.seq;
      conn.lastMessage = Date.now(); // the ack watchdog counts from the send
    }
  }

  _flushPresence() {
    const conn = this._conn;
    if (!this._selectionDirty || !conn || !conn.welcomed || conn.blocked) return;
    const wait = this._presenceNext - Date.now();
    if (wait > 0) {
      if (!this._presenceTimer) {
        this._presenceTimer = setTimeout(() => { this._presenceTimer = null; this._flushPresence(); }, wait);
      }
      return;
    }
    // The local view holds the edits the server has not acknowledged: the
    // range goes in terms of the server version we hold, mapped back
    // through them. The server moves it forward through every edit
    // committed after that version, ours included, to where it is here.
    // That loses an end inside or in front of text they inserted (it
    // lands after the text): then the selection goes out again, exact,
    // once the newest of them is acknowledged (_ack).
    const st = this._st;
    const u = st.unacked();
    const range = u ? rangeBefore(u, this._selection) : this._selection;
    let lossySeq = 0;
    if (u && range) {
      const back = transformRange(u, range);
      if (back.index !== this._selection.index || back.length !== this._selection.length) {
        lossySeq = st.buffer ? st.lastSeq + 1 : st.inflight.seq; // the buffer's seq once it is sent
      }
    }
    if (this._send({ type: 'presence', range, version: st.version })) {
      this._selectionDirty = false;
      this._presenceNext = Date.now() + this.opts.presenceInterval;
      this._presenceLossySeq = lossySeq;
    }
  }

  // ---- messages ----

  _onFrame(conn, data) {
    let m;
    try {
      m = JSON.parse(typeof data === 'string' ? data : String(data));
    } catch {
      this._protocolError(`unparsable message: ${String(data).slice(0, 100)}`);
      return;
    }
    try {
      this._handle(conn, m);
    } catch (err) {
      this._protocolError(err && err.message || String(err));
    }
  }

  /** The server broke the protocol (or we have a bug): report, reconnect with our version. */
  _protocolError(message) {
    this._emit('error', { code: 'protocol', message, seq: null });
    this._reconnect('protocol');
  }

  /** Our document can't be trusted: forget pending edits' view effect and start again from a snapshot. */
  _resync(code, message, seq, emitError = true) {
    // Drop the connection before telling anyone, so that an edit made by
    // a listener waits for the new connection instead of going out here.
    const revert = this._st.drop();
    this._hasVersion = false;
    if (this._conn) this._dropConn(this._conn);
    this._setStatus();
    if (revert) this._emit('remote', revert, { client: this.clientId, user: this.you?.user ?? null, version: this._st.version, revert: true });
    if (emitError) this._emit('error', { code, message, seq: seq ?? null });
    this._attempt = 0;
    this._scheduleReconnect();
  }

  _handle(conn, m) {
    if (!conn.welcomed && m.type !== 'welcome') {
      if (m.type !== 'error') throw new Error(`${m.type} before welcome`);
      // hello refused. version_ahead: the server has less than we hold
      // (restored from a backup): start again from its snapshot.
      this._emit('error', { code: m.code, message: m.message, seq: m.seq ?? null });
      if (m.code === 'version_ahead') {
        // Our pending edits are based on versions the server never had.
        this._resync(m.code, m.message, null, false);
      } else {
        this._reconnect();
      }
      return;
    }
    switch (m.type) {
      case 'welcome':
        if (conn.welcomed) throw new Error('a second welcome');
        this._onWelcome(conn, m);
        return;
      case 'ack':
        this._onAckMessage(conn, m);
        return;
      case 'op':
        if (m.version !== this._st.version + 1) throw new Error(`op version ${m.version}, want ${this._st.version + 1}`);
        this._onEdit(conn, m);
        return;
      case 'presence': {
        if (m.client === this.clientId) return;
        this._peers.set(m.client, { user: m.user, range: this._clampServer(m.range) });
        this._emit('presence', this.peers);
        return;
      }
      case 'leave':
        if (this._peers.delete(m.client)) this._emit('presence', this.peers);
        return;
      case 'error':
        this._onError(conn, m);
        return;
      default:
        throw new Error(`unknown message type ${JSON.stringify(m.type)}`);
    }
  }

  _onWelcome(conn, w) {
    if (!w.you || w.you.client !== this.clientId) throw new Error(`welcome is for client ${w.you && w.you.client}`);
    conn.gotWelcome = true;
    clearTimeout(conn.connectTimer);
    if (w.doc) {
      const doc = new Delta(Array.isArray(w.doc) ? w.doc : w.doc.ops);
      // Pending edits are based on this._st.version, a version the server
      // had (also after a resync, which reverted the view to it).
      if (this._st.inflight && this._welcomedOnce) {
        // Edits pending and the server sent a snapshot: they can only be
        // rebased onto the edits in between, so fetch those over REST
        // and replay them as a catch-up; hold later messages meanwhile.
        conn.blocked = true;
        this._catchUpREST(conn, w, doc).then(
          () => this._afterWelcome(conn, w),
          (err) => {
            // Only a snapshot helps now; the pending edits are lost.
            if (conn !== this._conn) return;
            this._st.drop();
            this._emit('error', { code: 'edits_dropped', message: `unacknowledged local edits dropped by a resync: ${err.message}`, seq: null });
            this._applySnapshot(doc, w.version);
            this._afterWelcome(conn, w);
          },
        );
        return;
      }
      this._applySnapshot(doc, w.version);
    } else {
      if (!this._hasVersion) throw new Error('welcome carries ops, but hello said no version');
      const ops = w.ops || [];
      if (w.version !== this._st.version + ops.length) {
        throw new Error(`welcome version ${w.version} after ${ops.length} ops, want ${this._st.version + ops.length}`);
      }
      this._emit('welcome', { doc: this._st.doc, version: this._st.version, reset: false });
      for (const e of ops) {
        if (e.version !== this._st.version + 1) throw new Error(`welcome op version ${e.version}, want ${this._st.version + 1}`);
        if (!this._onEdit(conn, e)) return;
      }
    }
    this._afterWelcome(conn, w);
  }

  _applySnapshot(doc, version) {
    this._st.reset(doc, version);
    if (this._selection) this._selection = clampRange(this._selection, doc.length());
    this._emit('welcome', { doc, version, reset: true });
  }

  async _catchUpREST(conn, w, snapshot) {
    if (!this._fetch) throw new Error('no fetch to read the missing edits');
    const base = new URL(this.opts.url);
    base.protocol = base.protocol === 'wss:' ? 'https:' : 'http:';
    base.pathname = base.pathname.replace(/\/live$/, '/ops');
    base.search = '';
    const headers = this.opts.token ? { Authorization: `Bearer ${this.opts.token}` } : {};
    const from = this._st.version + 1;
    const edits = [];
    let cursor = null;
    for (let page = 0; page < 100000 && from <= w.version; page++) {
      const u = new URL(base);
      u.searchParams.set('from', String(from));
      u.searchParams.set('to', String(w.version));
      u.searchParams.set('limit', '1000');
      if (cursor) u.searchParams.set('cursor', cursor);
      const res = await this._fetch(u.toString(), { headers, credentials: 'include' });
      if (!res.ok) throw new Error(`GET ${base.pathname}: HTTP ${res.status}`);
      const body = await res.json();
      edits.push(...(body.items || []));
      if (!body.next_cursor) break;
      cursor = body.next_cursor;
    }
    if (conn !== this._conn) throw new Error('connection lost during the catch-up');
    if (edits.length !== w.version - this._st.version) throw new Error(`read ${edits.length} edits, want ${w.version - this._st.version}`);
    this._emit('welcome', { doc: this._st.doc, version: this._st.version, reset: false });
    for (const e of edits) {
      if (e.version !== this._st.version + 1) throw new Error(`edit version ${e.version}, want ${this._st.version + 1}`);
      if (!this._onEdit(conn, e)) throw new Error('catch-up edit does not fit');
    }
    // The replay must land exactly on the snapshot; otherwise trust the snapshot.
    if (JSON.stringify(this._st.serverDoc.ops) !== JSON.stringify(snapshot.ops)) {
      throw new Error('replayed edits do not match the snapshot');
    }
  }

  _afterWelcome(conn, w) {
    if (conn !== this._conn) return;
    this._hasVersion = true;
    this._welcomedOnce = true;
    this.you = w.you;
    this.role = w.you.role || null;
    this._peers.clear();
    for (const p of w.peers || []) {
      if (p.client !== this.clientId) this._peers.set(p.client, { user: p.user, range: this._clampServer(p.range) });
    }
    conn.welcomed = true;
    conn.blocked = false;
    this._attempt = 0;
    this._retries = 0;
    if (this._st.inflight) this._sendOp();
    if (this._selection) this._selectionDirty = true;
    this._flushPresence();
    conn.watchdog = setInterval(() => this._checkAck(conn), Math.max(50, Math.min(5000, this.opts.ackTimeout / 4)));
    this._setStatus();
    this._emit('presence', this.peers);
    // Messages that arrived while the welcome was being completed.
    while (conn.backlog.length && conn === this._conn && !conn.blocked) this._onFrame(conn, conn.backlog.shift());
  }

  /** Browsers can't ping: a connection silent for ackTimeout while an op waits is taken as dead. */
  _checkAck(conn) {
    if (conn !== this._conn || !this._st.inflight || conn.sentSeq !== this._st.inflight.seq) return;
    if (Date.now() - conn.lastMessage > this.opts.ackTimeout) {
      this._emit('error', { code: 'timeout', message: `no answer for ${this.opts.ackTimeout} ms; reconnecting`, seq: this._st.inflight.seq });
      this._reconnect();
    }
  }

  /** An edit committed as version+1: our in-flight op (its ack) or anybody else's. Returns false if it forced a resync. */
  _onEdit(conn, e) {
    const st = this._st;
    if (st.inflight && e.client === this.clientId && e.seq === st.inflight.seq) {
      this._ack(conn, e.version);
      return true;
    }
    const r = new Delta(Array.isArray(e.delta) ? e.delta : e.delta.ops);
    let applied;
    try {
      applied = st.remote(r);
    } catch (err) {
      this._resync('protocol', `remote edit does not fit; resyncing: ${err.message}`);
      return false;
    }
    for (const p of this._peers.values()) if (p.range) p.range = transformRange(r, p.range);
    if (this._selection) this._selection = transformRange(applied, this._selection);
    this._emit('remote', applied, { client: e.client, user: e.user, version: e.version, seq: e.seq });
    if (this._peers.size) this._emit('presence', this.peers);
    return true;
  }

  _onAckMessage(conn, m) {
    const p = this._st.inflight;
    if ((!p || m.seq < p.seq) && m.seq <= this._st.lastSeq && m.version <= this._st.version) {
      // A resent op's ack after the op came back in the welcome's ops (or
      // as a broadcast of a late-committed copy): already taken as the ack.
      return;
    }
    if (!p || m.seq !== p.seq || conn.sentSeq !== p.seq) throw new Error(`ack of seq ${m.seq}, which is not in flight`);
    if (m.version !== this._st.version + 1) throw new Error(`ack version ${m.version}, want ${this._st.version + 1}`);
    this._ack(conn, m.version);
  }

  _ack(conn, version) {
    const st = this._st;
    const seq = st.inflight.seq;
    // The server moved every peer's range through our edit as committed.
    for (const p of this._peers.values()) if (p.range) p.range = transformRange(st.inflight.delta, p.range);
    const next = st.ack(version);
    if (this._presenceLossySeq && seq >= this._presenceLossySeq) {
      this._presenceLossySeq = 0;
      this._selectionDirty = true; // sent below, or after the welcome
    }
    conn.sentSeq = 0;
    this._retries = 0;
    clearTimeout(this._retryTimer);
    this._retryTimer = null;
    this._emit('ack', { seq, version });
    if (next && conn.welcomed) this._sendOp();
    this._flushPresence();
    if (conn.welcomed) this._setStatus();
  }

  _onError(conn, m) {
    const err = { code: m.code, message: m.message, seq: m.seq ?? null };
    const p = this._st.inflight;
    if (!m.seq || !p || m.seq !== p.seq || conn.sentSeq !== p.seq) {
      this._emit('error', err);
      return;
    }
    if (RETRY_CODES.has(m.code)) {
      // Not applied; resend the same op (same seq) after a backoff.
      conn.sentSeq = 0;
      const ceil = Math.min(this.opts.maxBackoff, this.opts.minBackoff * 2 ** Math.min(this._retries, 30));
      this._retries++;
      clearTimeout(this._retryTimer);
      this._retryTimer = setTimeout(() => {
        this._retryTimer = null;
        if (conn === this._conn) { this._sendOp(); this._flushPresence(); }
      }, Math.max(this.opts.minBackoff / 2, Math.random() * ceil));
      this._emit('error', err);
      return;
    }
    if (m.code === 'forbidden') {
      // Our role does not allow edits: the server document is unchanged
      // and still ours, so revert the pending edits in the view and stay.
      this.role = 'viewer';
      const revert = this._st.drop();
      if (revert) this._emit('remote', revert, { client: this.clientId, user: this.you?.user ?? null, version: this._st.version, revert: true });
      this._emit('error', err);
      this._setStatus();
      this._flushPresence();
      return;
    }
    // invalid_op, too_large, version_ahead, bad_message: the op (and the
    // buffer built on it) can't be applied; drop it and resync rather
    // than diverge.
    this._resync(m.code, m.message, m.seq);
  }

  /** Keeps a peer's range inside the server document (a misplaced cursor is not worth a reconnect). */
  _clampServer(range) {
    if (!range) return null;
    return clampRange(range, this._st.serverDoc.length());
  }
}

export default CollabClient;
