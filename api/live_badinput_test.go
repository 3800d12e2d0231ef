package api_test

import (
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/collabd/collabd/collab"
)

// TestLiveBadInputMeanwhile sends each kind of bad input on a connection of
// its own while a well-behaved client types on the same document without
// pause, and checks for each: the error or close code the protocol gives
// it, that the document holds only the good client's edits, and that the
// good client's acks stayed prompt while it happened.
func TestLiveBadInputMeanwhile(t *testing.T) {
	onBothStores(t, testLiveBadInputMeanwhile)
}

func testLiveBadInputMeanwhile(t *testing.T, store func(*testConfig)) {
	const bound = 500 * time.Millisecond
	e := newEnv(t, store, func(c *testConfig) {
		c.live.MaxMessageBytes = 64 << 10
		c.live.EditsPerSecond = 100
		c.live.EditBurst = 50
		c.live.FloodStrikes = 10
		// Every round dials: on a busy machine rounds bunch up, and the
		// per-address handshake limit is not what this test is about.
		c.ipRate, c.ipBurst = 10000, 10000
	})
	alice, aliceTok := e.user("alice")
	bob, bobTok := e.user("bob")
	doc := e.document(alice, "abc")
	e.share(doc, bob, collab.Editor)

	// The good client is another user, so that the bad inputs' edits do
	// not count against its rate.
	good, _ := e.join(doc, bobTok, "good")
	ty := newTypist(good, func(int) []any { return []any{map[string]any{"insert": "g"}} })

	dial := func(t *testing.T) *wsConn {
		t.Helper()
		w, _, err := e.dial(doc, aliceTok, nil)
		if err != nil {
			t.Fatal(err)
		}
		return w
	}
	joined := func(t *testing.T, client string) *wsConn {
		t.Helper()
		w := dial(t)
		w.t = t
		w.send(map[string]any{"type": "hello", "client": client, "version": nil, "protocol": 1})
		if m := w.read(); m["type"] != "welcome" {
			t.Fatalf("got %v, want welcome", m)
		}
		return w
	}
	expectClose := func(t *testing.T, w *wsConn, code int) {
		t.Helper()
		w.t = t
		if got := w.closed(); got != code {
			t.Fatalf("close = %d, want %d", got, code)
		}
	}
	expectError := func(t *testing.T, w *wsConn, code collab.Code, seq int) {
		t.Helper()
		w.t = t
		m := w.answer()
		if m["type"] != "error" || m["code"] != string(code) || (seq > 0 && m["seq"] != float64(seq)) {
			t.Fatalf("got %v, want error %s", m, code)
		}
	}

	cases := []struct {
		name string
		// prep runs before the good client starts typing: what it
		// commits is not bad input. It may return a connection for run.
		prep func(t *testing.T) *wsConn
		run  func(t *testing.T, w *wsConn)
	}{
		{"not JSON before hello: bad_message then 1008", nil, func(t *testing.T, _ *wsConn) {
			w := dial(t)
			w.sendRaw(websocket.TextMessage, []byte("{nope"))
			expectError(t, w, collab.BadMessage, 0)
			expectClose(t, w, collab.ClosePolicy)
		}},
		{"op before hello: bad_message then 1008", nil, func(t *testing.T, _ *wsConn) {
			w := dial(t)
			w.send(insertOp(1, 0, "x"))
			expectError(t, w, collab.BadMessage, 0)
			expectClose(t, w, collab.ClosePolicy)
		}},
		{"binary frame: 1003", nil, func(t *testing.T, _ *wsConn) {
			w := joined(t, "bin")
			w.sendRaw(websocket.BinaryMessage, []byte{1, 2, 3})
			expectClose(t, w, collab.CloseUnsupported)
		}},
		{"invalid UTF-8: 1007", nil, func(t *testing.T, _ *wsConn) {
			w := joined(t, "utf")
			w.sendRaw(websocket.TextMessage, []byte("{\"type\":\"op\",\"seq\":1,\"version\":0,\"delta\":[{\"insert\":\"\xff\"}]}"))
			expectClose(t, w, collab.CloseInvalidUTF8)
		}},
		{"not JSON, unknown type, second hello: bad_message, stays open", nil, func(t *testing.T, _ *wsConn) {
			w := joined(t, "nj")
			for range 20 {
				w.sendRaw(websocket.TextMessage, []byte("[1,2"))
				expectError(t, w, collab.BadMessage, 0)
				w.send(map[string]any{"type": "frobnicate", "seq": 1})
				expectError(t, w, collab.BadMessage, 0)
				w.send(map[string]any{"type": "hello", "client": "again", "version": nil, "protocol": 1})
				expectError(t, w, collab.BadMessage, 0)
			}
		}},
		{"invalid deltas: invalid_op", nil, func(t *testing.T, _ *wsConn) {
			w := joined(t, "inv")
			for i, d := range []string{
				`[{"retain":-1}]`, `[{"insert":""}]`, `[{"retain":1.5}]`, `[{"insert":{"a":1,"b":2}}]`,
				`[{"insert":"\ud800"}]`, `[{"retain":100000},{"insert":"x"}]`, `[{"retain":3},{"delete":100000}]`,
				`"text"`, `[{"delete":1,"attributes":{"bold":true}}]`,
			} {
				w.sendRaw(websocket.TextMessage, []byte(`{"type":"op","seq":`+itoa(i+1)+`,"version":0,"delta":`+d+`}`))
				m := w.answer()
				if m["type"] != "error" || m["code"] != string(collab.InvalidOp) || m["seq"] != float64(i+1) {
					t.Errorf("delta %s answered %v, want invalid_op for seq %d", d, m, i+1)
				}
			}
		}},
		{"stale seq: bad_message", func(t *testing.T) *wsConn {
			w := joined(t, "stale")
			w.send(insertOp(1, 0, "1"))
			if m := w.answer(); m["type"] != "ack" {
				t.Fatalf("got %v, want ack", m)
			}
			w.send(insertOp(3, 0, "3")) // seq 2 skipped
			if m := w.answer(); m["type"] != "ack" {
				t.Fatalf("got %v, want ack", m)
			}
			return w
		}, func(t *testing.T, w *wsConn) {
			w.t = t
			w.send(insertOp(2, 0, "STALE"))
			if m := w.answer(); m["type"] != "error" || m["code"] != string(collab.BadMessage) || m["seq"] != float64(2) {
				t.Fatalf("stale seq answered %v, want bad_message for seq 2", m)
			}
		}},
		{"version ahead: version_ahead", nil, func(t *testing.T, _ *wsConn) {
			w := joined(t, "ahead")
			w.send(insertOp(1, 1<<40, "x"))
			expectError(t, w, collab.VersionAhead, 1)
		}},
		{"oversize frame: 1009", nil, func(t *testing.T, _ *wsConn) {
			w := joined(t, "big")
			w.send(insertOp(1, 0, strings.Repeat("x", 70<<10)))
			expectClose(t, w, collab.CloseTooBig)
		}},
		{"flood: rate_limited, then 1008", nil, func(t *testing.T, _ *wsConn) {
			w := joined(t, "flood")
			// Deltas that do not fit: what the limit lets through is
			// refused as invalid_op, so the flood changes nothing.
			limited := 0
			for i := 1; i <= 2000; i++ {
				w.c.SetWriteDeadline(time.Now().Add(10 * time.Second))
				if err := w.c.WriteMessage(websocket.TextMessage, []byte(`{"type":"op","seq":`+itoa(i)+`,"version":0,"delta":[{"retain":99999},{"insert":"x"}]}`)); err != nil {
					break // closed by the server
				}
			}
			for {
				w.c.SetReadDeadline(time.Now().Add(10 * time.Second))
				_, b, err := w.c.ReadMessage()
				if err != nil {
					ce, ok := err.(*websocket.CloseError)
					if !ok || ce.Code != collab.ClosePolicy {
						t.Fatalf("flood ended with %v, want close 1008", err)
					}
					break
				}
				if strings.Contains(string(b), `"rate_limited"`) {
					limited++
				}
			}
			if limited == 0 {
				t.Fatal("no rate_limited error before the close")
			}
		}},
	}
	var all []time.Duration
	for _, tc := range cases {
		var w *wsConn
		if tc.prep != nil {
			w = tc.prep(t)
		}
		before := e.text(doc)
		acked := ty.acks()
		// The good client types throughout: started before the bad input
		// and stopped after it was answered.
		ty.latencies()
		ty.start(5 * time.Millisecond)
		for ty.acks() < acked+3 {
			time.Sleep(time.Millisecond)
		}
		// The bad input is repeated for a while, so that the good client's
		// acks are measured while it happens, not around it.
		rounds, during := 0, 0
		t.Run(tc.name, func(t *testing.T) {
			start, from := time.Now(), ty.acks()
			for ; rounds == 0 || time.Since(start) < 300*time.Millisecond; rounds++ {
				tc.run(t, w)
				if t.Failed() {
					return
				}
				// Paced, so that the rounds stay within the edit rates
				// (per connection and per user), which this is not about.
				time.Sleep(25 * time.Millisecond)
			}
			during = ty.acks() - from
		})
		if err := ty.stop(); err != nil {
			t.Fatalf("%s: good client: %v", tc.name, err)
		}
		lat := ty.latencies()
		all = append(all, lat...)
		n, p99, worst := latencyStats(lat)
		t.Logf("%s: %d rounds; good client's acks: %d meanwhile, %d in all, p99=%v max=%v", tc.name, rounds, during, n, p99, worst)
		if during < 3 {
			t.Errorf("%s: the good client got %d acks while the bad input happened, want several", tc.name, during)
		}
		if worst > bound {
			t.Errorf("%s: a good client's ack took %v (bound %v)", tc.name, worst, bound)
		}
		// Only the good client's edits (inserted at 0) changed the text.
		want := strings.Repeat("g", ty.acks()-acked) + before
		if after := e.text(doc); after != want {
			t.Fatalf("%s changed the document: %q -> %q, want %q", tc.name, before, after, want)
		}
	}
	n, p99, worst := latencyStats(all)
	t.Logf("good client's acks during all bad input: n=%d p99=%v max=%v", n, p99, worst)
}

// answer returns the next message that is not another client's op.
func (w *wsConn) answer() map[string]any {
	w.t.Helper()
	for {
		if m := w.read(); m["type"] != "op" {
			return m
		}
	}
}
