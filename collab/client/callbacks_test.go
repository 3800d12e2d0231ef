package client

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/collabd/collabd/collab"
)

// eventLog records callbacks in the order they ran.
type eventLog struct {
	mu     sync.Mutex
	events []string
}

func (l *eventLog) add(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.events = append(l.events, fmt.Sprintf(format, args...))
}

func (l *eventLog) get() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.events)
}

// waitEvents waits until the log holds n events and checks them.
func (l *eventLog) want(t *testing.T, want ...string) {
	t.Helper()
	eventually(t, fmt.Sprintf("%d callbacks", len(want)), func() bool { return len(l.get()) >= len(want) })
	if got := l.get(); !slices.Equal(got, want) {
		t.Fatalf("callbacks:\n got %q\nwant %q", got, want)
	}
}

func (l *eventLog) options(o *Options) {
	o.OnAck = func(seq, version int64) { l.add("ack %d v%d", seq, version) }
	o.OnStatus = func(s Status) { l.add("status %s", s) }
}

func submitSeq(t *testing.T, c *Client, want int64, text string, at int) {
	t.Helper()
	seq, err := c.SubmitSeq(ins(at, text))
	if err != nil {
		t.Fatalf("submit %q: %v", text, err)
	}
	if seq != want {
		t.Fatalf("submit %q: seq = %d, want %d", text, seq, want)
	}
}

// TestClientAckAndStatusCallbacks: SubmitSeq returns the seq of the op
// that carries the edit (edits buffered together share the next one),
// OnAck reports each seq once with its version, and OnStatus follows the
// three states, in order with the acks.
func TestClientAckAndStatusCallbacks(t *testing.T) {
	s := newFakeServer(t, "")
	var log eventLog
	a := dialTest(t, s, "a", log.options)
	s.hold("a")
	submitSeq(t, a, 1, "x", 0)
	submitSeq(t, a, 2, "y", 1) // buffered: goes out as seq 2 after the ack
	submitSeq(t, a, 2, "z", 2) // composed into the same buffer
	if seq, err := a.SubmitSeq(nil); seq != 0 || err != nil {
		t.Fatalf("empty submit = %d, %v; want 0, nil", seq, err)
	}
	eventually(t, "seq 1 to reach the server", func() bool { return s.queued("a") == 1 })
	s.release("a")
	synced(t, a)
	log.want(t,
		"status awaiting ack", "status awaiting ack with buffer",
		"ack 1 v1", "status awaiting ack",
		"ack 2 v2", "status synchronized")
	var seqs []int64
	for _, op := range s.opsFrom("a") {
		seqs = append(seqs, op.seq)
	}
	if !slices.Equal(seqs, []int64{1, 2}) {
		t.Errorf("server received seqs %v, want [1 2]", seqs)
	}
	wantText(t, s, "xyz\n", a)
}

// TestClientAckOnceAfterReconnect: an op committed whose ack was lost comes
// back among the welcome's ops; OnAck reports it once (protocol: exactly
// once), and the next op gets the next seq.
func TestClientAckOnceAfterReconnect(t *testing.T) {
	s := newFakeServer(t, "")
	var log eventLog
	a := dialTest(t, s, "a", func(o *Options) {
		o.OnAck = func(seq, version int64) { log.add("ack %d v%d", seq, version) }
	})
	submitSeq(t, a, 1, "a", 0)
	synced(t, a)
	s.set(func(s *fakeServer) { s.dropAck["a"] = true })
	submitSeq(t, a, 2, "b", 1)
	eventually(t, "the reconnect", func() bool { return len(s.hellosFrom("a")) == 2 })
	synced(t, a)
	submitSeq(t, a, 3, "c", 2)
	synced(t, a)
	log.want(t, "ack 1 v1", "ack 2 v2", "ack 3 v3")
	if n := len(s.opsFrom("a")); n != 3 {
		t.Errorf("server received %d ops, want 3 (seq 2 taken from the welcome, not resent)", n)
	}
	wantText(t, s, "abc\n", a)
}

// TestClientSeqOfDroppedBufferNotReused: a refused op is dropped with the
// buffer built on it; neither seq is acked, and the next op takes a seq
// above both, so an app never sees a seq it saw dropped acked.
func TestClientSeqOfDroppedBufferNotReused(t *testing.T) {
	s := newFakeServer(t, "abc")
	var log eventLog
	a := dialTest(t, s, "a", func(o *Options) {
		log.options(o)
		o.OnError = func(err error) { log.add("error %s", collab.ErrorCode(err)) }
	})
	s.set(func(s *fakeServer) { s.failNext["a"] = []collab.Code{collab.InvalidOp} })
	s.hold("a")
	submitSeq(t, a, 1, "x", 0)
	submitSeq(t, a, 2, "y", 1)
	eventually(t, "seq 1 to reach the server", func() bool { return s.queued("a") == 1 })
	s.release("a")
	eventually(t, "the resync", func() bool { return len(s.hellosFrom("a")) == 2 && a.Connected() })
	synced(t, a)
	submitSeq(t, a, 3, "d", 3)
	synced(t, a)
	log.want(t,
		"status awaiting ack", "status awaiting ack with buffer",
		"error invalid_op", "status synchronized",
		"status awaiting ack", "ack 3 v1", "status synchronized")
	wantText(t, s, "abcd\n", a)
}

// TestClientCallbackMaySubmit: a callback may call Submit (its status
// change is queued behind the running callback, not run inside it), and
// an app may hold its own lock around Submit while its callbacks take it.
func TestClientCallbackMaySubmit(t *testing.T) {
	s := newFakeServer(t, "")
	var appMu sync.Mutex // the app's lock: held around Submit, taken by callbacks
	var statuses []Status
	var b *Client
	ready := make(chan struct{})
	b = dialTest(t, s, "b", func(o *Options) {
		o.OnRemote = func(r Remote) {
			<-ready
			if r.Client == "a" {
				if err := b.Submit(ins(0, "!")); err != nil {
					t.Errorf("submit from a callback: %v", err)
				}
			}
		}
		o.OnStatus = func(st Status) {
			appMu.Lock()
			statuses = append(statuses, st)
			appMu.Unlock()
		}
	})
	close(ready)
	a := dialTest(t, s, "a")
	submit(t, a, ins(0, "x"))
	eventually(t, "b's answer", func() bool { return s.text() == "!x\n" })
	synced(t, b) // the ack of "!" is in before the next edit, so it goes alone
	appMu.Lock()
	submit(t, b, ins(2, "?")) // with the app's lock held; OnStatus must not run here
	appMu.Unlock()
	synced(t, b)
	eventually(t, "b's statuses", func() bool {
		appMu.Lock()
		defer appMu.Unlock()
		return len(statuses) == 4
	})
	appMu.Lock()
	got := slices.Clone(statuses)
	appMu.Unlock()
	want := []Status{AwaitingAck, Synchronized, AwaitingAck, Synchronized}
	if !slices.Equal(got, want) {
		t.Errorf("b's statuses = %v, want %v", got, want)
	}
	eventually(t, "a to get everything", func() bool { return a.Version() == 3 })
	wantText(t, s, "!x?\n", a, b)
}

// retries records OnRetry.
type retries struct {
	mu    sync.Mutex
	errs  []error
	waits []time.Duration
	ch    chan struct{} // gets a value per retry, if not full
}

func newRetries() *retries { return &retries{ch: make(chan struct{}, 16)} }

func (r *retries) options(o *Options) {
	o.OnRetry = func(err error, wait time.Duration) {
		r.mu.Lock()
		r.errs = append(r.errs, err)
		r.waits = append(r.waits, wait)
		r.mu.Unlock()
		select {
		case r.ch <- struct{}{}:
		default:
		}
	}
}

func (r *retries) get() ([]error, []time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.errs), slices.Clone(r.waits)
}

// TestClientDialRetriesRateLimited: a handshake refused with 429 is tried
// again, no sooner than the server's Retry-After.
func TestClientDialRetriesRateLimited(t *testing.T) {
	s := newFakeServer(t, "hi")
	s.set(func(s *fakeServer) { s.reject, s.rejects, s.retryAt = http.StatusTooManyRequests, 1, "1" })
	r := newRetries()
	start := time.Now()
	a := dialTest(t, s, "a", r.options) // ReconnectMin 1ms: only Retry-After makes it wait
	if got := a.Text(); got != "hi\n" {
		t.Errorf("text = %q, want %q", got, "hi\n")
	}
	hs := s.handshakeTimes()
	if len(hs) != 2 {
		t.Fatalf("%d handshakes, want 2 (one refused, one retry)", len(hs))
	}
	if gap := hs[1].Sub(hs[0]); gap < time.Second {
		t.Errorf("retried after %v, before the server's Retry-After: 1", gap)
	}
	if took := time.Since(start); took > 1600*time.Millisecond+time.Second {
		t.Errorf("dial took %v; the wait should be at most 1.5s", took)
	}
	eventually(t, "OnRetry", func() bool { errs, _ := r.get(); return len(errs) == 1 })
	errs, waits := r.get()
	var he *HandshakeError
	if !errors.As(errs[0], &he) || !errors.Is(errs[0], ErrRateLimited) || he.RetryAfter != time.Second {
		t.Errorf("OnRetry err = %v, want a 429 *HandshakeError with RetryAfter 1s", errs[0])
	}
	if waits[0] < time.Second || waits[0] > 1500*time.Millisecond {
		t.Errorf("OnRetry wait = %v, want within [1s, 1.5s]", waits[0])
	}
}

// TestClientDialRateLimitedBackoff: without Retry-After, a 429 is retried
// with the reconnect backoff.
func TestClientDialRateLimitedBackoff(t *testing.T) {
	s := newFakeServer(t, "")
	s.set(func(s *fakeServer) { s.reject, s.rejects = http.StatusTooManyRequests, 3 })
	r := newRetries()
	dialTest(t, s, "a", r.options)
	if n := len(s.handshakeTimes()); n != 4 {
		t.Fatalf("%d handshakes, want 4 (three refused)", n)
	}
	eventually(t, "three OnRetry", func() bool { errs, _ := r.get(); return len(errs) == 3 })
	_, waits := r.get()
	for i, w := range waits {
		if w >= 10*time.Millisecond { // ReconnectMax of dialTest
			t.Errorf("wait %d = %v, want below ReconnectMax 10ms", i, w)
		}
	}
}

// TestClientDialRateLimitedGivesUp: Dial does not wait past its deadline;
// it returns the 429 at once when the Retry-After would outlast it, and
// the last refusal along with ctx's error when ctx ends while it waits.
func TestClientDialRateLimitedGivesUp(t *testing.T) {
	t.Run("retry-after past the deadline", func(t *testing.T) {
		s := newFakeServer(t, "")
		s.set(func(s *fakeServer) { s.reject, s.retryAt = http.StatusTooManyRequests, "30" })
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		start := time.Now()
		_, err := Dial(ctx, Options{URL: s.url(), ReconnectMin: time.Millisecond})
		if took := time.Since(start); took > 3*time.Second {
			t.Errorf("dial took %v, want an answer at once", took)
		}
		var he *HandshakeError
		if !errors.Is(err, ErrRateLimited) || !errors.As(err, &he) || he.RetryAfter != 30*time.Second {
			t.Fatalf("dial = %v, want a 429 *HandshakeError with RetryAfter 30s", err)
		}
		if errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("dial = %v, want the refusal, not the deadline", err)
		}
		if collab.ErrorCode(err) != "test" || he.Message != "refused by the test" {
			t.Errorf("code %q, message %q; want the body's", collab.ErrorCode(err), he.Message)
		}
		if n := len(s.handshakeTimes()); n != 1 {
			t.Errorf("%d handshakes, want 1", n)
		}
	})
	t.Run("cancelled while waiting", func(t *testing.T) {
		s := newFakeServer(t, "")
		s.set(func(s *fakeServer) { s.reject, s.retryAt = http.StatusTooManyRequests, "5" })
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		r := newRetries()
		opts := Options{URL: s.url()}
		r.options(&opts)
		errc := make(chan error, 1)
		go func() {
			_, err := Dial(ctx, opts)
			errc <- err
		}()
		select {
		case <-r.ch:
		case <-time.After(patience):
			t.Fatal("no retry announced")
		}
		cancel()
		var err error
		select {
		case err = <-errc:
		case <-time.After(patience):
			t.Fatal("dial did not return after cancel")
		}
		if !errors.Is(err, context.Canceled) || !errors.Is(err, ErrRateLimited) {
			t.Fatalf("dial = %v, want context.Canceled and the last 429", err)
		}
	})
}

// TestClientDialRefusedTyped: 401, 403, 404 (and other statuses but 429)
// end Dial at once, as errors a caller can branch on.
func TestClientDialRefusedTyped(t *testing.T) {
	sentinels := []error{ErrUnauthorized, ErrForbidden, ErrNotFound, ErrRateLimited}
	for _, tc := range []struct {
		status int
		want   error
	}{
		{http.StatusUnauthorized, ErrUnauthorized},
		{http.StatusForbidden, ErrForbidden},
		{http.StatusNotFound, ErrNotFound},
		{http.StatusServiceUnavailable, nil},
	} {
		t.Run(fmt.Sprint(tc.status), func(t *testing.T) {
			s := newFakeServer(t, "")
			s.set(func(s *fakeServer) { s.reject, s.retryAt = tc.status, "1" })
			ctx, cancel := context.WithTimeout(context.Background(), patience)
			defer cancel()
			r := newRetries()
			opts := Options{URL: s.url()}
			r.options(&opts)
			start := time.Now()
			_, err := Dial(ctx, opts)
			if took := time.Since(start); took > 900*time.Millisecond {
				t.Errorf("dial took %v, want an answer at once", took)
			}
			var he *HandshakeError
			if !errors.As(err, &he) || he.Status != tc.status {
				t.Fatalf("dial = %v, want a *HandshakeError with %d", err, tc.status)
			}
			for _, sentinel := range sentinels {
				if got := errors.Is(err, sentinel); got != (sentinel == tc.want) {
					t.Errorf("errors.Is(err, %v) = %v", sentinel, got)
				}
			}
			if n := len(s.handshakeTimes()); n != 1 {
				t.Errorf("%d handshakes, want 1 (no retry)", n)
			}
			if errs, _ := r.get(); len(errs) != 0 {
				t.Errorf("OnRetry called with %v", errs)
			}
		})
	}
}

// TestClientReconnectHonoursRetryAfter: after the first welcome, a 429 on
// a reconnect also waits for the server's Retry-After.
func TestClientReconnectHonoursRetryAfter(t *testing.T) {
	s := newFakeServer(t, "")
	a := dialTest(t, s, "a")
	s.set(func(s *fakeServer) { s.reject, s.rejects, s.retryAt = http.StatusTooManyRequests, 1, "1" })
	s.drop("a", 0)
	eventually(t, "the reconnect", func() bool { return len(s.hellosFrom("a")) == 2 && a.Connected() })
	hs := s.handshakeTimes()
	if len(hs) != 3 {
		t.Fatalf("%d handshakes, want 3 (dial, refused, reconnect)", len(hs))
	}
	if gap := hs[2].Sub(hs[1]); gap < time.Second {
		t.Errorf("reconnected %v after the 429, before its Retry-After: 1", gap)
	}
	submit(t, a, ins(0, "x"))
	synced(t, a)
}

func TestClientParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		in   string
		want time.Duration
	}{
		{"", 0},
		{"0", 0},
		{"-3", 0},
		{"soon", 0},
		{"1.5", 0},
		{"2", 2 * time.Second},
		{" 7 ", 7 * time.Second},
		{"99999999999999", maxRetryAfter},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second},
		{now.Add(-time.Minute).Format(http.TimeFormat), 0},
		{now.Add(48 * time.Hour).Format(http.TimeFormat), maxRetryAfter},
	} {
		if got := parseRetryAfter(tc.in, now); got != tc.want {
			t.Errorf("parseRetryAfter(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}
