package main

// The crash test, and the raw live-protocol client it types with (typist),
// which the shutdown and outage tests use too.

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/collabd/collabd/collab"
	"github.com/collabd/collabd/internal/pgtest"
	"github.com/collabd/collabd/ot"
)

// TestCrashLosesNoAcknowledgedEdit: collabd runs as a subprocess and is
// killed with SIGKILL while raw clients type with several ops in flight
// each, then restarted on the same data, twice. Every op acknowledged
// before a crash is in the history once, at the version of its ack, as the
// insert that was sent (protocol: durable before ack). After each restart
// the clients say hello with the last version they saw, take their own
// ops among the welcome's as acks, and resend the rest with the same seq;
// half of them say hello with version null instead, so they resend every
// op not acked before the crash. Each op is committed exactly once, and a
// resent op that was committed before the crash is acked with its
// original version (protocol: exactly once).
func TestCrashLosesNoAcknowledgedEdit(t *testing.T) {
	bin := buildCollabd(t)
	t.Run("sqlite", func(t *testing.T) {
		testCrash(t, bin, "--data-dir", t.TempDir())
	})
	t.Run("postgres", func(t *testing.T) {
		testCrash(t, bin, "--data-dir", t.TempDir(), "--database-url", pgtest.Shared(t).NewDatabase(t))
	})
}

func testCrash(t *testing.T, bin string, args ...string) {
	const (
		nTypists = 4
		window   = 4  // ops in flight per typist
		perRound = 40 // acks per typist before the kill
		lostAcks = 3  // ops committed before the kill whose acks were lost
		crashes  = 2
	)
	p := startProc(t, bin, args...)
	rc := signup(t, p.addr)
	doc := rc.createDocument("crash\n")
	initial := rc.contentAt(doc, 0)

	typists := make([]*typist, nTypists)
	for i := range typists {
		typists[i] = newTypist(t, collab.ClientID(fmt.Sprintf("t%d", i)), rc.token)
		typists[i].connect(p.addr, doc)
	}
	ackedBefore := make([]map[int64]int64, nTypists) // acks received before the last crash
	for round := range crashes {
		// All typists but one type under load. That one sends a few ops
		// and stops hearing the server, so their acks are lost; another
		// typist sees them committed before the kill. In round 0 it comes
		// back with its version and finds them in the welcome; in round 1
		// it comes back afresh and resends them.
		deaf, listener := typists[round], typists[round+1]
		var typing sync.WaitGroup
		stop := make(chan struct{})
		target := make([]int, nTypists)
		for i, ty := range typists {
			target[i] = len(ty.ackedOps()) + perRound
			if ty != deaf {
				typing.Go(func() { ty.typeUntil(stop, window) })
			}
		}
		waitFor(t, patience, fmt.Sprintf("%d more acks per typist in round %d", perRound, round), func() bool {
			for i, ty := range typists {
				if ty != deaf && len(ty.ackedOps()) < target[i] {
					return false
				}
			}
			return true
		})
		deaf.setDeaf(true)
		var unheard []opID
		for range lostAcks {
			unheard = append(unheard, opID{deaf.id, deaf.typeOne()})
		}
		waitFor(t, patience, fmt.Sprintf("%s to see the ops of %s committed", listener.id, deaf.id), func() bool {
			for _, id := range unheard {
				if _, ok := listener.seenAt(id); !ok {
					return false
				}
			}
			return true
		})
		p.kill() // under load: the typing typists have ops in flight
		for _, ty := range typists {
			ty.waitEnded()
		}
		close(stop)
		typing.Wait()
		deaf.setDeaf(false)
		inFlight := 0
		for i, ty := range typists {
			ackedBefore[i] = ty.ackedOps()
			inFlight += ty.sentCount() - len(ackedBefore[i])
		}
		t.Logf("round %d: killed collabd with %d ops sent and not acknowledged (%d of them known to be committed)", round, inFlight, lostAcks)

		// Every acknowledged op is stored, at the version of its ack.
		p = startProc(t, bin, args...) // same data; the JWT secret is kept in the data dir
		rc = rc.at(p.addr)
		version, stored := rc.content(doc)
		byOp := checkHistory(t, initial, rc.history(doc), version, stored)
		for i, ty := range typists {
			checkTypist(t, ty, ackedBefore[i], byOp, "before the crash")
		}
		if t.Failed() {
			t.FailNow()
		}

		// The typists come back: the ops they hear of in the welcome are
		// acked; the others they resend, and the server acks each with the
		// version it had before the crash or commits it now.
		fromWelcome, resent := 0, 0
		for i, ty := range typists {
			if i%2 == 0 {
				ty.connect(p.addr, doc)
			} else {
				ty.connectAfresh(p.addr, doc)
			}
			fromWelcome += len(ty.ackedOps()) - len(ackedBefore[i])
			resent += ty.sentCount() - len(ty.ackedOps())
			ty.resend()
		}
		for _, ty := range typists {
			ty.waitAcked()
		}
		t.Logf("round %d: %d ops acknowledged through the welcome, %d resent", round, fromWelcome, resent)
		acked := deaf.ackedOps()
		for _, id := range unheard {
			want, _ := listener.seenAt(id)
			if got := acked[id.seq]; got != want {
				t.Errorf("op %v was committed as version %d before the crash, but acknowledged as version %d after it", id, want, got)
			}
		}
		version, stored = rc.content(doc)
		byOp = checkHistory(t, initial, rc.history(doc), version, stored)
		for _, ty := range typists {
			checkTypist(t, ty, ty.ackedOps(), byOp, "after the restart")
		}
		checkTokens(t, stored.Text(), byOp, typists)
		if t.Failed() {
			return
		}
	}
}

// typist is a raw live-protocol client (no collab/client in between): it
// types tokens such as "[t1.7]" at the start of the document, with up to
// window ops in flight, records every ack, and resends what was not acked
// after reconnecting with the same seq, base version and delta. An insert
// at index 0 fits the document at every version, so the typist needs no
// copy of the document; the server transforms each op past the edits its
// base did not hold, and a token stays whole (concurrent inserts at the same
// place go before or after it, never inside).
type typist struct {
	t      *testing.T
	id     collab.ClientID
	header http.Header

	mu sync.Mutex // guards the fields below
	// changed is closed and replaced at every change.
	changed chan struct{}
	ws      *websocket.Conn // the current connection; nil before the first
	ended   bool            // the current connection's reader has returned
	code    int             // the close code it ended with; -1: no close frame
	welcome bool            // the current connection was welcomed
	version int64           // newest version seen; -1: none yet
	sent    []sentOp        // sent[i] has seq i+1
	acked   map[int64]int64 // seq → version
	answers map[int64]bool  // seqs answered (ack or error) on the current connection
	errs    []collab.ErrorMessage
	seen    map[opID]int64 // every committed edit heard of: (client, seq) → version
	deaf    bool           // ignore what the server says, as if the network lost it
	// problems are protocol violations the reader saw, reported when the
	// test ends (the reader may outlive the test's body).
	problems []string
}

type sentOp struct {
	base  int64
	delta ot.Delta
}

func newTypist(t *testing.T, id collab.ClientID, token string) *typist {
	ty := &typist{t: t, id: id, header: bearer(token), changed: make(chan struct{}), version: -1, acked: map[int64]int64{}, seen: map[opID]int64{}}
	t.Cleanup(func() {
		ty.mu.Lock()
		defer ty.mu.Unlock()
		for _, p := range ty.problems {
			t.Errorf("typist %s: %s", id, p)
		}
		ty.problems = nil
	})
	return ty
}

// problemf records a protocol violation; mu is held.
func (ty *typist) problemf(format string, args ...any) {
	ty.problems = append(ty.problems, fmt.Sprintf(format, args...))
}

// serverMsg is any server message, loosely decoded.
type serverMsg struct {
	Type    string          `json:"type"`
	Version int64           `json:"version"`
	Seq     int64           `json:"seq"`
	Client  collab.ClientID `json:"client"`
	Delta   ot.Delta        `json:"delta"`
	Ops     []historyEdit   `json:"ops"`
	Doc     json.RawMessage `json:"doc"`
	Code    collab.Code     `json:"code"`
	Message string          `json:"message"`
}

func (ty *typist) changedLocked() {
	close(ty.changed)
	ty.changed = make(chan struct{})
}

// await waits until cond (called with mu held) holds, failing the test
// after d.
func (ty *typist) await(d time.Duration, what string, cond func() bool) {
	ty.t.Helper()
	timer := time.NewTimer(d)
	defer timer.Stop()
	for {
		ty.mu.Lock()
		ok, ch := cond(), ty.changed
		ty.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-ch:
		case <-timer.C:
			ty.t.Fatalf("typist %s: timed out after %v waiting for %s", ty.id, d, what)
		}
	}
}

// connect dials, says hello with the newest version seen (null at first)
// and waits for the welcome.
func (ty *typist) connect(addr string, doc collab.DocumentID) { ty.dial(addr, doc, true) }

// connectAfresh is connect with hello version null, as a client that kept
// its unacknowledged ops but not the document would: the welcome then
// carries the document, not the edits it missed, and only the acks of
// resent ops tell it which of them were committed.
func (ty *typist) connectAfresh(addr string, doc collab.DocumentID) { ty.dial(addr, doc, false) }

func (ty *typist) dial(addr string, doc collab.DocumentID, withVersion bool) {
	ty.t.Helper()
	d := websocket.Dialer{HandshakeTimeout: 10 * time.Second}
	ws, _, err := d.Dial(wsURL(addr, doc), ty.header)
	if err != nil {
		ty.t.Fatalf("typist %s: dial: %v", ty.id, err)
	}
	ty.t.Cleanup(func() { ws.Close() })
	ty.mu.Lock()
	if ty.ws != nil && !ty.ended {
		ty.mu.Unlock()
		ty.t.Fatalf("typist %s: connect while connected", ty.id)
	}
	ty.ws, ty.ended, ty.code, ty.welcome, ty.answers = ws, false, 0, false, map[int64]bool{}
	errsBefore := len(ty.errs)
	var version *int64
	if ty.version >= 0 && withVersion {
		v := ty.version
		version = &v
	}
	ty.mu.Unlock()
	go ty.read(ws)
	if err := ty.write(ws, map[string]any{"type": "hello", "client": ty.id, "version": version, "protocol": 1}); err != nil {
		ty.t.Fatalf("typist %s: hello: %v", ty.id, err)
	}
	ty.await(patience, "welcome", func() bool { return ty.welcome || ty.ended || len(ty.errs) > errsBefore })
	ty.mu.Lock()
	defer ty.mu.Unlock()
	if !ty.welcome {
		ty.t.Fatalf("typist %s: hello with version %v refused (connection ended: %v, code %d); errors %+v",
			ty.id, jsonOf(version), ty.ended, ty.code, ty.errs[errsBefore:])
	}
}

func (ty *typist) write(ws *websocket.Conn, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	ws.SetWriteDeadline(time.Now().Add(10 * time.Second))
	return ws.WriteMessage(websocket.TextMessage, b)
}

// read is the connection's reader: it records what the server says until
// the connection ends.
func (ty *typist) read(ws *websocket.Conn) {
	for {
		_, frame, err := ws.ReadMessage()
		if err != nil {
			ty.mu.Lock()
			ty.ended = true
			ty.code = -1
			var ce *websocket.CloseError
			if errors.As(err, &ce) {
				ty.code = ce.Code
			}
			ty.changedLocked()
			ty.mu.Unlock()
			return
		}
		var m serverMsg
		err = json.Unmarshal(frame, &m)
		ty.mu.Lock()
		switch {
		case ty.deaf:
		case err != nil:
			ty.problemf("server sent %.200s: %v", frame, err)
		default:
			ty.handle(&m, frame)
		}
		ty.changedLocked()
		ty.mu.Unlock()
	}
}

// handle records one message; mu is held. It checks the order of
// versions (protocol: same order everywhere).
func (ty *typist) handle(m *serverMsg, frame []byte) {
	switch m.Type {
	case "welcome":
		if m.Doc == nil {
			for _, e := range m.Ops {
				ty.edit(e.Version, e.Client, e.Seq)
			}
			if m.Version != ty.version && ty.version >= 0 {
				ty.problemf("welcome at version %d after ops up to %d", m.Version, ty.version)
			}
		} else if m.Version < ty.version {
			ty.problemf("welcome at version %d, but version %d was seen before: committed edits are gone", m.Version, ty.version)
		}
		ty.version = m.Version
		ty.welcome = true
	case "ack":
		// The author gets the ack in place of its edit, in version order;
		// a resent op's ack may name an older version (exactly once).
		if ty.version >= 0 && m.Version > ty.version+1 {
			ty.problemf("ack of seq %d as version %d after version %d", m.Seq, m.Version, ty.version)
		}
		ty.ack(m.Seq, m.Version)
		ty.answers[m.Seq] = true
		ty.version = max(ty.version, m.Version)
	case "op":
		ty.edit(m.Version, m.Client, m.Seq)
	case "error":
		ty.errs = append(ty.errs, collab.ErrorMessage{Type: m.Type, Code: m.Code, Message: m.Message, Seq: m.Seq})
		if m.Seq != 0 {
			ty.answers[m.Seq] = true
		}
	case "presence", "leave":
	default:
		ty.problemf("unexpected message %.200s", frame)
	}
}

// edit records a committed edit: the next version, an ack if it is ours.
func (ty *typist) edit(version int64, c collab.ClientID, seq int64) {
	if ty.version >= 0 && version != ty.version+1 {
		ty.problemf("got edit %d after version %d", version, ty.version)
	}
	ty.version = max(ty.version, version)
	ty.seen[opID{c, seq}] = version
	if c == ty.id {
		ty.ack(seq, version)
	}
}

func (ty *typist) ack(seq, version int64) {
	if seq < 1 || seq > int64(len(ty.sent)) {
		ty.problemf("ack of seq %d (version %d), which was never sent", seq, version)
		return
	}
	if v, ok := ty.acked[seq]; ok && v != version {
		ty.problemf("seq %d acknowledged as version %d and as version %d", seq, v, version)
		return
	}
	ty.acked[seq] = version
}

// opFrame is sent op seq, exactly as it was first sent.
func (ty *typist) opFrame(seq int64) map[string]any {
	op := ty.sent[seq-1]
	return map[string]any{"type": "op", "seq": seq, "version": op.base, "delta": op.delta}
}

// token is the text op seq inserts.
func (ty *typist) token(seq int64) string { return fmt.Sprintf("[%s.%d]", ty.id, seq) }

// typeUntil sends new ops, at most window unanswered at once, until stop
// is closed or the connection ends. It returns how many it sent.
func (ty *typist) typeUntil(stop <-chan struct{}, window int) int {
	n := 0
	for {
		ty.mu.Lock()
		ws, ended, ch := ty.ws, ty.ended, ty.changed
		unanswered := 0
		for seq := int64(1); seq <= int64(len(ty.sent)); seq++ {
			if _, ok := ty.acked[seq]; !ok && !ty.answers[seq] {
				unanswered++
			}
		}
		var frame map[string]any
		if !ended && unanswered < window {
			frame = ty.opFrame(ty.nextOp(max(ty.version, 0), nil))
		}
		ty.mu.Unlock()
		select {
		case <-stop:
			return n
		default:
		}
		if ended {
			return n
		}
		if frame == nil {
			select {
			case <-ch:
			case <-stop:
				return n
			}
			continue
		}
		if err := ty.write(ws, frame); err != nil {
			return n // the reader sees the connection end too
		}
		n++
	}
}

// nextOp records a new op and returns its seq: delta on base, or when
// delta is nil the insert of its token at index 0. mu is held.
func (ty *typist) nextOp(base int64, delta ot.Delta) int64 {
	seq := int64(len(ty.sent) + 1)
	if delta == nil {
		delta = ot.Delta{ot.InsertText(ty.token(seq), nil)}
	}
	ty.sent = append(ty.sent, sentOp{base: base, delta: delta})
	return seq
}

// typeOne sends one new op, its token at index 0 of the newest version
// seen, and returns its seq.
func (ty *typist) typeOne() int64 {
	ty.t.Helper()
	ty.mu.Lock()
	base := max(ty.version, 0)
	ty.mu.Unlock()
	return ty.send(base, nil)
}

// send sends a new op, delta based on version base (nil: its token at
// index 0), and returns its seq.
func (ty *typist) send(base int64, delta ot.Delta) int64 {
	ty.t.Helper()
	ty.mu.Lock()
	ws := ty.ws
	seq := ty.nextOp(base, delta)
	frame := ty.opFrame(seq)
	ty.mu.Unlock()
	if err := ty.write(ws, frame); err != nil {
		ty.t.Fatalf("typist %s: send op %d: %v", ty.id, seq, err)
	}
	return seq
}

// resend sends again, in order, every op not acknowledged, with its seq,
// base version and delta (protocol: exactly once).
func (ty *typist) resend() {
	ty.t.Helper()
	ty.mu.Lock()
	ws := ty.ws
	var frames []map[string]any
	for seq := int64(1); seq <= int64(len(ty.sent)); seq++ {
		if _, ok := ty.acked[seq]; !ok {
			frames = append(frames, ty.opFrame(seq))
			delete(ty.answers, seq)
		}
	}
	ty.mu.Unlock()
	for _, f := range frames {
		if err := ty.write(ws, f); err != nil {
			ty.t.Fatalf("typist %s: resend: %v", ty.id, err)
		}
	}
}

// waitAcked waits until every op sent is acknowledged.
func (ty *typist) waitAcked() {
	ty.t.Helper()
	ty.mu.Lock()
	errsBefore := len(ty.errs)
	ty.mu.Unlock()
	ty.await(patience, "every op to be acknowledged", func() bool {
		return ty.ended || len(ty.errs) > errsBefore || len(ty.acked) == len(ty.sent)
	})
	ty.mu.Lock()
	defer ty.mu.Unlock()
	if len(ty.acked) != len(ty.sent) {
		ty.t.Fatalf("typist %s: %d of %d ops acknowledged, then the connection ended (%v, code %d) or an error came: %+v",
			ty.id, len(ty.acked), len(ty.sent), ty.ended, ty.code, ty.errs[errsBefore:])
	}
}

// waitEnded waits until the current connection ends and returns its close
// code (-1: no close frame).
func (ty *typist) waitEnded() int {
	ty.t.Helper()
	ty.await(patience, "the connection to end", func() bool { return ty.ended })
	ty.mu.Lock()
	defer ty.mu.Unlock()
	return ty.code
}

// setDeaf makes the typist ignore (deaf) or hear again what the server
// sends on its connections.
func (ty *typist) setDeaf(deaf bool) {
	ty.mu.Lock()
	defer ty.mu.Unlock()
	ty.deaf = deaf
}

// seenAt returns the version at which the typist heard op id committed.
func (ty *typist) seenAt(id opID) (int64, bool) {
	ty.mu.Lock()
	defer ty.mu.Unlock()
	v, ok := ty.seen[id]
	return v, ok
}

// ackedOps returns a copy of the acks: seq → version.
func (ty *typist) ackedOps() map[int64]int64 {
	ty.mu.Lock()
	defer ty.mu.Unlock()
	out := make(map[int64]int64, len(ty.acked))
	for s, v := range ty.acked {
		out[s] = v
	}
	return out
}

// lastVersion returns the newest version the typist has seen.
func (ty *typist) lastVersion() int64 {
	ty.mu.Lock()
	defer ty.mu.Unlock()
	return ty.version
}

// errors returns the error messages received.
func (ty *typist) errors() []collab.ErrorMessage {
	ty.mu.Lock()
	defer ty.mu.Unlock()
	return slices.Clone(ty.errs)
}

// sentCount returns how many distinct ops were sent.
func (ty *typist) sentCount() int {
	ty.mu.Lock()
	defer ty.mu.Unlock()
	return len(ty.sent)
}

// checkTypist checks the typist's ops against the history: each op in
// acked (seq → version) is there once, at that version, inserting its
// token and nothing else; and no op of the typist's that it never sent
// is there.
func checkTypist(t *testing.T, ty *typist, acked map[int64]int64, byOp map[opID]historyEdit, what string) {
	t.Helper()
	for seq, v := range acked {
		e, ok := byOp[opID{ty.id, seq}]
		if !ok {
			t.Errorf("typist %s: op %d, acknowledged as version %d %s, is not in the history", ty.id, seq, v, what)
			continue
		}
		if e.Version != v {
			t.Errorf("typist %s: op %d was acknowledged as version %d %s, but the history has it at version %d", ty.id, seq, v, what, e.Version)
		}
		if got := insertedText(e.Delta); got != ty.token(seq) || e.Delta.ChangeLength() != ot.UTF16Len(got) {
			t.Errorf("typist %s: op %d is stored as %s, want an insert of %q only", ty.id, seq, jsonOf(e.Delta), ty.token(seq))
		}
	}
	n := int64(ty.sentCount())
	for id := range byOp {
		if id.client == ty.id && (id.seq < 1 || id.seq > n) {
			t.Errorf("typist %s: the history holds its op %d, but it sent only %d", ty.id, id.seq, n)
		}
	}
}

// insertedText is the text a delta inserts.
func insertedText(d ot.Delta) string {
	var sb strings.Builder
	for _, op := range d {
		sb.WriteString(op.Insert)
	}
	return sb.String()
}

// checkTokens checks that the document holds every token of the typists'
// ops in the history exactly once: no acknowledged keystroke was lost or
// doubled in the text either.
func checkTokens(t *testing.T, text string, byOp map[opID]historyEdit, typists []*typist) {
	t.Helper()
	for _, ty := range typists {
		for id := range byOp {
			if id.client != ty.id {
				continue
			}
			if n := strings.Count(text, ty.token(id.seq)); n != 1 {
				t.Errorf("the document holds %q %d times, want once", ty.token(id.seq), n)
			}
		}
	}
}
