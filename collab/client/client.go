package client

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/collabd/collabd/collab"
	"github.com/collabd/collabd/ot"
)

// Options configure a Client. Only URL is required.
type Options struct {
	// URL is the live endpoint, ws://host/v1/documents/{id}/live (or wss://).
	URL string
	// Header is sent with every handshake, e.g. Authorization: Bearer ….
	Header http.Header
	// ClientID names this client to the server and its peers; empty picks
	// a random one. It must be new for every Client: the server recognises
	// a resent op by (client, seq), and a new Client starts again at seq 1.
	ClientID collab.ClientID
	// Logger receives connection events; nil logs nothing.
	Logger *slog.Logger
	// ReconnectMin and ReconnectMax bound the backoff between connection
	// attempts (and between resends of an op the server could not take):
	// attempt n waits a random time in [0, min(ReconnectMax, ReconnectMin·2ⁿ))
	// ("full jitter"). Defaults 250ms and 30s.
	ReconnectMin, ReconnectMax time.Duration
	// PresenceInterval is the least time between two presence messages;
	// selections set in between are coalesced into the last. Default 50ms.
	PresenceInterval time.Duration
	// PingInterval is how often the client pings the server; a connection
	// that sends nothing (not even a pong) for two intervals is dropped and
	// redialled. Default 25s; negative disables pings and the read deadline.
	PingInterval time.Duration
	// Dialer dials the WebSocket; nil uses a copy of websocket.DefaultDialer.
	Dialer *websocket.Dialer
	// MaxMessageSize is the server's limit on one message, in bytes (its
	// --max-message-bytes; default 1 MiB, the server's default). Submit
	// refuses an edit whose op would be larger with ErrOpTooLarge, rather
	// than send what the server closes the connection over (1009).
	// Negative disables the check.
	MaxMessageSize int
	// HTTPClient makes the REST requests of a catch-up (see CatchUpTimeout);
	// nil uses one that reaches the server as Dialer does (its proxy, TLS
	// configuration and dial function).
	HTTPClient *http.Client
	// CatchUpTimeout bounds a catch-up through REST: when a welcome brings
	// the whole document while local edits are pending (the client was
	// too far behind for the server to send ops), the client reads the
	// edits it missed from GET /v1/documents/{id}/ops instead, to rebase
	// its edits onto them. Meanwhile the connection is not read. Default
	// 30s.
	CatchUpTimeout time.Duration

	// Callbacks. They run on the client's callback goroutine, one at a
	// time, in the order of the events, with no lock held: they may call
	// the Client's methods, except Close. The reader waits for the
	// callbacks of each server message before it reads the next, so a
	// callback that blocks stalls the connection (and the server drops a
	// client too slow to keep up); Submit and SetSelection never wait for
	// them, so an app may hold its own lock while calling them.

	// OnRemote is called after a remote edit (or a snapshot after a resync)
	// changed the local document.
	OnRemote func(Remote)
	// OnPresence is called when a peer's selection changes, or it leaves.
	OnPresence func(Peer)
	// OnError is called with errors the client survives: an op the server
	// refused (a *collab.Error, see collab.ErrorCode) and unacknowledged
	// edits dropped by a resync (errors.Is ErrEditsDropped).
	OnError func(error)
	// OnAck is called when the server has stored the op with seq (the seq
	// SubmitSeq returned) as edit version: once per seq, whether the ack
	// came as an ack message or as the op itself in a welcome after a
	// reconnect (protocol: exactly once).
	OnAck func(seq, version int64)
	// OnStatus is called when the client moves between its three states
	// (Synchronized, AwaitingAck, AwaitingAckWithBuffer), with the new one.
	OnStatus func(Status)
	// OnRetry is called when a connection attempt failed (Dial's retries of
	// a rate-limited handshake included) or a connection was lost, with
	// why, before the client waits wait and dials again.
	OnRetry func(err error, wait time.Duration)
}

// Remote is a remote edit as it changed the local document.
type Remote struct {
	Version int64           // the server version the edit made
	Client  collab.ClientID // who made it (as submitted)
	Seq     int64
	User    collab.UserInfo
	// Delta is the change to the local document: the edit transformed past
	// the local edits the server has not acknowledged yet. After a resync it
	// replaces the whole document (Client and User are then empty).
	Delta ot.Delta
	// Doc is the local document right after Delta. If another goroutine
	// submits edits concurrently, the document may have moved on since:
	// Doc and Delta still describe this step.
	Doc ot.Doc
}

// Peer is another client connected to the document.
type Peer struct {
	Client collab.ClientID
	User   collab.UserInfo
	// Range is the peer's selection in terms of the local document (nil:
	// not focused). It moves with every edit, as the server moves it.
	Range *ot.Range
	// Left is set only in OnPresence, when the peer disconnected.
	Left bool
}

// Errors a caller branches on.
var (
	// ErrClosed is Err after Close.
	ErrClosed = errors.New("client closed")
	// ErrEditsDropped is passed to OnError (wrapped, with why) when a
	// resync replaced the document while local edits were unacknowledged
	// and could not be rebased onto it: they are lost.
	ErrEditsDropped = errors.New("unacknowledged local edits dropped by a resync")
	// ErrOpTooLarge is returned (wrapped) by Submit for an edit whose op
	// would be larger than Options.MaxMessageSize. Nothing changed, and
	// the client goes on: split the edit, or, if it would only join a
	// large buffer, submit it after WaitSynced.
	ErrOpTooLarge = errors.New("op larger than the server's message limit")
	// ErrDocumentDeleted, ErrAccessRevoked and ErrMessageTooBig match
	// (errors.Is) the *CloseError that ends a client when the server
	// closes with 4404, 4403 or 1009.
	ErrDocumentDeleted = &CloseError{Code: collab.CloseDocumentGone}
	ErrAccessRevoked   = &CloseError{Code: collab.CloseAccessRevoked}
	ErrMessageTooBig   = &CloseError{Code: collab.CloseTooBig}
	// ErrUnauthorized (401: no valid credentials), ErrForbidden (403: a
	// cookie from a foreign origin), ErrNotFound (404: no such document, or
	// the caller may not see it) and ErrRateLimited (429: too many
	// handshakes from this address) match (errors.Is) the *HandshakeError
	// of a handshake refused with that status.
	ErrUnauthorized = &HandshakeError{Status: http.StatusUnauthorized}
	ErrForbidden    = &HandshakeError{Status: http.StatusForbidden}
	ErrNotFound     = &HandshakeError{Status: http.StatusNotFound}
	ErrRateLimited  = &HandshakeError{Status: http.StatusTooManyRequests}
)

// CloseError is a close code that ends the client for good: 1008 (policy:
// auth expired, flooding, replaced by a newer connection), 1009 (a message
// over the server's limit: resent after a reconnect, it would only be
// refused again), 4403 (access revoked) or 4404 (document deleted). Other
// close codes make it reconnect.
type CloseError struct {
	Code   int
	Reason string
}

func (e *CloseError) Error() string {
	what := map[int]string{
		collab.ClosePolicy:        "policy violation",
		collab.CloseTooBig:        "message too big",
		collab.CloseAccessRevoked: "access revoked",
		collab.CloseDocumentGone:  "document deleted",
	}[e.Code]
	s := fmt.Sprintf("server closed the connection with %d", e.Code)
	if what != "" {
		s += " (" + what + ")"
	}
	if e.Reason != "" {
		s += ": " + e.Reason
	}
	return s
}

// Is matches any *CloseError with the same code.
func (e *CloseError) Is(target error) bool {
	t, ok := target.(*CloseError)
	return ok && t.Code == e.Code
}

// HandshakeError is a handshake the server refused with an HTTP status.
// Dial returns it at once, except for 429, which it retries within its
// context's deadline. After the first welcome, 4xx statuses other than
// 408 and 429 end the client; others are retried.
type HandshakeError struct {
	Status int
	Body   string // the start of the response body, if any
	// Code and Message are the body's {"error":{"code","message"}}, when it
	// has that shape; Unwrap then returns them as a *collab.Error, so
	// collab.ErrorCode works on the error too.
	Code    collab.Code
	Message string
	// RetryAfter is the server's Retry-After (0: none sent). The client
	// waits at least this long before it dials again.
	RetryAfter time.Duration
}

func (e *HandshakeError) Error() string {
	s := fmt.Sprintf("handshake refused: HTTP %d %s", e.Status, http.StatusText(e.Status))
	if e.Body != "" {
		s += ": " + e.Body
	}
	return s
}

// Is matches any *HandshakeError with the same status (ErrNotFound, …).
func (e *HandshakeError) Is(target error) bool {
	t, ok := target.(*HandshakeError)
	return ok && t.Status == e.Status
}

// Unwrap returns the body's error, if it had one.
func (e *HandshakeError) Unwrap() error {
	if e.Code == "" {
		return nil
	}
	return &collab.Error{Code: e.Code, Message: e.Message}
}

// Client is a live connection to one document that survives disconnects.
// Its methods are safe for concurrent use.
//
// Concurrency: one mutex, mu, guards all mutable state. Four kinds of
// goroutine take it, never across I/O or a callback: the run goroutine
// (dials, then reads the connection and handles each message), the
// writer goroutine of the current connection (the only one that writes
// data frames), the callback goroutine (notify), and callers of the
// public methods. Events are queued under mu, in order, and notify runs
// their callbacks after releasing it.
type Client struct {
	// Set by Dial; read-only afterwards.
	opts         Options
	id           collab.ClientID
	log          *slog.Logger
	dialer       websocket.Dialer
	opsURL       string          // the REST history of the document, for a catch-up ("": unknown)
	ctx          context.Context // cancelled by Close: ends dialing, waiting and the connection
	cancel       context.CancelFunc
	dialDeadline time.Time     // Dial's ctx deadline (zero: none): bounds retries of the first connection
	done         chan struct{} // closed when run and notify have returned
	wake         chan struct{} // cap 1: events were queued
	quit         chan struct{} // closed when run returns: notify runs what is left and returns
	notified     chan struct{} // closed when notify returns

	mu sync.Mutex
	// Guarded by mu.
	st         state
	hasVersion bool  // false before the first welcome and while resyncing: hello says version null
	conn       *conn // the current connection, nil between connections
	you        collab.You
	selection  *ot.Range                 // ours, in terms of the local document
	peers      map[collab.ClientID]*peer // others', in terms of the server document at st.version
	changed    chan struct{}             // closed and replaced at every change (WaitSynced, Changed)
	first      chan error                // Dial waits on it for the first welcome; nil after
	dialErr    error                     // why the last attempt of the first connection failed (Dial's error when ctx ends)
	err        error                     // why the client stopped; set once, just before done closes
	status     Status                    // as last reported to OnStatus
	events     []func()                  // callbacks queued for notify, in the order of their events
}

type peer struct {
	user collab.UserInfo
	rng  *ot.Range
}

// Dial connects to the document and returns once the server's first
// welcome has been handled, so Doc and Version are meaningful at once. If
// the handshake is refused with 429 (rate limited), Dial waits (the
// server's Retry-After, or else the reconnect backoff) and tries again, as
// long as the wait ends before ctx's deadline; it returns the
// *HandshakeError at once when it would not. Any other failure of the
// first connection is returned at once: a refused handshake as a
// *HandshakeError (errors.Is ErrUnauthorized, ErrForbidden, ErrNotFound).
// After the first welcome, the client reconnects by itself until Close or
// a close code that ends it (see Done). ctx bounds the first connection
// only.
func Dial(ctx context.Context, opts Options) (*Client, error) {
	u, err := url.Parse(opts.URL)
	if err != nil {
		return nil, fmt.Errorf("dial: %w", err)
	}
	if u.Scheme != "ws" && u.Scheme != "wss" {
		return nil, fmt.Errorf("dial %s: the URL must be ws:// or wss://", opts.URL)
	}
	if opts.ClientID == "" {
		opts.ClientID = collab.ClientID(collab.NewID())
	}
	if len(opts.ClientID) > collab.MaxClientIDLen {
		return nil, fmt.Errorf("dial: client id is longer than %d bytes", collab.MaxClientIDLen)
	}
	orDefault := func(d *time.Duration, def time.Duration) {
		if *d <= 0 {
			*d = def
		}
	}
	orDefault(&opts.ReconnectMin, 250*time.Millisecond)
	orDefault(&opts.ReconnectMax, 30*time.Second)
	opts.ReconnectMax = max(opts.ReconnectMax, opts.ReconnectMin)
	orDefault(&opts.PresenceInterval, 50*time.Millisecond)
	opts.PingInterval = cmp.Or(opts.PingInterval, 25*time.Second) // negative: no pings
	opts.MaxMessageSize = cmp.Or(opts.MaxMessageSize, 1<<20)      // negative: no check
	orDefault(&opts.CatchUpTimeout, 30*time.Second)
	c := &Client{
		opts:    opts,
		id:      opts.ClientID,
		opsURL:  opsURL(u),
		log:     opts.Logger,
		done:    make(chan struct{}),
		st:      state{doc: ot.NewDoc()},
		peers:   make(map[collab.ClientID]*peer),
		changed: make(chan struct{}),
		first:   make(chan error, 1),
		status:  Synchronized,
		wake:    make(chan struct{}, 1),
		quit:    make(chan struct{}),

		notified: make(chan struct{}),
	}
	if d, ok := ctx.Deadline(); ok {
		c.dialDeadline = d
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	c.log = c.log.With("client", c.id)
	if opts.Dialer != nil {
		c.dialer = *opts.Dialer
	} else {
		c.dialer = *websocket.DefaultDialer
	}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	first := c.first
	go c.notify()
	go c.run()
	select {
	case err := <-first:
		if err != nil {
			<-c.done
			return nil, err
		}
		return c, nil
	case <-ctx.Done():
		c.Close()
		c.mu.Lock()
		last := c.dialErr
		c.mu.Unlock()
		if last != nil {
			return nil, fmt.Errorf("dial %s: %w; last attempt: %w", opts.URL, ctx.Err(), last)
		}
		return nil, fmt.Errorf("dial %s: %w", opts.URL, ctx.Err())
	}
}

// ID returns the client id this client sends in hello.
func (c *Client) ID() collab.ClientID { return c.id }

// Submit applies an edit to the local document at once and sends it to the
// server (or, while an op is in flight or the client is offline, composes
// it into the buffer that is sent next). The edit must fit the local
// document, Doc(); an edit that does not is an error and changes nothing,
// as is one whose op would be over Options.MaxMessageSize (ErrOpTooLarge).
// After the client stopped, Submit returns Err(). SubmitSeq also returns
// the op's seq.
func (c *Client) Submit(d ot.Delta) error {
	_, err := c.SubmitSeq(d)
	return err
}

// SubmitSeq is Submit that also returns the seq of the op that carries the
// edit, which OnAck reports with the edit's version once the server has
// stored it. Edits made while an op is in flight are composed into the
// buffer, the next op, so several calls may return the same seq (and one
// OnAck answers them all). An empty edit sends nothing and returns 0. If
// the op is dropped instead (refused, or lost to a resync: OnError says
// which), no OnAck comes for its seq, and the seq is never used again.
// A buffered edit that a remote edit undoes entirely (both deleted the
// same text) is not sent, as there is nothing left of it: its seq goes to
// the next edit made, whose OnAck then answers both, and if none is made,
// no OnAck comes for it.
func (c *Client) SubmitSeq(d ot.Delta) (seq int64, err error) {
	if err := ot.ValidateEdit(d); err != nil {
		return 0, fmt.Errorf("submit: %w", err)
	}
	d = ot.Canonical(d)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return 0, c.err
	}
	if c.you.Role == collab.Viewer {
		return 0, collab.Errorf(collab.Forbidden, "a viewer cannot edit this document")
	}
	if len(d) == 0 {
		return 0, nil
	}
	p, err := c.st.local(d, c.checkOpSize)
	if err != nil {
		return 0, fmt.Errorf("submit: %w", err)
	}
	seq = c.st.bufferSeq()
	if p != nil {
		seq = p.seq
	}
	if c.selection != nil {
		r := ot.TransformRange(d, *c.selection)
		c.selection = &r
	}
	if p != nil && c.conn != nil && c.conn.welcomed {
		c.sendOp(c.conn)
	}
	c.changedLocked()
	return seq, nil
}

// SetSelection sets the local selection (nil: not focused), in terms of the
// local document, and shares it with the peers. Selections set in quick
// succession are coalesced: at most one presence message goes out per
// PresenceInterval. The range goes to the server in terms of the server
// version the client holds (Version), mapped back through the local edits
// not yet acknowledged.
func (c *Client) SetSelection(r *ot.Range) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return c.err
	}
	if r != nil {
		if n := c.st.doc.Len(); r.Index < 0 || r.Length < 0 || r.Index+r.Length > n {
			return fmt.Errorf("set selection: range %d+%d is outside the document (length %d)", r.Index, r.Length, n)
		}
		cp := *r
		r = &cp
	}
	c.selection = r
	if c.conn != nil && c.conn.welcomed {
		c.conn.presenceDirty = true
		c.conn.kick()
	}
	return nil
}

// Selection returns the local selection, moved by every edit since it was
// set, or nil.
func (c *Client) Selection() *ot.Range {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.selection == nil {
		return nil
	}
	r := *c.selection
	return &r
}

// Doc returns the local document: the server's at Version, then the local
// edits not yet acknowledged.
func (c *Client) Doc() ot.Doc {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.st.doc
}

// Text returns the local document's text, embeds left out.
func (c *Client) Text() string { return c.Doc().Text() }

// Version returns the newest server version the client holds.
func (c *Client) Version() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.st.version
}

// Pending reports whether local edits wait for the server's ack.
func (c *Client) Pending() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.st.inflight != nil
}

// Status returns which of the three states the client is in.
func (c *Client) Status() Status {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.st.status()
}

// Connected reports whether the client is connected and welcomed.
func (c *Client) Connected() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.conn != nil && c.conn.welcomed
}

// You returns who the server says this client is, from the last welcome.
func (c *Client) You() collab.You {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.you
}

// Peers returns the other connected clients, sorted by client id, with
// their selections in terms of the local document.
func (c *Client) Peers() []Peer {
	c.mu.Lock()
	defer c.mu.Unlock()
	unacked := c.st.unacked()
	out := make([]Peer, 0, len(c.peers))
	for id, p := range c.peers {
		out = append(out, c.peerLocked(id, p, unacked))
	}
	slices.SortFunc(out, func(a, b Peer) int { return cmp.Compare(a.Client, b.Client) })
	return out
}

// peerLocked moves a peer's range from the server document at version to
// the local document, through the unacknowledged local edits.
func (c *Client) peerLocked(id collab.ClientID, p *peer, unacked ot.Delta) Peer {
	out := Peer{Client: id, User: p.user}
	if p.rng != nil {
		r := *p.rng
		if unacked != nil {
			r = ot.TransformRange(unacked, r)
		}
		out.Range = &r
	}
	return out
}

// Changed returns a channel that is closed at the next change of the
// document, version, pending edits, peers or connection.
func (c *Client) Changed() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.changed
}

// changedLocked wakes everyone waiting on Changed, and queues OnStatus if
// the state moved.
func (c *Client) changedLocked() {
	close(c.changed)
	c.changed = make(chan struct{})
	if s := c.st.status(); s != c.status {
		c.status = s
		if f := c.opts.OnStatus; f != nil {
			c.queueLocked(func() { f(s) })
		}
	}
}

// WaitSynced waits until the client is connected and every local edit is
// acknowledged. It returns ctx's error, or Err() if the client stopped.
func (c *Client) WaitSynced(ctx context.Context) error {
	for {
		c.mu.Lock()
		if c.err != nil {
			c.mu.Unlock()
			return c.err
		}
		if c.conn != nil && c.conn.welcomed && c.st.inflight == nil {
			c.mu.Unlock()
			return nil
		}
		ch := c.changed
		c.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Done is closed when the client has stopped: after Close, or when the
// server ended it (see Err).
func (c *Client) Done() <-chan struct{} { return c.done }

// Err returns nil while the client runs; afterwards why it stopped:
// ErrClosed, a *CloseError (errors.Is ErrDocumentDeleted,
// ErrAccessRevoked, ErrMessageTooBig) or a *HandshakeError (401, 403, 404).
func (c *Client) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// Close closes the connection normally (1000), stops reconnecting, and
// returns once every goroutine of the client has exited. Local edits not
// yet acknowledged are lost (check Pending or WaitSynced first). Close must
// not be called from a callback.
func (c *Client) Close() error {
	c.cancel()
	<-c.done
	return nil
}
