package api_test

import (
	"context"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/collabd/collabd/api"
	"github.com/collabd/collabd/collab"
)

func insertOp(seq int, version int64, text string) map[string]any {
	return map[string]any{"type": "op", "seq": seq, "version": version, "delta": []any{map[string]any{"insert": text}}}
}

func (w *wsConn) expectAck(seq int, version int64) {
	w.t.Helper()
	if m := w.read(); m["type"] != "ack" || m["seq"] != float64(seq) || m["version"] != float64(version) {
		w.t.Fatalf("got %v, want ack seq %d version %d", m, seq, version)
	}
}

// TestLiveStaleSeqIsBadMessage: a seq below the client's newest committed
// one that was never committed is refused as bad_message, on the
// connection that committed the others and on a new one of the same
// client, and changes nothing; a committed seq resent is acked again.
func TestLiveStaleSeqIsBadMessage(t *testing.T) {
	e := newEnv(t)
	alice, tok := e.user("alice")
	doc := e.document(alice, "abc")
	w, _ := e.join(doc, tok, "s")
	w.send(insertOp(1, 0, "x"))
	w.expectAck(1, 1)
	w.send(insertOp(3, 1, "y")) // seq 2 is skipped
	w.expectAck(3, 2)
	w.send(insertOp(2, 2, "STALE"))
	if m := w.expectError(collab.BadMessage); m["seq"] != float64(2) {
		t.Fatalf("stale seq answered %v, want its seq 2", m)
	}
	w.c.Close()
	// A new connection of the same client.
	w, _ = e.join(doc, tok, "s")
	w.send(insertOp(2, 2, "STALE"))
	if m := w.expectError(collab.BadMessage); m["seq"] != float64(2) {
		t.Fatalf("stale seq after reconnecting answered %v, want its seq 2", m)
	}
	w.send(insertOp(1, 2, "x")) // a duplicate: its original ack
	w.expectAck(1, 1)
	if got := e.text(doc); got != "yxabc\n" {
		t.Fatalf("text = %q, want %q", got, "yxabc\n")
	}
	w.send(insertOp(4, 2, "z"))
	w.expectAck(4, 3)
}

// TestLiveEditorsPerDocumentLimit: with MaxPeers editors on a document, one
// more hello gets rate_limited and close 1013; those in are unaffected.
func TestLiveEditorsPerDocumentLimit(t *testing.T) {
	const maxPeers = 3
	e := newEnv(t, func(c *testConfig) { c.session.MaxPeers = maxPeers })
	alice, tok := e.user("alice")
	doc := e.document(alice, "")
	var in []*wsConn
	for i := range maxPeers {
		w, _ := e.join(doc, tok, "c"+itoa(i))
		in = append(in, w)
	}
	extra, _, err := e.dial(doc, tok, nil)
	if err != nil {
		t.Fatal(err)
	}
	extra.send(map[string]any{"type": "hello", "client": "extra", "version": nil, "protocol": 1})
	extra.expectError(collab.RateLimited)
	if code := extra.closed(); code != collab.CloseTryAgainLater {
		t.Fatalf("close = %d, want 1013", code)
	}
	// The others go on: an edit is acked and reaches every one of them.
	in[0].send(insertOp(1, 0, "x"))
	in[0].expectAck(1, 1)
	for i, w := range in[1:] {
		if m := w.read(); m["type"] != "op" || m["version"] != float64(1) {
			t.Fatalf("editor %d got %v, want the op as version 1", i+1, m)
		}
	}
	if got := e.text(doc); got != "x\n" {
		t.Fatalf("text = %q", got)
	}
}

// TestLivePingTimeout: a client that never answers pings is dropped within
// PongWait (give or take); one that answers stays.
func TestLivePingTimeout(t *testing.T) {
	const pongWait = 400 * time.Millisecond
	e := newEnv(t, func(c *testConfig) {
		c.live.PingInterval = 50 * time.Millisecond
		c.live.PongWait = pongWait
	})
	alice, tok := e.user("alice")
	doc := e.document(alice, "")

	// The deaf client: reads (so it sees pings) but never answers them.
	deaf, _ := e.join(doc, tok, "deaf")
	joined := time.Now()
	var pings atomic.Int32
	deaf.c.SetPingHandler(func(string) error { pings.Add(1); return nil })
	deafEnd := make(chan time.Duration, 1)
	go func() {
		for {
			deaf.c.SetReadDeadline(time.Now().Add(10 * time.Second))
			if _, _, err := deaf.c.ReadMessage(); err != nil {
				if ne, ok := err.(net.Error); ok && ne.Timeout() {
					deafEnd <- -1 // the server never closed it
					return
				}
				deafEnd <- time.Since(joined)
				return
			}
		}
	}()

	// The normal client: gorilla answers pings while it reads.
	normal, _ := e.join(doc, tok, "normal")
	normalJoined := time.Now()
	normalMsgs := make(chan string, 16)
	normalErr := make(chan error, 1)
	go func() {
		for {
			normal.c.SetReadDeadline(time.Now().Add(10 * time.Second))
			_, p, err := normal.c.ReadMessage()
			if err != nil {
				normalErr <- err
				return
			}
			normalMsgs <- string(p)
		}
	}()
	took := <-deafEnd
	if took < 0 {
		t.Fatal("a client that never answers pings was not closed")
	}
	if took < pongWait/2 || took > pongWait+time.Second {
		t.Fatalf("the deaf client was closed %v after joining, want about PongWait (%v)", took, pongWait)
	}
	if pings.Load() < 2 {
		t.Fatalf("the deaf client saw %d pings before it was closed, want several", pings.Load())
	}
	t.Logf("deaf client closed after %v, having seen %d pings", took, pings.Load())
	// The normal client has been silent but for pongs for 3 PongWaits: it
	// is still connected, and its edit is acked.
	time.Sleep(time.Until(normalJoined.Add(3 * pongWait)))
	normal.send(insertOp(1, 0, "x"))
	timeout := time.After(10 * time.Second)
	for {
		select {
		case err := <-normalErr:
			t.Fatalf("the normal client was disconnected: %v", err)
		case m := <-normalMsgs:
			if strings.Contains(m, `"type":"ack"`) {
				return
			}
		case <-timeout:
			t.Fatal("the normal client's edit was not acked")
		}
	}
}

// TestLiveStalledReaderIsClosed: a client that stops reading its socket
// is closed with 1013 once its queue is full, while another client on the
// document keeps getting prompt acks.
func TestLiveStalledReaderIsClosed(t *testing.T) {
	e := newEnv(t, func(c *testConfig) {
		c.live.EditsPerSecond, c.live.EditBurst, c.live.UserEditsPerSecond = 1e5, 1e5, 1e5
		c.live.WriteWait = time.Minute // the queue, not the write deadline, must end it
	})
	alice, tok := e.user("alice")
	doc := e.document(alice, "")

	// The stalled client: a small receive buffer, and it never reads.
	url := "ws" + strings.TrimPrefix(e.srv.URL, "http") + "/v1/documents/" + string(doc) + "/live"
	nd := net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		rc.Control(func(fd uintptr) { serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
		return serr
	}}
	d := websocket.Dialer{HandshakeTimeout: 10 * time.Second, NetDialContext: nd.DialContext}
	sc, _, err := d.Dial(url, map[string][]string{"Authorization": {"Bearer " + tok}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sc.Close() })
	stalled := &wsConn{t: t, c: sc}
	stalled.send(map[string]any{"type": "hello", "client": "stalled", "version": nil, "protocol": 1})
	if m := stalled.read(); m["type"] != "welcome" {
		t.Fatalf("got %v, want welcome", m)
	}

	// The good client types 16 KiB blocks, each replacing the last, so
	// the document stays small while the stalled client's queue fills.
	const block = 16 << 10
	good, _ := e.join(doc, tok, "good")
	ty := newTypist(good, func(n int) []any {
		ins := map[string]any{"insert": strings.Repeat(string(rune('a'+n%26)), block)}
		if n == 1 {
			return []any{ins}
		}
		return []any{ins, map[string]any{"delete": block}}
	})
	ty.start(0)
	deadline := time.Now().Add(60 * time.Second)
	for !ty.sawLeave("stalled") && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if err := ty.stop(); err != nil {
		t.Fatal(err)
	}
	if !ty.sawLeave("stalled") {
		t.Fatalf("the stalled client was not dropped after %d edits", ty.acks())
	}
	n, p99, worst := latencyStats(ty.latencies())
	t.Logf("the stalled client was dropped after %d edits; good client's acks: n=%d p99=%v max=%v", ty.acks(), n, p99, worst)
	if worst > 500*time.Millisecond {
		t.Fatalf("the good client's slowest ack took %v while another client stalled", worst)
	}
	// The stalled client reads at last: what was queued, then 1013.
	if code := stalled.closed(); code != collab.CloseTryAgainLater {
		t.Fatalf("close = %d, want 1013", code)
	}
}

// TestFanOutBatchesWrites: 100 editors on one document, ten of them typing
// steadily: each connection is sent every edit, but with far fewer system
// calls than messages.
func TestFanOutBatchesWrites(t *testing.T) {
	e := newEnv(t, func(c *testConfig) { c.live.UserEditsPerSecond = 1e5 })
	alice, tok := e.user("alice")
	doc := e.document(alice, "")
	const editors, typists, perTypist = 100, 10, 40
	const total = typists * perTypist
	conns := make([]*wsConn, editors)
	for i := range conns {
		conns[i], _ = e.join(doc, tok, "c"+itoa(i))
	}
	before := api.LiveWrites(e.api)
	var wg sync.WaitGroup
	errs := make(chan error, editors)
	versions := make([]atomic.Int64, editors)
	// Every connection reads until it has seen every edit.
	for i, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			seen := 0
			for seen < total {
				c.c.SetReadDeadline(time.Now().Add(20 * time.Second))
				_, p, err := c.c.ReadMessage()
				if err != nil {
					errs <- err
					return
				}
				if s := string(p); strings.Contains(s, `"type":"op"`) || strings.Contains(s, `"type":"ack"`) {
					seen++
					versions[i].Add(1)
				}
			}
		}()
	}
	// Typists type one edit every 20 ms each, based on what they have seen.
	for i := range typists {
		go func() {
			for s := 1; s <= perTypist; s++ {
				b := `{"type":"op","seq":` + itoa(s) + `,"version":` + itoa(int(versions[i].Load())) + `,"delta":[{"insert":"x"}]}`
				conns[i].c.SetWriteDeadline(time.Now().Add(10 * time.Second))
				if err := conns[i].c.WriteMessage(websocket.TextMessage, []byte(b)); err != nil {
					errs <- err
					return
				}
				time.Sleep(20 * time.Millisecond)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	writes := api.LiveWrites(e.api) - before
	messages := total * editors
	t.Logf("%d messages sent to %d editors with %d writes (%.1f messages a write)", messages, editors, writes, float64(messages)/float64(writes))
	if writes > messages/5 {
		t.Fatalf("%d writes for %d messages: the fan-out is not batched", writes, messages)
	}
	if got := e.text(doc); got != strings.Repeat("x", total)+"\n" {
		t.Fatalf("stored %q", got)
	}
	_ = context.Background
}
