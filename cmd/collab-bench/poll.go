package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	mathrand "math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/collabd/collabd/collab"
	"github.com/collabd/collabd/collab/client"
)

// Light editors in a load run are read by pollers, not a goroutine each:
// a poller waits on epoll for many connections and reads each ready one
// with one read(2), so a burst of frames costs one system call and no
// goroutine switch per frame. On the same two cores as the server, the
// load generator's CPU is latency that the server's figures would carry.
//
// The connection speaks just enough WebSocket (RFC 6455) for the live
// protocol: the upgrade handshake, masked text frames out, unmasked frames
// in (fragmented messages reassembled, pings answered, close ends it).

// pollConn is one light editor's connection.
type pollConn struct {
	// Set by dialPoll; read-only afterwards.
	nc     net.Conn
	fd     int
	poller *poller
	onMsg  func(payload []byte, now int64) // called by the poller goroutine
	onEnd  func(err error)                 // called once, by whoever ends the connection

	wmu      sync.Mutex // one writer at a time: the typing goroutine, the poller's pongs, the closer
	deadline time.Time  // the write deadline set last; guarded by wmu

	ended   atomic.Bool
	closing atomic.Bool // we sent a close: the server's answering close is no error
	endOnce sync.Once

	// Owned by the poller goroutine (and by dialPoll before it registers).
	buf  []byte // bytes read and not yet a whole frame
	frag []byte // a fragmented message being reassembled
	inFr bool   // frag is in use
}

// websocketGUID is RFC 6455's key suffix.
const websocketGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

// dialPoll opens a WebSocket to rawURL and hands the connection to a
// poller; every message then goes to onMsg, in order, on the poller's
// goroutine. A handshake the server refuses is a *client.HandshakeError.
func dialPoll(ctx context.Context, p *poller, rawURL string, header http.Header, onMsg func([]byte, int64), onEnd func(error)) (*pollConn, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", rawURL, err)
	}
	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", u.Host)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", rawURL, err)
	}
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(30 * time.Second)
	}
	nc.SetDeadline(deadline)
	var k [16]byte
	rand.Read(k[:])
	key := base64.StdEncoding.EncodeToString(k[:])
	var req bytes.Buffer
	fmt.Fprintf(&req, "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n", u.RequestURI(), u.Host, key)
	for name, vs := range header {
		for _, v := range vs {
			fmt.Fprintf(&req, "%s: %s\r\n", name, v)
		}
	}
	req.WriteString("\r\n")
	fail := func(err error) (*pollConn, error) {
		nc.Close()
		return nil, fmt.Errorf("dial %s: %w", rawURL, err)
	}
	if _, err := nc.Write(req.Bytes()); err != nil {
		return fail(err)
	}
	br := bufio.NewReaderSize(nc, 4096)
	resp, err := http.ReadResponse(br, &http.Request{Method: http.MethodGet})
	if err != nil {
		return fail(err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		resp.Body.Close()
		return fail(&client.HandshakeError{Status: resp.StatusCode, Body: string(bytes.TrimSpace(body))})
	}
	sum := sha1.Sum([]byte(key + websocketGUID))
	if got := resp.Header.Get("Sec-WebSocket-Accept"); got != base64.StdEncoding.EncodeToString(sum[:]) {
		return fail(fmt.Errorf("bad Sec-WebSocket-Accept %q", got))
	}
	nc.SetDeadline(time.Time{})
	c := &pollConn{nc: nc, poller: p, onMsg: onMsg, onEnd: onEnd}
	if n := br.Buffered(); n > 0 { // the server spoke first: keep it
		b, _ := br.Peek(n)
		c.buf = append(c.buf, b...)
	}
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return fail(errors.New("not a socket"))
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return fail(err)
	}
	rc.Control(func(fd uintptr) { c.fd = int(fd) })
	if len(c.buf) > 0 {
		if err := c.parse(nil); err != nil {
			return fail(err)
		}
	}
	if err := p.add(c); err != nil {
		return fail(err)
	}
	return c, nil
}

// writeText sends one masked text frame.
func (c *pollConn) writeText(payload []byte) error { return c.write(0x1, payload) }

// write sends one frame; client frames are masked (RFC 6455 5.3).
func (c *pollConn) write(opcode byte, payload []byte) error {
	var hdr [14]byte
	hdr[0] = 0x80 | opcode
	n := 2
	switch l := len(payload); {
	case l < 126:
		hdr[1] = 0x80 | byte(l)
	case l <= 0xffff:
		hdr[1] = 0x80 | 126
		binary.BigEndian.PutUint16(hdr[2:], uint16(l))
		n = 4
	default:
		hdr[1] = 0x80 | 127
		binary.BigEndian.PutUint64(hdr[2:], uint64(l))
		n = 10
	}
	var mask [4]byte
	binary.LittleEndian.PutUint32(mask[:], mathrand.Uint32()) // masks need not be secret here
	copy(hdr[n:], mask[:])
	n += 4
	frame := make([]byte, n+len(payload))
	copy(frame, hdr[:n])
	for i, b := range payload {
		frame[n+i] = b ^ mask[i&3]
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if now := time.Now(); c.deadline.Sub(now) < 5*time.Second {
		c.deadline = now.Add(10 * time.Second)
		c.nc.SetWriteDeadline(c.deadline)
	}
	_, err := c.nc.Write(frame)
	return err
}

// close sends a normal close frame and closes the connection; onEnd gets
// nil.
func (c *pollConn) close() {
	// Before the write: the poller may read the server's answering close
	// frame, and end the connection, before this goroutine goes on.
	c.closing.Store(true)
	c.write(0x8, []byte{0x03, 0xe8}) // 1000
	c.end(nil)
}

// end takes the connection out of its poller and closes it, once.
func (c *pollConn) end(err error) {
	c.endOnce.Do(func() {
		if c.closing.Load() {
			err = nil
		}
		c.ended.Store(true)
		c.poller.remove(c)
		c.nc.Close()
		c.onEnd(err)
	})
}

// parse takes whole frames from c.buf followed by in, delivering
// messages, and keeps the rest for the next read. Called by the poller
// (or by dialPoll before the connection is registered).
func (c *pollConn) parse(in []byte) error {
	b := in
	if len(c.buf) > 0 {
		c.buf = append(c.buf, in...)
		b = c.buf
	}
	now := int64(0)
	for {
		if len(b) < 2 {
			break
		}
		fin, opcode := b[0]&0x80 != 0, b[0]&0x0f
		if b[1]&0x80 != 0 {
			return errors.New("the server sent a masked frame")
		}
		n, l := 2, uint64(b[1]&0x7f)
		switch l {
		case 126:
			if len(b) < 4 {
				goto partial
			}
			l, n = uint64(binary.BigEndian.Uint16(b[2:])), 4
		case 127:
			if len(b) < 10 {
				goto partial
			}
			l, n = binary.BigEndian.Uint64(b[2:]), 10
		}
		if l > 64<<20 {
			return fmt.Errorf("a frame of %d bytes", l)
		}
		if uint64(len(b)-n) < l {
			goto partial
		}
		payload := b[n : n+int(l)]
		b = b[n+int(l):]
		switch opcode {
		case 0x0: // continuation
			if !c.inFr {
				return errors.New("a continuation frame without a first frame")
			}
			c.frag = append(c.frag, payload...)
			if fin {
				c.inFr = false
				if now == 0 {
					now = c.poller.clk.now()
				}
				c.onMsg(c.frag, now)
				c.frag = c.frag[:0]
			}
		case 0x1, 0x2:
			if !fin {
				c.frag, c.inFr = append(c.frag[:0], payload...), true
				continue
			}
			if now == 0 {
				now = c.poller.clk.now()
			}
			c.onMsg(payload, now)
		case 0x8:
			code := 1005
			if len(payload) >= 2 {
				code = int(binary.BigEndian.Uint16(payload))
			}
			return fmt.Errorf("closed by the server with %d %q", code, payload[min(2, len(payload)):])
		case 0x9: // ping: answer from the poller; a pong is tiny
			if err := c.write(0xa, payload); err != nil {
				return err
			}
		}
	}
partial:
	// Keep the rest (it may alias in, the poller's read buffer).
	if len(b) == 0 {
		c.buf = c.buf[:0]
	} else if len(c.buf) > 0 && &b[0] == &c.buf[len(c.buf)-len(b)] {
		c.buf = c.buf[:copy(c.buf, b)]
	} else {
		c.buf = append(c.buf[:0], b...)
	}
	return nil
}

// poller reads many connections from one goroutine through epoll. The
// epoll descriptor is itself pollable: the goroutine waits for it in Go's
// network poller, as for a socket, and takes the ready connections with a
// non-blocking epoll_wait, so waiting costs no thread parked in a system
// call.
type poller struct {
	// Set by newPoller; read-only afterwards.
	ep   *os.File // the epoll descriptor
	epfd int
	clk  clock
	done chan struct{} // closed when run returns

	mu    sync.Mutex
	conns map[int]*pollConn // by fd
}

func newPoller(clk clock) (*poller, error) {
	fd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("epoll: %w", err)
	}
	if err := syscall.SetNonblock(fd, true); err != nil {
		syscall.Close(fd)
		return nil, fmt.Errorf("epoll: %w", err)
	}
	p := &poller{ep: os.NewFile(uintptr(fd), "epoll"), epfd: fd, clk: clk, done: make(chan struct{}), conns: map[int]*pollConn{}}
	rc, err := p.ep.SyscallConn()
	if err != nil {
		p.ep.Close()
		return nil, fmt.Errorf("epoll: %w", err)
	}
	go p.run(rc)
	return p, nil
}

func (p *poller) add(c *pollConn) error {
	p.mu.Lock()
	p.conns[c.fd] = c
	p.mu.Unlock()
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN | syscall.EPOLLRDHUP, Fd: int32(c.fd)}
	if err := syscall.EpollCtl(p.epfd, syscall.EPOLL_CTL_ADD, c.fd, &ev); err != nil {
		p.mu.Lock()
		delete(p.conns, c.fd)
		p.mu.Unlock()
		return fmt.Errorf("epoll add: %w", err)
	}
	return nil
}

func (p *poller) remove(c *pollConn) {
	syscall.EpollCtl(p.epfd, syscall.EPOLL_CTL_DEL, c.fd, nil)
	p.mu.Lock()
	if p.conns[c.fd] == c {
		delete(p.conns, c.fd)
	}
	p.mu.Unlock()
}

// stop ends the poller; its connections must have ended first.
func (p *poller) stop() {
	p.ep.Close() // wakes run
	<-p.done
}

func (p *poller) run(rc syscall.RawConn) {
	defer close(p.done)
	events := make([]syscall.EpollEvent, 256)
	buf := make([]byte, 64<<10)
	for {
		var n int
		var werr error
		err := rc.Read(func(fd uintptr) bool {
			n, werr = syscall.EpollWait(int(fd), events, 0)
			if errors.Is(werr, syscall.EINTR) {
				n, werr = 0, nil
			}
			return n > 0 || werr != nil // false: wait until the descriptor is readable
		})
		if err != nil || werr != nil {
			return // closed by stop
		}
		for _, ev := range events[:n] {
			p.mu.Lock()
			c := p.conns[int(ev.Fd)]
			p.mu.Unlock()
			if c == nil || c.ended.Load() {
				continue
			}
			if err := p.read(c, buf); err != nil {
				c.end(err)
			}
		}
	}
}

// read reads what the connection has and parses it.
func (p *poller) read(c *pollConn, buf []byte) error {
	for {
		n, err := syscall.Read(c.fd, buf)
		switch {
		case errors.Is(err, syscall.EAGAIN):
			return nil
		case errors.Is(err, syscall.EINTR):
			continue
		case err != nil:
			return fmt.Errorf("read: %w", err)
		case n == 0:
			return io.EOF
		}
		if err := c.parse(buf[:n]); err != nil {
			return err
		}
		if n < len(buf) {
			return nil
		}
	}
}

// helloFrame is a light editor's hello: it holds no version, so the
// welcome carries the document.
func helloFrame(clientID string) []byte {
	return fmt.Appendf(nil, `{"type":"hello","client":%q,"version":null,"protocol":%d}`, clientID, collab.ProtocolVersion)
}

// pollers spreads connections over one poller per core.
type pollers struct {
	all []*poller
	n   atomic.Uint32
}

func newPollers(clk clock) (*pollers, error) {
	ps := &pollers{}
	for range max(1, runtime.GOMAXPROCS(0)) {
		p, err := newPoller(clk)
		if err != nil {
			ps.stop()
			return nil, err
		}
		ps.all = append(ps.all, p)
	}
	return ps, nil
}

// next returns the poller for a new connection, round-robin.
func (ps *pollers) next() *poller { return ps.all[int(ps.n.Add(1))%len(ps.all)] }

func (ps *pollers) stop() {
	for _, p := range ps.all {
		p.stop()
	}
}
