package api

import (
	"bufio"
	"encoding/binary"
	"errors"
	"net"
	"net/http"
	"sync"
	"time"
)

// The live endpoint writes its WebSocket frames itself (RFC 6455, server
// side: unmasked, no extensions), so that a writer can send everything
// queued for a connection with one system call, and so that a broadcast's
// encoded message is shared by all connections: only the 2–10 byte header
// is per connection. gorilla/websocket still does the handshake and reads.

// WebSocket opcodes the server sends.
const (
	opText  = 0x1
	opClose = 0x8
	opPing  = 0x9
	opPong  = 0xA
)

// copyLimit is the largest payload copied into a batch; larger ones (a
// welcome with a whole document) are written from where they are, with
// writev.
const copyLimit = 16 << 10

// errCloseSent is returned for writes after a close frame went out: the
// protocol allows nothing after it.
var errCloseSent = errors.New("websocket: close frame already sent")

// appendFrameHeader appends the header of a final, unmasked frame.
func appendFrameHeader(b []byte, op byte, n int) []byte {
	b = append(b, 0x80|op)
	switch {
	case n < 126:
		return append(b, byte(n))
	case n <= 0xFFFF:
		return binary.BigEndian.AppendUint16(append(b, 126), uint16(n))
	default:
		return binary.BigEndian.AppendUint64(append(b, 127), uint64(n))
	}
}

// frameBatch collects frames to be written with one system call. Small
// payloads are copied next to their headers; large ones are referenced.
// A batch belongs to one writer at a time.
type frameBatch struct {
	buf    []byte      // headers and small payloads
	mark   int         // start of the part of buf not yet in parts
	parts  net.Buffers // only when a large payload was referenced
	frames int
	close  bool // the batch ends with a close frame
}

func (b *frameBatch) add(op byte, payload []byte) {
	b.buf = appendFrameHeader(b.buf, op, len(payload))
	if len(payload) <= copyLimit {
		b.buf = append(b.buf, payload...)
	} else {
		b.parts = append(b.parts, b.buf[b.mark:], payload)
		b.mark = len(b.buf)
	}
	b.frames++
	if op == opClose {
		b.close = true
	}
}

func (b *frameBatch) empty() bool { return b.frames == 0 }

func (b *frameBatch) reset() {
	b.buf, b.mark, b.frames, b.close = b.buf[:0], 0, 0, false
	clear(b.parts) // drop references to large payloads
	b.parts = b.parts[:0]
}

// batches recycles frameBatch buffers, so an idle connection holds none.
var batches = sync.Pool{New: func() any { return &frameBatch{buf: make([]byte, 0, 4096)} }}

func getBatch() *frameBatch { return batches.Get().(*frameBatch) }

func putBatch(b *frameBatch) {
	if cap(b.buf) > 64<<10 {
		return // a rare large batch is not kept for everyone
	}
	b.reset()
	batches.Put(b)
}

// frameConn is a hijacked live connection. gorilla/websocket reads from
// it, and writes through it only the handshake answer and, from the reader
// goroutine, a close frame on a protocol error or an oversized message.
// Everything else goes out through writeBatch, from the connection's
// writer. mu orders the two kinds of writes, and once a close frame is out
// nothing more is written.
type frameConn struct {
	net.Conn
	writeWait time.Duration // bound on each write

	mu        sync.Mutex // guards the fields below; held during every write
	upgraded  bool       // the handshake answer is out: writes are frames now
	closeSent bool
	writes    int       // system calls that wrote frames (for tests)
	deadline  time.Time // the write deadline set last
}

// setWriteDeadline bounds the next write by writeWait, give or take half:
// moving the deadline costs a timer update, so a busy connection's is
// moved only once half of it has passed. Called with mu held.
func (c *frameConn) setWriteDeadline() {
	now := time.Now()
	if c.deadline.Sub(now) >= c.writeWait/2 {
		return
	}
	c.deadline = now.Add(c.writeWait)
	c.Conn.SetWriteDeadline(c.deadline)
}

// Write is gorilla's path: the handshake answer, or one control frame.
func (c *frameConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closeSent {
		return 0, errCloseSent
	}
	if c.upgraded {
		if len(p) > 0 && p[0]&0x0F == opClose {
			c.closeSent = true
		}
		c.writes++
		c.setWriteDeadline()
	}
	return c.Conn.Write(p)
}

// SetWriteDeadline is ignored: every write sets its own deadline under mu,
// so gorilla's deadlines cannot cut short the writer's writes.
func (c *frameConn) SetWriteDeadline(time.Time) error { return nil }

// SetDeadline sets only the read deadline, for the same reason.
func (c *frameConn) SetDeadline(t time.Time) error { return c.Conn.SetReadDeadline(t) }

// setUpgraded marks the end of the handshake.
func (c *frameConn) setUpgraded() {
	c.mu.Lock()
	c.upgraded = true
	c.mu.Unlock()
}

// writeBatch writes a batch with one system call (writev when a large
// payload is referenced).
func (c *frameConn) writeBatch(b *frameBatch) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closeSent {
		return errCloseSent
	}
	if b.close {
		c.closeSent = true
	}
	c.writes++
	c.setWriteDeadline()
	if len(b.parts) == 0 {
		_, err := c.Conn.Write(b.buf)
		return err
	}
	b.parts = append(b.parts, b.buf[b.mark:])
	parts := b.parts // WriteTo consumes its slice; b.parts is kept to be cleared
	_, err := parts.WriteTo(c.Conn)
	return err
}

// writeCount returns how many system calls wrote frames.
func (c *frameConn) writeCount() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.writes
}

// hijackInto hands gorilla's upgrader a frameConn instead of the raw
// connection, so that its writes go through the frameConn.
type hijackInto struct {
	http.ResponseWriter
	fc *frameConn
}

func (h hijackInto) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	nc, brw, err := http.NewResponseController(h.ResponseWriter).Hijack()
	if err != nil {
		return nil, nil, err
	}
	h.fc.Conn = nc
	return h.fc, brw, nil
}
