package api

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"sync"
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
	// FlushInterval is the least time between two writes to a busy
	// connection (one sent more than busyRate messages a second): what is
	// queued meanwhile goes out together, with one system call. Other
	// connections are written at once. Negative: no wait.
	FlushInterval time.Duration
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
	switch {
	case c.FlushInterval == 0:
		c.FlushInterval = 25 * time.Millisecond
	case c.FlushInterval < 0:
		c.FlushInterval = 0
	}
	return c
}

// A connection sent more than busyRate messages a second, measured over
// windows of at least rateWindow, is busy: its writes are spaced by
// FlushInterval. An editor in a document of a few typists is sent tens a
// second and waits for nothing; one among hundreds of typists is sent
// hundreds, which at one write each would cost a system call apiece.
const (
	busyRate   = 100
	rateWindow = 100 * time.Millisecond
)

// maxAnswers bounds the messages the reader itself answers that wait for
// the writer; beyond them the client is too slow (1013).
const maxAnswers = 16

// serveLive upgrades GET /v1/documents/{id}/live to the live protocol. The
// handshake is authenticated and authorised before the upgrade, so
// failures are plain HTTP answers. After the upgrade the handler returns,
// so net/http's per-request state and the handler's stack are freed; the
// connection lives on in its reader goroutine.
//
// The credential is checked only here, so the connection keeps it: a timer
// closes the connection with 1008 when it expires, and liveCreds closes it
// when the credential is revoked.
func (a *API) serveLive(w http.ResponseWriter, r *http.Request) {
	id := collab.DocumentID(chi.URLParam(r, "id"))
	verifiedAt := time.Now() // before Verify: a revocation from here on must reach the connection
	user, cred, err := a.authenticate(r)
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
	fc := &frameConn{writeWait: a.live.WriteWait}
	// gorilla/websocket answers the handshake; the *websocket.Conn it
	// returns is not used (frames are read and written here), so it and
	// its buffer are garbage at once.
	if _, err := a.upgrader.Upgrade(hijackInto{w, fc}, r, nil); err != nil {
		a.conns.leave()
		return // the upgrader has answered with an HTTP error
	}
	fc.setUpgraded()
	a.metrics.live.Inc()
	c := &liveConn{
		api: a, fc: fc, doc: id, user: user.Info(), role: role,
		done:   make(chan struct{}),
		bucket: newTokenBucket(a.live.EditsPerSecond, a.live.EditBurst),
	}
	// Either timer can fire at once (a token that expires now) and start a
	// writer, whose finish reads both under mu: set them under mu.
	c.mu.Lock()
	if !cred.Expires.IsZero() {
		c.expiry = time.AfterFunc(time.Until(cred.Expires), func() {
			c.close(collab.ClosePolicy, reasonAuthExpired)
		})
	}
	c.pinger = time.AfterFunc(a.live.PingInterval, func() {
		c.mu.Lock()
		c.pingDue = true
		c.mu.Unlock()
		c.wake()
	})
	c.mu.Unlock()
	if !a.liveCreds.add(cred.ID, c, verifiedAt) {
		// Revoked between Verify and now: the revocation did not see c.
		c.close(collab.ClosePolicy, reasonCredentialRevoked)
	}
	go func() {
		defer a.conns.leave()
		defer a.metrics.live.Dec()
		defer a.liveCreds.remove(cred.ID, c)
		// Not r.Context(): net/http cancels it when this handler returns.
		c.serve(context.Background())
	}()
}

// liveConn is one WebSocket connection. Its reader goroutine (serve) reads
// every frame. Writes are made by a writer goroutine that runs only while
// something is to be sent (started by wake), so an idle connection costs
// one goroutine; at most one writer runs at a time, and it makes every
// write: messages, pongs, pings and the close frame.
type liveConn struct {
	// Set before the reader starts; read-only afterwards.
	api    *API
	fc     *frameConn
	doc    collab.DocumentID
	user   collab.UserInfo
	role   collab.Role
	done   chan struct{} // closed when a writer has ended the connection
	pinger *time.Timer   // sets pingDue every PingInterval; reset by the writer, stopped when finished
	expiry *time.Timer   // closes with 1008 when the credential expires; nil if it does not; stopped when finished

	// Guarded by mu: what the writer is asked to send, and whether one runs.
	mu       sync.Mutex
	answers  [][]byte      // messages the reader itself answers (errors)
	pong     []byte        // the payload of the newest ping...
	pongDue  bool          // ...to be answered
	pingDue  bool          // the ping timer fired
	closeReq *closeRequest // the first close asked for; the writer closes with it
	peer     *session.Peer // to drain, once hello succeeded
	running  bool          // a writer goroutine runs
	again    bool          // work arrived while it ran: it must look again before ending
	finished bool          // the connection is ended: nothing more is written

	closing atomic.Bool // set by the writer before it sends a close frame or ends; read by the reader

	// Owned by the writer goroutine of the moment (one at a time, handed
	// over under mu).
	lastWrite time.Time
	winStart  time.Time // the current rate window
	winFrames int       // frames written in it
	busy      bool      // the last window's rate was above busyRate

	// Owned by the reader (handle runs on a goroutine of its own while the
	// reader waits for it).
	readerPeer *session.Peer
	bucket     tokenBucket
	strikes    int // refused ops in a row
}

type closeRequest struct {
	code   int // 0: just end the connection, sending nothing more
	reason string
}

// serve is the reader: it reads frames until the connection ends, then
// leaves the session and waits for the writer.
func (c *liveConn) serve(ctx context.Context) {
	cfg := c.api.live
	fr := &frameReader{r: c.fc.Conn, limit: cfg.MaxMessageBytes}
	c.fc.SetReadDeadline(time.Now().Add(cfg.PongWait))
	defer func() {
		if c.readerPeer != nil {
			c.readerPeer.Leave()
		}
		<-c.done
		c.fc.Close()
	}()
	ending := false // this side decided to close; the writer is closing
	for {
		op, payload, err := fr.next()
		if err != nil {
			var fe *frameError
			if errors.As(err, &fe) {
				// The stream cannot be read on: close with the code, and
				// drain what the client still sends so the close reaches it
				// instead of a reset connection.
				c.close(fe.code, fe.reason)
				c.fc.SetReadDeadline(time.Now().Add(closeGrace))
				io.Copy(io.Discard, c.fc.Conn)
			}
			c.close(0, "")
			return
		}
		switch op {
		case opPing:
			c.mu.Lock()
			c.pong, c.pongDue = payload, true
			c.mu.Unlock()
			c.wake()
		case opClose:
			code, err := parseClose(payload)
			if fe, ok := err.(*frameError); ok {
				c.close(fe.code, fe.reason)
			} else {
				// Echo the client's code; if this side is closing already,
				// its own close frame was the answer.
				c.close(code, "")
			}
			// The close handshake is over, or this side's close frame is on
			// its way: nothing more is read.
			c.close(0, "")
			return
		}
		if ending || c.closing.Load() {
			// Closing: drain until the client's close frame comes back or
			// the writer's grace deadline ends the read. Returning now
			// would reset the connection and could lose the close frame.
			continue
		}
		c.fc.SetReadDeadline(time.Now().Add(cfg.PongWait))
		if c.closing.Load() {
			// The writer started closing meanwhile; keep its short
			// deadline rather than the one just set.
			c.fc.SetReadDeadline(time.Now().Add(closeGrace))
		}
		switch {
		case op == opPing || op == opPong:
		case op != opText:
			c.close(collab.CloseUnsupported, "binary frames are not supported")
			ending = true
		case !utf8.Valid(payload):
			c.close(collab.CloseInvalidUTF8, "invalid UTF-8")
			ending = true
		case !c.handleOnFreshStack(ctx, payload):
			ending = true
		}
	}
}

// handleOnFreshStack runs handle on a goroutine of its own and waits for
// it. What handling grows the stack to (decoding, joining) is freed when
// that goroutine ends, so the reader, idle most of its life, keeps only the
// small stack the read path needs.
func (c *liveConn) handleOnFreshStack(ctx context.Context, frame []byte) bool {
	res := make(chan bool, 1)
	go func() { res <- c.handle(ctx, frame) }()
	return <-res
}

// handle acts on one message; false ends the connection.
func (c *liveConn) handle(ctx context.Context, frame []byte) bool {
	m, err := collab.ParseClientMessage(frame)
	if err != nil && collab.ErrorCode(err) == collab.BadMessage {
		c.send(collab.NewErrorMessage(err, m.Seq))
		if c.readerPeer == nil {
			c.close(collab.ClosePolicy, "hello must come first")
			return false
		}
		return true
	}
	if c.readerPeer == nil {
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
		return c.readerPeer.Submit(ctx, m.Seq, *m.Version, m.Delta)
	case collab.TypePresence:
		return c.readerPeer.SetPresence(ctx, m.Range, m.Version)
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
	c.readerPeer = peer
	c.mu.Lock()
	c.peer = peer
	c.mu.Unlock()
	peer.Notify(c.wake) // calls wake at once: the welcome is queued
	return true
}

// send queues a message the reader answers itself. If the writer is that
// far behind, the connection is closed rather than letting answers pile up.
func (c *liveConn) send(v any) {
	b, err := json.Marshal(v)
	if err != nil {
		return
	}
	c.mu.Lock()
	full := len(c.answers) >= maxAnswers
	if !full {
		c.answers = append(c.answers, b)
	}
	c.mu.Unlock()
	if full {
		c.close(collab.CloseTryAgainLater, "too slow to keep up")
		return
	}
	c.wake()
}

// close asks the writer to close the connection (code 0: just end it). The
// first request wins.
func (c *liveConn) close(code int, reason string) {
	c.mu.Lock()
	if c.closeReq == nil {
		c.closeReq = &closeRequest{code, reason}
	}
	c.mu.Unlock()
	c.wake()
}

// wake makes sure a writer will look at what is queued: it starts one, or
// tells the running one to look again before it ends. Called by the
// reader, the ping timer and the session goroutine (through Peer.Notify);
// never blocks.
func (c *liveConn) wake() {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case c.finished:
	case c.running:
		c.again = true
	default:
		c.running = true
		go c.write()
	}
}

// write is the writer: it sends everything queued, one batch and one
// system call at a time, until nothing is left (then it ends, and the next
// wake starts another) or the connection is closed.
func (c *liveConn) write() {
	cfg := c.api.live
	b := getBatch()
	defer putBatch(b)
	for {
		if cfg.FlushInterval > 0 && c.busy {
			// A busy connection gets at most one write per interval: what
			// arrives meanwhile joins the batch.
			if wait := cfg.FlushInterval - time.Since(c.lastWrite); wait > 0 {
				time.Sleep(wait)
			}
		}
		c.mu.Lock()
		c.again = false
		answers, pong, pongDue, pingDue, req, peer := c.answers, c.pong, c.pongDue, c.pingDue, c.closeReq, c.peer
		c.answers, c.pong, c.pongDue, c.pingDue = nil, nil, false, false
		c.mu.Unlock()

		if req != nil && req.code == 0 {
			c.finish(0) // the connection is dead or done with: send nothing
			return
		}
		if pongDue {
			b.add(opPong, pong)
		}
		if pingDue {
			b.add(opPing, nil)
		}
		for _, a := range answers {
			b.add(opText, a)
		}
		end, code, reason := req != nil, 0, ""
		if end {
			code, reason = req.code, req.reason
		}
		if peer != nil {
			msgs, closed := peer.Drain()
			for _, m := range msgs {
				if !c.addOutgoing(b, m) {
					end, code, reason = true, collab.CloseTryAgainLater, "could not catch up; try again"
					break
				}
			}
			if closed && !end {
				end = true
				code, reason = peer.CloseCode()
			}
		}
		if end && code != 0 {
			// The close handshake: the reader drains what the client still
			// sends until its close frame comes back, or the grace period
			// ends. Closing at once would reset the connection and could
			// lose the close frame on the client's side.
			c.closing.Store(true)
			c.fc.SetReadDeadline(time.Now().Add(closeGrace))
			b.add(opClose, closePayload(code, reason))
		}
		if !b.empty() {
			err := c.fc.writeBatch(b)
			c.noteWrite(time.Now(), b.frames)
			b.reset()
			if err != nil {
				c.finish(0)
				return
			}
		}
		if end {
			c.finish(code)
			return
		}
		if pingDue {
			c.pinger.Reset(cfg.PingInterval)
		}
		c.mu.Lock()
		if !c.again {
			c.running = false
			c.mu.Unlock()
			return
		}
		c.mu.Unlock()
	}
}

// noteWrite keeps the connection's message rate, window by window.
func (c *liveConn) noteWrite(now time.Time, frames int) {
	c.lastWrite = now
	c.winFrames += frames
	if d := now.Sub(c.winStart); d >= rateWindow {
		c.busy = float64(c.winFrames) > busyRate*d.Seconds()
		c.winStart, c.winFrames = now, 0
	}
}

// addOutgoing adds a session message to the batch; false if a welcome
// could not be encoded (its catch-up could not be read from the store).
func (c *liveConn) addOutgoing(b *frameBatch, m session.Outgoing) bool {
	if m.Frame != nil {
		b.add(opText, m.Frame)
		return true
	}
	p, err := json.Marshal(m.Value)
	if err != nil {
		c.api.logger.Warn("encode live message", "doc", c.doc, "err", err)
		return false
	}
	b.add(opText, p)
	return true
}

// closePayload encodes a close frame's payload, the reason cut to fit a
// control frame (125 bytes) at a character boundary.
func closePayload(code int, reason string) []byte {
	if len(reason) > 123 {
		reason = reason[:123]
		for len(reason) > 0 && !utf8.ValidString(reason) {
			reason = reason[:len(reason)-1]
		}
	}
	return websocket.FormatCloseMessage(code, reason)
}

// finish ends the writing side for good: code 0 unblocks the reader at
// once; otherwise a close frame went out and the reader drains until the
// client's comes back (its deadline was set before the frame was sent).
func (c *liveConn) finish(code int) {
	c.closing.Store(true)
	if code == 0 {
		c.fc.SetReadDeadline(time.Now())
	}
	c.mu.Lock()
	c.finished, c.running = true, false
	c.answers, c.pong = nil, nil
	c.pinger.Stop()
	if c.expiry != nil {
		c.expiry.Stop()
	}
	c.mu.Unlock()
	close(c.done)
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
