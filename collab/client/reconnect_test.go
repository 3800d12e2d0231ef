package client

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/collabd/collabd/collab"
	"github.com/collabd/collabd/ot"
)

// Connection loss, refusals and a misbehaving server: the client keeps
// its edits, resends them exactly once, and ends only when told to.

// TestReconnectResendsSameSeq: the connection dies with an op in flight;
// the client resends it with the same seq, base version and delta. The
// server commits the first copy late: the client learns of it from the
// broadcast of its own edit to its new connection (then the duplicate's ack
// is stale), or, from a server that broadcasts to no connection of the
// author, from the duplicate's ack.
func TestReconnectResendsSameSeq(t *testing.T) {
	for _, excludeClient := range []bool{false, true} {
		t.Run(fmt.Sprintf("excludeClient=%v", excludeClient), func(t *testing.T) {
			s := newFakeServer(t, "")
			s.set(func(s *fakeServer) { s.excludeClient = excludeClient })
			testReconnectResendsSameSeq(t, s)
		})
	}
}

func testReconnectResendsSameSeq(t *testing.T, s *fakeServer) {
	a, b := dialTest(t, s, "a"), dialTest(t, s, "b")
	s.hold("a")
	submit(t, a, ins(0, "x"))
	eventually(t, "the op to arrive", func() bool { return s.queued("a") == 1 })
	submit(t, b, ins(0, "b")) // a's op will need transforming
	synced(t, b)
	eventually(t, "a to see b's edit", func() bool { return a.Version() == 1 })
	s.drop("a", 0)
	eventually(t, "the resent op to arrive", func() bool { return s.queued("a") == 2 })
	if h := s.hellosFrom("a"); len(h) != 2 || h[1].version == nil || *h[1].version != 1 {
		t.Fatalf("hellos = %+v, want the second with version 1", h)
	}
	s.release("a") // the first copy commits (its ack is lost), the second is a duplicate
	synced(t, a)
	ops := s.opsFrom("a")
	if len(ops) != 2 || ops[0] != ops[1] || ops[0].seq != 1 || ops[0].version != 0 {
		t.Fatalf("server received %+v, want the same op (seq 1, version 0) twice", ops)
	}
	eventually(t, "b to get a's edit", func() bool { return b.Version() == 2 })
	wantText(t, s, "bx\n", a, b)
}

// TestWelcomeOpsHoldOwnOp: the op commits but the ack is lost with the
// connection; the welcome's ops carry it under the client's id, and the
// client takes that as the ack instead of resending.
func TestWelcomeOpsHoldOwnOp(t *testing.T) {
	s := newFakeServer(t, "")
	a, b := dialTest(t, s, "a"), dialTest(t, s, "b")
	s.set(func(s *fakeServer) { s.dropAck["a"] = true; s.reject = 503 })
	submit(t, a, ins(0, "x"))
	eventually(t, "a's op to commit", func() bool { return s.version() == 1 })
	eventually(t, "a to notice", func() bool { return !a.Connected() })
	eventually(t, "b to get a's edit", func() bool { return b.Version() == 1 })
	submit(t, b, ins(1, "b")) // committed after a's, before a returns
	synced(t, b)
	s.set(func(s *fakeServer) { s.reject = 0 })
	synced(t, a)
	if ops := s.opsFrom("a"); len(ops) != 1 {
		t.Fatalf("server received %d ops from a, want 1 (no resend): %+v", len(ops), ops)
	}
	wantText(t, s, "xb\n", a, b)
}

// TestOfflineEdits: edits made while the server is unreachable are kept,
// transformed past what others did meanwhile, and sent after reconnecting.
func TestOfflineEdits(t *testing.T) {
	s := newFakeServer(t, "12")
	a, b := dialTest(t, s, "a"), dialTest(t, s, "b")
	s.set(func(s *fakeServer) { s.reject = 503 })
	s.drop("a", 0)
	eventually(t, "a to be offline", func() bool { return !a.Connected() })
	submit(t, a, ins(0, "a"))
	submit(t, a, ins(3, "c"))
	submit(t, a, del(1, 1))
	submit(t, b, ins(1, "b"))
	synced(t, b)
	if !a.Pending() || a.Text() != "a2c\n" {
		t.Fatalf("offline: pending %v text %q, want pending and %q", a.Pending(), a.Text(), "a2c\n")
	}
	s.set(func(s *fakeServer) { s.reject = 0 })
	synced(t, a)
	eventually(t, "b to get a's edits", func() bool { return b.Version() == s.version() })
	wantText(t, s, "ab2c\n", a, b)
}

// TestCloseCodes: 1008, 4403 and 4404 end the client; 1001, 1011 and 1013
// make it reconnect.
func TestCloseCodes(t *testing.T) {
	for _, tc := range []struct {
		code  int
		ends  bool
		match error
	}{
		{collab.CloseDocumentGone, true, ErrDocumentDeleted},
		{collab.CloseAccessRevoked, true, ErrAccessRevoked},
		{collab.ClosePolicy, true, &CloseError{Code: collab.ClosePolicy}},
		{collab.CloseGoingAway, false, nil},
		{collab.CloseInternal, false, nil},
		{collab.CloseTryAgainLater, false, nil},
	} {
		t.Run(fmt.Sprint(tc.code), func(t *testing.T) {
			s := newFakeServer(t, "")
			a := dialTest(t, s, "a")
			s.drop("a", tc.code)
			if !tc.ends {
				eventually(t, "a to reconnect", func() bool { return len(s.hellosFrom("a")) == 2 && a.Connected() })
				submit(t, a, ins(0, "x"))
				synced(t, a)
				return
			}
			select {
			case <-a.Done():
			case <-time.After(patience):
				t.Fatal("the client did not stop")
			}
			if err := a.Err(); !errors.Is(err, tc.match) {
				t.Fatalf("err = %v, want %v", err, tc.match)
			}
			if err := a.Submit(ins(0, "x")); !errors.Is(err, tc.match) {
				t.Errorf("submit after the end = %v, want %v", err, tc.match)
			}
			if err := a.WaitSynced(context.Background()); !errors.Is(err, tc.match) {
				t.Errorf("wait synced after the end = %v, want %v", err, tc.match)
			}
			if n := len(s.hellosFrom("a")); n != 1 {
				t.Errorf("%d hellos, want 1 (no reconnect)", n)
			}
		})
	}
}

// TestSilentServer: a connection on which the server answers nothing, not
// even pings, is given up after two ping intervals and redialled.
func TestSilentServer(t *testing.T) {
	s := newFakeServer(t, "")
	a := dialTest(t, s, "a", func(o *Options) { o.PingInterval = 5 * time.Millisecond })
	s.set(func(s *fakeServer) { s.deaf["a"] = true })
	eventually(t, "a to redial", func() bool { return len(s.hellosFrom("a")) >= 2 })
	s.set(func(s *fakeServer) { s.deaf["a"] = false })
	submit(t, a, ins(0, "x"))
	synced(t, a)
	wantText(t, s, "x\n", a)
}

// TestRetryUnavailable: unavailable and rate_limited resend the same op
// after a backoff.
func TestRetryUnavailable(t *testing.T) {
	s := newFakeServer(t, "")
	a := dialTest(t, s, "a")
	s.set(func(s *fakeServer) { s.failNext["a"] = []collab.Code{collab.Unavailable, collab.RateLimited} })
	submit(t, a, ins(0, "x"))
	submit(t, a, ins(1, "y")) // buffered meanwhile
	synced(t, a)
	ops := s.opsFrom("a")
	if len(ops) != 4 || ops[0] != ops[1] || ops[1] != ops[2] || ops[3].seq != 2 {
		t.Fatalf("server received %+v, want seq 1 three times, then seq 2", ops)
	}
	wantText(t, s, "xy\n", a)
}

// TestRefusedOpResyncs: an op refused for good is dropped with its buffer,
// reported, and the client fetches the document again (hello with version
// null); the app hears of the replaced document through OnRemote.
func TestRefusedOpResyncs(t *testing.T) {
	s := newFakeServer(t, "abc")
	var mu sync.Mutex
	var errs []error
	var remotes []Remote
	a := dialTest(t, s, "a", func(o *Options) {
		o.OnError = func(err error) { mu.Lock(); errs = append(errs, err); mu.Unlock() }
		o.OnRemote = func(r Remote) { mu.Lock(); remotes = append(remotes, r); mu.Unlock() }
	})
	s.set(func(s *fakeServer) { s.failNext["a"] = []collab.Code{collab.InvalidOp} })
	submit(t, a, ins(0, "x"))
	eventually(t, "the resync", func() bool { return len(s.hellosFrom("a")) == 2 && a.Connected() })
	synced(t, a)
	if h := s.hellosFrom("a")[1]; h.version != nil {
		t.Errorf("resync hello version = %d, want null", *h.version)
	}
	wantText(t, s, "abc\n", a)
	// Callbacks run on their own goroutine, possibly after synced returns.
	eventually(t, "the error and the snapshot reported", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(errs) > 0 && len(remotes) > 0
	})
	mu.Lock()
	defer mu.Unlock()
	if len(errs) != 1 || collab.ErrorCode(errs[0]) != collab.InvalidOp {
		t.Errorf("OnError got %v, want one invalid_op", errs)
	}
	if len(remotes) != 1 || remotes[0].Doc.Text() != "abc\n" {
		t.Fatalf("OnRemote got %+v, want the snapshot", remotes)
	}
	before := mustDoc(t, "xabc\n")
	if after, err := before.Apply(remotes[0].Delta); err != nil || after.Text() != "abc\n" {
		t.Errorf("the snapshot's delta %s does not turn the old document into the new: %q, %v", jsonOf(remotes[0].Delta), after.Text(), err)
	}
	// Later edits work.
	submit(t, a, ins(3, "d"))
	synced(t, a)
	if got := s.opsFrom("a"); got[len(got)-1].seq != 2 {
		t.Errorf("after a refused seq 1 the next op has seq %d, want 2", got[len(got)-1].seq)
	}
	wantText(t, s, "abcd\n", a)
}

// TestMisbehavingServer: garbage from the server drops the connection (no
// panic), and the client recovers by reconnecting.
func TestMisbehavingServer(t *testing.T) {
	s := newFakeServer(t, "")
	var mu sync.Mutex
	var errs []error
	a := dialTest(t, s, "a", func(o *Options) {
		o.OnError = func(err error) { mu.Lock(); errs = append(errs, err); mu.Unlock() }
	})
	frames := []string{
		`not json`,
		`{"type":"ack","seq":7,"version":1}`,
		`{"type":"op","version":5,"delta":[{"insert":"x"}],"client":"z","seq":1,"user":{"id":"u"}}`,
		`{"type":"op","version":1,"delta":[{"delete":9}],"client":"z","seq":1,"user":{"id":"u"}}`,
		`{"type":"welcome","version":0,"ops":[],"you":{"client":"a","user":{"id":"u"},"role":"editor"},"peers":[]}`,
		`{"type":"presence","client":"z","user":{"id":"u"},"range":{"index":-1,"length":0}}`,
	}
	for i, f := range frames {
		s.inject("a", websocket.TextMessage, f)
		eventually(t, fmt.Sprintf("reconnect %d after %s", i+1, f), func() bool {
			return len(s.hellosFrom("a")) == i+2 && a.Connected()
		})
	}
	s.inject("a", websocket.BinaryMessage, `{}`)
	eventually(t, "a reconnect after a binary frame", func() bool { return len(s.hellosFrom("a")) == len(frames)+2 && a.Connected() })
	// A refusal of something else is reported, the connection stays.
	s.inject("a", websocket.TextMessage, `{"type":"error","code":"bad_message","message":"what"}`)
	eventually(t, "the error reported", func() bool { mu.Lock(); defer mu.Unlock(); return len(errs) > 0 })
	submit(t, a, ins(0, "ok"))
	synced(t, a)
	wantText(t, s, "ok\n", a)
}

// TestServerBehind: a server that lost edits (restored from a backup)
// refuses hello with version_ahead; the client starts again from its
// snapshot, dropping what the server no longer has.
func TestServerBehind(t *testing.T) {
	s := newFakeServer(t, "")
	var mu sync.Mutex
	var errs []error
	a := dialTest(t, s, "a", func(o *Options) {
		o.OnError = func(err error) { mu.Lock(); errs = append(errs, err); mu.Unlock() }
	})
	submit(t, a, ins(0, "lost"))
	synced(t, a)
	s.set(func(s *fakeServer) {
		s.edits, s.doc = nil, ot.NewDoc()
		clear(s.committed)
	})
	s.drop("a", collab.CloseGoingAway)
	eventually(t, "the resync", func() bool { return len(s.hellosFrom("a")) == 3 && a.Connected() })
	if h := s.hellosFrom("a"); h[1].version == nil || *h[1].version != 1 || h[2].version != nil {
		t.Errorf("hellos = %+v, want version 1, then null", h)
	}
	wantText(t, s, "\n", a)
	mu.Lock()
	defer mu.Unlock()
	if len(errs) != 1 || collab.ErrorCode(errs[0]) != collab.VersionAhead {
		t.Errorf("OnError got %v, want one version_ahead", errs)
	}
}
