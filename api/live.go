package api

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/go-chi/chi/v5"
	"github.com/gorilla/websocket"

	"github.com/collabd/collabd/collab"
	"github.com/collabd/collabd/session"
)

// closeGrace is how long a closing connection waits for the client's close
// frame.
const closeGrace = 2 * time.Second

// LiveConfig tunes the live endpoint. Zero fields take defaults.
type LiveConfig struct {
	MaxMessageBytes    int64         // larger frames close the connection with 1009
	EditsPerSecond     float64       // per connection, sustained
	EditBurst          int           // per connection, burst
	UserEditsPerSecond float64       // per user and document over all their connections; burst is twice this
	FloodStrikes       int           // refused ops in a row before closing with 1008
	PingInterval       time.Duration // how often the server pings
	PongWait           time.Duration // a connection silent this long is dead
	WriteWait          time.Duration // a write taking longer means the peer is stuck
}

func (c LiveConfig) withDefaults() LiveConfig {
	if c.MaxMessageBytes <= 0 {
		c.MaxMessageBytes = 1 << 20
	}
	if c.EditsPerSecond <= 0 {
		c.EditsPerSecond = 100
	}
	if c.EditBurst <= 0 {
		c.EditBurst = 200
	}
	if c.UserEditsPerSecond <= 0 {
		c.UserEditsPerSecond = 1000
	}
	if c.FloodStrikes <= 0 {
		c.FloodStrikes = 50
	}
	if c.PingInterval <= 0 {
		c.PingInterval = 25 * time.Second
	}
	if c.PongWait <= 0 {
		c.PongWait = 60 * time.Second
	}
	if c.WriteWait <= 0 {
		c.WriteWait = 10 * time.Second
	}
	return c
}

// serveLive upgrades GET /v1/documents/{id}/live to the live protocol. The
// handshake is authenticated and authorised before the upgrade, so
// failures are plain HTTP answers.
func (a *API) serveLive(w http.ResponseWriter, r *http.Request) {
	id := collab.DocumentID(chi.URLParam(r, "id"))
	user, err := a.authenticate(r)
	if err != nil {
		writeError(w, r, a.logger, err)
		return
	}
	role, err := a.docs.Role(r.Context(), id, user.ID)
	if err != nil {
		writeError(w, r, a.logger, err)
		return
	}
	if !a.conns.enter() {
		writeError(w, r, a.logger, collab.Errorf(collab.Unavailable, "server is shutting down"))
		return
	}
	defer a.conns.leave()
	a.metrics.live.Inc()
	defer a.metrics.live.Dec()
	conn, err := a.upgrader.Upgrade(w, r, nil)
	if err != nil {
		return // the upgrader has answered with an HTTP error
	}
	c := &liveConn{
		api: a, conn: conn, doc: id, user: user.Info(), role: role,
		out:    make(chan []byte, 16),
		joined: make(chan *session.Peer, 1),
		stop:   make(chan closeRequest, 1),
		done:   make(chan struct{}),
		bucket: newTokenBucket(a.live.EditsPerSecond, a.live.EditBurst),
	}
	c.serve(r.Context())
}

// liveConn is one WebSocket connection. Only its two goroutines touch the
// connection: serve (the reader) and writer.
type liveConn struct {
	// Set before the goroutines start; read-only afterwards.
	api  *API
	conn *websocket.Conn
	doc  collab.DocumentID
	user collab.UserInfo
	role collab.Role

	// Reader to writer.
	out    chan []byte        // messages the reader itself answers (errors); small, never blocks the reader long
	joined chan *session.Peer // the peer, once hello succeeded
	stop   chan closeRequest  // the reader asks the writer to close the connection
	done   chan struct{}      // closed when the writer has finished

	closing atomic.Bool // set by the writer once it sent a close frame

	// Owned by the reader.
	peer    *session.Peer
	bucket  tokenBucket
	strikes int // refused ops in a row
}

type closeRequest struct {
	code   int
	reason string
}

// serve is the reader: it reads frames until the connection ends, then
// leaves the session and waits for the writer.
func (c *liveConn) serve(ctx context.Context) {
	cfg := c.api.live
	c.conn.SetReadLimit(cfg.MaxMessageBytes)
	c.conn.SetReadDeadline(time.Now().Add(cfg.PongWait))
	c.conn.SetPongHandler(func(string) error {
		return c.conn.SetReadDeadline(time.Now().Add(cfg.PongWait))
	})
	go c.writer()
	defer func() {
		if c.peer != nil {
			c.peer.Leave()
		}
		<-c.done
		c.conn.Close()
	}()
	ending := false // this side decided to close; the writer is closing
	for {
		kind, frame, err := c.conn.ReadMessage()
		if err != nil {
			if errors.Is(err, websocket.ErrReadLimit) {
				// The library has sent close 1009 already. Drain the rest of
				// the frame so the close reaches the client instead of a
				// reset connection.
				c.closing.Store(true)
				nc := c.conn.NetConn()
				nc.SetReadDeadline(time.Now().Add(closeGrace))
				io.Copy(io.Discard, nc)
			}
			c.close(0, "")
			return
		}
		if ending || c.closing.Load() {
			// Closing: drain until the client's close frame comes back or
			// the writer's grace deadline ends the read. Returning now
			// would reset the connection and could lose the close frame.
			continue
		}
		c.conn.SetReadDeadline(time.Now().Add(cfg.PongWait))
		switch {
		case kind != websocket.TextMessage:
			c.close(collab.CloseUnsupported, "binary frames are not supported")
			ending = true
		case !utf8.Valid(frame):
			c.close(collab.CloseInvalidUTF8, "invalid UTF-8")
			ending = true
		case !c.handle(ctx, frame):
			ending = true
		}
	}
}

// handle acts on one message; false ends the connection.
func (c *liveConn) handle(ctx context.Context, frame []byte) bool {
	m, err := collab.ParseClientMessage(frame)
	if err != nil && collab.ErrorCode(err) == collab.BadMessage {
		c.send(collab.NewErrorMessage(err, m.Seq))
		if c.peer == nil {
			c.close(collab.ClosePolicy, "hello must come first")
			return false
		}
		return true
	}
	if c.peer == nil {
		if m.Type != collab.TypeHello {
			c.send(collab.NewErrorMessage(collab.Errorf(collab.BadMessage, "the first message must be hello, not %s", m.Type), m.Seq))
			c.close(collab.ClosePolicy, "hello must come first")
			return false
		}
		return c.hello(ctx, m)
	}
	switch m.Type {
	case collab.TypeHello:
		c.send(collab.NewErrorMessage(collab.Errorf(collab.BadMessage, "hello was already sent"), 0))
	case collab.TypeOp:
		now := time.Now()
		if !c.bucket.take(now) || !c.api.userEdits.allow(string(c.user.ID)+"\x00"+string(c.doc), now) {
			c.strikes++
			c.send(collab.NewErrorMessage(collab.Errorf(collab.RateLimited, "too many edits per second; op not applied"), m.Seq))
			if c.strikes >= c.api.live.FloodStrikes {
				c.close(collab.ClosePolicy, "too many edits")
				return false
			}
			return true
		}
		c.strikes = 0
		if err != nil { // a malformed delta: the session never sees it
			c.send(collab.NewErrorMessage(err, m.Seq))
			return true
		}
		return c.peer.Submit(ctx, m.Seq, *m.Version, m.Delta)
	case collab.TypePresence:
		return c.peer.SetPresence(ctx, m.Range)
	}
	return true
}

// hello joins the session. A refused hello is answered with an error; one
// that the client can fix (version ahead) leaves it free to say hello again.
func (c *liveConn) hello(ctx context.Context, m collab.ClientMessage) bool {
	peer, err := c.api.sessions.Join(ctx, c.doc, session.JoinRequest{
		Client: m.Client, User: c.user, Role: c.role, Version: m.Version,
	})
	if err != nil {
		c.send(collab.NewErrorMessage(err, 0))
		if collab.ErrorCode(err) == collab.VersionAhead {
			return true
		}
		if collab.ErrorCode(err) == collab.Internal {
			c.api.logger.Error("join failed", "doc", c.doc, "client", m.Client, "err", err)
		}
		c.close(CloseCodeOf(err), collab.UserMessage(err))
		return false
	}
	c.peer = peer
	c.joined <- peer
	return true
}

// send queues a message the reader answers itself. If the writer is that
// far behind, the connection is closed rather than blocking the reader.
func (c *liveConn) send(v any) {
	b, err := json.Marshal(v)
	if err != nil {
		return
	}
	select {
	case c.out <- b:
	default:
		c.close(collab.CloseTryAgainLater, "too slow to keep up")
	}
}

// close asks the writer to close the connection (code 0: just end it).
func (c *liveConn) close(code int, reason string) {
	select {
	case c.stop <- closeRequest{code, reason}:
	default: // a close is already on its way
	}
}

// writer is the connection's only writer: it sends the reader's answers and
// the session's messages, pings, and closes the connection with the code
// the reader or the session chose.
func (c *liveConn) writer() {
	defer close(c.done)
	cfg := c.api.live
	ping := time.NewTicker(cfg.PingInterval)
	defer ping.Stop()
	var outbox <-chan session.Outgoing
	var peer *session.Peer
	closeWith := func(code int, reason string) {
		c.closing.Store(true)
		if code == 0 {
			c.conn.SetReadDeadline(time.Now()) // unblock the reader at once
			return
		}
		c.conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, reason), time.Now().Add(cfg.WriteWait))
		// The close handshake: the reader drains what the client still
		// sends until its close frame comes back, or the grace period
		// ends. Closing at once would reset the connection and could
		// lose the close frame on the client's side.
		c.conn.SetReadDeadline(time.Now().Add(closeGrace))
	}
	write := func(b []byte) bool {
		c.conn.SetWriteDeadline(time.Now().Add(cfg.WriteWait))
		return c.conn.WriteMessage(websocket.TextMessage, b) == nil
	}
	writeOutgoing := func(m session.Outgoing) bool {
		if m.Frame != nil {
			return write(m.Frame)
		}
		b, err := json.Marshal(m.Value)
		if err != nil {
			// A welcome that could not read its catch-up from the store:
			// the client should come back later.
			c.api.logger.Warn("encode live message", "doc", c.doc, "err", err)
			closeWith(collab.CloseTryAgainLater, "could not catch up; try again")
			return false
		}
		return write(b)
	}
	for {
		select {
		case b := <-c.out:
			if !write(b) {
				closeWith(0, "")
				return
			}
		case peer = <-c.joined:
			outbox = peer.Outbox()
		case m, ok := <-outbox:
			if !ok {
				code, reason := peer.CloseCode()
				closeWith(code, reason)
				return
			}
			if !writeOutgoing(m) {
				if !c.closing.Load() {
					closeWith(0, "")
				}
				return
			}
		case r := <-c.stop:
			// Flush what the reader answered before closing (an error that
			// explains the close).
		flush:
			for {
				select {
				case b := <-c.out:
					write(b)
				default:
					break flush
				}
			}
			closeWith(r.code, r.reason)
			return
		case <-ping.C:
			if c.conn.WriteControl(websocket.PingMessage, nil, time.Now().Add(cfg.WriteWait)) != nil {
				closeWith(0, "")
				return
			}
		}
	}
}

// tokenBucket limits a connection's edit rate: rate per second sustained,
// burst at once. Owned by the reader.
type tokenBucket struct {
	rate   float64
	burst  float64
	tokens float64
	last   time.Time
}

func newTokenBucket(rate float64, burst int) tokenBucket {
	return tokenBucket{rate: rate, burst: float64(burst), tokens: float64(burst)}
}

func (b *tokenBucket) take(now time.Time) bool {
	if !b.last.IsZero() {
		b.tokens = min(b.burst, b.tokens+now.Sub(b.last).Seconds()*b.rate)
	}
	b.last = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}
