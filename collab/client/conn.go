package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/collabd/collabd/collab"
)

const (
	writeWait  = 10 * time.Second // for one frame to be written
	closeGrace = 2 * time.Second  // for the server's close frame after ours
	readLimit  = 64 << 20         // a welcome carries up to 16 MiB of text, plus formats
	maxBody    = 512              // of a refused handshake's body, for the error
)

// conn is one WebSocket connection. ws is touched by its reader (the run
// goroutine: reads, read deadlines) and its writer goroutine (data frames,
// pings, the closing handshake); Close and WriteControl may be called by
// either, as gorilla allows.
type conn struct {
	ws   *websocket.Conn
	wake chan struct{} // cap 1: the writer has something to look at
	quit chan struct{} // closed when the reader is done: the writer exits

	// Guarded by Client.mu.
	welcomed      bool
	catchUp       *welcome  // a welcome with a snapshot to complete through REST (read does it)
	out           [][]byte  // frames for the writer, in order (hello, ops)
	sentSeq       int64     // seq of the in-flight op as sent on this connection; 0: not sent here
	retryAt       time.Time // resend the in-flight op then (after unavailable or rate_limited)
	retries       int
	presenceDirty bool      // the selection changed since it was last sent
	presenceNext  time.Time // no presence before this
	presenceLossy int64     // the last presence lost the selection: send it again once this seq is acked (0: it did not)
}

// kick wakes the writer without blocking.
func (cn *conn) kick() {
	select {
	case cn.wake <- struct{}{}:
	default:
	}
}

// run is the client's main goroutine: it dials, reads the connection until
// it ends, and decides whether and when to dial again.
func (c *Client) run() {
	defer func() {
		close(c.quit)
		<-c.notified
		close(c.done)
	}()
	attempt := 0
	for {
		welcomed, err := c.connect()
		c.mu.Lock()
		first := c.first
		c.mu.Unlock()
		switch {
		case c.ctx.Err() != nil:
			c.stop(ErrClosed)
			return
		case first != nil && !errors.Is(err, ErrRateLimited):
			// The first connection failed: Dial reports it, no retry.
			c.stop(err)
			first <- err
			return
		case permanent(err):
			c.log.Warn("connection ended for good", "err", err)
			c.stop(err)
			return
		}
		if welcomed {
			attempt = 0 // a resync (errResync) comes after a welcome too: soon, not at once
		}
		wait := backoff(c.opts.ReconnectMin, c.opts.ReconnectMax, attempt)
		attempt++
		if he := (*HandshakeError)(nil); errors.As(err, &he) && he.RetryAfter > 0 {
			// Never before the server said; spread the clients it told
			// the same over half as long again.
			wait = he.RetryAfter + rand.N(he.RetryAfter/2+1)
		}
		if first != nil {
			// Only a rate-limited first handshake gets here. If the wait
			// outlasts Dial's ctx, say why now rather than at its deadline.
			if !c.dialDeadline.IsZero() && time.Now().Add(wait).After(c.dialDeadline) {
				err = fmt.Errorf("%w (retrying in %v would pass the dial deadline)", err, wait.Round(time.Millisecond))
				c.stop(err)
				first <- err
				return
			}
			c.mu.Lock()
			c.dialErr = err
			c.mu.Unlock()
		}
		c.log.Info("connection lost; reconnecting", "err", err, "in", wait)
		if f := c.opts.OnRetry; f != nil {
			c.mu.Lock()
			c.queueLocked(func() { f(err, wait) })
			c.mu.Unlock()
		}
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-c.ctx.Done():
			t.Stop()
			c.stop(ErrClosed)
			return
		}
	}
}

// stop records why the client ended and wakes every waiter.
func (c *Client) stop(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.err = err
	c.first = nil
	c.changedLocked()
}

// permanent reports whether err ends the client: the server closed with
// 1008, 4403 or 4404, or refused the handshake with 4xx (except 408, 429).
func permanent(err error) bool {
	var ce *CloseError
	if errors.As(err, &ce) {
		return true
	}
	var he *HandshakeError
	return errors.As(err, &he) && he.Status >= 400 && he.Status < 500 &&
		he.Status != http.StatusRequestTimeout && he.Status != http.StatusTooManyRequests
}

// handshakeError describes a refused handshake: its status, the start of
// its body, the body's error code if it is the server's error shape, and
// Retry-After.
func handshakeError(resp *http.Response, now time.Time) *HandshakeError {
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	e := &HandshakeError{
		Status:     resp.StatusCode,
		Body:       strings.TrimSpace(string(body)),
		RetryAfter: parseRetryAfter(resp.Header.Get("Retry-After"), now),
	}
	var shape struct {
		Error struct {
			Code    collab.Code `json:"code"`
			Message string      `json:"message"`
		} `json:"error"`
	}
	if json.Unmarshal(body, &shape) == nil {
		e.Code, e.Message = shape.Error.Code, shape.Error.Message
	}
	return e
}

// maxRetryAfter bounds a server's Retry-After, so a wrong one (a date
// years away) cannot park a client for good.
const maxRetryAfter = time.Hour

// parseRetryAfter reads Retry-After: delay-seconds or an HTTP date
// (RFC 9110 10.2.3). Absent, malformed or past is 0.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	var d time.Duration
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n <= 0 {
			return 0
		}
		d = time.Duration(min(n, int64(maxRetryAfter/time.Second))) * time.Second
	} else if t, err := http.ParseTime(v); err == nil {
		d = t.Sub(now)
	}
	return max(0, min(d, maxRetryAfter))
}

// backoff returns the wait before attempt n (from 0): full jitter, a
// random time in [0, min(max, lo·2ⁿ)).
func backoff(lo, hi time.Duration, n int) time.Duration {
	ceil := lo
	for i := 0; i < n && ceil < hi; i++ {
		ceil *= 2 // at most 63 rounds before it passes hi
	}
	if ceil = min(ceil, hi); ceil <= 0 {
		return 0
	}
	return rand.N(ceil)
}

// connect dials once, says hello, and serves the connection until it
// ends. It reports whether a welcome arrived, and why the connection
// ended: a *CloseError for the codes that end the client, errResync, or
// any other error (reconnect).
func (c *Client) connect() (welcomed bool, err error) {
	ws, resp, err := c.dial()
	if err != nil {
		if resp != nil && errors.Is(err, websocket.ErrBadHandshake) {
			return false, fmt.Errorf("dial %s: %w", c.opts.URL, handshakeError(resp, time.Now()))
		}
		return false, fmt.Errorf("dial %s: %w", c.opts.URL, err)
	}
	ws.SetReadLimit(readLimit)
	cn := &conn{ws: ws, wake: make(chan struct{}, 1), quit: make(chan struct{})}

	c.mu.Lock()
	hello := helloMessage{Type: collab.TypeHello, Client: c.id, Protocol: collab.ProtocolVersion}
	if c.hasVersion {
		v := c.st.version
		hello.Version = &v
	}
	cn.out = append(cn.out, mustJSON(hello))
	c.conn = cn
	c.mu.Unlock()

	var wg sync.WaitGroup
	wg.Go(func() { c.write(cn) })
	welcomed, err = c.read(cn)
	close(cn.quit)
	ws.Close()
	wg.Wait()

	c.mu.Lock()
	c.conn = nil
	c.changedLocked()
	c.mu.Unlock()
	return welcomed, err
}

// dial is c.dialer.DialContext(c.ctx, …) that also gives up when c.ctx is
// cancelled during the HTTP handshake: gorilla/websocket v1.5.3 passes the
// context to the TCP dial and takes its deadline, but does not watch it
// afterwards, so Close would wait for HandshakeTimeout (45s by default).
func (c *Client) dial() (*websocket.Conn, *http.Response, error) {
	d := c.dialer
	var (
		mu sync.Mutex
		nc net.Conn
	)
	track := func(conn net.Conn, err error) (net.Conn, error) {
		mu.Lock()
		defer mu.Unlock()
		nc = conn
		if err == nil && c.ctx.Err() != nil {
			conn.Close()
		}
		return conn, err
	}
	switch {
	case d.NetDialContext != nil:
		f := d.NetDialContext
		d.NetDialContext = func(ctx context.Context, network, addr string) (net.Conn, error) { return track(f(ctx, network, addr)) }
	case d.NetDial != nil:
		f := d.NetDial
		d.NetDial = func(network, addr string) (net.Conn, error) { return track(f(network, addr)) }
	default:
		var nd net.Dialer
		d.NetDialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
			return track(nd.DialContext(ctx, network, addr))
		}
	}
	if f := d.NetDialTLSContext; f != nil {
		d.NetDialTLSContext = func(ctx context.Context, network, addr string) (net.Conn, error) { return track(f(ctx, network, addr)) }
	}
	stop := context.AfterFunc(c.ctx, func() {
		mu.Lock()
		defer mu.Unlock()
		if nc != nil {
			nc.Close() // the handshake fails; a finished one's reader fails next
		}
	})
	defer stop()
	return d.DialContext(c.ctx, c.opts.URL, c.opts.Header)
}

// read reads and handles frames until the connection fails, returning
// whether a welcome was handled and the error that ended it.
func (c *Client) read(cn *conn) (welcomed bool, err error) {
	readWait := 2 * c.opts.PingInterval
	extend := func() {
		if readWait > 0 {
			cn.ws.SetReadDeadline(time.Now().Add(readWait))
		}
	}
	extend()
	cn.ws.SetPongHandler(func(string) error { extend(); return nil })
	for {
		typ, frame, err := cn.ws.ReadMessage()
		if err != nil {
			var ce *websocket.CloseError
			if errors.As(err, &ce) {
				switch ce.Code {
				case collab.ClosePolicy, collab.CloseTooBig, collab.CloseAccessRevoked, collab.CloseDocumentGone:
					return welcomed, &CloseError{Code: ce.Code, Reason: ce.Text}
				}
			}
			return welcomed, fmt.Errorf("read: %w", err)
		}
		extend()
		if typ != websocket.TextMessage {
			return welcomed, c.abort(cn, websocket.CloseUnsupportedData, protocolErrorf("binary frame"))
		}
		msg, err := parseServerMessage(frame)
		if err != nil {
			return welcomed, c.abort(cn, websocket.CloseProtocolError, err)
		}
		c.mu.Lock()
		notes, err := c.handle(cn, msg)
		w := cn.catchUp
		cn.catchUp = nil
		welcomed = c.settleLocked(cn, notes)
		if w != nil && err == nil {
			welcomed, err = c.catchUp(cn, w)
			extend() // the connection was not read meanwhile
		}
		if err != nil && c.ctx.Err() != nil {
			return welcomed, err // Close: the writer says goodbye
		}
		if errors.Is(err, errResync) {
			return welcomed, c.abort(cn, websocket.CloseNormalClosure, err)
		}
		if err != nil {
			return welcomed, c.abort(cn, websocket.CloseProtocolError, err)
		}
	}
}

// settleLocked queues the callbacks of a message and wakes the waiters,
// then releases mu and waits for the callbacks to run before the next
// message is read: a slow app slows its connection, not its memory. It
// reports whether cn is welcomed.
func (c *Client) settleLocked(cn *conn, notes []func()) (welcomed bool) {
	welcomed = cn.welcomed
	c.queueLocked(notes...)
	c.changedLocked()
	var ran chan struct{}
	if len(c.events) > 0 {
		ran = make(chan struct{})
		c.queueLocked(func() { close(ran) })
	}
	c.mu.Unlock()
	if ran != nil {
		<-ran
	}
	return welcomed
}

// abort starts the closing handshake with code and returns err; connect
// then closes the socket without waiting for the server's answer.
func (c *Client) abort(cn *conn, code int, err error) error {
	c.log.Warn("dropping the connection", "err", err)
	reason := err.Error()
	if len(reason) > 120 { // a close frame's payload is at most 125 bytes, in UTF-8
		reason = strings.ToValidUTF8(reason[:120], "")
	}
	cn.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, reason), time.Now().Add(writeWait))
	return err
}

// write is the connection's writer goroutine: the only one that writes
// data frames. It sends what outgoing hands it, pings, and on Close sends
// the close frame and gives the server closeGrace to answer.
func (c *Client) write(cn *conn) {
	var ping <-chan time.Time
	if c.opts.PingInterval > 0 {
		t := time.NewTicker(c.opts.PingInterval)
		defer t.Stop()
		ping = t.C
	}
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	for {
		frames, wait := c.outgoing(cn, time.Now())
		for _, f := range frames {
			cn.ws.SetWriteDeadline(time.Now().Add(writeWait))
			if err := cn.ws.WriteMessage(websocket.TextMessage, f); err != nil {
				cn.ws.Close() // the reader fails and ends the connection
				return
			}
		}
		timer.Stop()
		if wait > 0 {
			timer.Reset(wait)
		}
		select {
		case <-cn.wake:
		case <-timer.C:
		case <-ping:
			if err := cn.ws.WriteControl(websocket.PingMessage, nil, time.Now().Add(writeWait)); err != nil {
				cn.ws.Close()
				return
			}
		case <-cn.quit:
			return
		case <-c.ctx.Done():
			msg := websocket.FormatCloseMessage(websocket.CloseNormalClosure, "")
			cn.ws.WriteControl(websocket.CloseMessage, msg, time.Now().Add(writeWait))
			timer.Reset(closeGrace)
			select {
			case <-cn.quit:
			case <-timer.C:
				cn.ws.Close()
			}
			return
		}
	}
}

// outgoing takes the frames to write now, in order, and says how long
// until something timed (a retry, a coalesced presence) is due (0: none).
func (c *Client) outgoing(cn *conn, now time.Time) (frames [][]byte, wait time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	frames, cn.out = cn.out, nil
	if !cn.welcomed || c.err != nil {
		return frames, 0
	}
	soonest := func(d time.Duration) {
		if wait == 0 || d < wait {
			wait = d
		}
	}
	if !cn.retryAt.IsZero() && c.st.inflight != nil {
		if d := cn.retryAt.Sub(now); d > 0 {
			soonest(d)
		} else {
			cn.retryAt = time.Time{}
			frames = append(frames, c.opFrame(cn))
		}
	}
	// A presence names the server version its range is in terms of, so it
	// may go before, between or after the ops that are not acknowledged.
	if cn.presenceDirty {
		if d := cn.presenceNext.Sub(now); d > 0 {
			soonest(d)
		} else {
			cn.presenceDirty = false
			cn.presenceNext = now.Add(c.opts.PresenceInterval)
			frame, lossy := c.presenceFrameLocked()
			cn.presenceLossy = lossy
			frames = append(frames, frame)
		}
	}
	return frames, wait
}

// sendOp queues the in-flight op on cn.
func (c *Client) sendOp(cn *conn) {
	cn.out = append(cn.out, c.opFrame(cn))
	cn.kick()
}

// opFrame encodes the in-flight op as it was first sent: same seq, same
// base version, same delta (protocol: exactly once), and notes it as sent.
func (c *Client) opFrame(cn *conn) []byte {
	p := c.st.inflight
	cn.sentSeq = p.seq
	return mustJSON(opMessage{Type: collab.TypeOp, Seq: p.seq, Version: p.base, Delta: p.orig})
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		// Only deltas that passed ot.ValidateEdit are marshalled.
		panic(fmt.Sprintf("collab/client: encode %T: %v", v, err))
	}
	return b
}
