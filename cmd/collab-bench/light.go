package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"github.com/collabd/collabd/collab"
	"github.com/collabd/collabd/collab/client"
)

// Raw connections: light editors and idle connections speak the live
// protocol without the Go client: idle ones on a bare gorilla WebSocket,
// light ones on a poller's connection (poll.go). They say hello and read every
// frame (so the server never drops them as too slow), but they keep no
// document: of an op they read only type, version, client and seq, by
// scanning the frame rather than decoding its delta. That keeps 500 of
// them per document affordable on the same two cores as the server.

// rawDialer dials raw connections: small buffers, the write buffer pooled,
// as an idle connection writes almost nothing.
var rawDialer = &websocket.Dialer{
	HandshakeTimeout: 30 * time.Second,
	ReadBufferSize:   2048,
	WriteBufferSize:  1024,
	WriteBufferPool:  &sync.Pool{},
}

// dialRaw connects to a document's live endpoint, says hello as clientID
// (holding no version, so welcome carries the document) and reads until
// the welcome. It returns the connection and the welcome's version.
func dialRaw(ctx context.Context, url string, header http.Header, clientID string) (*websocket.Conn, int64, error) {
	ws, resp, err := rawDialer.DialContext(ctx, url, header)
	if err != nil {
		if resp != nil && errors.Is(err, websocket.ErrBadHandshake) {
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
			return nil, 0, fmt.Errorf("dial %s: %w", url, &client.HandshakeError{Status: resp.StatusCode, Body: string(bytes.TrimSpace(body))})
		}
		return nil, 0, fmt.Errorf("dial %s: %w", url, err)
	}
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(30 * time.Second)
	}
	ws.SetWriteDeadline(deadline)
	ws.SetReadDeadline(deadline)
	hello := fmt.Appendf(nil, `{"type":"hello","client":%q,"version":null,"protocol":%d}`, clientID, collab.ProtocolVersion)
	if err := ws.WriteMessage(websocket.TextMessage, hello); err != nil {
		ws.Close()
		return nil, 0, fmt.Errorf("hello: %w", err)
	}
	var buf []byte
	for {
		_, r, err := ws.NextReader()
		if err != nil {
			ws.Close()
			return nil, 0, fmt.Errorf("wait for welcome: %w", err)
		}
		if buf, err = readFrame(r, buf[:0]); err != nil {
			ws.Close()
			return nil, 0, fmt.Errorf("wait for welcome: %w", err)
		}
		switch m := parseMsg(buf); m.kind {
		case kindWelcome:
			ws.SetWriteDeadline(time.Time{})
			ws.SetReadDeadline(time.Time{})
			return ws, m.version, nil
		case kindError:
			ws.Close()
			return nil, 0, fmt.Errorf("hello refused: %s", m.code)
		}
	}
}

// retryRateLimited calls dial until it succeeds, fails otherwise than
// with 429 Too Many Requests (the server limits handshakes per IP
// address), or ctx ends. It counts the retries.
func retryRateLimited(ctx context.Context, retries *atomic.Int64, dial func() error) error {
	for {
		err := dial()
		var he *client.HandshakeError
		if !errors.As(err, &he) || he.Status != http.StatusTooManyRequests {
			return err
		}
		retries.Add(1)
		// The server says Retry-After: 1; spread the retries over it.
		t := time.NewTimer(500*time.Millisecond + rand.N(time.Second))
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return err
		}
	}
}

// readFrame appends the rest of a frame to buf, growing it as needed.
func readFrame(r io.Reader, buf []byte) ([]byte, error) {
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}

// closeRaw ends a raw connection normally without waiting for the
// server's answer.
func closeRaw(ws *websocket.Conn) {
	ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
	ws.Close()
}

// The server messages a raw connection tells apart.
type msgKind int8

const (
	kindOther msgKind = iota // presence, leave, anything unknown
	kindOp
	kindAck
	kindError
	kindWelcome
)

// msg is what a raw connection reads of a server message. client aliases
// the frame.
type msg struct {
	kind    msgKind
	version int64 // op, ack, welcome
	seq     int64 // op, ack, error (0: none)
	client  []byte
	code    string // error
}

// parseMsg reads a server frame by scanning it. The server writes its
// messages with encoding/json, fields in declaration order:
//
//	{"type":"op","version":V,"delta":[…],"client":"C","seq":S,"user":{…}}
//	{"type":"ack","seq":S,"version":V}
//	{"type":"welcome","version":V,…}
//	{"type":"error","code":"C","message":"…","seq":S}
//
// A quote inside a JSON string is escaped, so `"client":"` found last in
// an op is the op's own field (the user object after it has no such key).
// A frame that does not look like this is decoded with encoding/json.
func parseMsg(frame []byte) msg {
	var m msg
	var ok bool
	switch {
	case bytes.HasPrefix(frame, []byte(`{"type":"op","version":`)):
		m.kind = kindOp
		m.version, ok = intAt(frame, len(`{"type":"op","version":`))
		if i := bytes.LastIndex(frame, []byte(`"client":"`)); ok && i > 0 {
			c := frame[i+len(`"client":"`):]
			if j := bytes.IndexByte(c, '"'); j > 0 && bytes.IndexByte(c[:j], '\\') < 0 {
				m.client = c[:j]
				rest := c[j:]
				if k := bytes.Index(rest, []byte(`"seq":`)); k > 0 {
					m.seq, ok = intAt(rest, k+len(`"seq":`))
					if ok {
						return m
					}
				}
			}
		}
	case bytes.HasPrefix(frame, []byte(`{"type":"ack","seq":`)):
		m.kind = kindAck
		var n int
		m.seq, n, ok = intEnd(frame, len(`{"type":"ack","seq":`))
		if ok && bytes.HasPrefix(frame[n:], []byte(`,"version":`)) {
			if m.version, ok = intAt(frame, n+len(`,"version":`)); ok {
				return m
			}
		}
	case bytes.HasPrefix(frame, []byte(`{"type":"welcome","version":`)):
		m.kind = kindWelcome
		if m.version, ok = intAt(frame, len(`{"type":"welcome","version":`)); ok {
			return m
		}
	case bytes.HasPrefix(frame, []byte(`{"type":"error",`)):
		m.kind = kindError
		if i := bytes.Index(frame, []byte(`"code":"`)); i > 0 {
			c := frame[i+len(`"code":"`):]
			if j := bytes.IndexByte(c, '"'); j >= 0 {
				m.code = string(c[:j])
				ok = true
				if k := bytes.LastIndex(frame, []byte(`"seq":`)); k > 0 {
					m.seq, ok = intAt(frame, k+len(`"seq":`))
				}
				if ok {
					return m
				}
			}
		}
	case bytes.HasPrefix(frame, []byte(`{"type":"presence",`)), bytes.HasPrefix(frame, []byte(`{"type":"leave",`)):
		return msg{kind: kindOther}
	}
	return decodeMsg(frame)
}

// decodeMsg is parseMsg's slow path.
func decodeMsg(frame []byte) msg {
	var w struct {
		Type    string `json:"type"`
		Version int64  `json:"version"`
		Seq     int64  `json:"seq"`
		Client  string `json:"client"`
		Code    string `json:"code"`
	}
	if json.Unmarshal(frame, &w) != nil {
		return msg{kind: kindOther}
	}
	m := msg{version: w.Version, seq: w.Seq, code: w.Code}
	switch w.Type {
	case collab.TypeOp:
		m.kind, m.client = kindOp, []byte(w.Client)
	case collab.TypeAck:
		m.kind = kindAck
	case collab.TypeWelcome:
		m.kind = kindWelcome
	case collab.TypeError:
		m.kind = kindError
	}
	return m
}

// intAt parses the non-negative decimal integer at b[i:].
func intAt(b []byte, i int) (int64, bool) {
	n, _, ok := intEnd(b, i)
	return n, ok
}

// intEnd is intAt that also returns where the number ends.
func intEnd(b []byte, i int) (n int64, end int, ok bool) {
	j := i
	for j < len(b) && b[j] >= '0' && b[j] <= '9' && j-i < 18 {
		n = n*10 + int64(b[j]-'0')
		j++
	}
	return n, j, j > i
}

// lightEditor is a raw connection in a load run, read by a poller: it
// times the deliveries of every op of its document and, with
// --light-edits, types too (one op in flight, inserts only, within the
// document's initial text so that they fit without knowing the document).
type lightEditor struct {
	// Set before the goroutines start; read-only afterwards.
	conn  *pollConn
	dd    *docDeliveries
	index int
	stats *runCounters
	hello chan error // cap 1: the welcome came (nil) or hello was refused

	version  atomic.Int64  // the newest server version seen
	inflight atomic.Int64  // seq of the op in flight; 0: none
	acked    chan struct{} // cap 1: the in-flight op was answered
	closing  atomic.Bool   // the bench is closing the connection

	// Owned by the poller goroutine.
	welcomed bool

	// Owned by the typing goroutine.
	seq int64
}

// onMessage takes one server message: until the welcome, the answer to
// hello; then op deliveries to time and acks. It runs on the poller's
// goroutine; now is when the read that brought the message returned.
func (l *lightEditor) onMessage(frame []byte, now int64) {
	m := parseMsg(frame)
	if !l.welcomed {
		switch m.kind {
		case kindWelcome:
			l.welcomed = true
			l.version.Store(m.version)
			l.answerHello(nil)
		case kindError:
			l.closing.Store(true) // the server closes it next; not a drop
			l.answerHello(fmt.Errorf("hello refused: %s", m.code))
		}
		return
	}
	switch m.kind {
	case kindOp:
		if !l.dd.received(m.client, m.seq, now) {
			l.stats.foreignOps.Add(1)
		}
		l.version.Store(m.version)
	case kindAck:
		l.version.Store(m.version)
		l.answered(m.seq)
	case kindError:
		l.stats.serverErrors.Add(1)
		if m.seq > 0 && m.seq < int64(len(l.dd.senders[l.index])) {
			l.dd.senders[l.index][m.seq].refused.Store(true)
		}
		l.answered(m.seq)
	}
}

// answerHello tells the dialer how hello went; only the first answer
// counts.
func (l *lightEditor) answerHello(err error) {
	select {
	case l.hello <- err:
	default:
	}
}

// answered ends the in-flight op if it is seq.
func (l *lightEditor) answered(seq int64) {
	if seq != 0 && l.inflight.CompareAndSwap(seq, 0) {
		select {
		case l.acked <- struct{}{}:
		default:
		}
	}
}

// ready reports whether an op may be sent now, or a channel to wait on.
func (l *lightEditor) ready() (bool, <-chan struct{}) {
	if l.inflight.Load() == 0 {
		return true, nil
	}
	return false, l.acked
}

// send sends one insert of a word at a random place in [0, within).
func (l *lightEditor) send(due int64, word string, pos int) (bool, error) {
	if l.seq+1 >= int64(len(l.dd.senders[l.index])) {
		return false, errors.New("more ops than slots")
	}
	l.seq++
	l.dd.senders[l.index][l.seq].start.Store(due)
	l.inflight.Store(l.seq)
	b := make([]byte, 0, 128)
	b = append(b, `{"type":"op","seq":`...)
	b = strconv.AppendInt(b, l.seq, 10)
	b = append(b, `,"version":`...)
	b = strconv.AppendInt(b, l.version.Load(), 10)
	b = append(b, `,"delta":[`...)
	if pos > 0 {
		b = append(b, `{"retain":`...)
		b = strconv.AppendInt(b, int64(pos), 10)
		b = append(b, `},`...)
	}
	b = append(b, `{"insert":`...)
	b = strconv.AppendQuote(b, word)
	b = append(b, `}]}`...)
	if err := l.conn.writeText(b); err != nil {
		return false, fmt.Errorf("send op: %w", err)
	}
	return true, nil
}
