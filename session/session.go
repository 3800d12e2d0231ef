package session

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/collabd/collabd/collab"
	"github.com/collabd/collabd/ot"
)

// Session is one open document. Its goroutine (run) owns all of its
// mutable state; everyone else talks to it through inbox.
type Session struct {
	// Set by open; read-only afterwards.
	id       collab.DocumentID
	cfg      *Config
	registry *Registry
	inbox    chan *request // joins, ops, presence, leaves, admin; never closed
	done     chan struct{} // closed when run returns; senders stop waiting then
	err      error         // why the session ended early (load failed); written before done is closed

	// Owned by run: no other goroutine touches these, so no lock.
	doc         ot.Doc // at version; immutable, so it goes to checkpoints and welcomes without a copy
	version     int64
	recent      []collab.Edit             // the last cfg.Window committed edits, for transforms and catch-up
	lens        []int                     // lens[i] = document length after recent[i]; lenBefore for base checks
	baseLen     int                       // document length before recent[0]
	lastSeq     map[collab.ClientID]int64 // newest committed seq per client seen in this session
	tentSeq     map[collab.ClientID]int64 // newest tentative seq per client; cleared when tentative ops are dropped
	peers       map[collab.ClientID]*Peer
	users       map[collab.UserID]collab.UserInfo // authors seen, for edits loaded from the store
	userFrames  map[collab.UserInfo][]byte        // users encoded for op broadcasts (userJSON)
	head        ot.Doc                            // doc with every tentative edit applied
	tentative   []*pendingOp                      // transformed and applied to head, not yet committed; the first inflight ones are being appended
	leadRun     int                               // see ownRun
	inflight    int
	appended    chan error // result of the running append
	checkpoint  checkpointState
	presenceDue bool // a presence flush is scheduled
	retiring    bool
}

// pendingOp is an op on its way from submission to commit.
type pendingOp struct {
	peer    *Peer           // nil for an edit made through Submit (REST)
	reply   chan opResult   // for Submit; nil for peers, who are answered through their outbox
	client  collab.ClientID // as submitted
	user    collab.UserInfo
	seq     int64
	base    int64    // the version the delta was based on, as submitted
	delta   ot.Delta // as submitted: kept so the op can be transformed again after a conflict
	retries int
	sent    time.Time // when the op was sent to the session, for commitLatency; zero for edits from the store

	// Set when the op is transformed and applied to head.
	edit  collab.Edit
	after ot.Doc // head after this edit
}

type opResult struct {
	version int64
	err     error
}

type checkpointState struct {
	version int64 // newest version saved or being saved
	running bool  // a SaveSnapshot is in flight
	// The next checkpoint is due after every edits or at due, whichever
	// comes first. Both are drawn anew after each checkpoint, between half
	// and all of CheckpointEvery and CheckpointInterval: documents opened
	// together (a server restart, a class starting) would otherwise all
	// checkpoint in the same second, and their snapshot writes would hold
	// up everyone's commits.
	every int64
	due   time.Time
	done  chan error
}

// schedule draws the next checkpoint's thresholds.
func (c *checkpointState) schedule(cfg *Config, now time.Time) {
	c.every = jitter(int64(cfg.CheckpointEvery))
	c.due = now.Add(time.Duration(jitter(int64(cfg.CheckpointInterval))))
}

// jitter returns a number between n/2 and n, at least 1.
func jitter(n int64) int64 {
	half := n / 2
	return max(1, n-half+rand.Int64N(half+1))
}

type reqKind uint8

const (
	reqJoin reqKind = iota + 1
	reqOp
	reqPresence
	reqLeave
	reqClose   // close every peer with a code (document deleted) and retire
	reqRevoke  // close one user's peers (access revoked)
	reqSetRole // change one user's role on live peers
)

type request struct {
	kind    reqKind
	peer    *Peer
	op      pendingOp
	rng     *ot.Range
	version *int64 // reqPresence: the version rng is in terms of; nil = the committed one
	join    JoinRequest
	user    collab.UserID
	role    collab.Role
	code    int
	reason  string
	reply   chan joinResult // reqJoin only; room for one so the session never waits
}

type joinResult struct {
	peer *Peer
	err  error
}

// send delivers a request to the session's goroutine. It returns false if
// the session ended (the caller may retry on a new one), ctx ended, or abort
// was closed.
func (s *Session) send(ctx context.Context, r request, abort <-chan struct{}) bool {
	if r.kind == reqOp {
		r.op.sent = time.Now()
	}
	select {
	case s.inbox <- &r: // a pointer: a buffer of requests themselves would hold ~0.5 MiB per session for the GC to scan
		return true
	case <-s.done:
	case <-ctx.Done():
	case <-abort:
	}
	return false
}

// run is the session's goroutine: load the document, then serve requests
// until idle or shut down, then hand the registry back its slot.
func (s *Session) run(ctx context.Context) {
	defer s.registry.remove(s)
	if err := s.load(ctx); err != nil {
		s.err = err
		return
	}
	log := s.cfg.Logger.With("doc", s.id)
	idle := time.NewTimer(s.cfg.IdleTimeout)
	idleArmed := true // idle will fire; re-armed whenever no peer is left
	defer idle.Stop()
	presence := time.NewTimer(time.Hour)
	presence.Stop()
	checkpointDue := time.NewTimer(time.Until(s.checkpoint.due))
	defer checkpointDue.Stop()

	for {
		select {
		case r := <-s.inbox:
			s.handle(ctx, *r)
			if len(s.peers) == 0 {
				idle.Reset(s.cfg.IdleTimeout) // activity without peers (REST edits) keeps it open too
				idleArmed = true
			}
		case err := <-s.appended:
			s.committed(ctx, err)
		case err := <-s.checkpoint.done:
			s.checkpoint.running = false
			if err != nil {
				log.Warn("checkpoint failed; the op log still holds every edit", "err", err)
			}
		case <-presence.C:
			s.presenceDue = false
			s.flushPresence()
		case now := <-checkpointDue.C:
			// Not yet due when a checkpoint started by edit count has
			// moved due on since the timer was set.
			if !now.Before(s.checkpoint.due) && s.version > s.checkpoint.version {
				s.startCheckpoint(ctx) // draws the next due, unless one is still running
			}
			if !s.checkpoint.due.After(now) {
				s.checkpoint.schedule(s.cfg, now)
			}
			checkpointDue.Reset(time.Until(s.checkpoint.due))
		case <-idle.C:
			idleArmed = false
			if len(s.peers) == 0 && len(s.tentative) == 0 {
				s.shutdown(ctx, 0, "")
				return
			}
		case <-ctx.Done():
			s.shutdown(context.WithoutCancel(ctx), collab.CloseGoingAway, "server shutting down")
			return
		}
		if s.retiring && len(s.tentative) == 0 {
			s.shutdown(ctx, 0, "")
			return
		}
		if len(s.peers) == 0 && !idleArmed {
			// The last peer may have gone without a request (dropped as too
			// slow): the idle clock starts now either way.
			idle.Reset(s.cfg.IdleTimeout)
			idleArmed = true
		}
		if s.dirtyPresence() && !s.presenceDue {
			s.presenceDue = true
			presence.Reset(s.cfg.PresenceTick)
		}
	}
}

// load brings the session to the document's current version.
func (s *Session) load(ctx context.Context) error {
	lctx, cancel := context.WithTimeout(ctx, s.cfg.StoreTimeout)
	defer cancel()
	snap, edits, err := s.cfg.Log.Load(lctx, s.id)
	if err != nil {
		return fmt.Errorf("load document %s: %w", s.id, err)
	}
	s.doc, s.version = snap.Doc, snap.Version
	s.baseLen = s.doc.Len()
	s.checkpoint = checkpointState{version: snap.Version, done: make(chan error, 1)}
	s.checkpoint.schedule(s.cfg, time.Now())
	for _, e := range edits {
		if e.Version != s.version+1 {
			return fmt.Errorf("load document %s: edit %d follows version %d", s.id, e.Version, s.version)
		}
		doc, err := s.doc.Apply(e.Delta)
		if err != nil {
			return fmt.Errorf("load document %s: replay edit %d: %w", s.id, e.Version, err)
		}
		s.doc = doc
		s.version = e.Version
		s.remember(e)
	}
	s.head = s.doc
	return nil
}

// remember adds a committed edit to the window of recent edits.
func (s *Session) remember(e collab.Edit) {
	if e.Seq > s.lastSeq[e.Client] {
		s.lastSeq[e.Client] = e.Seq
	}
	s.recent = append(s.recent, e)
	s.lens = append(s.lens, s.doc.Len())
	if over := len(s.recent) - s.cfg.Window; over > 0 && over >= s.cfg.Window/4 {
		// Trim in steps so the copy is amortised.
		s.baseLen = s.lens[over-1]
		s.recent = append(s.recent[:0:0], s.recent[over:]...)
		s.lens = append(s.lens[:0:0], s.lens[over:]...)
	}
}

// windowStart is the oldest version an op may be based on without reading
// the store: the version before recent[0].
func (s *Session) windowStart() int64 { return s.version - int64(len(s.recent)) }

func (s *Session) handle(ctx context.Context, r request) {
	switch r.kind {
	case reqJoin:
		p, err := s.join(r.join)
		r.reply <- joinResult{peer: p, err: err}
	case reqOp:
		if r.op.peer != nil && r.op.peer.removed {
			return
		}
		s.submit(ctx, &r.op)
	case reqPresence:
		if !r.peer.removed {
			s.setPresence(r.peer, r.rng, r.version)
		}
	case reqLeave:
		s.removePeer(r.peer, collab.CloseNormal, "")
	case reqClose:
		for _, p := range s.peers {
			s.removePeer(p, r.code, r.reason)
		}
		s.retiring = true
	case reqRevoke:
		for _, p := range s.peers {
			if p.user.ID == r.user {
				s.removePeer(p, r.code, r.reason)
			}
		}
	case reqSetRole:
		for _, p := range s.peers {
			if p.user.ID == r.user {
				p.role = r.role
			}
		}
	}
}

// JoinRequest is what a client says in hello, with who it is.
type JoinRequest struct {
	Client  collab.ClientID
	User    collab.UserInfo
	Role    collab.Role
	Version *int64 // the last version the client holds; nil for none
}

func (s *Session) join(j JoinRequest) (*Peer, error) {
	if s.retiring {
		return nil, collab.Errorf(collab.NotFound, "document is closed")
	}
	if old, ok := s.peers[j.Client]; ok {
		s.removePeer(old, collab.ClosePolicy, "replaced by a newer connection of the same client")
	}
	if len(s.peers) >= s.cfg.MaxPeers {
		return nil, collab.Errorf(collab.RateLimited, "document has the maximum of %d connected editors", s.cfg.MaxPeers)
	}
	if j.Version != nil && *j.Version > s.version {
		return nil, collab.Errorf(collab.VersionAhead, "version %d is ahead of the document's version %d", *j.Version, s.version)
	}
	s.users[j.User.ID] = j.User
	p := &Peer{
		session: s, client: j.Client, user: j.User, role: j.Role,
		limit: s.cfg.QueueLen,
		left:  make(chan struct{}),
	}
	w := collab.Welcome{
		Type:    collab.TypeWelcome,
		Version: s.version,
		You:     collab.You{Client: j.Client, User: j.User, Role: j.Role},
		Peers:   make([]collab.PeerInfo, 0, len(s.peers)),
	}
	for _, o := range s.peers {
		w.Peers = append(w.Peers, collab.PeerInfo{Client: o.client, User: o.user, Range: o.rng})
	}
	var welcome any = w
	switch {
	case j.Version != nil && *j.Version >= s.windowStart():
		// Catch up from the window: the client's own committed ops are among
		// these under its id, which is how it learns of an ack it missed
		// (protocol: exactly once).
		w.Ops = s.wireEdits(s.recent[*j.Version-s.windowStart():])
		welcome = w
	case j.Version != nil && s.version-*j.Version <= int64(s.cfg.MaxCatchUp):
		// Older than the window but still worth replaying: ops, not the
		// whole document, so a client that was offline long keeps its
		// unacknowledged edits (they can only be rebased onto ops). The
		// peer's writer reads the older part from the store.
		w.Ops = s.wireEdits(s.recent)
		welcome = &storeWelcome{welcome: w, cfg: s.cfg, doc: s.id, from: *j.Version + 1, to: s.windowStart()}
	default:
		doc := s.doc
		w.Doc = &doc
		welcome = w
	}
	s.peers[j.Client] = p
	s.offer(p, Outgoing{Value: welcome})
	// Others see the newcomer at once (no range yet), not at its first
	// selection.
	p.dirty = true
	return p, nil
}

// removePeer closes a peer's outbox with a close code and tells the others.
func (s *Session) removePeer(p *Peer, code int, reason string) {
	if p.removed {
		return
	}
	p.removed = true
	p.closeQueue(code, reason)
	if s.peers[p.client] == p {
		delete(s.peers, p.client)
		frame := mustMarshal(collab.LeaveMessage{Type: collab.TypeLeave, Client: p.client})
		for _, o := range s.peers {
			s.offer(o, Outgoing{Frame: frame})
		}
	}
}

// offer queues a message for a peer without ever waiting: a peer whose
// queue is full is too slow to keep up and is dropped (close 1013), so it
// never slows the session or the other peers.
func (s *Session) offer(p *Peer, m Outgoing) {
	if p.removed {
		return
	}
	if !p.push(m) {
		s.removePeer(p, collab.CloseTryAgainLater, "too slow to keep up")
	}
}

// submit runs an op through validation and transformation, applies it to
// head and queues it for the next append.
func (s *Session) submit(ctx context.Context, op *pendingOp) {
	if err := s.prepare(ctx, op); err != nil {
		s.answer(op, 0, err)
		return
	}
	if op.edit.Version == 0 {
		return // a duplicate, already answered
	}
	s.tentative = append(s.tentative, op)
	if s.leadRun == len(s.tentative)-1 && s.tentative[0].client == op.client {
		s.leadRun++
	}
	s.tentSeq[op.client] = max(s.tentSeq[op.client], op.seq)
	s.head = op.after
	s.startAppend(ctx)
}

// prepare validates op, transforms it past every edit after its base and
// applies it to head. A duplicate is answered here and left with
// edit.Version 0.
func (s *Session) prepare(ctx context.Context, op *pendingOp) error {
	if op.peer != nil && !op.peer.role.Allows(collab.Editor) {
		return collab.Errorf(collab.Forbidden, "a %s may not edit this document", op.peer.role)
	}
	// Protocol: exactly once. A resent op is recognised by (client, seq).
	if dup, err := s.duplicate(ctx, op); dup || err != nil {
		return err
	}
	if op.base > s.version {
		return s.preparePipelined(op)
	}
	delta := op.delta
	// Transform past the committed edits after base, then the tentative ones
	// (server edits take priority on ties).
	if op.base < s.windowStart() {
		// Versions base+1 through windowStart are only in the store; recent
		// starts at windowStart+1.
		older, err := s.readEdits(ctx, op.base+1, s.windowStart()+1)
		if err != nil {
			return err
		}
		// The length at so old a base is unknown here; Apply below still
		// rejects a transformed edit that does not fit.
		for _, e := range older {
			delta = ot.Transform(e.Delta, delta, true)
		}
	} else if n, at := delta.BaseLen(), s.lenAt(op.base); n > at {
		return collab.Errorf(collab.InvalidOp, "delta covers %d units but version %d has %d", n, op.base, at)
	}
	from := 0
	if op.base >= s.windowStart() {
		from = int(op.base - s.windowStart())
	}
	for _, e := range s.recent[from:] {
		delta = ot.Transform(e.Delta, delta, true)
	}
	for _, t := range s.tentative {
		delta = ot.Transform(t.edit.Delta, delta, true)
	}
	return s.applyPrepared(op, delta)
}

// preparePipelined accepts an op based on a version not yet committed,
// which is legal only when every edit up to that version is the same
// client's own tentative op: a client pipelining its ops knows the versions
// they will get, since nobody else's op can come between them unseen.
func (s *Session) preparePipelined(op *pendingOp) error {
	k := op.base - s.version
	if k > int64(len(s.tentative)) {
		return collab.Errorf(collab.VersionAhead, "op is based on version %d, but the document is at version %d", op.base, s.version)
	}
	if s.tentative[0].client != op.client || k > int64(s.ownRun()) {
		return collab.Errorf(collab.VersionAhead, "op is based on version %d, which is not committed yet", op.base)
	}
	// Version base must hold this client's previous op (seqs go up by one):
	// the client's document holds all of its ops. If that op was refused,
	// or another client's edit moved it, the version holds something else
	// than what the client built this op on.
	if prev := s.tentative[k-1]; prev.seq != op.seq-1 {
		return collab.Errorf(collab.VersionAhead, "op %d is based on version %d, which will be this client's op %d, not op %d; resync", op.seq, op.base, prev.seq, op.seq-1)
	}
	delta := op.delta
	if n, at := delta.BaseLen(), s.tentative[k-1].after.Len(); n > at {
		return collab.Errorf(collab.InvalidOp, "delta covers %d units but version %d has %d", n, op.base, at)
	}
	for _, t := range s.tentative[k:] {
		delta = ot.Transform(t.edit.Delta, delta, true)
	}
	return s.applyPrepared(op, delta)
}

// ownRun is how many tentative ops at the front come from the client of
// the first; kept incrementally, as a pipelining client queues thousands.
func (s *Session) ownRun() int {
	if s.leadRun > len(s.tentative) || s.leadRun <= 0 {
		s.leadRun = 0
		for _, t := range s.tentative {
			if t.client != s.tentative[0].client {
				break
			}
			s.leadRun++
		}
	}
	return s.leadRun
}

// applyPrepared applies a transformed delta to head and makes it op's edit.
func (s *Session) applyPrepared(op *pendingOp, delta ot.Delta) error {
	after, err := s.head.Apply(delta)
	if err != nil {
		return &collab.Error{Code: collab.InvalidOp, Message: err.Error(), Err: err}
	}
	if after.Len() > s.cfg.MaxDocLen {
		return collab.Errorf(collab.TooLarge, "the document would be %d units long; the limit is %d", after.Len(), s.cfg.MaxDocLen)
	}
	op.edit = collab.Edit{
		Version: s.version + int64(len(s.tentative)) + 1,
		Client:  op.client, Seq: op.seq, Author: op.user.ID,
		Delta: delta, CreatedAt: time.Now().UTC(),
	}
	op.after = after
	return nil
}

// duplicate recognises an op that was submitted before. One already
// committed is acked with its original version; one still tentative is
// acked when it commits (to the newest connection of its client).
func (s *Session) duplicate(ctx context.Context, op *pendingOp) (bool, error) {
	if tent, ok := s.tentSeq[op.client]; ok && op.seq <= tent {
		for _, t := range s.tentative {
			if t.client == op.client && t.seq == op.seq {
				if op.peer != nil {
					t.peer = op.peer
				}
				return true, nil
			}
		}
	}
	last, known := s.lastSeq[op.client]
	if tent, ok := s.tentSeq[op.client]; ok {
		last, known = max(last, tent), true
	}
	if known && op.seq > last {
		return false, nil
	}
	// The seq is not above the newest committed one, or this session has
	// not seen the client commit yet: look for the edit.
	for i := len(s.recent) - 1; i >= 0; i-- {
		if e := s.recent[i]; e.Client == op.client && e.Seq == op.seq {
			s.answer(op, e.Version, nil)
			return true, nil
		}
	}
	rctx, cancel := context.WithTimeout(ctx, s.cfg.StoreTimeout)
	defer cancel()
	e, err := s.cfg.Log.EditBySeq(rctx, s.id, op.client, op.seq)
	switch {
	case err == nil:
		s.answer(op, e.Version, nil)
		return true, nil
	case errors.Is(err, collab.ErrNotFound):
		if known {
			return false, collab.Errorf(collab.BadMessage, "seq %d is stale: client %s has committed seq %d", op.seq, op.client, last)
		}
		return false, nil
	default:
		return false, storeError(err)
	}
}

// readEdits reads the committed edits with from <= version < to from the
// store.
func (s *Session) readEdits(ctx context.Context, from, to int64) ([]collab.Edit, error) {
	rctx, cancel := context.WithTimeout(ctx, s.cfg.StoreTimeout)
	defer cancel()
	edits, err := s.cfg.Log.Edits(rctx, s.id, from, to-1)
	if err != nil {
		return nil, storeError(err)
	}
	if int64(len(edits)) != to-from {
		return nil, collab.Errorf(collab.Internal, "store returned %d edits for versions %d..%d", len(edits), from, to-1)
	}
	return edits, nil
}

// lenAt is the document's length at a version inside the window.
func (s *Session) lenAt(v int64) int {
	if i := v - s.windowStart(); i > 0 {
		return s.lens[i-1]
	}
	return s.baseLen
}

// startAppend sends the tentative edits not yet in flight to the store,
// unless an append is running: then they go together with the next one,
// which is how a busy session batches (and the store batches sessions).
func (s *Session) startAppend(ctx context.Context) {
	if s.inflight > 0 || len(s.tentative) == 0 {
		return
	}
	n := min(len(s.tentative), s.cfg.MaxBatch)
	edits := make([]collab.Edit, n)
	for i, t := range s.tentative[:n] {
		edits[i] = t.edit
	}
	s.inflight = n
	go func() {
		actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.StoreTimeout)
		defer cancel()
		start := time.Now()
		err := s.cfg.Log.Append(actx, s.id, edits)
		s.registry.appendLatency.Observe(time.Since(start))
		s.appended <- err
	}()
}

// committed handles the end of an append: on success the edits are
// durable, so each author gets its ack and everyone else the edit, in
// version order. Only now does the committed document move.
func (s *Session) committed(ctx context.Context, err error) {
	n := s.inflight
	s.inflight = 0
	switch {
	case err == nil:
		for _, op := range s.tentative[:n] {
			s.commit(op)
		}
		s.registry.edits.Add(int64(n))
		s.tentative = append(s.tentative[:0:0], s.tentative[n:]...)
		s.leadRun -= n // ownRun recounts when this is no longer positive
		if s.version-s.checkpoint.version >= s.checkpoint.every {
			s.startCheckpoint(ctx)
		}
		s.startAppend(ctx)
	case errors.Is(err, collab.ErrVersionTaken) || errors.Is(err, collab.ErrDuplicate):
		// Another writer (another server process) took the version: catch
		// up from the store, then transform our ops again.
		before := s.version
		if cerr := s.catchUp(ctx); cerr != nil {
			s.rejectTentative(cerr)
			return
		}
		s.retryTentative(ctx, before)
	case errors.Is(err, collab.ErrNotFound):
		s.rejectTentative(collab.Errorf(collab.NotFound, "document was deleted"))
		for _, p := range s.peers {
			s.removePeer(p, collab.CloseDocumentGone, "document deleted")
		}
		s.retiring = true
	default:
		s.cfg.Logger.Warn("append failed", "doc", s.id, "version", s.version+1, "edits", n, "err", err)
		s.rejectTentative(storeError(err))
	}
}

// commit makes one appended edit the document's newest version and tells
// everyone.
func (s *Session) commit(op *pendingOp) {
	e := op.edit
	s.doc = op.after
	s.version = e.Version
	s.remember(e)
	// Timed before the ack goes out, so whoever has the ack sees the time.
	if !op.sent.IsZero() {
		s.registry.commitLatency.Observe(time.Since(op.sent))
	}
	s.answer(op, e.Version, nil)
	frame := s.opFrame(e)
	for _, p := range s.peers {
		if p != op.peer {
			s.offer(p, Outgoing{Frame: frame})
		}
		if p.rng != nil {
			moved := ot.TransformRange(e.Delta, *p.rng)
			p.rng = &moved
		}
	}
}

// catchUp reads the edits other writers committed after our version and
// makes them ours, broadcasting them like our own.
func (s *Session) catchUp(ctx context.Context) error {
	rctx, cancel := context.WithTimeout(ctx, s.cfg.StoreTimeout)
	defer cancel()
	edits, err := s.cfg.Log.Edits(rctx, s.id, s.version+1, s.version+1<<40)
	if err != nil {
		return storeError(err)
	}
	for _, e := range edits {
		if e.Version != s.version+1 {
			return collab.Errorf(collab.Internal, "store returned edit %d after version %d", e.Version, s.version)
		}
		after, err := s.doc.Apply(e.Delta)
		if err != nil {
			return fmt.Errorf("apply edit %d of %s from the store: %w", e.Version, s.id, err)
		}
		s.commit(&pendingOp{client: e.Client, seq: e.Seq, user: s.userInfo(ctx, e.Author), edit: e, after: after})
	}
	return nil
}

// retryTentative transforms every tentative op again from its submitted
// form, after a conflict moved the committed version from before.
func (s *Session) retryTentative(ctx context.Context, before int64) {
	ops := s.tentative
	s.tentative = nil
	s.leadRun = 0
	clear(s.tentSeq)
	s.head = s.doc
	for _, op := range ops {
		if op.base > before {
			// Pipelined on its client's own tentative ops, whose versions
			// have now changed: its base no longer names what it meant.
			s.answer(op, 0, collab.Errorf(collab.Unavailable, "document changed under a pipelined op; resend it"))
			continue
		}
		op.retries++
		if op.retries > s.cfg.Retries {
			s.answer(op, 0, collab.Errorf(collab.Unavailable, "document is too busy; try again"))
			continue
		}
		op.edit = collab.Edit{}
		s.submit(ctx, op)
	}
}

// rejectTentative fails every op not yet committed: none was applied, so
// each client may resend it.
func (s *Session) rejectTentative(err error) {
	for _, op := range s.tentative {
		s.answer(op, 0, err)
	}
	s.tentative = nil
	s.leadRun = 0
	clear(s.tentSeq)
	s.head = s.doc
}

// answer tells an op's author how it ended.
func (s *Session) answer(op *pendingOp, version int64, err error) {
	if op.reply != nil {
		op.reply <- opResult{version: version, err: err}
		return
	}
	if op.peer == nil {
		return
	}
	if err != nil {
		if collab.ErrorCode(err) == collab.Internal {
			s.cfg.Logger.Error("op failed", "doc", s.id, "client", op.client, "seq", op.seq, "err", err)
		}
		s.offer(op.peer, Outgoing{Frame: mustMarshal(collab.NewErrorMessage(err, op.seq))})
		return
	}
	s.offer(op.peer, Outgoing{Frame: ackFrame(op.seq, version)})
}

func (s *Session) wireEdits(edits []collab.Edit) []collab.WireEdit {
	out := make([]collab.WireEdit, len(edits))
	for i, e := range edits {
		out[i] = s.wireEdit(e)
	}
	return out
}

func (s *Session) wireEdit(e collab.Edit) collab.WireEdit {
	return collab.WireEdit{Version: e.Version, Delta: e.Delta, Client: e.Client, Seq: e.Seq, User: s.userInfo(context.Background(), e.Author)}
}

// userInfo returns how an author appears, asking the configured resolver
// once per user for authors that never joined this session.
func (s *Session) userInfo(ctx context.Context, id collab.UserID) collab.UserInfo {
	if u, ok := s.users[id]; ok {
		return u
	}
	u := collab.UserInfo{ID: id, Name: string(id), Color: collab.ColorFor(id)}
	if s.cfg.Users != nil {
		rctx, cancel := context.WithTimeout(ctx, s.cfg.StoreTimeout)
		if got, err := s.cfg.Users(rctx, id); err == nil {
			u = got
		}
		cancel()
	}
	s.users[id] = u
	return u
}

// setPresence stores a peer's selection in terms of the committed
// document. A client's range is in terms of the version it names, which
// lags behind when edits were committed while the presence was on its
// way (the client's own among them); without a version it can only be
// read as the committed one.
func (s *Session) setPresence(p *Peer, r *ot.Range, version *int64) {
	if version != nil && *version > s.version {
		err := collab.Errorf(collab.VersionAhead, "presence is in terms of version %d, but the document is at version %d", *version, s.version)
		s.offer(p, Outgoing{Frame: mustMarshal(collab.NewErrorMessage(err, 0))})
		return
	}
	if version != nil && r != nil {
		v := *version
		if v < s.windowStart() {
			// Stale, not wrong: the edits to move it through are only in
			// the store, and a cursor is not worth a store read. Keep the
			// peer's previous range, which the session has moved with
			// every edit. (A null range needs no moving: it always counts.)
			return
		}
		moved := clampRange(r, s.lenAt(v))
		for _, e := range s.recent[v-s.windowStart():] {
			*moved = ot.TransformRange(e.Delta, *moved)
		}
		r = moved
	}
	p.rng = clampRange(r, s.doc.Len())
	p.dirty = true
}

// clampRange keeps a range inside a document of length n, starting no
// later than its final "\n".
func clampRange(r *ot.Range, n int) *ot.Range {
	if r == nil {
		return nil
	}
	c := ot.Range{Index: min(r.Index, n-1), Length: r.Length}
	c.Length = min(c.Length, n-c.Index)
	return &c
}

func (s *Session) dirtyPresence() bool {
	for _, p := range s.peers {
		if p.dirty {
			return true
		}
	}
	return false
}

// flushPresence sends every peer's changed selection to the others, once
// per tick however often it changed (presence is coalesced).
func (s *Session) flushPresence() {
	for _, p := range s.peers {
		if !p.dirty {
			continue
		}
		p.dirty = false
		frame := mustMarshal(collab.PresenceMessage{Type: collab.TypePresence, Client: p.client, User: p.user, Range: p.rng})
		for _, o := range s.peers {
			if o != p {
				s.offer(o, Outgoing{Frame: frame})
			}
		}
	}
}

// startCheckpoint saves the committed document in the background; the
// document is immutable, so the session goes on editing meanwhile. At
// most Config.Checkpoints sessions write a snapshot at once (the rest
// wait for a slot), so that checkpoints never take the store connections
// that edits are committed on.
func (s *Session) startCheckpoint(ctx context.Context) {
	if s.checkpoint.running || s.version <= s.checkpoint.version {
		return
	}
	now := time.Now()
	s.checkpoint.running = true
	s.checkpoint.version = s.version
	s.checkpoint.schedule(s.cfg, now)
	snap := collab.Snapshot{Version: s.version, Doc: s.doc, CreatedAt: now.UTC()}
	slots := s.registry.checkpointSlots
	go func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.StoreTimeout)
		defer cancel()
		select {
		case slots <- struct{}{}:
			defer func() { <-slots }()
		case <-cctx.Done():
			s.checkpoint.done <- fmt.Errorf("wait to checkpoint: %w", cctx.Err())
			return
		}
		err := s.cfg.Log.SaveSnapshot(cctx, s.id, snap)
		if err == nil {
			err = s.cfg.Log.PruneSnapshots(cctx, s.id, s.cfg.Prune)
		}
		s.checkpoint.done <- err
	}()
}

// shutdown ends the session: commit what is tentative, close every peer,
// checkpoint (code 0 means the session retires with no peers left).
func (s *Session) shutdown(ctx context.Context, code int, reason string) {
	for s.inflight > 0 {
		s.committed(ctx, <-s.appended)
	}
	// Every accepted edit is durable now: the peers need not wait for the
	// checkpoint, which may queue behind other sessions' for a while.
	for _, p := range s.peers {
		s.removePeer(p, code, reason)
	}
	if s.checkpoint.running {
		<-s.checkpoint.done
		s.checkpoint.running = false
	}
	if s.version > s.checkpoint.version {
		s.startCheckpoint(ctx)
		if err := <-s.checkpoint.done; err != nil {
			s.cfg.Logger.Warn("final checkpoint failed; the op log still holds every edit", "doc", s.id, "err", err)
		}
	}
}

func storeError(err error) error {
	if c := collab.ErrorCode(err); c == collab.Unavailable || c == collab.Internal {
		return &collab.Error{Code: collab.Unavailable, Message: "the document store is unavailable; nothing was applied, try again", Err: err}
	}
	return err
}

// ackFrame encodes an ack by hand: one per edit, on the hot path.
func ackFrame(seq, version int64) []byte {
	b := make([]byte, 0, 48)
	b = append(b, `{"type":"ack","seq":`...)
	b = strconv.AppendInt(b, seq, 10)
	b = append(b, `,"version":`...)
	b = strconv.AppendInt(b, version, 10)
	return append(b, '}')
}

func mustMarshal(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		// Only our own message types reach here, all of which marshal.
		panic(fmt.Sprintf("session: encode %T: %v", v, err))
	}
	return b
}
