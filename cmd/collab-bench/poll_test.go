package main

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/collabd/collabd/collab/client"
)

// TestPollConnSpeaksWebSocket runs a poller's connection against gorilla's
// server side: messages both ways at every length encoding, fragmented
// messages, a ping answered with a pong, and a close.
func TestPollConnSpeaksWebSocket(t *testing.T) {
	sizes := []int{0, 1, 125, 126, 1000, 65535, 65536, 200_000}
	msg := func(n int) []byte { return bytes.Repeat([]byte("abcdefghij"), n/10+1)[:n] }
	pong := make(chan string, 1)
	serverErr := make(chan error, 1)
	up := websocket.Upgrader{WriteBufferSize: 256} // small: long messages go out fragmented
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer t" {
			http.Error(w, "no token", http.StatusUnauthorized)
			return
		}
		ws, err := up.Upgrade(w, r, nil)
		if err != nil {
			serverErr <- err
			return
		}
		defer ws.Close()
		ws.SetPongHandler(func(s string) error { pong <- s; return nil })
		// Echo what the client sends, then send every size.
		for range sizes {
			kind, b, err := ws.ReadMessage()
			if err != nil || kind != websocket.TextMessage {
				serverErr <- errors.Join(err, errors.New("not a text message"))
				return
			}
			if err := ws.WriteMessage(websocket.TextMessage, b); err != nil {
				serverErr <- err
				return
			}
		}
		if err := ws.WriteControl(websocket.PingMessage, []byte("hi"), time.Now().Add(time.Second)); err != nil {
			serverErr <- err
			return
		}
		// Read on so the pong is handled, until the client closes.
		for {
			if _, _, err := ws.ReadMessage(); err != nil {
				var ce *websocket.CloseError
				if !errors.As(err, &ce) || ce.Code != websocket.CloseNormalClosure {
					serverErr <- err
				}
				close(serverErr)
				return
			}
		}
	}))
	defer srv.Close()
	url := "ws" + strings.TrimPrefix(srv.URL, "http") + "/live"

	p, err := newPoller(newClock())
	if err != nil {
		t.Fatal(err)
	}
	defer p.stop()
	var mu sync.Mutex
	var got [][]byte
	gotAll := make(chan struct{})
	ended := make(chan error, 1)
	onMsg := func(b []byte, now int64) {
		if now <= 0 {
			t.Errorf("message time %d, want a clock time", now)
		}
		mu.Lock()
		defer mu.Unlock()
		got = append(got, bytes.Clone(b))
		if len(got) == len(sizes) {
			close(gotAll)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	_, err = dialPoll(ctx, p, url, nil, onMsg, func(err error) { ended <- err })
	var he *client.HandshakeError
	if !errors.As(err, &he) || he.Status != http.StatusUnauthorized || he.Body != "no token" {
		t.Fatalf("dial without a token: %v, want a handshake error 401 \"no token\"", err)
	}

	c, err := dialPoll(ctx, p, url, http.Header{"Authorization": {"Bearer t"}}, onMsg, func(err error) { ended <- err })
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range sizes {
		if err := c.writeText(msg(n)); err != nil {
			t.Fatalf("write %d bytes: %v", n, err)
		}
	}
	select {
	case <-gotAll:
	case err := <-serverErr:
		t.Fatalf("server: %v", err)
	case <-ctx.Done():
		mu.Lock()
		t.Fatalf("got %d of %d messages", len(got), len(sizes))
	}
	for i, n := range sizes {
		if !bytes.Equal(got[i], msg(n)) {
			t.Errorf("message %d: got %d bytes, want the %d sent", i, len(got[i]), n)
		}
	}
	select {
	case s := <-pong:
		if s != "hi" {
			t.Errorf("pong %q, want the ping's \"hi\"", s)
		}
	case <-ctx.Done():
		t.Fatal("no pong to the server's ping")
	}
	c.close()
	if err := <-ended; err != nil {
		t.Errorf("onEnd after close = %v, want nil", err)
	}
	select {
	case err, ok := <-serverErr:
		if ok {
			t.Errorf("server: %v", err)
		}
	case <-ctx.Done():
		t.Error("the server did not see the close")
	}
}

// TestPollConnParsesFramesSplitAnywhere feeds a frame stream to parse in
// pieces of every size.
func TestPollConnParsesFramesSplitAnywhere(t *testing.T) {
	frame := func(first byte, payload string) []byte {
		b := []byte{first}
		switch n := len(payload); {
		case n < 126:
			b = append(b, byte(n))
		default:
			b = append(b, 126, byte(n>>8), byte(n))
		}
		return append(b, payload...)
	}
	long := strings.Repeat("x", 300)
	var stream []byte
	stream = append(stream, frame(0x81, `{"type":"ack"}`)...)
	stream = append(stream, frame(0x01, "frag")...) // text, not final
	stream = append(stream, frame(0x00, "ment")...) // continuation
	stream = append(stream, frame(0x80, "ed")...)   // final continuation
	stream = append(stream, frame(0x81, long)...)
	want := []string{`{"type":"ack"}`, "fragmented", long}
	for piece := 1; piece <= len(stream); piece++ {
		var got []string
		c := &pollConn{poller: &poller{clk: newClock()}, onMsg: func(b []byte, _ int64) { got = append(got, string(b)) }}
		for i := 0; i < len(stream); i += piece {
			in := bytes.Clone(stream[i:min(i+piece, len(stream))])
			if err := c.parse(in); err != nil {
				t.Fatalf("pieces of %d: %v", piece, err)
			}
			clear(in) // the poller reuses its buffer
		}
		if strings.Join(got, "|") != strings.Join(want, "|") || len(c.buf) != 0 {
			t.Fatalf("pieces of %d: got %q (%d bytes left), want %q", piece, got, len(c.buf), want)
		}
	}
	c := &pollConn{poller: &poller{clk: newClock()}, onMsg: func([]byte, int64) {}}
	if err := c.parse([]byte{0x81, 0x81, 1, 2, 3, 4, 'x'}); err == nil {
		t.Error("a masked frame from the server parsed, want an error")
	}
	if err := c.parse(frame(0x88, "\x03\xe8bye")); err == nil || !strings.Contains(err.Error(), "1000") {
		t.Errorf("a close frame: %v, want an error naming code 1000", err)
	}
}
