package client

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/collabd/collabd/collab"
	"github.com/collabd/collabd/ot"
)

const patience = 10 * time.Second

func dialTest(t *testing.T, s *fakeServer, id collab.ClientID, mod ...func(*Options)) *Client {
	t.Helper()
	opts := Options{
		URL:              s.url(),
		ClientID:         id,
		ReconnectMin:     time.Millisecond,
		ReconnectMax:     10 * time.Millisecond,
		PresenceInterval: time.Millisecond,
	}
	for _, f := range mod {
		f(&opts)
	}
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	c, err := Dial(ctx, opts)
	if err != nil {
		t.Fatalf("dial %s: %v", id, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// eventually polls cond, a bounded number of times, until it holds.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(patience)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func synced(t *testing.T, cs ...*Client) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	for _, c := range cs {
		if err := c.WaitSynced(ctx); err != nil {
			t.Fatalf("client %s: wait synced: %v (status %s, connected %v)", c.ID(), err, c.Status(), c.Connected())
		}
	}
}

func submit(t *testing.T, c *Client, d ot.Delta) {
	t.Helper()
	if err := c.Submit(d); err != nil {
		t.Fatalf("client %s: submit %s: %v", c.ID(), jsonOf(d), err)
	}
}

func wantText(t *testing.T, s *fakeServer, want string, cs ...*Client) {
	t.Helper()
	if got := s.text(); got != want {
		t.Errorf("server text = %q, want %q", got, want)
	}
	for _, c := range cs {
		if got := c.Text(); got != want {
			t.Errorf("client %s text = %q, want %q", c.ID(), got, want)
		}
		if got, want := c.Version(), s.version(); got != want {
			t.Errorf("client %s version = %d, want %d", c.ID(), got, want)
		}
	}
}

func TestDialWelcome(t *testing.T) {
	s := newFakeServer(t, "hello")
	a := dialTest(t, s, "a")
	if got := a.Text(); got != "hello\n" {
		t.Errorf("text = %q, want %q", got, "hello\n")
	}
	if you := a.You(); you.Client != "a" || you.Role != collab.Editor || you.User.ID != "u-a" {
		t.Errorf("you = %+v", you)
	}
	if h := s.hellosFrom("a"); len(h) != 1 || h[0].version != nil {
		t.Errorf("hellos = %+v, want one with version null", h)
	}
	if !a.Connected() || a.Pending() || a.Status() != Synchronized {
		t.Errorf("connected %v pending %v status %s", a.Connected(), a.Pending(), a.Status())
	}
}

func TestDialRefused(t *testing.T) {
	s := newFakeServer(t, "")
	s.set(func(s *fakeServer) { s.reject = 404 })
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	_, err := Dial(ctx, Options{URL: s.url()})
	var he *HandshakeError
	if !errors.As(err, &he) || he.Status != 404 {
		t.Fatalf("dial = %v, want a *HandshakeError with 404", err)
	}
	if _, err := Dial(ctx, Options{URL: "http://127.0.0.1:1/x"}); err == nil {
		t.Fatal("dial accepted an http:// URL")
	}
}

// TestConcurrentTyping: a's op is held at the server while b's commits, so
// each client must transform the other's edit past its own.
func TestConcurrentTyping(t *testing.T) {
	s := newFakeServer(t, "")
	a, b := dialTest(t, s, "a"), dialTest(t, s, "b")
	s.hold("a")
	submit(t, a, ins(0, "a"))
	eventually(t, "a's op to reach the server", func() bool { return s.queued("a") == 1 })
	submit(t, b, ins(0, "b"))
	synced(t, b)
	eventually(t, "b's edit to reach a", func() bool { return a.Version() == 1 })
	if got := a.Status(); got != AwaitingAck {
		t.Fatalf("a status = %s, want %s", got, AwaitingAck)
	}
	s.release("a")
	synced(t, a, b)
	eventually(t, "b to get a's edit", func() bool { return b.Version() == 2 })
	wantText(t, s, "ba\n", a, b)
}

// TestThreeStates: one op in flight, the rest composed into one buffer
// that goes out as one op after the ack.
func TestThreeStates(t *testing.T) {
	s := newFakeServer(t, "")
	a := dialTest(t, s, "a")
	s.hold("a")
	submit(t, a, ins(0, "x"))
	if got := a.Status(); got != AwaitingAck {
		t.Fatalf("status = %s, want %s", got, AwaitingAck)
	}
	submit(t, a, ins(1, "y"))
	submit(t, a, ins(2, "z"))
	if got := a.Status(); got != AwaitingAckWithBuffer {
		t.Fatalf("status = %s, want %s", got, AwaitingAckWithBuffer)
	}
	eventually(t, "the op in flight to arrive", func() bool { return s.queued("a") == 1 })
	if got := a.Text(); got != "xyz\n" {
		t.Errorf("local text = %q, want %q (applied at once)", got, "xyz\n")
	}
	s.release("a")
	synced(t, a)
	ops := s.opsFrom("a")
	want := []opRecord{
		{"a", 1, 0, `[{"insert":"x"}]`},
		{"a", 2, 1, `[{"retain":1},{"insert":"yz"}]`},
	}
	if !slices.Equal(ops, want) {
		t.Fatalf("server received %+v, want %+v", ops, want)
	}
	if got := a.Status(); got != Synchronized {
		t.Errorf("status = %s, want %s", got, Synchronized)
	}
	wantText(t, s, "xyz\n", a)
}

func TestViewerCannotSubmit(t *testing.T) {
	s := newFakeServer(t, "")
	s.set(func(s *fakeServer) { s.viewers["v"] = true })
	v := dialTest(t, s, "v")
	if err := v.Submit(ins(0, "x")); collab.ErrorCode(err) != collab.Forbidden {
		t.Fatalf("submit by a viewer = %v, want forbidden", err)
	}
	if v.Pending() || v.Text() != "\n" {
		t.Fatal("a refused submit changed the document")
	}
}

func TestSubmitValidates(t *testing.T) {
	s := newFakeServer(t, "ab")
	a := dialTest(t, s, "a")
	for _, d := range []ot.Delta{
		del(0, 3),                     // the final "\n"
		ins(4, "x"),                   // past the end
		{ot.Op{Retain: 1, Delete: 1}}, // not an op
		{ot.InsertText("\xff", nil)},  // invalid UTF-8
	} {
		if err := a.Submit(d); err == nil {
			t.Errorf("submit %+v accepted", d)
		}
	}
	if err := a.Submit(ot.Delta{ot.Retain(2, nil)}); err != nil || a.Pending() {
		t.Errorf("a no-op: err %v, pending %v; want accepted and not sent", err, a.Pending())
	}
	if a.Pending() || a.Text() != "ab\n" {
		t.Fatal("a refused submit changed the document")
	}
}

// TestSelectionFollowsText: the local selection and the peers' ranges move
// with remote and local edits the way the server moves them.
func TestSelectionFollowsText(t *testing.T) {
	s := newFakeServer(t, "hello")
	var mu sync.Mutex
	var seen []Peer
	a := dialTest(t, s, "a", func(o *Options) {
		o.OnPresence = func(p Peer) { mu.Lock(); seen = append(seen, p); mu.Unlock() }
	})
	b := dialTest(t, s, "b")
	if err := a.SetSelection(&ot.Range{Index: 2, Length: 1}); err != nil {
		t.Fatal(err)
	}
	if err := b.SetSelection(&ot.Range{Index: 1, Length: 2}); err != nil {
		t.Fatal(err)
	}
	peerRange := func(c *Client, id collab.ClientID) *ot.Range {
		for _, p := range c.Peers() {
			if p.Client == id {
				return p.Range
			}
		}
		return nil
	}
	is := func(r *ot.Range, i, n int) bool { return r != nil && r.Index == i && r.Length == n }
	eventually(t, "a to see b's selection", func() bool { return is(peerRange(a, "b"), 1, 2) })
	eventually(t, "b to see a's selection", func() bool { return is(peerRange(b, "a"), 2, 1) })

	submit(t, b, ins(0, "xx")) // moves both
	synced(t, b)
	eventually(t, "a to get b's edit", func() bool { return a.Version() == 1 })
	if r := a.Selection(); !is(r, 4, 1) {
		t.Errorf("a's selection = %+v, want {4 1}", r)
	}
	if r := peerRange(a, "b"); !is(r, 3, 2) {
		t.Errorf("a sees b at %+v, want {3 2}", r)
	}

	// While a's own edit is in flight, a sees b's range moved by it too.
	s.hold("a")
	submit(t, a, ins(4, "y")) // inside b's selection, at the start of a's
	if r := peerRange(a, "b"); !is(r, 3, 3) {
		t.Errorf("a sees b at %+v with its edit pending, want {3 3}", r)
	}
	if r := a.Selection(); !is(r, 5, 1) {
		t.Errorf("a's selection after its own edit = %+v, want {5 1}", r)
	}
	s.release("a")
	synced(t, a)
	if r := peerRange(a, "b"); !is(r, 3, 3) {
		t.Errorf("a sees b at %+v after the ack, want {3 3}", r)
	}
	eventually(t, "b to get a's edit", func() bool { return b.Version() == 2 })
	if r := b.Selection(); !is(r, 3, 3) {
		t.Errorf("b's selection = %+v, want {3 3}", r)
	}
	if r := s.rangeOf("b"); !is(r, 3, 3) {
		t.Errorf("the server has b at %+v, want {3 3}", r)
	}
	if r := s.rangeOf("a"); !is(r, 5, 1) {
		t.Errorf("the server has a at %+v, want {5 1}", r)
	}
	// A late joiner sees the same.
	c := dialTest(t, s, "c")
	if r := peerRange(c, "b"); !is(r, 3, 3) {
		t.Errorf("c sees b at %+v, want {3 3}", r)
	}
	b.Close()
	eventually(t, "a to see b leave", func() bool { return len(a.Peers()) == 0 }) // c never said where it is
	mu.Lock()
	defer mu.Unlock()
	if last := seen[len(seen)-1]; last.Client != "b" || !last.Left {
		t.Errorf("last presence event = %+v, want b left", last)
	}
}

// TestPresenceWhileOwnOpsWait: a selection set while the client's own
// ops wait for the server (one in flight, one in the buffer) goes out at
// once, in terms of the server version the client holds: mapped back
// through those ops. When they commit, the server and the peers have the
// cursor right after the typed text, where the client has it.
func TestPresenceWhileOwnOpsWait(t *testing.T) {
	s := newFakeServer(t, "hello")
	a := dialTest(t, s, "a")
	b := dialTest(t, s, "b")
	s.hold("a")
	submit(t, a, ins(2, "X")) // in flight, not committed
	// The cursor after the X: where the X goes in version 0.
	if err := a.SetSelection(&ot.Range{Index: 3}); err != nil {
		t.Fatal(err)
	}
	sent := func(n int) presenceRecord {
		t.Helper()
		eventually(t, fmt.Sprintf("presence %d", n), func() bool { return len(s.presencesFrom("a")) >= n })
		return s.presencesFrom("a")[n-1]
	}
	check := func(p presenceRecord, want ot.Range) {
		t.Helper()
		if p.rng == nil || *p.rng != want || p.version == nil || *p.version != 0 {
			t.Errorf("presence sent: range %v version %v; want %v at version 0 (where the cursor is before the client's own edits)", p.rng, p.version, want)
		}
	}
	check(sent(1), ot.Range{Index: 2})
	submit(t, a, ins(3, "YZ")) // buffered: "heXYZllo"
	if err := a.SetSelection(&ot.Range{Index: 5}); err != nil {
		t.Fatal(err)
	}
	check(sent(2), ot.Range{Index: 2})
	if err := a.SetSelection(&ot.Range{Index: 0, Length: 7}); err != nil { // "heXYZll"
		t.Fatal(err)
	}
	check(sent(3), ot.Range{Index: 0, Length: 4})
	if err := a.SetSelection(&ot.Range{Index: 5}); err != nil {
		t.Fatal(err)
	}
	sent(4)
	s.release("a")
	synced(t, a)
	eventually(t, "b to get a's edits", func() bool { return b.Version() == 2 })
	wantText(t, s, "heXYZllo\n", a, b)
	if r := s.rangeOf("a"); r == nil || *r != (ot.Range{Index: 5}) {
		t.Errorf("the server has a's cursor at %v, want {5 0}, right after the typed text", r)
	}
	if ps := b.Peers(); len(ps) != 1 || ps[0].Range == nil || *ps[0].Range != (ot.Range{Index: 5}) {
		t.Errorf("b sees the peers %s, want a's cursor at {5 0}", jsonOf(ps))
	}
}

// TestPresenceResentWhenMappedWithLoss: text selected right after typing
// it, before the ack, cannot go out exactly: mapped back through the
// pending edit, both ends go to where the text is inserted, and the
// server moves them after it. Once the edit is acknowledged the selection
// goes out again, now exact, so the peers see it as the client has it.
func TestPresenceResentWhenMappedWithLoss(t *testing.T) {
	for _, tc := range []struct {
		name  string
		edits []ot.Delta
	}{
		{"in flight", []ot.Delta{ins(0, "ABC")}},
		{"in flight and buffered", []ot.Delta{ins(0, "A"), ins(1, "BC")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newFakeServer(t, "hello")
			a := dialTest(t, s, "a")
			b := dialTest(t, s, "b")
			s.hold("a")
			for _, e := range tc.edits {
				submit(t, a, e) // "ABChello"
			}
			bc := ot.Range{Index: 1, Length: 2}
			if err := a.SetSelection(&bc); err != nil { // "BC"
				t.Fatal(err)
			}
			eventually(t, "the first presence", func() bool { return len(s.presencesFrom("a")) == 1 })
			if p := s.presencesFrom("a")[0]; p.rng == nil || *p.rng != (ot.Range{}) || p.version == nil || *p.version != 0 {
				t.Errorf("first presence: range %v version %v; want {0 0} at version 0, where the text goes", p.rng, p.version)
			}
			if len(s.presencesFrom("a")) != 1 {
				t.Errorf("a presence went out again before the ack: %d", len(s.presencesFrom("a")))
			}
			s.release("a")
			synced(t, a)
			eventually(t, "the presence again after the ack", func() bool { return len(s.presencesFrom("a")) == 2 })
			want := int64(len(tc.edits))
			if p := s.presencesFrom("a")[1]; p.rng == nil || *p.rng != bc || p.version == nil || *p.version != want {
				t.Errorf("second presence: range %v version %v; want %v at version %d", p.rng, p.version, bc, want)
			}
			if r := s.rangeOf("a"); r == nil || *r != bc {
				t.Errorf("the server has a at %v, want %v", r, bc)
			}
			eventually(t, "b to see a's selection", func() bool {
				ps := b.Peers()
				return b.Version() == want && len(ps) == 1 && ps[0].Range != nil && *ps[0].Range == bc
			})
			time.Sleep(50 * time.Millisecond) // room for a presence that should not go out
			if n := len(s.presencesFrom("a")); n != 2 {
				t.Errorf("%d presences, want 2", n)
			}
		})
	}
}

// TestPresenceNotResentWhenExact: a cursor after typed text maps back
// exactly, so the ack sends no presence again.
func TestPresenceNotResentWhenExact(t *testing.T) {
	s := newFakeServer(t, "hello")
	a := dialTest(t, s, "a")
	b := dialTest(t, s, "b")
	s.hold("a")
	submit(t, a, ins(0, "ABC"))
	if err := a.SetSelection(&ot.Range{Index: 3}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the presence", func() bool { return len(s.presencesFrom("a")) == 1 })
	s.release("a")
	synced(t, a)
	eventually(t, "b to get a's edit", func() bool { return b.Version() == 1 })
	time.Sleep(50 * time.Millisecond) // room for a presence that should not go out
	if n := len(s.presencesFrom("a")); n != 1 {
		t.Errorf("%d presences, want 1: the first was exact", n)
	}
	if r := s.rangeOf("a"); r == nil || *r != (ot.Range{Index: 3}) {
		t.Errorf("the server has a at %v, want {3 0}", r)
	}
}

func TestCloseLeavesNoGoroutines(t *testing.T) {
	s := newFakeServer(t, "")
	base := runtime.NumGoroutine()
	a, b := dialTest(t, s, "a"), dialTest(t, s, "b")
	submit(t, a, ins(0, "a"))
	s.drop("b", 0) // a reconnect, and a resend, on the way
	submit(t, b, ins(0, "b"))
	synced(t, a, b)
	s.set(func(s *fakeServer) { s.reject = 503 })
	s.drop("a", collab.CloseTryAgainLater) // a is retrying when it is closed
	eventually(t, "a to retry", func() bool { return !a.Connected() })
	a.Close()
	b.Close()
	select {
	case <-a.Done():
	default:
		t.Fatal("Done not closed after Close")
	}
	if !errors.Is(a.Err(), ErrClosed) || !errors.Is(b.Err(), ErrClosed) {
		t.Errorf("err after close = %v, %v; want ErrClosed", a.Err(), b.Err())
	}
	deadline := time.Now().Add(patience)
	for runtime.NumGoroutine() > base {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("%d goroutines, want at most %d:\n%s", runtime.NumGoroutine(), base, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(time.Millisecond)
	}
}

// TestDialContextEnds: ctx bounds the first connection; when it ends,
// Dial returns and leaves nothing running.
func TestDialContextEnds(t *testing.T) {
	s := newFakeServer(t, "")
	s.set(func(s *fakeServer) { s.stall = true })
	base := runtime.NumGoroutine()
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error)
	go func() {
		_, err := Dial(ctx, Options{URL: s.url()})
		errc <- err
	}()
	eventually(t, "the handshake to start", func() bool { return len(s.handshakeTimes()) == 1 })
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("dial = %v, want context.Canceled", err)
	}
	eventually(t, "no goroutines left", func() bool { return runtime.NumGoroutine() <= base })
}

// TestRandomConvergence: three clients type, format and delete at random
// while the server holds some of them back and drops connections; at the
// end every client has the server's document and the server's view of
// every selection.
func TestRandomConvergence(t *testing.T) {
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	r := rand.New(rand.NewPCG(seed, 1))
	s := newFakeServer(t, "the quick brown fox")
	ids := []collab.ClientID{"a", "b", "c"}
	cs := make([]*Client, len(ids))
	for i, id := range ids {
		cs[i] = dialTest(t, s, id)
	}
	drops := 0
	for step := range 1000 {
		i := r.IntN(len(cs))
		c, id := cs[i], ids[i]
		switch k := r.IntN(20); {
		case k < 12:
			v := c.Version()
			doc := c.Doc()
			if err := c.Submit(randomEdit(r, doc)); err != nil {
				// Only a remote edit between Doc and Submit excuses it.
				if !errors.Is(err, ot.ErrDoesNotFit) || c.Version() == v {
					t.Fatalf("seed %d step %d: submit: %v", seed, step, err)
				}
			}
		case k < 14:
			s.hold(id)
		case k < 17:
			s.release(id)
		case k < 18:
			s.drop(id, []int{0, collab.CloseGoingAway, collab.CloseTryAgainLater}[r.IntN(3)])
			drops++
		case k < 19:
			// Let the edits so far arrive everywhere (held ops stay held).
			for _, c := range cs {
				eventually(t, fmt.Sprintf("%s to catch up", c.ID()), func() bool { return c.Version() >= s.version() })
			}
		default:
			n := c.Doc().Len()
			at := r.IntN(n)
			c.SetSelection(&ot.Range{Index: at, Length: r.IntN(n - at)})
		}
	}
	for _, id := range ids {
		s.release(id)
	}
	synced(t, cs...)
	t.Logf("%d edits, %d dropped connections", s.version(), drops)
	want := s.docJSON()
	for _, c := range cs {
		eventually(t, fmt.Sprintf("%s to reach version %d", c.ID(), s.version()), func() bool { return c.Version() == s.version() })
		if got := jsonOf(c.Doc().Delta()); got != want {
			t.Errorf("seed %d: client %s has %s, server %s", seed, c.ID(), got, want)
		}
	}
	for _, c := range cs {
		for _, p := range c.Peers() {
			eventually(t, fmt.Sprintf("%s to see %s where the server does (seed %d)", c.ID(), p.Client, seed), func() bool {
				sr := s.rangeOf(p.Client)
				for _, q := range c.Peers() {
					if q.Client == p.Client {
						return sr == nil || (q.Range != nil && *q.Range == *sr)
					}
				}
				return sr == nil
			})
		}
	}
}
