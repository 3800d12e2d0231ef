package client

import (
	"encoding/json"
	"math/rand/v2"
	"testing"

	"github.com/collabd/collabd/ot"
)

func ins(at int, text string) ot.Delta {
	if at == 0 {
		return ot.Delta{ot.InsertText(text, nil)}
	}
	return ot.Delta{ot.Retain(at, nil), ot.InsertText(text, nil)}
}

func del(at, n int) ot.Delta {
	if at == 0 {
		return ot.Delta{ot.Delete(n)}
	}
	return ot.Delta{ot.Retain(at, nil), ot.Delete(n)}
}

func jsonOf(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return "error: " + err.Error()
	}
	return string(b)
}

// anySize is a size check that takes every op.
func anySize(ot.Delta) error { return nil }

func mustDoc(t testing.TB, text string) ot.Doc {
	t.Helper()
	d, err := ot.DocFromDelta(ot.Delta{ot.InsertText(text, nil)})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TestStateThreeStates walks the three states: an edit goes in flight,
// later ones compose into the buffer, the ack sends the buffer as one op.
func TestStateThreeStates(t *testing.T) {
	s := state{doc: mustDoc(t, "ab\n")}
	if got := s.status(); got != Synchronized {
		t.Fatalf("status = %s, want %s", got, Synchronized)
	}
	p, err := s.local(ins(0, "x"), anySize)
	if err != nil || p == nil || p.seq != 1 || p.base != 0 {
		t.Fatalf("first local edit: op %+v, err %v; want seq 1 base 0 in flight", p, err)
	}
	if got := s.status(); got != AwaitingAck {
		t.Fatalf("status = %s, want %s", got, AwaitingAck)
	}
	for i, d := range []ot.Delta{ins(3, "y"), ins(4, "z")} {
		if p, err := s.local(d, anySize); err != nil || p != nil {
			t.Fatalf("local edit %d: op %+v, err %v; want it buffered", i+2, p, err)
		}
	}
	if got := s.status(); got != AwaitingAckWithBuffer {
		t.Fatalf("status = %s, want %s", got, AwaitingAckWithBuffer)
	}
	if got, want := jsonOf(s.buffer), `[{"retain":3},{"insert":"yz"}]`; got != want {
		t.Fatalf("buffer = %s, want %s (composed)", got, want)
	}
	// A remote edit arrives: everything moves past it.
	applied, err := s.remote(ins(0, "R"))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := jsonOf(applied), `[{"insert":"R"}]`; got != want {
		t.Errorf("remote as applied = %s, want %s (the server's insert goes first)", got, want)
	}
	if got, want := jsonOf(s.inflight.delta), `[{"retain":1},{"insert":"x"}]`; got != want {
		t.Errorf("in-flight after remote = %s, want %s", got, want)
	}
	if got, want := jsonOf(s.inflight.orig), `[{"insert":"x"}]`; got != want || s.inflight.base != 0 {
		t.Errorf("in-flight as sent = %s based on %d, want %s based on 0 (resent unchanged)", got, s.inflight.base, want)
	}
	if got, want := s.doc.Text(), "Rxabyz\n"; got != want {
		t.Errorf("doc = %q, want %q", got, want)
	}
	next := s.ack(2)
	if next == nil || next.seq != 2 || next.base != 2 || jsonOf(next.orig) != `[{"retain":4},{"insert":"yz"}]` {
		t.Fatalf("after ack the buffer goes: %+v", next)
	}
	if s.ack(3) != nil || s.status() != Synchronized || s.version != 3 {
		t.Fatalf("after the second ack: status %s version %d, want synchronized at 3", s.status(), s.version)
	}
}

// TestStateRemoteTies pins the priorities: at the same position the
// server's insert goes first, on the client as on the server.
func TestStateRemoteTies(t *testing.T) {
	s := state{doc: mustDoc(t, "ab\n")}
	s.local(ins(1, "c"), anySize) // in flight
	s.local(ins(2, "b"), anySize) // buffer: right after it
	applied, err := s.remote(ins(1, "s"))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := s.doc.Text(), "ascbb\n"; got != want {
		t.Fatalf("doc = %q, want %q", got, want)
	}
	if got, want := jsonOf(applied), `[{"retain":1},{"insert":"s"}]`; got != want {
		t.Errorf("applied = %s, want %s", got, want)
	}
	// The server, given s first and then our ops based on 0, gets the same.
	srv := mustDoc(t, "ab\n")
	srv, _ = srv.Apply(ins(1, "s"))
	srv, _ = srv.Apply(ot.Transform(ins(1, "s"), ins(1, "c"), true))
	srv, err = srv.Apply(s.buffer)
	if err != nil || srv.Text() != s.doc.Text() {
		t.Fatalf("server doc = %q (%v), client %q", srv.Text(), err, s.doc.Text())
	}
}

func TestStateRemoteDoesNotFit(t *testing.T) {
	s := state{doc: mustDoc(t, "ab\n")}
	s.local(ins(0, "x"), anySize)
	before := *s.inflight
	if _, err := s.remote(del(0, 10)); err == nil {
		t.Fatal("a remote edit past the end was applied")
	}
	if s.version != 0 || s.doc.Text() != "xab\n" || jsonOf(s.inflight.delta) != jsonOf(before.delta) {
		t.Fatalf("state changed by a failed remote edit: version %d doc %q", s.version, s.doc.Text())
	}
}

// TestStateConverges is ot.js's fuzz: a server and three clients exchange
// random edits in random interleavings, then all documents are equal.
func TestStateConverges(t *testing.T) {
	for range 50 {
		seed := rand.Uint64()
		if !t.Run("", func(t *testing.T) { simulate(t, seed) }) {
			t.Fatalf("seed %d", seed)
		}
	}
}

type simEdit struct {
	version int64
	delta   ot.Delta
	client  int
	seq     int64
}

func simulate(t *testing.T, seed uint64) {
	r := rand.New(rand.NewPCG(seed, 0))
	const n = 3
	server := mustDoc(t, "hello world\n")
	var log []simEdit
	clients := make([]state, n)
	toServer := make([][]simEdit, n) // ops sent, not yet read by the server
	toClient := make([][]simEdit, n) // edits (acks have client == i) not yet read
	for i := range clients {
		clients[i] = state{doc: server}
	}
	send := func(i int, p *pending) {
		if p != nil {
			toServer[i] = append(toServer[i], simEdit{p.base, p.orig, i, p.seq})
		}
	}
	serverStep := func(i int) {
		op := toServer[i][0]
		toServer[i] = toServer[i][1:]
		d := op.delta
		for _, e := range log[op.version:] {
			d = ot.Transform(e.delta, d, true)
		}
		doc, err := server.Apply(d)
		if err != nil {
			t.Fatalf("server: op %d of client %d does not fit: %v", op.seq, i, err)
		}
		server = doc
		e := simEdit{int64(len(log)) + 1, d, i, op.seq}
		log = append(log, e)
		for j := range toClient {
			toClient[j] = append(toClient[j], e)
		}
	}
	clientStep := func(i int) {
		e := toClient[i][0]
		toClient[i] = toClient[i][1:]
		s := &clients[i]
		if e.version != s.version+1 {
			t.Fatalf("client %d: edit %d at version %d", i, e.version, s.version)
		}
		if e.client == i {
			if s.inflight == nil || s.inflight.seq != e.seq {
				t.Fatalf("client %d: ack of seq %d, nothing in flight", i, e.seq)
			}
			send(i, s.ack(e.version))
			return
		}
		if _, err := s.remote(e.delta); err != nil {
			t.Fatalf("client %d: %v", i, err)
		}
	}
	for range 300 {
		i := r.IntN(n)
		switch k := r.IntN(10); {
		case k < 4:
			p, err := clients[i].local(randomEdit(r, clients[i].doc), anySize)
			if err != nil {
				t.Fatalf("client %d: local edit: %v", i, err)
			}
			send(i, p)
		case k < 7 && len(toServer[i]) > 0:
			serverStep(i)
		case len(toClient[i]) > 0:
			clientStep(i)
		}
	}
	for busy := true; busy; {
		busy = false
		for i := range n {
			for len(toServer[i]) > 0 {
				serverStep(i)
				busy = true
			}
			for len(toClient[i]) > 0 {
				clientStep(i)
				busy = true
			}
		}
	}
	want := jsonOf(server.Delta())
	for i := range clients {
		if got := jsonOf(clients[i].doc.Delta()); got != want || clients[i].status() != Synchronized {
			t.Fatalf("client %d (%s): doc %s, server %s", i, clients[i].status(), got, want)
		}
	}
}

// randomEdit makes an edit that fits doc: an insert, a delete or a format
// change, never touching the final "\n".
func randomEdit(r *rand.Rand, doc ot.Doc) ot.Delta {
	n := doc.Len() - 1 // editable units
	at := r.IntN(n + 1)
	switch k := r.IntN(4); {
	case k < 2 || n == at:
		words := []string{"a", "bc", "déf", "  ", "x\n", "ü"}
		return ins(at, words[r.IntN(len(words))])
	case k == 2:
		return del(at, 1+r.IntN(min(4, n-at)))
	default:
		var v any = true
		if r.IntN(2) == 0 {
			v = nil
		}
		d := ot.Delta{ot.Retain(1+r.IntN(min(4, n-at)), ot.Attributes{"bold": v})}
		if at > 0 {
			d = append(ot.Delta{ot.Retain(at, nil)}, d...)
		}
		return d
	}
}
