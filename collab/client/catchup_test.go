package client

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/collabd/collabd/collab"
)

// A welcome that brings the whole document while edits are pending, and
// ops over the server's message limit.

// errorLog collects what OnError and OnAck report.
type errorLog struct {
	mu   sync.Mutex
	errs []error
	acks []int64 // seqs
}

func (l *errorLog) options(o *Options) {
	o.OnError = func(err error) { l.mu.Lock(); l.errs = append(l.errs, err); l.mu.Unlock() }
	o.OnAck = func(seq, _ int64) { l.mu.Lock(); l.acks = append(l.acks, seq); l.mu.Unlock() }
}

// settled waits until n errors and acks together came (callbacks run on
// their own goroutine), and a little longer for any more.
func (l *errorLog) settled(t *testing.T, n int) ([]error, []int64) {
	t.Helper()
	count := func() int { l.mu.Lock(); defer l.mu.Unlock(); return len(l.errs) + len(l.acks) }
	eventually(t, "the callbacks", func() bool { return count() >= n })
	time.Sleep(20 * time.Millisecond)
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]error(nil), l.errs...), append([]int64(nil), l.acks...)
}

// goOffline drops a's connection and keeps it from coming back until the
// returned function is called.
func goOffline(t *testing.T, s *fakeServer, a *Client) (online func()) {
	t.Helper()
	s.set(func(s *fakeServer) { s.reject = http.StatusServiceUnavailable })
	s.drop(a.ID(), 0)
	eventually(t, string(a.ID())+" to be offline", func() bool { return !a.Connected() })
	return func() { s.set(func(s *fakeServer) { s.reject = 0 }) }
}

// TestSnapshotWelcomeCatchesUpThroughREST: a client comes back with edits
// pending and the server sends the document, not ops. The client reads
// the edits it missed from the REST history, with its own credentials,
// rebases its edits onto them and sends them: nothing is lost or reported.
func TestSnapshotWelcomeCatchesUpThroughREST(t *testing.T) {
	s := newFakeServer(t, "12")
	var log errorLog
	a := dialTest(t, s, "a", log.options, func(o *Options) {
		o.Header = http.Header{"Authorization": {"Bearer secret-a"}}
	})
	b := dialTest(t, s, "b")
	online := goOffline(t, s, a)
	submit(t, a, ins(0, "a"))
	submit(t, a, ins(3, "c")) // buffered behind the first
	for range 3 {
		submit(t, b, ins(1, "b"))
		synced(t, b) // three edits, not one and a buffer
	}
	s.set(func(s *fakeServer) { s.snapshot = true; s.restPage = 2 })
	online()
	synced(t, a)
	eventually(t, "b to get a's edits", func() bool { return b.Version() == s.version() })
	wantText(t, s, "a1bbb2c\n", a, b)
	errs, acks := log.settled(t, 2)
	if len(errs) != 0 {
		t.Errorf("OnError got %v, want nothing", errs)
	}
	if len(acks) != 2 {
		t.Errorf("OnAck got seqs %v, want 1 and 2", acks)
	}
	if ops := s.opsFrom("a"); len(ops) != 2 || ops[0].seq != 1 || ops[1].seq != 2 {
		t.Errorf("server received %+v from a, want seq 1 and seq 2 once each", ops)
	}
	s.set(func(s *fakeServer) {
		if s.restGets != 2 || s.restAuth[0] != "Bearer secret-a" || s.restAuth[1] != "Bearer secret-a" {
			t.Errorf("REST requests %d with Authorization %q, want two pages with a's header", s.restGets, s.restAuth)
		}
	})
}

// TestSnapshotWelcomeOwnOpCommitted: the in-flight op was committed but its
// ack lost; the history read after a snapshot welcome holds it under the
// client's id, which is its ack: OnAck fires, nothing is resent or lost.
func TestSnapshotWelcomeOwnOpCommitted(t *testing.T) {
	s := newFakeServer(t, "")
	var log errorLog
	a := dialTest(t, s, "a", log.options)
	b := dialTest(t, s, "b")
	s.set(func(s *fakeServer) { s.dropAck["a"] = true; s.reject = http.StatusServiceUnavailable })
	submit(t, a, ins(0, "x"))
	eventually(t, "a's op to commit", func() bool { return s.version() == 1 })
	eventually(t, "a to notice", func() bool { return !a.Connected() })
	eventually(t, "b to get a's edit", func() bool { return b.Version() == 1 })
	submit(t, b, ins(1, "b"))
	synced(t, b)
	s.set(func(s *fakeServer) { s.snapshot = true; s.reject = 0 })
	synced(t, a)
	wantText(t, s, "xb\n", a, b)
	errs, acks := log.settled(t, 1)
	if len(errs) != 0 || len(acks) != 1 || acks[0] != 1 {
		t.Errorf("OnError got %v and OnAck seqs %v, want no error and seq 1 acked", errs, acks)
	}
	if ops := s.opsFrom("a"); len(ops) != 1 {
		t.Errorf("server received %d ops from a, want 1 (no resend)", len(ops))
	}
}

// TestSnapshotWelcomeCatchUpFails: when the history cannot be had (REST
// refuses, or it ends early), the client falls back to the snapshot and
// reports its pending edits dropped; it goes on from the server's document.
func TestSnapshotWelcomeCatchUpFails(t *testing.T) {
	for name, breakREST := range map[string]func(s *fakeServer){
		"refused":   func(s *fakeServer) { s.restStatus = http.StatusForbidden },
		"truncated": func(s *fakeServer) { s.restEnd = 1 },
	} {
		t.Run(name, func(t *testing.T) {
			s := newFakeServer(t, "12")
			var log errorLog
			a := dialTest(t, s, "a", log.options)
			b := dialTest(t, s, "b")
			online := goOffline(t, s, a)
			submit(t, a, ins(0, "lost"))
			submit(t, b, ins(1, "b"))
			submit(t, b, ins(1, "b"))
			synced(t, b)
			s.set(func(s *fakeServer) { s.snapshot = true; breakREST(s) })
			online()
			synced(t, a)
			wantText(t, s, "1bb2\n", a, b)
			errs, acks := log.settled(t, 1)
			if len(errs) != 1 || !errors.Is(errs[0], ErrEditsDropped) || len(acks) != 0 {
				t.Errorf("OnError got %v, OnAck %v, want one ErrEditsDropped and no ack", errs, acks)
			}
			submit(t, a, ins(0, "ok"))
			synced(t, a)
			wantText(t, s, "ok1bb2\n", a)
		})
	}
}

func TestOpsURL(t *testing.T) {
	for live, want := range map[string]string{
		"ws://h:1/v1/documents/d1/live":                  "http://h:1/v1/documents/d1/ops",
		"wss://h/base/v1/documents/d1/live?x=1":          "https://h/base/v1/documents/d1/ops",
		"wss://h/v1/documents/d1/live?access_token=t%2B": "https://h/v1/documents/d1/ops?access_token=t%2B",
		"ws://h/v1/documents/d1/socket":                  "",
	} {
		u, err := url.Parse(live)
		if err != nil {
			t.Fatal(err)
		}
		if got := opsURL(u); got != want {
			t.Errorf("opsURL(%s) = %q, want %q", live, got, want)
		}
	}
}

// TestCatchUpBounded: a history that does not answer costs the pending
// edits after CatchUpTimeout, not the client; and Close does not wait for
// it.
func TestCatchUpBounded(t *testing.T) {
	for _, closing := range []bool{false, true} {
		t.Run(map[bool]string{false: "timeout", true: "close"}[closing], func(t *testing.T) {
			s := newFakeServer(t, "")
			var log errorLog
			timeout := 50 * time.Millisecond
			if closing {
				timeout = time.Hour
			}
			a := dialTest(t, s, "a", log.options, func(o *Options) { o.CatchUpTimeout = timeout })
			b := dialTest(t, s, "b")
			online := goOffline(t, s, a)
			submit(t, a, ins(0, "lost"))
			submit(t, b, ins(0, "b"))
			synced(t, b)
			stall := make(chan struct{})
			defer close(stall)
			s.set(func(s *fakeServer) { s.snapshot = true; s.restStall = stall })
			online()
			eventually(t, "the catch-up to start", func() bool {
				var n int
				s.set(func(s *fakeServer) { n = s.restGets })
				return n > 0
			})
			if closing {
				start := time.Now()
				a.Close()
				if d := time.Since(start); d > time.Second {
					t.Errorf("Close took %v during a catch-up", d)
				}
				if !errors.Is(a.Err(), ErrClosed) {
					t.Errorf("err = %v, want ErrClosed", a.Err())
				}
				return
			}
			synced(t, a)
			wantText(t, s, "b\n", a, b)
			errs, _ := log.settled(t, 1)
			if len(errs) != 1 || !errors.Is(errs[0], ErrEditsDropped) || !errors.Is(errs[0], context.DeadlineExceeded) {
				t.Errorf("OnError got %v, want one ErrEditsDropped for the timeout", errs)
			}
		})
	}
}

// TestOpOverMessageLimitRefused: Submit refuses, before sending, an edit
// whose op would be over the server's message limit (1 MiB by default),
// also when it would only join a buffer that then grows too large; the
// client goes on.
func TestOpOverMessageLimitRefused(t *testing.T) {
	s := newFakeServer(t, "")
	a := dialTest(t, s, "a")
	big := strings.Repeat("x", 1<<20)
	if err := a.Submit(ins(0, big)); !errors.Is(err, ErrOpTooLarge) {
		t.Fatalf("submit of a 1 MiB insert = %v, want ErrOpTooLarge", err)
	}
	if a.Text() != "\n" || a.Pending() {
		t.Fatalf("after the refusal: text of %d units, pending %v; want nothing changed", len(a.Text()), a.Pending())
	}
	half := strings.Repeat("y", 600<<10)
	s.hold("a")
	submit(t, a, ins(0, "z"))  // in flight
	submit(t, a, ins(1, half)) // the buffer
	if err := a.Submit(ins(1, half)); !errors.Is(err, ErrOpTooLarge) {
		t.Fatalf("submit that would grow the buffer past the limit = %v, want ErrOpTooLarge", err)
	}
	s.release("a")
	synced(t, a)
	submit(t, a, ins(0, half)) // alone it fits
	synced(t, a)
	wantText(t, s, half+"z"+half+"\n", a)
	if n := len(s.hellosFrom("a")); n != 1 {
		t.Errorf("%d hellos, want 1", n)
	}
}

// TestCloseTooBigEnds: an op the server closes the connection over (1009:
// here its limit is below the client's) ends the client with a
// *CloseError; it does not redial to resend the same op forever.
func TestCloseTooBigEnds(t *testing.T) {
	s := newFakeServer(t, "")
	s.set(func(s *fakeServer) { s.maxMessage = 1000 })
	a := dialTest(t, s, "a")
	submit(t, a, ins(0, strings.Repeat("x", 2000)))
	select {
	case <-a.Done():
	case <-time.After(patience):
		t.Fatalf("the client did not stop; %d hellos", len(s.hellosFrom("a")))
	}
	err := a.Err()
	var ce *CloseError
	if !errors.Is(err, ErrMessageTooBig) || !errors.As(err, &ce) || ce.Code != collab.CloseTooBig {
		t.Fatalf("err = %v, want a *CloseError 1009", err)
	}
	if !strings.Contains(err.Error(), "message too big") {
		t.Errorf("err = %q, want it to say why", err)
	}
	if err := a.Submit(ins(0, "x")); !errors.Is(err, ErrMessageTooBig) {
		t.Errorf("submit after the end = %v, want ErrMessageTooBig", err)
	}
	time.Sleep(50 * time.Millisecond) // ReconnectMax is 10ms: a redial would show
	if n := len(s.hellosFrom("a")); n != 1 {
		t.Errorf("%d hellos, want 1 (no reconnect)", n)
	}
	s.set(func(s *fakeServer) {
		if s.tooBig != 1 {
			t.Errorf("the server closed %d connections with 1009, want 1", s.tooBig)
		}
	})
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// TestCatchUpErrorHidesTheToken: a failed request's error (which is
// logged and passed to OnError) names the path, never the access_token
// that the live URL carried into the REST one.
func TestCatchUpErrorHidesTheToken(t *testing.T) {
	refused := errors.New("connection refused")
	hc := &http.Client{Transport: roundTripFunc(func(*http.Request) (*http.Response, error) { return nil, refused })}
	c := &Client{}
	_, _, err := c.fetchPage(context.Background(), hc, "http://127.0.0.1:1/v1/documents/d/ops?access_token=SECRET-TOKEN&from=1")
	if err == nil || !errors.Is(err, refused) {
		t.Fatalf("fetchPage = %v, want the transport's error", err)
	}
	if strings.Contains(err.Error(), "SECRET-TOKEN") {
		t.Fatalf("the error shows the token: %v", err)
	}
	if !strings.Contains(err.Error(), "/v1/documents/d/ops") {
		t.Fatalf("the error does not name the path: %v", err)
	}
}
