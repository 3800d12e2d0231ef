package session

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/collabd/collabd/collab"
	"github.com/collabd/collabd/ot"
)

// Config tunes sessions. Zero fields take the defaults of DefaultConfig.
type Config struct {
	Log    collab.Log
	Logger *slog.Logger
	// Users resolves how an author appears (name, colour) for edits whose
	// author never joined this session; nil shows the id.
	Users func(context.Context, collab.UserID) (collab.UserInfo, error)

	MaxDocLen int // longest document, in UTF-16 units (too_large)
	MaxPeers  int // connected clients per document

	IdleTimeout        time.Duration // retire this long after the last peer left or request came
	CheckpointEvery    int           // checkpoint after this many edits...
	CheckpointInterval time.Duration // ...or this long after the last one, if anything changed (each drawn between half and all of it)
	Checkpoints        int           // snapshot writes at once over all sessions
	Prune              collab.PrunePolicy
	PresenceTick       time.Duration // presence is coalesced and sent once per tick
	Window             int           // committed edits kept in memory for transforms and catch-up
	MaxCatchUp         int           // a rejoining client further behind than this gets the whole document, not ops
	QueueLen           int           // messages queued per peer before it is dropped as too slow
	InboxLen           int           // requests queued per session
	MaxBatch           int           // edits per append
	Retries            int           // times an op is transformed again after another writer took its version
	StoreTimeout       time.Duration // bound on each store call
}

// DefaultConfig returns the defaults; Log is still to be set.
func DefaultConfig() Config {
	return Config{
		Logger:             slog.Default(),
		MaxDocLen:          16 << 20,
		MaxPeers:           1000,
		IdleTimeout:        time.Minute,
		CheckpointEvery:    1000,
		CheckpointInterval: 30 * time.Second,
		Checkpoints:        2,
		Prune:              collab.PrunePolicy{KeepLatest: 3, Every: 1000},
		PresenceTick:       40 * time.Millisecond,
		Window:             1000,
		MaxCatchUp:         100_000,
		QueueLen:           1024,
		InboxLen:           1024,
		MaxBatch:           5000,
		Retries:            5,
		StoreTimeout:       10 * time.Second,
	}
}

func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if c.Logger == nil {
		c.Logger = d.Logger
	}
	set := func(p *int, v int) {
		if *p <= 0 {
			*p = v
		}
	}
	setD := func(p *time.Duration, v time.Duration) {
		if *p <= 0 {
			*p = v
		}
	}
	set(&c.MaxDocLen, d.MaxDocLen)
	set(&c.MaxPeers, d.MaxPeers)
	set(&c.CheckpointEvery, d.CheckpointEvery)
	set(&c.Checkpoints, d.Checkpoints)
	set(&c.Window, d.Window)
	set(&c.MaxCatchUp, d.MaxCatchUp)
	set(&c.QueueLen, d.QueueLen)
	set(&c.InboxLen, d.InboxLen)
	set(&c.MaxBatch, d.MaxBatch)
	set(&c.Retries, d.Retries)
	setD(&c.IdleTimeout, d.IdleTimeout)
	setD(&c.CheckpointInterval, d.CheckpointInterval)
	setD(&c.PresenceTick, d.PresenceTick)
	setD(&c.StoreTimeout, d.StoreTimeout)
	if c.Prune == (collab.PrunePolicy{}) {
		c.Prune = d.Prune
	}
	return c
}

// Registry opens a session on a document's first use, shares it among all
// its users and forgets it when it retires.
type Registry struct {
	cfg    Config
	ctx    context.Context // cancelled by Close: every session shuts down
	cancel context.CancelFunc
	wg     sync.WaitGroup // running sessions
	edits  atomic.Int64   // edits committed by all sessions, for metrics
	// appendLatency times each append to the op log (one per batch of a
	// session's edits, group commit included); commitLatency times each
	// op, live or REST, from its request to the session until it is
	// committed.
	appendLatency, commitLatency Latency
	// checkpointSlots holds a token per snapshot being written.
	checkpointSlots chan struct{}

	mu       sync.Mutex // guards sessions only
	sessions map[collab.DocumentID]*Session
	closed   bool
}

// NewRegistry returns a registry whose sessions use cfg.
func NewRegistry(cfg Config) *Registry {
	ctx, cancel := context.WithCancel(context.Background())
	cfg = cfg.withDefaults()
	return &Registry{cfg: cfg, ctx: ctx, cancel: cancel, sessions: map[collab.DocumentID]*Session{},
		checkpointSlots: make(chan struct{}, cfg.Checkpoints)}
}

// errClosed is returned once the registry is shutting down.
var errClosed = collab.Errorf(collab.Unavailable, "server is shutting down")

// session returns the open session of a document, opening it if needed.
func (r *Registry) session(id collab.DocumentID) (*Session, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil, errClosed
	}
	if s, ok := r.sessions[id]; ok {
		return s, nil
	}
	cfg := &r.cfg
	s := &Session{
		id: id, cfg: cfg, registry: r,
		inbox:      make(chan *request, cfg.InboxLen),
		done:       make(chan struct{}),
		lastSeq:    map[collab.ClientID]int64{},
		tentSeq:    map[collab.ClientID]int64{},
		peers:      map[collab.ClientID]*Peer{},
		users:      map[collab.UserID]collab.UserInfo{},
		userFrames: map[collab.UserInfo][]byte{},
		appended:   make(chan error, 1),
	}
	r.sessions[id] = s
	r.wg.Add(1)
	go s.run(r.ctx)
	return s, nil
}

// remove forgets a session that is returning from run.
func (r *Registry) remove(s *Session) {
	r.mu.Lock()
	if r.sessions[s.id] == s {
		delete(r.sessions, s.id)
	}
	r.mu.Unlock()
	close(s.done)
	r.wg.Done()
}

// attempts bounds how often a caller retries on a session that retired
// while it was being asked.
const attempts = 5

// Join adds a client to a document's session. The peer's first outgoing
// message is the welcome.
func (r *Registry) Join(ctx context.Context, doc collab.DocumentID, j JoinRequest) (*Peer, error) {
	res, err := ask(ctx, r, doc, func(reply chan joinResult) request {
		return request{kind: reqJoin, join: j, reply: reply}
	})
	if err != nil {
		return nil, err
	}
	return res.peer, res.err
}

// Edit is an edit submitted outside a live connection (the REST API).
type Edit struct {
	Client collab.ClientID
	Seq    int64
	User   collab.UserInfo
	Base   int64 // the version Delta is based on
	Delta  ot.Delta
}

// Submit applies an edit through the document's session, exactly as a live
// client's op (transformed, stored, broadcast), and returns its version.
func (r *Registry) Submit(ctx context.Context, doc collab.DocumentID, e Edit) (int64, error) {
	res, err := ask(ctx, r, doc, func(reply chan opResult) request {
		return request{kind: reqOp, op: pendingOp{reply: reply, client: e.Client, user: e.User, seq: e.Seq, base: e.Base, delta: e.Delta}}
	})
	if err != nil {
		return 0, err
	}
	return res.version, res.err
}

// ask sends a request that wants one answer to a document's session,
// opening it if needed. If the session retires before answering, it asks
// the next one: an op it never answered was never acknowledged, so asking
// again is safe (protocol: exactly once recognises it if it was stored).
func ask[T any](ctx context.Context, r *Registry, doc collab.DocumentID, build func(reply chan T) request) (T, error) {
	var zero T
	for range attempts {
		s, err := r.session(doc)
		if err != nil {
			return zero, err
		}
		reply := make(chan T, 1) // room for one: the session never waits on us
		if s.send(ctx, build(reply), nil) {
			select {
			case res := <-reply:
				return res, nil
			case <-s.done:
				select { // an answer sent just before the session ended
				case res := <-reply:
					return res, nil
				default:
				}
			case <-ctx.Done():
			}
		}
		if err := ctx.Err(); err != nil {
			return zero, err
		}
		if s.err != nil {
			return zero, sessionError(s.err)
		}
	}
	return zero, collab.Errorf(collab.Unavailable, "document is busy; try again")
}

// CloseDocument disconnects everyone from a document with a close code
// (collab.CloseDocumentGone when it was deleted) and retires its session.
func (r *Registry) CloseDocument(doc collab.DocumentID, code int, reason string) {
	r.tell(doc, request{kind: reqClose, code: code, reason: reason})
}

// Revoke disconnects a user's live connections to a document with
// collab.CloseAccessRevoked.
func (r *Registry) Revoke(doc collab.DocumentID, user collab.UserID) {
	r.tell(doc, request{kind: reqRevoke, user: user, code: collab.CloseAccessRevoked, reason: "access revoked"})
}

// SetRole changes the role of a user's live connections to a document.
func (r *Registry) SetRole(doc collab.DocumentID, user collab.UserID, role collab.Role) {
	r.tell(doc, request{kind: reqSetRole, user: user, role: role})
}

// tell delivers an admin request to a document's session if one is open.
func (r *Registry) tell(doc collab.DocumentID, req request) {
	r.mu.Lock()
	s := r.sessions[doc]
	r.mu.Unlock()
	if s != nil {
		s.send(context.Background(), req, nil)
	}
}

// Close shuts every session down: each commits what it accepted,
// checkpoints and closes its peers with 1001. It returns when all are done
// or ctx ends.
func (r *Registry) Close(ctx context.Context) error {
	r.mu.Lock()
	r.closed = true
	r.mu.Unlock()
	r.cancel()
	done := make(chan struct{})
	go func() { r.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Committed reports how many edits the sessions have committed.
func (r *Registry) Committed() int64 { return r.edits.Load() }

// AppendLatency reads the histogram of op log appends.
func (r *Registry) AppendLatency() LatencySnapshot { return r.appendLatency.Snapshot() }

// CommitLatency reads the histogram of the time ops, live or REST, take
// from their request to the session until they are committed (and
// acknowledged):
// queueing in the session, transforming, and the append.
func (r *Registry) CommitLatency() LatencySnapshot { return r.commitLatency.Snapshot() }

// Len reports how many sessions are open.
func (r *Registry) Len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.sessions)
}

func sessionError(err error) error {
	if errors.Is(err, collab.ErrNotFound) {
		return err
	}
	return storeError(err)
}
