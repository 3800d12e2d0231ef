package session

import (
	"context"
	"sync"

	"github.com/collabd/collabd/collab"
	"github.com/collabd/collabd/ot"
)

// Outgoing is one message for a peer's writer to send. Exactly one field is
// set.
type Outgoing struct {
	// Frame is an encoded message. Broadcasts share one Frame among all
	// peers, so a writer must never modify it.
	Frame []byte
	// Value is a message for the writer to encode, used for large messages
	// (a welcome carrying the whole document) so that encoding them does not
	// hold up the session.
	Value any
}

// Peer is one client inside a session, as the transport (api/live.go) sees
// it: it submits ops and presence, and drains its queue into its socket.
type Peer struct {
	// Set by join; read-only afterwards.
	session *Session
	client  collab.ClientID
	user    collab.UserInfo
	limit   int           // queued messages before the peer is dropped as too slow (Config.QueueLen)
	left    chan struct{} // closed by Leave, so a transport never blocks on a gone session
	leave   sync.Once

	// The outbound queue: the session goroutine pushes, the transport
	// drains. It grows as needed instead of being allocated up front, so an
	// idle peer costs a few words, not QueueLen slots.
	qmu         sync.Mutex // guards the fields below
	queue       []Outgoing
	ch          chan Outgoing // set once Outbox was called: the queue is this channel from then on
	notify      func()        // called (without qmu) when the queue becomes non-empty or closed
	closed      bool
	closeCode   int // set when closed
	closeReason string

	// Owned by the session goroutine.
	role    collab.Role
	rng     *ot.Range // in terms of the session's committed version; nil = not focused
	dirty   bool      // rng changed since the last presence flush
	removed bool
}

// Client returns the peer's client id.
func (p *Peer) Client() collab.ClientID { return p.client }

// push queues m; false means the queue is full (the peer is too slow) or
// closed. Called by the session goroutine only; never waits.
func (p *Peer) push(m Outgoing) bool {
	p.qmu.Lock()
	if p.closed {
		p.qmu.Unlock()
		return false
	}
	if p.ch != nil {
		p.qmu.Unlock()
		select {
		case p.ch <- m:
			return true
		default:
			return false
		}
	}
	if len(p.queue) >= p.limit {
		p.qmu.Unlock()
		return false
	}
	p.queue = append(p.queue, m)
	wake := len(p.queue) == 1
	notify := p.notify
	p.qmu.Unlock()
	if wake && notify != nil {
		notify()
	}
	return true
}

// closeQueue ends the queue with a close code; what is queued is still
// delivered first. Called by the session goroutine only.
func (p *Peer) closeQueue(code int, reason string) {
	p.qmu.Lock()
	if p.closed {
		p.qmu.Unlock()
		return
	}
	p.closed = true
	p.closeCode, p.closeReason = code, reason
	if p.ch != nil {
		close(p.ch)
	}
	notify := p.notify
	p.qmu.Unlock()
	if notify != nil {
		notify()
	}
}

// Notify sets f to be called whenever the queue goes from empty to
// non-empty, and when it is closed; f is called at once if either is the
// case already. f runs on the session's goroutine, so it must only wake the
// transport's writer, never block. Use either Notify and Drain, or Outbox.
func (p *Peer) Notify(f func()) {
	p.qmu.Lock()
	p.notify = f
	now := len(p.queue) > 0 || p.closed
	p.qmu.Unlock()
	if now {
		f()
	}
}

// Drain takes every queued message, in the order to send them; closed
// reports that the peer was removed and nothing more will come (CloseCode
// says how to close the connection). The first message ever is the
// welcome. The caller owns the returned slice: the queue starts a new one,
// so an idle peer holds no array.
func (p *Peer) Drain() (msgs []Outgoing, closed bool) {
	p.qmu.Lock()
	defer p.qmu.Unlock()
	msgs, p.queue = p.queue, nil
	return msgs, p.closed
}

// Outbox returns the queue as a channel, for consumers that take one
// message at a time (tests, tools). From the first call on, the queue is a
// channel of QueueLen messages, allocated then; it is closed when the peer
// is removed, and then CloseCode says how to close the connection. The
// live endpoint uses Notify and Drain instead.
func (p *Peer) Outbox() <-chan Outgoing {
	p.qmu.Lock()
	defer p.qmu.Unlock()
	if p.ch == nil {
		p.ch = make(chan Outgoing, max(p.limit, len(p.queue)))
		for _, m := range p.queue {
			p.ch <- m
		}
		p.queue = nil
		if p.closed {
			close(p.ch)
		}
	}
	return p.ch
}

// CloseCode returns the WebSocket close code and reason the session chose.
// Valid only once the queue is closed (Drain reported it, or Outbox was
// closed).
func (p *Peer) CloseCode() (int, string) {
	p.qmu.Lock()
	defer p.qmu.Unlock()
	return p.closeCode, p.closeReason
}

// Submit hands an op to the session. Its answer (ack or error) arrives in
// the queue. It blocks only while the session's inbox is full
// (backpressure on a fast reader) and returns false if the session or peer
// is gone.
func (p *Peer) Submit(ctx context.Context, seq, base int64, delta ot.Delta) bool {
	return p.session.send(ctx, request{kind: reqOp, peer: p, op: pendingOp{
		peer: p, client: p.client, user: p.user, seq: seq, base: base, delta: delta,
	}}, p.left)
}

// SetPresence updates the peer's selection (nil = not focused). version
// is the document version r is in terms of (the newest the client had
// received); nil means the committed version when the session reads it,
// which is all a client that sends no version can be taken to mean. A
// version ahead of the document's is answered with version_ahead in the
// queue and changes nothing.
func (p *Peer) SetPresence(ctx context.Context, r *ot.Range, version *int64) bool {
	return p.session.send(ctx, request{kind: reqPresence, peer: p, rng: r, version: version}, p.left)
}

// Leave removes the peer from the session. Call it once when the
// connection ends; the queue is closed soon after.
func (p *Peer) Leave() {
	p.leave.Do(func() {
		close(p.left)
		// The session may be gone already; then nothing is left to do.
		p.session.send(context.Background(), request{kind: reqLeave, peer: p}, nil)
	})
}
