package api_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/collabd/collabd/collab"
	"github.com/collabd/collabd/collab/client"
	"github.com/collabd/collabd/ot"
)

// The Go client (collab/client) against a real server, where the fake
// server of its own tests would prove little: a welcome that brings the
// whole document to a client far behind, and ops over the message limit.

// testNet is the Go client's network, which a test can cut and deafen.
type testNet struct {
	mu      sync.Mutex
	offline bool
	dials   int
	conns   []*testConn
}

type testConn struct {
	net.Conn
	deaf atomic.Bool // what the server sends is lost
}

func (c *testConn) Read(p []byte) (int, error) {
	for {
		n, err := c.Conn.Read(p)
		if err != nil || !c.deaf.Load() {
			return n, err
		}
	}
}

func (n *testNet) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.dials++
	if n.offline {
		return nil, errors.New("offline (by the test)")
	}
	var d net.Dialer
	c, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	tc := &testConn{Conn: c}
	n.conns = append(n.conns, tc)
	return tc, nil
}

// setOffline cuts every connection and refuses new ones, or lets them be.
func (n *testNet) setOffline(offline bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.offline = offline
	if offline {
		for _, c := range n.conns {
			c.Close()
		}
		n.conns = nil
	}
}

// deafen loses from now on what the server sends on the open connections.
func (n *testNet) deafen() {
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, c := range n.conns {
		c.deaf.Store(true)
	}
}

func (n *testNet) dialCount() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.dials
}

// goClientEvents records what a Go client reports.
type goClientEvents struct {
	mu   sync.Mutex
	errs []error
	acks [][2]int64 // seq, version
}

func (ev *goClientEvents) options(o *client.Options) {
	o.OnError = func(err error) { ev.mu.Lock(); ev.errs = append(ev.errs, err); ev.mu.Unlock() }
	o.OnAck = func(seq, version int64) {
		ev.mu.Lock()
		ev.acks = append(ev.acks, [2]int64{seq, version})
		ev.mu.Unlock()
	}
}

func (ev *goClientEvents) get() ([]error, [][2]int64) {
	ev.mu.Lock()
	defer ev.mu.Unlock()
	return append([]error(nil), ev.errs...), append([][2]int64(nil), ev.acks...)
}

func dialGoClient(t *testing.T, e *env, doc collab.DocumentID, token string, tn *testNet, mod func(*client.Options)) *client.Client {
	t.Helper()
	opts := client.Options{
		URL:          "ws" + strings.TrimPrefix(e.srv.URL, "http") + "/v1/documents/" + string(doc) + "/live",
		Header:       http.Header{"Authorization": {"Bearer " + token}},
		ReconnectMin: time.Millisecond,
		ReconnectMax: 20 * time.Millisecond,
	}
	if tn != nil {
		opts.Dialer = &websocket.Dialer{NetDialContext: tn.dial, HandshakeTimeout: 5 * time.Second}
	}
	if mod != nil {
		mod(&opts)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func waitSynced(t *testing.T, cs ...*client.Client) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, c := range cs {
		if err := c.WaitSynced(ctx); err != nil {
			t.Fatalf("client %s: wait synced: %v", c.ID(), err)
		}
	}
}

func insertAt(at int, s string) ot.Delta {
	if at == 0 {
		return ot.Delta{ot.InsertText(s, nil)}
	}
	return ot.Delta{ot.Retain(at, nil), ot.InsertText(s, nil)}
}

// editsBy counts the stored edits of a client, read through REST.
func editsBy(t *testing.T, e *env, doc collab.DocumentID, token string, id collab.ClientID) int {
	t.Helper()
	var page struct {
		Items []struct {
			Client collab.ClientID `json:"client"`
		} `json:"items"`
	}
	status, body := e.call("GET", "/v1/documents/"+string(doc)+"/ops?limit=1000", token, nil, &page)
	if status != http.StatusOK {
		t.Fatalf("GET ops: %d %s", status, body)
	}
	n := 0
	for _, it := range page.Items {
		if it.Client == id {
			n++
		}
	}
	return n
}

// TestGoClientFarBehindKeepsOfflineEdits: a Go client comes back further
// behind than MaxCatchUp, so its welcome carries the document, not ops.
// Its pending edit is kept (caught up through REST), committed exactly
// once, and every copy of the document converges; an op committed before
// the connection was lost is taken as acknowledged, not reported lost.
func TestGoClientFarBehindKeepsOfflineEdits(t *testing.T) {
	const others = 10 // edits made meanwhile, more than MaxCatchUp and Window
	for _, committed := range []bool{false, true} {
		name := map[bool]string{false: "edit made offline", true: "op committed, ack lost"}[committed]
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, func(c *testConfig) { c.session.MaxCatchUp = 3; c.session.Window = 2 })
			alice, aliceTok := e.user("alice")
			bob, bobTok := e.user("bob")
			doc := e.document(alice, "12")
			e.share(doc, bob, collab.Editor)
			var tn testNet
			var ev goClientEvents
			a := dialGoClient(t, e, doc, aliceTok, &tn, ev.options)
			b := dialGoClient(t, e, doc, bobTok, nil, nil)

			if committed {
				tn.deafen() // the op reaches the server, its ack does not come back
				if err := a.Submit(insertAt(0, "A")); err != nil {
					t.Fatal(err)
				}
				deadline := time.Now().Add(10 * time.Second)
				for editsBy(t, e, doc, aliceTok, a.ID()) == 0 {
					if time.Now().After(deadline) {
						t.Fatal("a's op was not committed")
					}
					time.Sleep(5 * time.Millisecond)
				}
				tn.setOffline(true)
				for b.Version() != 1 { // b's edits come after a's
					if time.Now().After(deadline) {
						t.Fatalf("b is at version %d, want 1 (a's op)", b.Version())
					}
					time.Sleep(time.Millisecond)
				}
			} else {
				tn.setOffline(true)
				if err := a.Submit(insertAt(0, "A")); err != nil {
					t.Fatal(err)
				}
			}
			if !a.Pending() {
				t.Fatal("a's edit is not pending")
			}
			for range others {
				if err := b.Submit(insertAt(1, "b")); err != nil {
					t.Fatal(err)
				}
				waitSynced(t, b)
			}
			tn.setOffline(false)
			waitSynced(t, a)

			// b inserts after the first character: "1", or a's "A" if it
			// saw that first.
			want := "A1" + strings.Repeat("b", others) + "2\n"
			if committed {
				want = "A" + strings.Repeat("b", others) + "12\n"
			}
			deadline := time.Now().Add(10 * time.Second)
			for b.Text() != want && time.Now().Before(deadline) {
				time.Sleep(5 * time.Millisecond)
			}
			if got := e.text(doc); got != want {
				t.Errorf("stored text %q, want %q", got, want)
			}
			if a.Text() != want || b.Text() != want {
				t.Errorf("a has %q, b has %q, want %q", a.Text(), b.Text(), want)
			}
			if n := editsBy(t, e, doc, aliceTok, a.ID()); n != 1 {
				t.Errorf("%d edits by a stored, want exactly 1", n)
			}
			// Callbacks run on their own goroutine, after WaitSynced may
			// have returned: wait for the ack before checking it came once.
			for deadline := time.Now().Add(10 * time.Second); ; {
				if _, acks := ev.get(); len(acks) > 0 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatal("OnAck was not called")
				}
				time.Sleep(time.Millisecond)
			}
			errs, acks := ev.get()
			if len(errs) != 0 {
				t.Errorf("OnError got %v, want nothing (no edit lost)", errs)
			}
			wantVersion := int64(others + 1)
			if committed {
				wantVersion = 1
			}
			if len(acks) != 1 || acks[0] != [2]int64{1, wantVersion} {
				t.Errorf("OnAck got %v, want seq 1 acked once as version %d", acks, wantVersion)
			}
		})
	}
}

// TestGoClientOpOverMessageLimit: an op over the server's message limit
// (here lowered to 64 KiB) makes the server close with 1009. A Go client
// that knows the limit refuses it before sending and goes on; one that
// does not ends with the 1009 instead of reconnecting to resend it forever.
func TestGoClientOpOverMessageLimit(t *testing.T) {
	const limit = 64 << 10
	e := newEnv(t, func(c *testConfig) { c.live.MaxMessageBytes = limit })
	alice, aliceTok := e.user("alice")
	doc := e.document(alice, "")
	big := insertAt(0, strings.Repeat("x", limit))

	t.Run("refused before sending", func(t *testing.T) {
		var tn testNet
		a := dialGoClient(t, e, doc, aliceTok, &tn, func(o *client.Options) { o.MaxMessageSize = limit })
		if err := a.Submit(big); !errors.Is(err, client.ErrOpTooLarge) {
			t.Fatalf("submit = %v, want ErrOpTooLarge", err)
		}
		if err := a.Submit(insertAt(0, "ok")); err != nil {
			t.Fatal(err)
		}
		waitSynced(t, a)
		if got := e.text(doc); got != "ok\n" {
			t.Errorf("stored text %q, want %q", got, "ok\n")
		}
		if n := tn.dialCount(); n != 1 {
			t.Errorf("%d connections, want 1", n)
		}
	})

	t.Run("closed with 1009", func(t *testing.T) {
		var tn testNet
		a := dialGoClient(t, e, doc, aliceTok, &tn, nil) // believes the default, 1 MiB
		if err := a.Submit(big); err != nil {
			t.Fatal(err)
		}
		select {
		case <-a.Done():
		case <-time.After(5 * time.Second):
			t.Fatalf("the client did not stop: %d connection attempts so far", tn.dialCount())
		}
		if err := a.Err(); !errors.Is(err, client.ErrMessageTooBig) {
			t.Fatalf("err = %v, want ErrMessageTooBig (close 1009)", err)
		}
		if err := a.Submit(insertAt(0, "x")); !errors.Is(err, client.ErrMessageTooBig) {
			t.Errorf("submit after the end = %v, want ErrMessageTooBig", err)
		}
		time.Sleep(100 * time.Millisecond) // a redial would come within ReconnectMax
		if n := tn.dialCount(); n != 1 {
			t.Errorf("%d connection attempts, want 1", n)
		}
	})
}
