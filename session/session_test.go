package session

import (
	"context"
	"errors"
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/collabd/collabd/collab"
	"github.com/collabd/collabd/ot"
)

// randomEdit makes a random edit of a plain document of length n (BMP text
// only: the ot package's own tests cover astral characters).
func randomEdit(r *rand.Rand, n int) ot.Delta {
	pos := r.IntN(n) // never after the final "\n"
	d := ot.Delta{}
	if pos > 0 {
		d = append(d, ot.Retain(pos, nil))
	}
	switch k := r.IntN(10); {
	case k < 6:
		words := []string{"a", "bc", "def", " ", "é", "日本", "\n"}
		d = append(d, ot.InsertText(words[r.IntN(len(words))], nil))
	case k < 9 && pos < n-1:
		d = append(d, ot.Delete(1+r.IntN(min(3, n-1-pos))))
	default:
		if pos < n-1 {
			d = append(d, ot.Retain(1+r.IntN(n-1-pos), ot.Attributes{"bold": true}))
		} else {
			d = append(d, ot.InsertText("z", ot.Attributes{"italic": true}))
		}
	}
	return d
}

func TestRandomConcurrentEditsConverge(t *testing.T) {
	for seed := uint64(1); seed <= 100; seed++ {
		t.Run("", func(t *testing.T) {
			log := newMemLog()
			log.create("doc", "hello")
			s := newSim(t, log, testConfig(log), "doc", 3)
			r := rand.New(rand.NewPCG(seed, seed))
			for step := 0; step < 60; step++ {
				sp := s.peers[r.IntN(len(s.peers))]
				switch r.IntN(4) {
				case 0, 1:
					sp.edit(randomEdit(r, sp.doc.Len()))
				case 2:
					sp.drain() // the others stay behind: their edits are concurrent
				case 3:
					if sp.flying {
						sp.handle(sp.next(10 * time.Second))
					}
				}
			}
			s.converge("")
			if t.Failed() {
				t.Logf("seed %d", seed)
			}
		})
	}
}

func TestTypingAtTheSamePlaceKeepsBothInServerOrder(t *testing.T) {
	log := newMemLog()
	log.create("doc", "ab")
	s := newSim(t, log, testConfig(log), "doc", 2)
	a, b := s.peers[0], s.peers[1]
	a.typeAt(1, "X")
	a.waitFor("ack", a.synced) // X is committed first...
	b.typeAt(1, "Y")           // ...while b, not having seen it, types at the same place
	// On a tie the edit the server committed first goes first.
	s.converge("aXYb\n")
}

func TestResentOpIsAckedWithItsOriginalVersion(t *testing.T) {
	log := newMemLog()
	log.create("doc", "")
	s := newSim(t, log, testConfig(log), "doc", 1)
	a := s.peers[0]
	a.typeAt(0, "x")
	first := a.inflight
	a.waitFor("ack", a.synced)
	// The same op again (a client that lost the ack).
	if !a.p.Submit(context.Background(), 1, 0, first) {
		t.Fatal("submit refused")
	}
	m := a.next(10 * time.Second)
	ack, ok := m.(collab.Ack)
	if !ok || ack.Seq != 1 || ack.Version != 1 {
		t.Fatalf("resent op answered %#v, want ack seq 1 version 1", m)
	}
	if _, v := log.content("doc"); v != 1 {
		t.Fatalf("store has %d edits, want 1: the resent op was applied again", v)
	}
}

func TestStaleSeqIsRefused(t *testing.T) {
	log := newMemLog()
	log.create("doc", "")
	s := newSim(t, log, testConfig(log), "doc", 1)
	a := s.peers[0]
	a.typeAt(0, "x") // seq 1
	a.waitFor("ack", a.synced)
	a.seq++          // seq 2 is never sent
	a.typeAt(0, "y") // seq 3
	a.waitFor("ack", a.synced)
	// seq 2: below the client's newest committed seq, never committed
	// under it: stale, not a duplicate to ack.
	a.p.Submit(context.Background(), 2, 2, ot.Delta{ot.InsertText("zzz", nil)})
	m := a.next(10 * time.Second)
	if e, ok := m.(collab.ErrorMessage); !ok || e.Code != collab.BadMessage || e.Seq != 2 {
		t.Fatalf("stale seq 2 answered %#v, want error bad_message for seq 2", m)
	}
	// seq 1 again is a duplicate: acked with its original version.
	a.p.Submit(context.Background(), 1, 2, ot.Delta{ot.InsertText("zzz", nil)})
	if ack, ok := a.next(10 * time.Second).(collab.Ack); !ok || ack.Seq != 1 || ack.Version != 1 {
		t.Fatalf("resent seq 1 answered %#v, want its original ack (version 1)", ack)
	}
	if doc, v := log.content("doc"); v != 2 || doc.Text() != "yx\n" {
		t.Fatalf("store = %q at %d, want \"yx\\n\" at 2", doc.Text(), v)
	}
}

func TestStoreFailureAnswersUnavailableAndChangesNothing(t *testing.T) {
	log := newMemLog()
	log.create("doc", "")
	s := newSim(t, log, testConfig(log), "doc", 2)
	a, b := s.peers[0], s.peers[1]
	log.fail(collab.Errorf(collab.Unavailable, "connection refused"), 1)
	a.typeAt(0, "lost?")
	m := a.next(10 * time.Second)
	e, ok := m.(collab.ErrorMessage)
	if !ok || e.Code != collab.Unavailable || e.Seq != 1 {
		t.Fatalf("answer = %#v, want error unavailable for seq 1", m)
	}
	if _, v := log.content("doc"); v != 0 {
		t.Fatalf("store has %d edits after a failed append, want 0", v)
	}
	// The client resends with the same seq once the store is back.
	a.resend()
	a.waitFor("ack after resend", a.synced)
	if a.version != 1 {
		t.Fatalf("acked as version %d, want 1", a.version)
	}
	b.waitFor("the edit", func() bool { return b.version == 1 })
	if b.doc.Text() != "lost?\n" {
		t.Fatalf("peer b has %q", b.doc.Text())
	}
}

func TestAnotherWriterTakesTheVersion(t *testing.T) {
	log := newMemLog()
	log.create("doc", "abc")
	s := newSim(t, log, testConfig(log), "doc", 2)
	a, b := s.peers[0], s.peers[1]
	// Another server process commits version 1 behind this session's back.
	err := log.Append(context.Background(), "doc", []collab.Edit{{
		Version: 1, Client: "elsewhere", Seq: 1, Author: "u-x",
		Delta: ot.Delta{ot.InsertText(">", nil)},
	}})
	if err != nil {
		t.Fatal(err)
	}
	a.typeAt(3, "!") // based on version 0: conflicts, catches up, transforms
	s.converge(">abc!\n")
	if a.version != 2 || b.version != 2 {
		t.Fatalf("versions a=%d b=%d, want 2 (the other writer's edit is version 1)", a.version, b.version)
	}
}

func TestViewerMayNotEdit(t *testing.T) {
	log := newMemLog()
	log.create("doc", "")
	s := newSim(t, log, testConfig(log), "doc", 0)
	v := s.join("viewer", collab.Viewer)
	v.typeAt(0, "x")
	m := v.next(10 * time.Second)
	if e, ok := m.(collab.ErrorMessage); !ok || e.Code != collab.Forbidden {
		t.Fatalf("viewer's op answered %#v, want forbidden", m)
	}
	if _, n := log.content("doc"); n != 0 {
		t.Fatalf("store has %d edits", n)
	}
}

func TestInvalidOpsAreRefusedAndChangeNothing(t *testing.T) {
	log := newMemLog()
	log.create("doc", "abc")
	s := newSim(t, log, testConfig(log), "doc", 1)
	a := s.peers[0]
	for _, tc := range []struct {
		name  string
		base  int64
		delta ot.Delta
		code  collab.Code
	}{
		{"runs past the end", 0, ot.Delta{ot.Retain(10, nil), ot.InsertText("x", nil)}, collab.InvalidOp},
		{"deletes the final newline", 0, ot.Delta{ot.Retain(3, nil), ot.Delete(1)}, collab.InvalidOp},
		{"version ahead", 5, ot.Delta{ot.InsertText("x", nil)}, collab.VersionAhead},
	} {
		a.seq++
		a.p.Submit(context.Background(), a.seq, tc.base, tc.delta)
		m := a.next(10 * time.Second)
		if e, ok := m.(collab.ErrorMessage); !ok || e.Code != tc.code || e.Seq != a.seq {
			t.Errorf("%s: answered %#v, want error %s for seq %d", tc.name, m, tc.code, a.seq)
		}
	}
	if doc, n := log.content("doc"); n != 0 || doc.Text() != "abc\n" {
		t.Fatalf("store = %q at %d, want unchanged", doc.Text(), n)
	}
}

func TestDocumentSizeLimit(t *testing.T) {
	log := newMemLog()
	log.create("doc", "")
	cfg := testConfig(log)
	cfg.MaxDocLen = 10
	s := newSim(t, log, cfg, "doc", 1)
	a := s.peers[0]
	a.p.Submit(context.Background(), 1, 0, ot.Delta{ot.InsertText(strings.Repeat("x", 10), nil)})
	if e, ok := a.next(10 * time.Second).(collab.ErrorMessage); !ok || e.Code != collab.TooLarge {
		t.Fatalf("answer = %#v, want too_large", e)
	}
}

func TestSlowPeerIsDroppedWithoutDelayingOthers(t *testing.T) {
	log := newMemLog()
	log.create("doc", "")
	cfg := testConfig(log)
	cfg.QueueLen = 8
	s := newSim(t, log, cfg, "doc", 2)
	fast, slow := s.peers[0], s.peers[1]
	// slow never reads; fast types and must keep getting acks.
	for i := range 40 {
		fast.typeAt(0, "x")
		fast.waitFor("ack", fast.synced)
		if fast.version != int64(i+1) {
			t.Fatalf("fast at version %d, want %d", fast.version, i+1)
		}
	}
	// The slow peer's queue overflowed: its outbox ends with 1013.
	deadline := time.After(10 * time.Second)
	for !slow.closed {
		select {
		case _, ok := <-slow.p.Outbox():
			if !ok {
				slow.closed = true
				slow.code, _ = slow.p.CloseCode()
			}
		case <-deadline:
			t.Fatal("slow peer was not dropped")
		}
	}
	if slow.code != collab.CloseTryAgainLater {
		t.Fatalf("slow peer closed with %d, want %d", slow.code, collab.CloseTryAgainLater)
	}
}

func TestRejoinCatchesUpWithOwnCommittedOp(t *testing.T) {
	log := newMemLog()
	log.create("doc", "")
	s := newSim(t, log, testConfig(log), "doc", 2)
	a, b := s.peers[0], s.peers[1]
	b.typeAt(0, "b")
	b.waitFor("ack", b.synced)
	a.waitFor("b's edit", func() bool { return a.version == 1 })
	a.typeAt(0, "a") // committed as version 2, but a leaves before reading the ack
	b.waitFor("a's edit", func() bool { return b.version == 2 })
	a.leave()
	v := int64(1)
	a.rejoin(&v, collab.Editor)
	if a.flying || a.version != 2 {
		t.Fatalf("after rejoin: in flight %v, version %d; want the welcome's ops to ack seq 1 at version 2", a.inflight, a.version)
	}
	s.converge("ab\n")
}

func TestRejoinFarBehindGetsOpsAndKeepsPendingEdits(t *testing.T) {
	log := newMemLog()
	log.create("doc", "12")
	cfg := testConfig(log)
	cfg.Window = 4
	s := newSim(t, log, cfg, "doc", 2)
	a, b := s.peers[0], s.peers[1]
	a.leave()
	// b types far past the window while a is offline...
	for range 12 {
		b.typeAt(0, "b")
		b.waitFor("ack", b.synced)
	}
	// ...and a types offline, between "1" and "2".
	a.typeAt(1, "a")
	v := a.version
	a.rejoin(&v, collab.Editor)
	if a.storeWelcomes != 1 {
		t.Fatalf("welcome had no ops from the store (%d); a client this far behind needs ops to keep its edits", a.storeWelcomes)
	}
	s.converge(strings.Repeat("b", 12) + "1a2\n")
}

func TestPresenceFollowsEditsAndReachesLateJoiners(t *testing.T) {
	log := newMemLog()
	log.create("doc", "hello")
	s := newSim(t, log, testConfig(log), "doc", 2)
	a, b := s.peers[0], s.peers[1]
	a.p.SetPresence(context.Background(), &ot.Range{Index: 2, Length: 2}, nil)
	b.waitFor("a's presence", func() bool { r := b.others["peer0"]; return r != nil && r.Index == 2 })
	b.typeAt(0, "XYZ") // moves a's range to 5
	b.waitFor("ack", b.synced)
	c := s.join("late", collab.Editor)
	r := c.others["peer0"]
	if r == nil || *r != (ot.Range{Index: 5, Length: 2}) {
		t.Fatalf("late joiner sees a's range %v, want {5 2}", r)
	}
}

func TestRESTSubmitIsBroadcast(t *testing.T) {
	log := newMemLog()
	log.create("doc", "")
	s := newSim(t, log, testConfig(log), "doc", 1)
	a := s.peers[0]
	v, err := s.reg.Submit(context.Background(), "doc", Edit{Client: "rest-1", Seq: 1, User: collab.UserInfo{ID: "u-api"}, Base: 0, Delta: ot.Delta{ot.InsertText("api", nil)}})
	if err != nil || v != 1 {
		t.Fatalf("Submit = %d, %v; want version 1", v, err)
	}
	a.waitFor("the REST edit", func() bool { return a.version == 1 })
	if a.doc.Text() != "api\n" {
		t.Fatalf("peer has %q", a.doc.Text())
	}
}

func TestUnknownDocumentIsNotFound(t *testing.T) {
	log := newMemLog()
	reg := NewRegistry(testConfig(log))
	defer reg.Close(context.Background())
	_, err := reg.Join(context.Background(), "nope", JoinRequest{Client: "c", Role: collab.Editor})
	if !errors.Is(err, collab.ErrNotFound) {
		t.Fatalf("join = %v, want not found", err)
	}
}

func TestCloseDocumentDisconnectsWith4404(t *testing.T) {
	log := newMemLog()
	log.create("doc", "")
	s := newSim(t, log, testConfig(log), "doc", 2)
	s.reg.CloseDocument("doc", collab.CloseDocumentGone, "document deleted")
	for _, sp := range s.peers {
		sp.waitFor("close", func() bool { return sp.closed })
		if sp.code != collab.CloseDocumentGone {
			t.Errorf("%s closed with %d, want 4404", sp.name, sp.code)
		}
	}
}

func TestShutdownCommitsAcceptedOpsAndClosesWith1001(t *testing.T) {
	log := newMemLog()
	log.create("doc", "")
	s := newSim(t, log, testConfig(log), "doc", 1)
	a := s.peers[0]
	block := make(chan struct{})
	log.mu.Lock()
	log.blockNext = block
	log.mu.Unlock()
	a.typeAt(0, "x") // in flight while the server shuts down
	closed := make(chan error, 1)
	go func() { closed <- s.reg.Close(context.Background()) }()
	close(block)
	if err := <-closed; err != nil {
		t.Fatal(err)
	}
	a.waitFor("close", func() bool { return a.closed })
	if a.code != collab.CloseGoingAway {
		t.Fatalf("closed with %d, want 1001", a.code)
	}
	if doc, n := log.content("doc"); n != 1 || doc.Text() != "x\n" {
		t.Fatalf("store = %q at %d: the accepted op was lost at shutdown", doc.Text(), n)
	}
	if snap, _ := log.SnapshotAt(context.Background(), "doc", 1<<40); snap.Version != 1 {
		t.Fatalf("newest snapshot is version %d, want a final checkpoint at 1", snap.Version)
	}
}

func TestSessionsRetireAndLeaveNoGoroutines(t *testing.T) {
	log := newMemLog()
	cfg := testConfig(log)
	cfg.IdleTimeout = 20 * time.Millisecond
	reg := NewRegistry(cfg)
	defer reg.Close(context.Background())
	before := runtime.NumGoroutine()
	for i := range 50 {
		id := collab.DocumentID("doc" + string(rune('a'+i%26)) + string(rune('a'+i/26)))
		log.create(id, "x")
		p := joinEditor(t, reg, id, "c")
		<-p.Outbox() // welcome
		p.Submit(context.Background(), 1, 0, ot.Delta{ot.InsertText("y", nil)})
		<-p.Outbox() // ack
		p.Leave()
	}
	deadline := time.Now().Add(20 * time.Second)
	for reg.Len() > 0 || runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			t.Fatalf("after churn: %d sessions open, %d goroutines (was %d)", reg.Len(), runtime.NumGoroutine(), before)
		}
		time.Sleep(10 * time.Millisecond) // polling a condition, bounded by the deadline
	}
	for i := range 50 {
		id := collab.DocumentID("doc" + string(rune('a'+i%26)) + string(rune('a'+i/26)))
		if snap, _ := log.SnapshotAt(context.Background(), id, 1<<40); snap.Version != 1 {
			t.Fatalf("%s: newest snapshot %d, want a checkpoint at retirement", id, snap.Version)
		}
	}
}

func TestAckFrameIsTheAckMessage(t *testing.T) {
	got := string(ackFrame(7, 1234567890123))
	want := mustJSON(collab.Ack{Type: collab.TypeAck, Seq: 7, Version: 1234567890123})
	if got != want {
		t.Fatalf("ackFrame = %s, want %s", got, want)
	}
}

func TestPipelinedOpsFromOneClient(t *testing.T) {
	log := newMemLog()
	log.create("doc", "")
	s := newSim(t, log, testConfig(log), "doc", 2)
	a, b := s.peers[0], s.peers[1]
	// a sends 50 ops without waiting, each based on the version its
	// previous one will get.
	for i := range 50 {
		d := ot.Delta{ot.InsertText("x", nil)}
		if i > 0 {
			d = ot.Delta{ot.Retain(i, nil), ot.InsertText("x", nil)}
		}
		if !a.p.Submit(context.Background(), int64(i+1), int64(i), d) {
			t.Fatal("submit refused")
		}
	}
	for i := range 50 {
		m := a.next(10 * time.Second)
		if ack, ok := m.(collab.Ack); !ok || ack.Seq != int64(i+1) || ack.Version != int64(i+1) {
			t.Fatalf("answer %d = %#v, want ack seq %d version %d", i, m, i+1, i+1)
		}
	}
	b.waitFor("all of a's edits", func() bool { return b.version == 50 })
	if got := b.doc.Text(); got != strings.Repeat("x", 50)+"\n" {
		t.Fatalf("b has %q", got)
	}
	// An op based on another client's uncommitted version is refused.
	block := make(chan struct{})
	log.mu.Lock()
	log.blockNext = block
	log.mu.Unlock()
	a.p.Submit(context.Background(), 51, 50, ot.Delta{ot.InsertText("y", nil)}) // tentative version 51
	b.p.Submit(context.Background(), 1, 51, ot.Delta{ot.InsertText("z", nil)})  // b can't have seen 51
	if e, ok := b.next(10 * time.Second).(collab.ErrorMessage); !ok || e.Code != collab.VersionAhead {
		t.Fatalf("b's op on a's uncommitted version answered %#v, want version_ahead", e)
	}
	close(block)
}

// TestPipelinedOpOnARefusedOp: a client pipelines, basing each op on the
// version its previous op will take. Its second op is refused, so its
// third, built on the second, must be refused too, even when another
// client's edit happens to make the version count come out right.
func TestPipelinedOpOnARefusedOp(t *testing.T) {
	log := newMemLog()
	log.create("doc", "")
	s := newSim(t, log, testConfig(log), "doc", 2)
	a, b := s.peers[0], s.peers[1]
	b.typeAt(0, "R") // version 1
	b.waitFor("ack", b.synced)
	block := make(chan struct{})
	defer close(block)
	log.mu.Lock()
	log.blockNext = block
	log.mu.Unlock()
	// a's answers, skipping b's edit.
	answer := func() any {
		for {
			m := a.next(10 * time.Second)
			if _, ok := m.(collab.OpMessage); !ok {
				return m
			}
		}
	}
	// a has not seen version 1: its "a" is based on 0 and will be version 2.
	a.p.Submit(context.Background(), 1, 0, ot.Delta{ot.InsertText("a", nil)})
	a.p.Submit(context.Background(), 2, 1, ot.Delta{ot.Delete(5)}) // longer than the document
	if e, ok := answer().(collab.ErrorMessage); !ok || e.Seq != 2 || e.Code != collab.InvalidOp {
		t.Fatalf("op 2 answered %#v, want invalid_op", e)
	}
	// a guessed that op 2 would be version 2; version 2 will be its op 1.
	a.p.Submit(context.Background(), 3, 2, ot.Delta{ot.InsertText("b", nil)})
	if e, ok := answer().(collab.ErrorMessage); !ok || e.Seq != 3 || e.Code != collab.VersionAhead {
		t.Fatalf("op 3 answered %#v, want version_ahead", e)
	}
	block <- struct{}{}
	if ack, ok := answer().(collab.Ack); !ok || ack.Seq != 1 || ack.Version != 2 {
		t.Fatalf("op 1 answered %#v, want ack version 2", ack)
	}
	if got := storedDoc(t, log, "doc").Text(); got != "Ra\n" {
		t.Fatalf("stored %q, want %q: a refused op changed the document", got, "Ra\n")
	}
}

func TestOpBasedBeforeTheWindowIsTransformedPastEveryLaterEdit(t *testing.T) {
	log := newMemLog()
	log.create("doc", "hello")
	cfg := testConfig(log)
	cfg.Window = 4
	s := newSim(t, log, cfg, "doc", 2)
	a, b := s.peers[0], s.peers[1]
	for range 10 {
		a.typeAt(0, "A")
		a.waitFor("ack", a.synced)
	}
	// b never read a's edits: its op is based on version 0, far behind
	// the window of 4, so the session reads versions 1..6 from the store.
	b.p.Submit(context.Background(), 1, 0, ot.Delta{ot.Retain(5, nil), ot.InsertText("!", nil)})
	a.waitFor("b's edit", func() bool { return a.version == 11 })
	if got := a.doc.Text(); got != "AAAAAAAAAAhello!\n" {
		t.Fatalf("text = %q: b's insert after hello landed in the wrong place", got)
	}
}

// TestSessionRetiresAfterItsLastPeerIsDropped runs on synctest's fake
// clock: the idle timer fires while a peer is connected, then the peer is
// dropped (too slow) by a commit, with no request after it; the session
// must still retire an idle timeout later.
func TestSessionRetiresAfterItsLastPeerIsDropped(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		log := newMemLog()
		log.create("doc", "")
		cfg := testConfig(log)
		cfg.QueueLen = 4
		cfg.IdleTimeout = time.Minute
		reg := NewRegistry(cfg)
		defer reg.Close(context.Background())
		slow := joinEditor(t, reg, "doc", "slow")
		time.Sleep(2 * time.Minute) // the idle timer fires while the peer is here
		// The welcome and three ops fill the queue; the fourth's commit
		// drops the peer.
		for i := range 4 {
			if _, err := reg.Submit(context.Background(), "doc", Edit{Client: "rest", Seq: int64(i + 1), User: collab.UserInfo{ID: "u"}, Base: int64(i), Delta: ot.Delta{ot.InsertText("x", nil)}}); err != nil {
				t.Fatal(err)
			}
		}
		// Submit returns at the ack, which comes before the broadcast: let
		// the session finish offering the fourth op before reading, or the
		// reads would make room for it.
		synctest.Wait()
		for range slow.Outbox() { // closed when the peer was dropped
		}
		if code, _ := slow.CloseCode(); code != collab.CloseTryAgainLater {
			t.Fatalf("slow peer closed with %d, want 1013", code)
		}
		time.Sleep(2 * time.Minute)
		synctest.Wait()
		if reg.Len() != 0 {
			t.Fatal("the session never retired after its last peer was dropped")
		}
	})
}
