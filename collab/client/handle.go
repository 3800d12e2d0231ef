package client

import (
	"fmt"
	"time"

	"github.com/collabd/collabd/collab"
	"github.com/collabd/collabd/ot"
)

// errResync ends a connection so that run redials with hello version
// null: the client's document can no longer be trusted.
const errResync = resyncError("resync")

type resyncError string

func (e resyncError) Error() string { return string(e) }

// handle applies one server message to the state. It runs with c.mu held
// and returns the callbacks to run once mu is released. An error ends the
// connection: errResync to reconnect with version null, anything else is
// the server breaking the protocol.
func (c *Client) handle(cn *conn, m serverMessage) (notes []func(), err error) {
	if !cn.welcomed && m.typ != collab.TypeWelcome {
		if m.typ != collab.TypeError {
			return nil, protocolErrorf("%s before welcome", m.typ)
		}
		// hello refused. version_ahead: the server has less than we hold
		// (restored from a backup?): start again from its snapshot.
		// Anything else: end this connection and dial again later.
		err := fmt.Errorf("hello refused: %w", &collab.Error{Code: m.err.Code, Message: m.err.Message})
		notes = c.errorNote(err, nil)
		if m.err.Code == collab.VersionAhead {
			c.log.Warn("the server is behind this client; resyncing", "version", c.st.version)
			c.hasVersion = false
			return notes, errResync
		}
		return notes, err
	}
	switch m.typ {
	case collab.TypeWelcome:
		if cn.welcomed {
			return nil, protocolErrorf("a second welcome")
		}
		return c.onWelcome(cn, &m.welcome)
	case collab.TypeAck:
		p := c.st.inflight
		if (p == nil || m.ack.Seq < p.seq) && m.ack.Seq <= c.st.lastSeq && m.ack.Version <= c.st.version {
			// A resent op's ack, after the op itself came back among the
			// welcome's ops or as a broadcast of our own edit (the copy
			// sent before the reconnect was committed late): it was taken
			// as the ack then (protocol: exactly once).
			c.log.Debug("duplicate ack", "seq", m.ack.Seq, "version", m.ack.Version)
			return nil, nil
		}
		if p == nil || m.ack.Seq != p.seq || cn.sentSeq != p.seq {
			return nil, protocolErrorf("ack of seq %d, which is not in flight", m.ack.Seq)
		}
		if m.ack.Version != c.st.version+1 {
			return nil, protocolErrorf("ack version %d, want %d", m.ack.Version, c.st.version+1)
		}
		return c.onAck(cn, m.ack.Version, nil), nil
	case collab.TypeOp:
		if m.edit.version != c.st.version+1 {
			return nil, protocolErrorf("op version %d, want %d", m.edit.version, c.st.version+1)
		}
		return c.onEdit(cn, &m.edit, notes)
	case collab.TypePresence:
		p := &m.presence
		if p.client == c.id {
			return nil, nil
		}
		c.peers[p.client] = &peer{user: p.user, rng: c.clampServer(p.rng)}
		return c.presenceNote(p.client, false, notes), nil
	case collab.TypeLeave:
		if _, ok := c.peers[m.leave]; !ok {
			return nil, nil
		}
		notes = c.presenceNote(m.leave, true, notes)
		delete(c.peers, m.leave)
		return notes, nil
	case collab.TypeError:
		return c.onError(cn, &m.err)
	}
	return nil, protocolErrorf("unknown message type %q", m.typ)
}

// onWelcome takes the server's answer to hello: a snapshot, or the edits
// since our version (some of them maybe our own), then the peers. Then it
// resends the in-flight op and the selection, which the server forgot.
//
// A snapshot while local edits are pending (the server found us too far
// behind for ops) would cost those edits: they can be rebased only onto
// the edits in between. So the welcome is left to read, which fetches
// them through REST off the lock (catchUp) and completes it.
func (c *Client) onWelcome(cn *conn, w *welcome) (notes []func(), err error) {
	if w.you.Client != c.id {
		return nil, protocolErrorf("welcome is for client %q", w.you.Client)
	}
	if w.doc != nil {
		if c.hasVersion && c.st.inflight != nil {
			cn.catchUp = w
			return nil, nil
		}
		notes = c.onSnapshot(*w.doc, w.version, ErrEditsDropped, notes)
	} else {
		if !c.hasVersion {
			return nil, protocolErrorf("welcome carries ops, but hello said no version")
		}
		if want := c.st.version + int64(len(w.ops)); w.version != want {
			return nil, protocolErrorf("welcome version %d after %d ops, want %d", w.version, len(w.ops), want)
		}
		for i := range w.ops {
			if e := &w.ops[i]; e.version != c.st.version+1 {
				return nil, protocolErrorf("welcome op version %d, want %d", e.version, c.st.version+1)
			}
			if notes, err = c.onEdit(cn, &w.ops[i], notes); err != nil {
				return notes, err
			}
		}
	}
	return c.welcomedLocked(cn, w, notes), nil
}

// welcomedLocked completes a welcome once the document is at its version:
// who we are, the peers, and what the server forgot with the last
// connection (the in-flight op, the selection).
func (c *Client) welcomedLocked(cn *conn, w *welcome, notes []func()) []func() {
	c.hasVersion = true
	c.you = w.you
	clear(c.peers)
	for _, p := range w.peers {
		if p.client != c.id {
			c.peers[p.client] = &peer{user: p.user, rng: c.clampServer(p.rng)}
		}
	}
	cn.welcomed = true
	if c.st.inflight != nil {
		c.sendOp(cn)
	}
	if c.selection != nil {
		cn.presenceDirty = true
		cn.kick()
	}
	if c.first != nil {
		c.first <- nil
		c.first = nil
	}
	c.log.Debug("welcomed", "version", c.st.version, "snapshot", w.doc != nil, "ops", len(w.ops), "pending", c.st.inflight != nil)
	return notes
}

// onSnapshot replaces the local document with the server's. Edits not yet
// acknowledged cannot be rebased onto a snapshot alone, so they are
// dropped and reported as dropped, an error that wraps ErrEditsDropped.
func (c *Client) onSnapshot(doc ot.Doc, version int64, dropped error, notes []func()) []func() {
	old := c.st.doc
	if c.st.reset(doc, version) {
		c.log.Warn("resync dropped unacknowledged edits", "version", version, "why", dropped)
		notes = c.errorNote(dropped, notes)
	}
	if c.selection != nil {
		c.selection = clamp(c.selection, doc.Len())
	}
	if c.first == nil {
		// Not the first welcome (Dial has returned): tell the app the whole
		// document changed, as one edit that deletes the old content and
		// inserts the new.
		delta := ot.Canonical(append(doc.Delta(), ot.Delete(old.Len())))
		if f := c.opts.OnRemote; f != nil {
			r := Remote{Version: version, Delta: delta, Doc: doc}
			notes = append(notes, func() { f(r) })
		}
	}
	return notes
}

// onEdit applies an edit committed by the server as version+1: our own
// in-flight op, which is its ack (protocol: exactly once), or anybody
// else's, which is transformed into the local document.
func (c *Client) onEdit(cn *conn, e *edit, notes []func()) ([]func(), error) {
	notes, err := c.applyEdit(cn, e, notes)
	if err != nil {
		// Our document and the server's differ: only a snapshot helps.
		c.log.Error("remote edit does not fit; resyncing", "version", e.version, "err", err)
		c.st.drop()
		c.hasVersion = false
		return c.errorNote(fmt.Errorf("%w: %w", ErrProtocol, err), notes), errResync
	}
	return notes, nil
}

// applyEdit is onEdit without the resync: if the edit does not fit, it
// changes nothing and says so.
func (c *Client) applyEdit(cn *conn, e *edit, notes []func()) ([]func(), error) {
	if p := c.st.inflight; p != nil && e.client == c.id && e.seq == p.seq {
		return c.onAck(cn, e.version, notes), nil
	}
	applied, err := c.st.remote(e.delta)
	if err != nil {
		return notes, err
	}
	for _, p := range c.peers {
		if p.rng != nil {
			r := ot.TransformRange(e.delta, *p.rng)
			p.rng = &r
		}
	}
	if c.selection != nil {
		r := ot.TransformRange(applied, *c.selection)
		c.selection = &r
	}
	if f := c.opts.OnRemote; f != nil {
		r := Remote{Version: e.version, Client: e.client, Seq: e.seq, User: e.user, Delta: applied, Doc: c.st.doc}
		notes = append(notes, func() { f(r) })
	}
	return notes, nil
}

// onAck records that the in-flight op is edit version, and sends the
// buffer, if any, as the next op. If the last presence was mapped back
// through this op with loss (presenceFrameLocked), the selection goes
// out again: mapped through what is still pending, if anything, it now
// comes out exact.
func (c *Client) onAck(cn *conn, version int64, notes []func()) []func() {
	seq := c.st.inflight.seq
	if f := c.opts.OnAck; f != nil {
		notes = append(notes, func() { f(seq, version) })
	}
	if cn.presenceLossy != 0 && seq >= cn.presenceLossy {
		cn.presenceLossy = 0
		cn.presenceDirty = true
		cn.kick()
	}
	// The server moved every peer's range through our edit as it
	// committed it: the in-flight op as transformed up to now.
	for _, p := range c.peers {
		if p.rng != nil {
			r := ot.TransformRange(c.st.inflight.delta, *p.rng)
			p.rng = &r
		}
	}
	next := c.st.ack(version)
	cn.sentSeq, cn.retryAt, cn.retries = 0, time.Time{}, 0
	if next != nil && cn.welcomed {
		c.sendOp(cn)
	}
	return notes
}

// onError handles a refusal. For the in-flight op: unavailable and
// rate_limited resend it (same seq) after a backoff; any other code drops
// it and the buffer built on it, reports it, and resyncs by reconnecting
// with version null (the live endpoint is all the client knows, so it
// fetches the document the same way it got it).
func (c *Client) onError(cn *conn, m *collab.ErrorMessage) ([]func(), error) {
	err := &collab.Error{Code: m.Code, Message: m.Message}
	p := c.st.inflight
	if m.Seq == 0 || p == nil || m.Seq != p.seq || cn.sentSeq != p.seq {
		c.log.Warn("server refused a request", "code", m.Code, "message", m.Message, "seq", m.Seq)
		return c.errorNote(err, nil), nil
	}
	switch m.Code {
	case collab.Unavailable, collab.RateLimited:
		wait := backoff(c.opts.ReconnectMin, c.opts.ReconnectMax, cn.retries)
		cn.retries++
		cn.sentSeq = 0
		cn.retryAt = time.Now().Add(wait)
		cn.kick()
		c.log.Info("op not taken; resending", "seq", p.seq, "code", m.Code, "in", wait)
		return nil, nil
	}
	c.log.Warn("op refused; dropping it and resyncing", "seq", p.seq, "code", m.Code, "message", m.Message)
	c.st.drop()
	c.hasVersion = false
	return c.errorNote(fmt.Errorf("op %d refused: %w", p.seq, err), nil), errResync
}

func (c *Client) errorNote(err error, notes []func()) []func() {
	if f := c.opts.OnError; f != nil {
		notes = append(notes, func() { f(err) })
	}
	return notes
}

func (c *Client) presenceNote(id collab.ClientID, left bool, notes []func()) []func() {
	f := c.opts.OnPresence
	if f == nil {
		return notes
	}
	p := c.peerLocked(id, c.peers[id], c.st.unacked())
	p.Left = left
	return append(notes, func() { f(p) })
}

// clampServer keeps a peer's range inside the server document at version
// (a misplaced cursor is not worth a reconnect).
func (c *Client) clampServer(r *ot.Range) *ot.Range {
	if r == nil {
		return nil
	}
	n := c.st.doc.Len()
	if u := c.st.unacked(); u != nil {
		n -= u.ChangeLength()
	}
	return clamp(r, n)
}

func clamp(r *ot.Range, n int) *ot.Range {
	out := *r
	out.Index = min(out.Index, n)
	out.Length = min(out.Length, n-out.Index)
	return &out
}
