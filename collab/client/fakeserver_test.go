package client

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/collabd/collabd/collab"
	"github.com/collabd/collabd/ot"
)

// fakeServer implements just enough of the live protocol for the client:
// it orders ops (transforming late ones past newer edits, server first),
// acks, broadcasts, moves presence with the text, answers hello with ops
// or a snapshot, and recognises a resent op (protocol: exactly once).
// Like @codemirror/collab's test server it can hold back one client's ops
// to make them concurrent with others', drop connections, refuse
// handshakes, refuse ops, and send raw frames.
//
// Everything is guarded by mu, writes included, so the order in which it
// writes to the sockets is the order of its edits.
type fakeServer struct {
	t   *testing.T
	srv *httptest.Server

	mu         sync.Mutex
	doc        ot.Doc
	edits      []collab.WireEdit // edits[i].Version == i+1
	conns      map[*fakeConn]bool
	committed  map[clientSeq]int64 // exactly once: (client, seq) → version
	received   []opRecord          // every op message, in arrival order
	presences  []presenceRecord    // every presence message, in arrival order
	hellos     []helloRecord
	held       map[collab.ClientID]bool // ops from these clients wait in queue
	queue      []queuedOp
	stall      bool                              // never answer a handshake
	reject     int                               // HTTP status for handshakes; 0 accepts
	rejects    int                               // if > 0: reject only this many more handshakes, then accept
	retryAt    string                            // Retry-After header of rejected handshakes; "" sends none
	handshakes []time.Time                       // when each handshake arrived
	snapshot   bool                              // answer every hello with the document
	dropAck    map[collab.ClientID]bool          // commit the client's next op, then drop it unacked
	failNext   map[collab.ClientID][]collab.Code // refuse the client's next ops with these codes
	viewers    map[collab.ClientID]bool
	deaf       map[collab.ClientID]bool // pings from these clients get no pong
	// excludeClient sends an edit to no connection of its author's client,
	// not only the one it came on: a resent op then learns its version from
	// the duplicate's ack alone.
	excludeClient bool
	problems      []string // what clients sent that they should not have
	closed        bool
	// maxMessage: a longer message closes its connection with 1009 (0: no
	// limit); tooBig counts those closes.
	maxMessage int
	tooBig     int
	// The REST history (GET …/ops): restStatus refuses it with that
	// status (0 serves it), restEnd pretends it ends at that version (0:
	// the real end), restPage caps a page (0: as asked), restStall (if
	// not nil) holds every answer until it is closed or the client gives
	// up; restGets counts the requests, restAuth has the Authorization
	// header of each.
	restStatus int
	restEnd    int64
	restPage   int64
	restStall  chan struct{}
	restGets   int
	restAuth   []string
}

type clientSeq struct {
	client collab.ClientID
	seq    int64
}

type opRecord struct {
	client  collab.ClientID
	seq     int64
	version int64
	delta   string // JSON
}

type presenceRecord struct {
	client  collab.ClientID
	rng     *ot.Range
	version *int64
}

type helloRecord struct {
	client  collab.ClientID
	version *int64
}

type queuedOp struct {
	fc *fakeConn
	m  collab.ClientMessage
}

type fakeConn struct {
	ws     *websocket.Conn
	client collab.ClientID // "" until hello
	rng    *ot.Range
	dead   bool
}

func newFakeServer(t *testing.T, initial string) *fakeServer {
	t.Helper()
	doc, err := ot.DocFromDelta(ot.Delta{ot.InsertText(initial+"\n", nil)})
	if err != nil {
		t.Fatal(err)
	}
	s := &fakeServer{
		t:         t,
		doc:       doc,
		conns:     make(map[*fakeConn]bool),
		committed: make(map[clientSeq]int64),
		held:      make(map[collab.ClientID]bool),
		dropAck:   make(map[collab.ClientID]bool),
		failNext:  make(map[collab.ClientID][]collab.Code),
		viewers:   make(map[collab.ClientID]bool),
		deaf:      make(map[collab.ClientID]bool),
	}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(func() {
		s.mu.Lock()
		s.closed = true
		for fc := range s.conns {
			fc.ws.Close()
		}
		problems := s.problems
		s.mu.Unlock()
		s.srv.Close()
		for _, p := range problems {
			t.Errorf("fake server: %s", p)
		}
	})
	return s
}

func (s *fakeServer) url() string {
	return "ws" + strings.TrimPrefix(s.srv.URL, "http") + "/v1/documents/doc1/live"
}

var upgrader = websocket.Upgrader{}

func (s *fakeServer) serve(w http.ResponseWriter, r *http.Request) {
	if strings.HasSuffix(r.URL.Path, "/ops") {
		s.serveOps(w, r)
		return
	}
	s.mu.Lock()
	s.handshakes = append(s.handshakes, time.Now())
	reject, closed, stall, retryAt := s.reject, s.closed, s.stall, s.retryAt
	if reject != 0 && s.rejects > 0 {
		if s.rejects--; s.rejects == 0 {
			s.reject = 0 // this is the last one refused
		}
	}
	s.mu.Unlock()
	if stall {
		<-r.Context().Done() // the client gave up
		return
	}
	if reject != 0 || closed {
		if retryAt != "" {
			w.Header().Set("Retry-After", retryAt)
		}
		http.Error(w, `{"error":{"code":"test","message":"refused by the test"}}`, cmpOr(reject, http.StatusServiceUnavailable))
		return
	}
	ws, err := upgrader.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	fc := &fakeConn{ws: ws}
	ws.SetPingHandler(func(data string) error {
		s.mu.Lock()
		deaf := s.deaf[fc.client]
		s.mu.Unlock()
		if !deaf {
			ws.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(time.Second))
		}
		return nil
	})
	defer func() {
		s.mu.Lock()
		s.leave(fc)
		s.mu.Unlock()
		ws.Close()
	}()
	for {
		_, frame, err := ws.ReadMessage()
		if err != nil {
			return
		}
		s.mu.Lock()
		if s.maxMessage > 0 && len(frame) > s.maxMessage {
			// As collabd does: close with 1009, then read on until the
			// client answers, so that the close frame reaches it.
			s.tooBig++
			fc.dead = true
			s.mu.Unlock()
			ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(collab.CloseTooBig, ""), time.Now().Add(time.Second))
			ws.SetReadDeadline(time.Now().Add(time.Second))
			for {
				if _, _, err := ws.ReadMessage(); err != nil {
					return
				}
			}
		}
		m, err := collab.ParseClientMessage(frame)
		if err != nil {
			s.problems = append(s.problems, fmt.Sprintf("bad message %s: %v", frame, err))
		} else {
			s.handle(fc, m)
		}
		s.mu.Unlock()
	}
}

func cmpOr(a, b int) int {
	if a != 0 {
		return a
	}
	return b
}

// send writes one message to fc; a dead connection is skipped.
func (s *fakeServer) send(fc *fakeConn, v any) {
	if fc.dead {
		return
	}
	b, err := json.Marshal(v)
	if err != nil {
		s.problems = append(s.problems, fmt.Sprintf("encode %T: %v", v, err))
		return
	}
	s.sendRaw(fc, websocket.TextMessage, b)
}

func (s *fakeServer) sendRaw(fc *fakeConn, typ int, b []byte) {
	fc.ws.SetWriteDeadline(time.Now().Add(5 * time.Second))
	if err := fc.ws.WriteMessage(typ, b); err != nil {
		fc.dead = true
		fc.ws.Close()
	}
}

func (s *fakeServer) user(id collab.ClientID) collab.UserInfo {
	uid := collab.UserID("u-" + id)
	return collab.UserInfo{ID: uid, Name: "User " + string(id), Color: collab.ColorFor(uid)}
}

func (s *fakeServer) handle(fc *fakeConn, m collab.ClientMessage) {
	if fc.client == "" && m.Type != collab.TypeHello {
		s.problems = append(s.problems, fmt.Sprintf("%s before hello", m.Type))
		return
	}
	switch m.Type {
	case collab.TypeHello:
		if fc.client != "" {
			s.problems = append(s.problems, "second hello")
			return
		}
		fc.client = m.Client
		s.hellos = append(s.hellos, helloRecord{client: m.Client, version: m.Version})
		s.welcome(fc, m.Version)
		s.conns[fc] = true
	case collab.TypeOp:
		if s.held[fc.client] {
			s.queue = append(s.queue, queuedOp{fc, m})
			return
		}
		s.op(fc, m)
	case collab.TypePresence:
		s.presences = append(s.presences, presenceRecord{client: fc.client, rng: m.Range, version: m.Version})
		// The range is in terms of the version the client names (without
		// one, the document now): move it through the edits since, as
		// collabd does, and clamp what a client's bug may have put past
		// the end.
		fc.rng = nil
		if m.Range != nil {
			r := *m.Range
			if m.Version != nil {
				if *m.Version > int64(len(s.edits)) {
					s.problems = append(s.problems, fmt.Sprintf("presence in terms of version %d, ahead of %d", *m.Version, len(s.edits)))
					return
				}
				for _, e := range s.edits[*m.Version:] {
					r = ot.TransformRange(e.Delta, r)
				}
			}
			fc.rng = clamp(&r, s.doc.Len())
		}
		for other := range s.conns {
			if other.client != fc.client {
				s.send(other, collab.PresenceMessage{Type: collab.TypePresence, Client: fc.client, User: s.user(fc.client), Range: fc.rng})
			}
		}
	}
}

// welcome answers hello. The document goes as a delta: the fake does not
// depend on ot.Doc's own JSON.
func (s *fakeServer) welcome(fc *fakeConn, version *int64) {
	role := collab.Editor
	if s.viewers[fc.client] {
		role = collab.Viewer
	}
	peers := []collab.PeerInfo{}
	for other := range s.conns {
		if other.client != fc.client && !other.dead {
			peers = append(peers, collab.PeerInfo{Client: other.client, User: s.user(other.client), Range: other.rng})
		}
	}
	w := map[string]any{
		"type":    collab.TypeWelcome,
		"version": len(s.edits),
		"you":     collab.You{Client: fc.client, User: s.user(fc.client), Role: role},
		"peers":   peers,
	}
	switch {
	case version == nil || s.snapshot:
		w["doc"] = s.doc.Delta()
	case *version > int64(len(s.edits)):
		s.send(fc, collab.NewErrorMessage(collab.Errorf(collab.VersionAhead, "version %d is ahead", *version), 0))
		return
	default:
		w["ops"] = append([]collab.WireEdit{}, s.edits[*version:]...)
	}
	s.send(fc, w)
}

// op commits one op: transformed past the edits after its base (server
// edits first), applied, acked, broadcast, every presence moved.
func (s *fakeServer) op(fc *fakeConn, m collab.ClientMessage) {
	dj, _ := json.Marshal(m.Delta)
	s.received = append(s.received, opRecord{client: fc.client, seq: m.Seq, version: *m.Version, delta: string(dj)})
	key := clientSeq{fc.client, m.Seq}
	if v, ok := s.committed[key]; ok { // protocol: exactly once
		s.send(fc, collab.Ack{Type: collab.TypeAck, Seq: m.Seq, Version: v})
		return
	}
	if codes := s.failNext[fc.client]; len(codes) > 0 {
		s.failNext[fc.client] = codes[1:]
		s.send(fc, collab.NewErrorMessage(collab.Errorf(codes[0], "refused by the test"), m.Seq))
		return
	}
	if s.viewers[fc.client] {
		s.send(fc, collab.NewErrorMessage(collab.Errorf(collab.Forbidden, "viewer"), m.Seq))
		return
	}
	base := *m.Version
	if base > int64(len(s.edits)) {
		s.send(fc, collab.NewErrorMessage(collab.Errorf(collab.VersionAhead, "ahead"), m.Seq))
		return
	}
	d := m.Delta
	for _, e := range s.edits[base:] {
		d = ot.Transform(e.Delta, d, true)
	}
	doc, err := s.doc.Apply(d)
	if err != nil {
		s.send(fc, collab.NewErrorMessage(collab.Errorf(collab.InvalidOp, "%v", err), m.Seq))
		return
	}
	e := collab.WireEdit{Version: int64(len(s.edits)) + 1, Delta: d, Client: fc.client, Seq: m.Seq, User: s.user(fc.client)}
	s.doc = doc
	s.edits = append(s.edits, e)
	s.committed[key] = e.Version
	for c := range s.conns {
		if c.rng != nil {
			r := ot.TransformRange(d, *c.rng)
			c.rng = &r
		}
	}
	if s.dropAck[fc.client] {
		delete(s.dropAck, fc.client)
		fc.dead = true
		fc.ws.Close()
	} else {
		s.send(fc, collab.Ack{Type: collab.TypeAck, Seq: m.Seq, Version: e.Version})
	}
	// Every connection but the author's gets the edit, including another
	// connection of the same client (protocol: same order everywhere),
	// unless the server keys peers by client.
	for c := range s.conns {
		if c != fc && !(s.excludeClient && c.client == fc.client) {
			s.send(c, collab.OpMessage{Type: collab.TypeOp, WireEdit: e})
		}
	}
}

func (s *fakeServer) leave(fc *fakeConn) {
	if !s.conns[fc] {
		return
	}
	delete(s.conns, fc)
	fc.dead = true
	for c := range s.conns {
		if c.client == fc.client && !c.dead {
			return // the client is back on another connection
		}
	}
	for c := range s.conns {
		if c.client != fc.client {
			s.send(c, collab.LeaveMessage{Type: collab.TypeLeave, Client: fc.client})
		}
	}
}

// serveOps serves the REST history: versions from..to, at most limit, the
// cursor being the next version (as collabd's, opaque to clients).
func (s *fakeServer) serveOps(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.restGets++
	s.restAuth = append(s.restAuth, r.Header.Get("Authorization"))
	if stall := s.restStall; stall != nil {
		s.mu.Unlock()
		select {
		case <-stall:
		case <-r.Context().Done():
			return
		}
		s.mu.Lock()
	}
	defer s.mu.Unlock()
	if s.restStatus != 0 {
		http.Error(w, `{"error":{"code":"test","message":"refused by the test"}}`, s.restStatus)
		return
	}
	q := r.URL.Query()
	num := func(name string, def int64) int64 {
		if v := q.Get(name); v != "" {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				s.problems = append(s.problems, fmt.Sprintf("GET ops: %s=%q", name, v))
			}
			return n
		}
		return def
	}
	end := int64(len(s.edits))
	if s.restEnd > 0 {
		end = min(end, s.restEnd)
	}
	from, to, limit := num("from", 1), min(num("to", end), end), num("limit", 100)
	if s.restPage > 0 {
		limit = min(limit, s.restPage)
	}
	if c := q.Get("cursor"); c != "" {
		n, err := strconv.ParseInt(c, 36, 64)
		if err != nil {
			s.problems = append(s.problems, fmt.Sprintf("GET ops: cursor %q", c))
		}
		from = n
	}
	last := min(to, from+limit-1)
	out := map[string]any{"items": []collab.WireEdit{}}
	if from >= 1 && from <= last {
		out["items"] = s.edits[from-1 : last]
		if last < to {
			out["next_cursor"] = strconv.FormatInt(last+1, 36)
		}
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(out)
}

// Test controls.

// hold queues the client's ops from now on, on this and later connections.
func (s *fakeServer) hold(id collab.ClientID) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.held[id] = true
}

// release handles the client's queued ops in arrival order (a connection
// that died since gets no ack) and stops holding.
func (s *fakeServer) release(id collab.ClientID) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.held, id)
	rest := s.queue[:0]
	var mine []queuedOp
	for _, q := range s.queue {
		if q.fc.client == id {
			mine = append(mine, q)
		} else {
			rest = append(rest, q)
		}
	}
	s.queue = rest
	for _, q := range mine {
		s.op(q.fc, q.m)
	}
}

func (s *fakeServer) queued(id collab.ClientID) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, q := range s.queue {
		if q.fc.client == id {
			n++
		}
	}
	return n
}

// drop closes the client's connections: with a close frame carrying code,
// or abruptly when code is 0.
func (s *fakeServer) drop(id collab.ClientID, code int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for fc := range s.conns {
		if fc.client != id || fc.dead {
			continue
		}
		if code != 0 {
			fc.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, "by the test"), time.Now().Add(time.Second))
		}
		fc.dead = true
		fc.ws.Close()
	}
}

// inject sends a raw frame to the client's live connections.
func (s *fakeServer) inject(id collab.ClientID, typ int, frame string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for fc := range s.conns {
		if fc.client == id {
			s.sendRaw(fc, typ, []byte(frame))
		}
	}
}

// set changes the server's behaviour under its lock.
func (s *fakeServer) set(f func(s *fakeServer)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f(s)
}

// handshakeTimes returns when each handshake arrived.
func (s *fakeServer) handshakeTimes() []time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Time(nil), s.handshakes...)
}

func (s *fakeServer) text() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.doc.Text()
}

func (s *fakeServer) docJSON() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, _ := json.Marshal(s.doc.Delta())
	return string(b)
}

func (s *fakeServer) version() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return int64(len(s.edits))
}

// fromClient returns the records of one client, in the order received;
// records reads the list, under s.mu.
func fromClient[R any](s *fakeServer, records func() []R, client func(R) collab.ClientID, id collab.ClientID) []R {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []R
	for _, r := range records() {
		if client(r) == id {
			out = append(out, r)
		}
	}
	return out
}

func (s *fakeServer) opsFrom(id collab.ClientID) []opRecord {
	return fromClient(s, func() []opRecord { return s.received }, func(r opRecord) collab.ClientID { return r.client }, id)
}

func (s *fakeServer) hellosFrom(id collab.ClientID) []helloRecord {
	return fromClient(s, func() []helloRecord { return s.hellos }, func(h helloRecord) collab.ClientID { return h.client }, id)
}

func (s *fakeServer) presencesFrom(id collab.ClientID) []presenceRecord {
	return fromClient(s, func() []presenceRecord { return s.presences }, func(p presenceRecord) collab.ClientID { return p.client }, id)
}

func (s *fakeServer) rangeOf(id collab.ClientID) *ot.Range {
	s.mu.Lock()
	defer s.mu.Unlock()
	for fc := range s.conns {
		if fc.client == id && !fc.dead {
			return fc.rng
		}
	}
	return nil
}
