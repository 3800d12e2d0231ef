package api

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/gorilla/websocket"

	"github.com/collabd/collabd/collab"
)

func TestAppendFrameHeader(t *testing.T) {
	for _, c := range []struct {
		n    int
		want []byte
	}{
		{0, []byte{0x81, 0}},
		{125, []byte{0x81, 125}},
		{126, []byte{0x81, 126, 0, 126}},
		{65535, []byte{0x81, 126, 0xFF, 0xFF}},
		{65536, []byte{0x81, 127, 0, 0, 0, 0, 0, 1, 0, 0}},
	} {
		if got := appendFrameHeader(nil, opText, c.n); !bytes.Equal(got, c.want) {
			t.Errorf("header for %d bytes = %x, want %x", c.n, got, c.want)
		}
	}
}

// upgraded starts a server whose handler upgrades with a frameConn and
// hands it to serve; the client end is returned. serve runs until it
// returns; the test waits for it.
func upgraded(t *testing.T, serve func(fc *frameConn)) *websocket.Conn {
	t.Helper()
	served := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fc := &frameConn{writeWait: 5 * time.Second}
		up := websocket.Upgrader{ReadBufferSize: 64, WriteBufferSize: 64}
		if _, err := up.Upgrade(hijackInto{w, fc}, r, nil); err != nil {
			t.Errorf("upgrade: %v", err)
			close(served)
			return
		}
		fc.setUpgraded()
		go func() {
			defer close(served)
			defer fc.Close()
			serve(fc)
		}()
	}))
	ws, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() {
		ws.Close()
		select {
		case <-served:
		case <-time.After(10 * time.Second):
			t.Error("server side did not end")
		}
		srv.Close()
	})
	return ws
}

// Frames written by a batch are what gorilla's client reads, sizes at every
// header length and above copyLimit included, and one batch is one write.
func TestFrameBatchOnTheWire(t *testing.T) {
	msgs := [][]byte{{}, []byte("a"), bytes.Repeat([]byte("b"), 125), bytes.Repeat([]byte("c"), 126),
		bytes.Repeat([]byte("d"), 65535), bytes.Repeat([]byte("e"), 65536), bytes.Repeat([]byte("f"), copyLimit+1), []byte(`{"type":"ack"}`)}
	results := make(chan string, 3)
	ws := upgraded(t, func(fc *frameConn) {
		b := getBatch()
		defer putBatch(b)
		for i, m := range msgs {
			b.add(opText, m)
			if i == 3 {
				b.add(opPing, []byte("p"))
			}
		}
		if err := fc.writeBatch(b); err != nil {
			results <- "first batch: " + err.Error()
			return
		}
		results <- "writes " + strconv.Itoa(fc.writeCount())
		b.reset()
		b.add(opText, []byte("last"))
		b.add(opClose, websocket.FormatCloseMessage(collab.CloseDocumentGone, "document deleted"))
		if err := fc.writeBatch(b); err != nil {
			results <- "close batch: " + err.Error()
			return
		}
		b.reset()
		b.add(opText, []byte("after close"))
		if err := fc.writeBatch(b); !errors.Is(err, errCloseSent) {
			results <- "a write after the close frame was not refused"
			return
		}
		results <- "ok"
	})
	pinged := false
	ws.SetPingHandler(func(string) error { pinged = true; return nil })
	ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	for i, want := range append(msgs, []byte("last")) {
		kind, got, err := ws.ReadMessage()
		if err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		if kind != websocket.TextMessage || !bytes.Equal(got, want) {
			t.Fatalf("message %d: kind %d, %d bytes, want text of %d bytes", i, kind, len(got), len(want))
		}
	}
	if !pinged {
		t.Error("the ping in the batch was not read")
	}
	_, _, err := ws.ReadMessage()
	var ce *websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != collab.CloseDocumentGone || ce.Text != "document deleted" {
		t.Fatalf("after the messages: %v, want close 4404 \"document deleted\"", err)
	}
	if r := <-results; r != "writes 1" {
		t.Fatalf("a batch of %d frames took %s system calls, want 1", len(msgs)+1, r)
	}
	if r := <-results; r != "ok" {
		t.Fatal(r)
	}
}

// clientFrame encodes a masked client frame by hand, for inputs gorilla's
// client would never send.
func clientFrame(h0 byte, payload []byte, masked bool) []byte {
	b := []byte{h0}
	m := byte(0)
	if masked {
		m = 0x80
	}
	switch n := len(payload); {
	case n < 126:
		b = append(b, m|byte(n))
	case n <= 0xFFFF:
		b = append(b, m|126, byte(n>>8), byte(n))
	default:
		b = append(b, m|127, 0, 0, 0, 0, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	}
	key := [4]byte{1, 2, 3, 4}
	if masked {
		b = append(b, key[:]...)
	}
	for i, c := range payload {
		if masked {
			c ^= key[i&3]
		}
		b = append(b, c)
	}
	return b
}

type readFrame struct {
	op      byte
	payload string
}

// What gorilla's client sends is read back: messages whole (fragments
// joined), control frames as they come, whatever the read buffer's size.
func TestFrameReaderReadsGorillaClient(t *testing.T) {
	got := make(chan []readFrame, 1)
	var ws *websocket.Conn
	ws = upgraded(t, func(fc *frameConn) {
		fr := &frameReader{r: fc.Conn, limit: 1 << 20}
		fc.SetReadDeadline(time.Now().Add(10 * time.Second))
		var frames []readFrame
		for {
			op, p, err := fr.next()
			if err != nil {
				frames = append(frames, readFrame{0xFF, err.Error()})
				break
			}
			frames = append(frames, readFrame{op, string(p)})
			if op == opClose {
				break
			}
		}
		got <- frames
	})
	long := strings.Repeat("0123456789", 1000) // longer than the read buffer and the client's write buffer
	ws.WriteMessage(websocket.TextMessage, []byte("hello"))
	w, _ := ws.NextWriter(websocket.TextMessage) // fragments: the client's buffer is smaller than the message
	io.WriteString(w, long)
	w.Close()
	ws.WriteControl(websocket.PingMessage, []byte("p"), time.Now().Add(time.Second))
	ws.WriteMessage(websocket.BinaryMessage, []byte{0, 1, 2})
	ws.WriteMessage(websocket.TextMessage, []byte{})
	ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(1000, "bye"), time.Now().Add(time.Second))
	want := []readFrame{{opText, "hello"}, {opText, long}, {opPing, "p"}, {opBinary, "\x00\x01\x02"}, {opText, ""}, {opClose, "\x03\xe8bye"}}
	var frames []readFrame
	select {
	case frames = <-got:
	case <-time.After(10 * time.Second):
		t.Fatal("reader did not finish")
	}
	if len(frames) != len(want) {
		t.Fatalf("read %d frames, want %d: %.200v", len(frames), len(want), frames)
	}
	for i := range want {
		if frames[i] != want[i] {
			t.Errorf("frame %d = %d %.40q, want %d %.40q", i, frames[i].op, frames[i].payload, want[i].op, want[i].payload)
		}
	}
}

// Protocol violations are errors with the close code to answer them.
func TestFrameReaderRefusesBadFrames(t *testing.T) {
	for _, c := range []struct {
		name  string
		input []byte
		code  int
	}{
		{"unmasked", clientFrame(0x81, []byte("x"), false), websocket.CloseProtocolError},
		{"reserved bits", clientFrame(0xC1, []byte("x"), true), websocket.CloseProtocolError},
		{"unknown opcode", clientFrame(0x83, []byte("x"), true), websocket.CloseProtocolError},
		{"fragmented ping", clientFrame(0x09, []byte("x"), true), websocket.CloseProtocolError},
		{"long ping", clientFrame(0x89, bytes.Repeat([]byte("x"), 126), true), websocket.CloseProtocolError},
		{"lone continuation", clientFrame(0x80, []byte("x"), true), websocket.CloseProtocolError},
		{"message inside a message", append(clientFrame(0x01, []byte("a"), true), clientFrame(0x81, []byte("b"), true)...), websocket.CloseProtocolError},
		{"too long", clientFrame(0x81, bytes.Repeat([]byte("x"), 101), true), collab.CloseTooBig},
		{"too long in fragments", append(clientFrame(0x01, bytes.Repeat([]byte("x"), 60), true), clientFrame(0x80, bytes.Repeat([]byte("x"), 60), true)...), collab.CloseTooBig},
		{"huge length", append([]byte{0x81, 0xFF, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF}, 1, 2, 3, 4), collab.CloseTooBig},
	} {
		fr := &frameReader{r: bytes.NewReader(c.input), limit: 100}
		_, _, err := fr.next()
		var fe *frameError
		if !errors.As(err, &fe) || fe.code != c.code {
			t.Errorf("%s: %v, want close %d", c.name, err, c.code)
		}
	}
	// A frame cut short is a read error, not a message.
	fr := &frameReader{r: bytes.NewReader(clientFrame(0x81, []byte("hello"), true)[:8]), limit: 100}
	if _, _, err := fr.next(); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("truncated frame: %v, want unexpected EOF", err)
	}
}

func TestParseClose(t *testing.T) {
	for _, c := range []struct {
		payload []byte
		code    int // the code to echo, or the close code of the error
		bad     bool
	}{
		{nil, websocket.CloseNoStatusReceived, false},
		{[]byte{3, 0xE8}, 1000, false},
		{append([]byte{0x0F, 0xA0}, "ok"...), 4000, false},
		{[]byte{3}, websocket.CloseProtocolError, true},
		{[]byte{3, 0xED}, websocket.CloseProtocolError, true}, // 1005 may not be sent
		{[]byte{0x03, 0xE8, 0xFF}, collab.CloseInvalidUTF8, true},
	} {
		code, err := parseClose(c.payload)
		var fe *frameError
		switch {
		case c.bad && (!errors.As(err, &fe) || fe.code != c.code):
			t.Errorf("close payload %x: %v, want close %d", c.payload, err, c.code)
		case !c.bad && (err != nil || code != c.code):
			t.Errorf("close payload %x: code %d, %v; want %d", c.payload, code, err, c.code)
		}
	}
}

// A header claiming a long message makes the reader allocate only as the
// bytes come, not the claimed length at once.
func TestFrameReaderAllocatesAsBytesArrive(t *testing.T) {
	in := append([]byte{0x81, 0xFF, 0, 0, 0, 0, 0, 0x80, 0, 0, 1, 2, 3, 4}, "only a few bytes"...) // claims 8 MiB
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	fr := &frameReader{r: bytes.NewReader(in), limit: 16 << 20}
	_, _, err := fr.next()
	runtime.ReadMemStats(&after)
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("cut-short frame: %v, want unexpected EOF", err)
	}
	if n := after.TotalAlloc - before.TotalAlloc; n > 1<<20 {
		t.Fatalf("reading 16 bytes of a frame claiming 8 MiB allocated %d bytes", n)
	}
}

func TestClosePayloadFitsAControlFrame(t *testing.T) {
	long := strings.Repeat("é", 100) // 200 bytes
	p := closePayload(collab.ClosePolicy, long)
	if len(p) > 125 || !utf8.Valid(p[2:]) || !strings.HasPrefix(long, string(p[2:])) || len(p) < 120 {
		t.Fatalf("close payload of %d bytes: %q", len(p), p)
	}
	if p := closePayload(1000, "bye"); string(p) != "\x03\xe8bye" {
		t.Fatalf("close payload %q", p)
	}
}

// Only a connection sent more than busyRate messages a second has its
// writes spaced; a quiet one is written at once again.
func TestLiveConnBusyRate(t *testing.T) {
	c := &liveConn{}
	now := time.Unix(1000, 0)
	for range 20 { // 25 messages a second: a few typists
		now = now.Add(40 * time.Millisecond)
		c.noteWrite(now, 1)
		if c.busy {
			t.Fatalf("busy at 25 messages a second")
		}
	}
	for range 30 { // 500 a second, five per write
		now = now.Add(10 * time.Millisecond)
		c.noteWrite(now, 5)
	}
	if !c.busy {
		t.Fatalf("not busy at 500 messages a second")
	}
	now = now.Add(time.Second)
	c.noteWrite(now, 1)
	if c.busy {
		t.Fatalf("still busy after a quiet second")
	}
}
