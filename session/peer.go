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
// it: it submits ops and presence, and drains Outbox into its socket.
type Peer struct {
	// Set by join; read-only afterwards.
	session *Session
	client  collab.ClientID
	user    collab.UserInfo
	out     chan Outgoing // session sends without blocking; closed by the session when the peer is removed
	left    chan struct{} // closed by Leave, so a transport never blocks on a gone session
	leave   sync.Once

	// Owned by the session goroutine.
	role        collab.Role
	rng         *ot.Range // in terms of the session's committed version; nil = not focused
	dirty       bool      // rng changed since the last presence flush
	removed     bool
	closeCode   int // set before out is closed; read by the writer after
	closeReason string
}

// Client returns the peer's client id.
func (p *Peer) Client() collab.ClientID { return p.client }

// Outbox is the queue of messages for this peer, in the order to send
// them. The first is the welcome. It is closed when the peer is removed
// from the session; then CloseCode says how to close the connection.
func (p *Peer) Outbox() <-chan Outgoing { return p.out }

// CloseCode returns the WebSocket close code and reason the session chose.
// Valid only after Outbox is closed.
func (p *Peer) CloseCode() (int, string) { return p.closeCode, p.closeReason }

// Submit hands an op to the session. Its answer (ack or error) arrives in
// Outbox. It blocks only while the session's inbox is full (backpressure
// on a fast reader) and returns false if the session or peer is gone.
func (p *Peer) Submit(ctx context.Context, seq, base int64, delta ot.Delta) bool {
	return p.session.send(ctx, request{kind: reqOp, peer: p, op: pendingOp{
		peer: p, client: p.client, user: p.user, seq: seq, base: base, delta: delta,
	}}, p.left)
}

// SetPresence updates the peer's selection (nil = not focused).
func (p *Peer) SetPresence(ctx context.Context, r *ot.Range) bool {
	return p.session.send(ctx, request{kind: reqPresence, peer: p, rng: r}, p.left)
}

// Leave removes the peer from the session. Call it once when the
// connection ends; Outbox is closed soon after.
func (p *Peer) Leave() {
	p.leave.Do(func() {
		close(p.left)
		// The session may be gone already; then nothing is left to do.
		p.session.send(context.Background(), request{kind: reqLeave, peer: p}, nil)
	})
}
