package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/collabd/collabd/collab"
)

// wsConn is a raw live-protocol connection for tests.
type wsConn struct {
	t testing.TB
	c *websocket.Conn
}

func (e *env) dial(doc collab.DocumentID, token string, header http.Header) (*wsConn, *http.Response, error) {
	url := "ws" + strings.TrimPrefix(e.srv.URL, "http") + "/v1/documents/" + string(doc) + "/live"
	if header == nil {
		header = http.Header{}
	}
	if token != "" {
		header.Set("Authorization", "Bearer "+token)
	}
	d := websocket.Dialer{HandshakeTimeout: 10 * time.Second}
	c, resp, err := d.Dial(url, header)
	if err != nil {
		return nil, resp, err
	}
	e.t.Cleanup(func() { c.Close() })
	return &wsConn{t: e.t, c: c}, resp, nil
}

// join dials and says hello, returning the welcome.
func (e *env) join(doc collab.DocumentID, token, client string) (*wsConn, map[string]any) {
	e.t.Helper()
	w, _, err := e.dial(doc, token, nil)
	if err != nil {
		e.t.Fatalf("dial: %v", err)
	}
	w.send(map[string]any{"type": "hello", "client": client, "version": nil, "protocol": 1})
	m := w.read()
	if m["type"] != "welcome" {
		e.t.Fatalf("first message = %v, want welcome", m)
	}
	return w, m
}

func (w *wsConn) send(v any) {
	w.t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		w.t.Fatal(err)
	}
	w.sendRaw(websocket.TextMessage, b)
}

func (w *wsConn) sendRaw(kind int, b []byte) {
	w.t.Helper()
	w.c.SetWriteDeadline(time.Now().Add(10 * time.Second))
	if err := w.c.WriteMessage(kind, b); err != nil {
		w.t.Fatalf("write: %v", err)
	}
}

// read returns the next message, skipping presence and leave.
func (w *wsConn) read() map[string]any {
	w.t.Helper()
	for {
		w.c.SetReadDeadline(time.Now().Add(10 * time.Second))
		_, b, err := w.c.ReadMessage()
		if err != nil {
			w.t.Fatalf("read: %v", err)
		}
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			w.t.Fatalf("server sent %s: %v", b, err)
		}
		if m["type"] == "presence" || m["type"] == "leave" {
			continue
		}
		return m
	}
}

// closed reads until the server closes, returning the close code.
func (w *wsConn) closed() int {
	w.t.Helper()
	for {
		w.c.SetReadDeadline(time.Now().Add(10 * time.Second))
		_, _, err := w.c.ReadMessage()
		if err == nil {
			continue
		}
		if ce, ok := err.(*websocket.CloseError); ok {
			return ce.Code
		}
		w.t.Fatalf("connection ended without a close frame: %v", err)
	}
}

func (w *wsConn) expectError(code collab.Code) map[string]any {
	w.t.Helper()
	m := w.read()
	if m["type"] != "error" || m["code"] != string(code) {
		w.t.Fatalf("got %v, want error %s", m, code)
	}
	return m
}

func TestLiveHandshakeIsAuthenticatedBeforeUpgrade(t *testing.T) {
	e := newEnv(t)
	alice, aliceTok := e.user("alice")
	_, bobTok := e.user("bob")
	doc := e.document(alice, "hi")
	for _, tc := range []struct {
		name   string
		token  string
		header http.Header
		status int
	}{
		{"no credentials", "", nil, http.StatusUnauthorized},
		{"garbage token", "nope", nil, http.StatusUnauthorized},
		{"not a member", bobTok, nil, http.StatusNotFound},
		{"cookie from a foreign origin", "", http.Header{"Cookie": {"collabd_session=" + aliceTok}, "Origin": {"https://evil.example"}}, http.StatusForbidden},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, resp, err := e.dial(doc, tc.token, tc.header)
			if err == nil {
				t.Fatal("upgrade succeeded")
			}
			if resp == nil || resp.StatusCode != tc.status {
				t.Fatalf("status = %v, want %d", resp, tc.status)
			}
		})
	}
	// The same cookie from the server's own origin works.
	_, resp, err := e.dial(doc, "", http.Header{"Cookie": {"collabd_session=" + aliceTok}, "Origin": {e.srv.URL}})
	if err != nil {
		t.Fatalf("same-origin cookie: %v (%v)", err, resp)
	}
}

func TestLiveEditIsAckedAndBroadcast(t *testing.T) {
	e := newEnv(t)
	alice, aliceTok := e.user("alice")
	bob, bobTok := e.user("bob")
	doc := e.document(alice, "hi")
	e.share(doc, bob, collab.Editor)
	a, welcome := e.join(doc, aliceTok, "a")
	if welcome["version"] != float64(0) || welcome["doc"] == nil {
		t.Fatalf("welcome = %v, want version 0 with the doc", welcome)
	}
	b, _ := e.join(doc, bobTok, "b")
	a.send(map[string]any{"type": "op", "seq": 1, "version": 0, "delta": []any{map[string]any{"insert": "A"}}})
	if m := a.read(); m["type"] != "ack" || m["seq"] != float64(1) || m["version"] != float64(1) {
		t.Fatalf("author got %v, want ack seq 1 version 1", m)
	}
	m := b.read()
	if m["type"] != "op" || m["client"] != "a" || m["version"] != float64(1) {
		t.Fatalf("peer got %v, want a's op as version 1", m)
	}
	if got := e.text(doc); got != "Ahi\n" {
		t.Fatalf("stored text = %q", got)
	}
}

func TestLiveViewerOpIsForbidden(t *testing.T) {
	e := newEnv(t)
	alice, _ := e.user("alice")
	viewer, viewerTok := e.user("vic")
	doc := e.document(alice, "hi")
	e.share(doc, viewer, collab.Viewer)
	v, _ := e.join(doc, viewerTok, "v")
	v.send(map[string]any{"type": "op", "seq": 1, "version": 0, "delta": []any{map[string]any{"insert": "x"}}})
	v.expectError(collab.Forbidden)
	if got := e.text(doc); got != "hi\n" {
		t.Fatalf("viewer changed the document: %q", got)
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

func TestLiveShutdownClosesWith1001(t *testing.T) {
	e := newEnv(t)
	alice, aliceTok := e.user("alice")
	doc := e.document(alice, "")
	a, _ := e.join(doc, aliceTok, "a")
	a.send(map[string]any{"type": "op", "seq": 1, "version": 0, "delta": []any{map[string]any{"insert": "x"}}})
	a.read() // ack
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := e.reg.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if code := a.closed(); code != collab.CloseGoingAway {
		t.Fatalf("close = %d, want 1001", code)
	}
}

// TestHundredEditorsOnOneDocument: 100 connections on one document, ten of
// them typing; every connection receives every edit once, in version
// order, and the store holds all of them.
func TestHundredEditorsOnOneDocument(t *testing.T) {
	e := newEnv(t)
	alice, tok := e.user("alice")
	doc := e.document(alice, "")
	const editors, typists, perTypist = 100, 10, 5
	conns := make([]*wsConn, editors)
	for i := range conns {
		conns[i], _ = e.join(doc, tok, "c"+itoa(i))
	}
	for i := range typists {
		for s := 1; s <= perTypist; s++ {
			// Each op is based on version 0: the session transforms it
			// past everything committed since.
			conns[i].send(map[string]any{"type": "op", "seq": s, "version": 0, "delta": []any{map[string]any{"insert": "x"}}})
		}
	}
	const total = typists * perTypist
	for i, c := range conns {
		next := int64(1)
		for next <= total {
			m := c.read()
			switch m["type"] {
			case "op", "ack":
				if v := int64(m["version"].(float64)); v != next {
					t.Fatalf("connection %d got version %d, want %d: %v", i, v, next, m)
				}
				next++
			default:
				t.Fatalf("connection %d got %v", i, m)
			}
		}
	}
	if got := e.text(doc); got != strings.Repeat("x", total)+"\n" {
		t.Fatalf("stored %q", got)
	}
}

// TestClosedConnectionsLeaveNoGoroutines: connections that come and go,
// and the sessions they opened, leave nothing running behind.
func TestClosedConnectionsLeaveNoGoroutines(t *testing.T) {
	e := newEnv(t, func(c *testConfig) { c.session.IdleTimeout = 10 * time.Millisecond })
	alice, tok := e.user("alice")
	docs := []collab.DocumentID{e.document(alice, "a"), e.document(alice, "b")}
	// Warm up: the first connection starts the HTTP server's own goroutines.
	w, _ := e.join(docs[0], tok, "warm")
	w.c.Close()
	waitUntil(t, "sessions to retire", func() bool { return e.reg.Len() == 0 })
	before := runtime.NumGoroutine()
	for i := range 40 {
		c, _ := e.join(docs[i%2], tok, "c"+itoa(i))
		c.send(map[string]any{"type": "presence", "range": map[string]int{"index": 0, "length": 1}})
		if i%3 == 0 {
			c.c.Close() // abruptly
		} else {
			c.c.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""))
			c.c.Close()
		}
	}
	waitUntil(t, "goroutines to return", func() bool {
		return e.reg.Len() == 0 && runtime.NumGoroutine() <= before
	})
}

// TestLiveUserEditLimitSpansConnections: one user's edits on a document are
// limited over all their connections, not only per connection.
func TestLiveUserEditLimitSpansConnections(t *testing.T) {
	e := newEnv(t, func(c *testConfig) {
		c.live.EditsPerSecond, c.live.EditBurst = 1000, 1000 // each connection alone is not limited here
		c.live.UserEditsPerSecond = 5                        // burst 10 for the user
	})
	alice, tok := e.user("alice")
	doc := e.document(alice, "")
	conns := []*wsConn{}
	for i := range 4 {
		c, _ := e.join(doc, tok, "c"+itoa(i))
		conns = append(conns, c)
	}
	limited := 0
	for i := 0; i < 40; i++ {
		c := conns[i%4]
		c.send(map[string]any{"type": "op", "seq": i/4 + 1, "version": 0, "delta": []any{map[string]any{"insert": "x"}}})
	}
	for _, c := range conns {
		for range 10 {
			m := c.read()
			for m["type"] == "op" {
				m = c.read()
			}
			if m["type"] == "error" && m["code"] == "rate_limited" {
				limited++
			}
		}
	}
	if limited < 20 {
		t.Fatalf("%d of 40 ops from one user over 4 connections were limited; want most beyond the burst of 10", limited)
	}
}
