package session

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/collabd/collabd/collab"
	"github.com/collabd/collabd/ot"
)

// sim drives a session with scripted peers that behave like the shipped
// clients (one op in flight, the rest buffered), through channels only.
type sim struct {
	t     *testing.T
	log   collab.Log
	reg   *Registry
	doc   collab.DocumentID
	peers []*simPeer
}

// simPeer is a minimal client of the live protocol: it holds the document
// at the versions it was sent, one op in flight and a composed buffer.
type simPeer struct {
	sim      *sim
	name     string
	p        *Peer
	user     collab.UserInfo
	doc      ot.Doc
	version  int64
	seq      int64
	inflight ot.Delta // valid while flying
	flying   bool
	inSeq    int64
	buffer   ot.Delta // valid while buffered
	buffered bool
	errors   []collab.ErrorMessage
	closed   bool
	code     int
	others   map[collab.ClientID]*ot.Range

	storeWelcomes int  // welcomes whose older ops came from the store
	offline       bool // edits are kept, not sent, until rejoin
}

func testConfig(log collab.Log) Config {
	c := DefaultConfig()
	c.Log = log
	c.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	return c
}

// joinEditor joins client to doc as an editor of user "u".
func joinEditor(t *testing.T, reg *Registry, doc collab.DocumentID, client collab.ClientID) *Peer {
	t.Helper()
	p, err := reg.Join(context.Background(), doc, JoinRequest{Client: client, Role: collab.Editor, User: collab.UserInfo{ID: "u"}})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func newSim(t *testing.T, log collab.Log, cfg Config, doc collab.DocumentID, n int) *sim {
	t.Helper()
	s := &sim{t: t, log: log, reg: NewRegistry(cfg), doc: doc}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := s.reg.Close(ctx); err != nil {
			t.Errorf("close registry: %v", err)
		}
	})
	for i := range n {
		s.join(fmt.Sprintf("peer%d", i), collab.Editor)
	}
	return s
}

// join adds a peer and waits for its welcome.
func (s *sim) join(name string, role collab.Role) *simPeer {
	s.t.Helper()
	sp := &simPeer{sim: s, name: name, user: collab.UserInfo{ID: collab.UserID("u-" + name), Name: name, Color: "#000000"}, others: map[collab.ClientID]*ot.Range{}}
	sp.rejoin(nil, role)
	s.peers = append(s.peers, sp)
	return sp
}

func (sp *simPeer) rejoin(version *int64, role collab.Role) {
	t := sp.sim.t
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	p, err := sp.sim.reg.Join(ctx, sp.sim.doc, JoinRequest{Client: collab.ClientID(sp.name), User: sp.user, Role: role, Version: version})
	if err != nil {
		t.Fatalf("%s: join: %v", sp.name, err)
	}
	sp.p, sp.closed = p, false
	m := sp.next(10 * time.Second)
	if sw, ok := m.(*storeWelcome); ok {
		// Encode it as the writer would, reading from the store.
		b, err := json.Marshal(sw)
		if err != nil {
			t.Fatalf("%s: encode welcome: %v", sp.name, err)
		}
		var dec collab.Welcome
		if err := json.Unmarshal(b, &dec); err != nil {
			t.Fatalf("%s: decode welcome %s: %v", sp.name, b, err)
		}
		m = dec
		sp.storeWelcomes++
	}
	w, ok := m.(collab.Welcome)
	if !ok {
		t.Fatalf("%s: first message is %T, want a welcome", sp.name, m)
	}
	if w.Doc != nil {
		sp.doc = *w.Doc
	} else {
		for _, e := range w.Ops {
			sp.remote(e)
		}
	}
	sp.version = w.Version
	for _, o := range w.Peers {
		sp.others[o.Client] = o.Range
	}
	sp.offline = false
	switch {
	case sp.flying:
		sp.resend() // same seq: the session recognises it if it was committed
	case sp.buffered:
		b := sp.buffer
		sp.buffer, sp.buffered = nil, false
		sp.send(b)
	}
}

// leave disconnects the peer; its edits are kept until rejoin.
func (sp *simPeer) leave() {
	sp.p.Leave()
	sp.offline = true
}

// next decodes the peer's next message, waiting at most d.
func (sp *simPeer) next(d time.Duration) any {
	sp.sim.t.Helper()
	select {
	case m, ok := <-sp.p.Outbox():
		if !ok {
			sp.closed = true
			sp.code, _ = sp.p.CloseCode()
			return nil
		}
		if m.Value != nil {
			return m.Value
		}
		return decodeServer(sp.sim.t, m.Frame)
	case <-time.After(d):
		sp.sim.t.Fatalf("%s: no message within %v", sp.name, d)
		return nil
	}
}

// serverMsg is any server message, decoded loosely for tests.
type serverMsg struct {
	Type    string          `json:"type"`
	Version int64           `json:"version"`
	Seq     int64           `json:"seq"`
	Delta   ot.Delta        `json:"delta"`
	Client  collab.ClientID `json:"client"`
	Code    collab.Code     `json:"code"`
	Message string          `json:"message"`
	Range   *ot.Range       `json:"range"`
}

func decodeServer(t *testing.T, frame []byte) any {
	t.Helper()
	var m serverMsg
	if err := json.Unmarshal(frame, &m); err != nil {
		t.Fatalf("server sent %s: %v", frame, err)
	}
	switch m.Type {
	case collab.TypeAck:
		return collab.Ack{Type: m.Type, Seq: m.Seq, Version: m.Version}
	case collab.TypeOp:
		return collab.OpMessage{Type: m.Type, WireEdit: collab.WireEdit{Version: m.Version, Delta: m.Delta, Client: m.Client, Seq: m.Seq}}
	case collab.TypeError:
		return collab.ErrorMessage{Type: m.Type, Code: m.Code, Message: m.Message, Seq: m.Seq}
	case collab.TypePresence:
		return collab.PresenceMessage{Type: m.Type, Client: m.Client, Range: m.Range}
	case collab.TypeLeave:
		return collab.LeaveMessage{Type: m.Type, Client: m.Client}
	}
	t.Fatalf("unexpected server message %s", frame)
	return nil
}

// edit makes a local edit: applied at once, sent or buffered.
func (sp *simPeer) edit(d ot.Delta) {
	t := sp.sim.t
	t.Helper()
	doc, err := sp.doc.Apply(d)
	if err != nil {
		t.Fatalf("%s: local edit %v does not apply: %v", sp.name, d, err)
	}
	sp.doc = doc
	switch {
	case sp.offline && !sp.buffered && !sp.flying:
		sp.buffer, sp.buffered = d, true
	case sp.offline && !sp.flying:
		sp.buffer = ot.Compose(sp.buffer, d)
	case !sp.flying:
		sp.send(d)
	case !sp.buffered:
		sp.buffer, sp.buffered = d, true
	default:
		sp.buffer = ot.Compose(sp.buffer, d)
	}
}

func (sp *simPeer) send(d ot.Delta) {
	sp.seq++
	sp.inflight, sp.inSeq, sp.flying = d, sp.seq, true
	sp.resend()
}

// resend submits the in-flight op again with its seq and base version.
func (sp *simPeer) resend() {
	if !sp.p.Submit(context.Background(), sp.inSeq, sp.version, sp.inflight) {
		sp.sim.t.Fatalf("%s: submit refused: session gone", sp.name)
	}
}

// typeAt inserts text at index.
func (sp *simPeer) typeAt(index int, text string) {
	d := ot.Delta{}
	if index > 0 {
		d = append(d, ot.Retain(index, nil))
	}
	sp.edit(append(d, ot.InsertText(text, nil)))
}

// remote applies an edit from the server, transforming pending ops past it
// (the server's edit came first).
func (sp *simPeer) remote(e collab.WireEdit) {
	t := sp.sim.t
	t.Helper()
	if e.Client == collab.ClientID(sp.name) && sp.flying && e.Seq == sp.inSeq {
		// Our own op, committed before we reconnected: it is the ack.
		sp.version = e.Version
		sp.acked()
		return
	}
	sp.moveOthers(e.Delta)
	d := e.Delta
	if sp.flying {
		d, sp.inflight = ot.Transform(sp.inflight, d, false), ot.Transform(d, sp.inflight, true)
	}
	if sp.buffered {
		d, sp.buffer = ot.Transform(sp.buffer, d, false), ot.Transform(d, sp.buffer, true)
	}
	doc, err := sp.doc.Apply(d)
	if err != nil {
		t.Fatalf("%s: remote edit %d does not apply: %v", sp.name, e.Version, err)
	}
	sp.doc = doc
	sp.version = e.Version
}

// moveOthers moves the peers' ranges through a committed edit, as the
// server moves them (protocol: presence follows text).
func (sp *simPeer) moveOthers(d ot.Delta) {
	for id, r := range sp.others {
		if r != nil {
			moved := ot.TransformRange(d, *r)
			sp.others[id] = &moved
		}
	}
}

func (sp *simPeer) acked() {
	sp.moveOthers(sp.inflight) // as committed: transformed past every edit before it
	sp.inflight, sp.flying = nil, false
	if sp.buffered {
		b := sp.buffer
		sp.buffer, sp.buffered = nil, false
		sp.send(b)
	}
}

// handle processes one message; it reports whether one was there.
func (sp *simPeer) handle(m any) {
	t := sp.sim.t
	t.Helper()
	switch m := m.(type) {
	case nil:
	case collab.Ack:
		if !sp.flying || m.Seq != sp.inSeq {
			t.Fatalf("%s: ack for seq %d, but in flight is seq %d (%v)", sp.name, m.Seq, sp.inSeq, sp.inflight)
		}
		if m.Version != sp.version+1 {
			t.Fatalf("%s: ack version = %d, want %d (no edit may be skipped)", sp.name, m.Version, sp.version+1)
		}
		sp.version = m.Version
		sp.acked()
	case collab.OpMessage:
		if m.Version != sp.version+1 {
			t.Fatalf("%s: op version = %d, want %d", sp.name, m.Version, sp.version+1)
		}
		sp.remote(m.WireEdit)
	case collab.ErrorMessage:
		sp.errors = append(sp.errors, m)
	case collab.PresenceMessage:
		sp.others[m.Client] = m.Range
	case collab.LeaveMessage:
		delete(sp.others, m.Client)
	default:
		t.Fatalf("%s: unexpected %T", sp.name, m)
	}
}

// drain handles every message already queued for the peer.
func (sp *simPeer) drain() {
	for !sp.closed {
		select {
		case m, ok := <-sp.p.Outbox():
			if !ok {
				sp.closed = true
				sp.code, _ = sp.p.CloseCode()
				return
			}
			if m.Value != nil {
				sp.handle(m.Value)
			} else {
				sp.handle(decodeServer(sp.sim.t, m.Frame))
			}
		default:
			return
		}
	}
}

// waitFor handles messages until cond holds, failing after a bound.
func (sp *simPeer) waitFor(what string, cond func() bool) {
	t := sp.sim.t
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if sp.closed {
			t.Fatalf("%s: closed (code %d) while waiting for %s", sp.name, sp.code, what)
		}
		left := time.Until(deadline)
		if left <= 0 {
			t.Fatalf("%s: timed out waiting for %s", sp.name, what)
		}
		sp.handle(sp.next(left))
	}
}

func (sp *simPeer) synced() bool { return !sp.flying && !sp.buffered }

// converge waits until every peer has all its ops acked and has seen every
// edit, then checks all of them and the store hold the same document.
func (s *sim) converge(want string) {
	s.t.Helper()
	for _, sp := range s.peers {
		sp.waitFor("its edits to be acked", sp.synced)
	}
	var top int64
	for _, sp := range s.peers {
		top = max(top, sp.version)
	}
	for _, sp := range s.peers {
		sp.waitFor(fmt.Sprintf("version %d", top), func() bool { return sp.version >= top })
	}
	stored := storedDoc(s.t, s.log, s.doc)
	for _, sp := range s.peers {
		if got, wantJSON := mustJSON(sp.doc), mustJSON(stored); got != wantJSON {
			s.t.Errorf("%s at version %d holds %s, the store %s", sp.name, sp.version, got, wantJSON)
		}
	}
	if want != "" && stored.Text() != want {
		s.t.Errorf("stored text = %q, want %q", stored.Text(), want)
	}
}

// storedDoc replays the document from the store: the truth.
func storedDoc(t *testing.T, log collab.Log, id collab.DocumentID) ot.Doc {
	t.Helper()
	ctx := context.Background()
	snap, err := log.SnapshotAt(ctx, id, 0)
	if err != nil {
		t.Fatalf("snapshot 0: %v", err)
	}
	edits, err := log.Edits(ctx, id, 1, 1<<40)
	if err != nil {
		t.Fatalf("edits: %v", err)
	}
	doc := snap.Doc
	seen := map[string]bool{}
	for i, e := range edits {
		if e.Version != int64(i+1) {
			t.Fatalf("stored edit %d has version %d", i+1, e.Version)
		}
		key := fmt.Sprint(e.Client, "/", e.Seq)
		if seen[key] {
			t.Fatalf("op %s stored twice", key)
		}
		seen[key] = true
		if doc, err = doc.Apply(e.Delta); err != nil {
			t.Fatalf("stored edit %d does not apply: %v", e.Version, err)
		}
	}
	return doc
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}
