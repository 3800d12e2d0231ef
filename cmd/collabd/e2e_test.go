package main

// End-to-end tests of live editing through the real server: Main on
// 127.0.0.1, the Go client and raw WebSocket clients, the embedded
// database and Postgres. Random edits for them are at the end.

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/collabd/collabd/collab"
	"github.com/collabd/collabd/collab/client"
	"github.com/collabd/collabd/internal/pgtest"
	"github.com/collabd/collabd/ot"
)

var seedFlag = flag.Uint64("e2e.seed", 0, "run TestRandomEditingConverges with this seed only")

// defaultSeeds is how many seeds TestRandomEditingConverges runs on each
// store; COLLABD_SEEDS=n runs n instead (a longer run). Each takes about
// a second.
const defaultSeeds = 16

// convergenceSeeds are the seeds TestRandomEditingConverges runs with on
// each store: 1, 2, … (half of them, at most 8) and new random ones each
// run (the rest). They are logged, so that a failure can be replayed
// with -e2e.seed.
func convergenceSeeds(t *testing.T) []uint64 {
	if *seedFlag != 0 {
		return []uint64{*seedFlag}
	}
	n := defaultSeeds
	if v := os.Getenv("COLLABD_SEEDS"); v != "" {
		k, err := strconv.Atoi(v)
		if err != nil || k < 1 {
			t.Fatalf("COLLABD_SEEDS=%q: want a count of seeds, at least 1", v)
		}
		n = k
	}
	fixed := min((n+1)/2, 8)
	seeds := make([]uint64, 0, n)
	for i := range fixed {
		seeds = append(seeds, uint64(i+1))
	}
	for len(seeds) < n {
		seeds = append(seeds, rand.Uint64()%1_000_000_000+100)
	}
	return seeds
}

// TestRandomEditingConverges: several Go clients edit one document at
// once with random inserts, deletes, replaces and formats, at random
// paces, through a TCP proxy each that delays every chunk by 0-20 ms (so
// that ops cross in flight) and cuts their connections at random, while
// the server restarts once. At the end every client holds the stored
// document, the history names each op once and replays to that document,
// each client's ops 1..n are all there, every op a client sent was acked
// once (OnAck) and is in the history exactly once at the acked version,
// and the history holds no op that no client sent.
func TestRandomEditingConverges(t *testing.T) {
	stores := []struct {
		name string
		args func(t *testing.T) []string
	}{
		{"sqlite", func(t *testing.T) []string { return []string{"--data-dir", t.TempDir()} }},
		{"postgres", func(t *testing.T) []string {
			return []string{"--data-dir", t.TempDir(), "--database-url", pgtest.Shared(t).NewDatabase(t)}
		}},
	}
	for _, st := range stores {
		t.Run(st.name, func(t *testing.T) {
			srv := startServer(t, st.args(t)...)
			rc := signup(t, srv.addr)
			seeds := convergenceSeeds(t)
			t.Logf("seeds %v (COLLABD_SEEDS=n runs n; -e2e.seed replays one)", seeds)
			for _, seed := range seeds {
				ok := t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
					t.Logf("seed %d: replay with go test ./cmd/collabd -run 'TestRandomEditingConverges/%s' -e2e.seed %d", seed, st.name, seed)
					testRandomEditing(t, srv, rc, seed)
				})
				if !ok {
					break // one failure to read is enough; the others would wait out their deadlines too
				}
			}
		})
	}
}

func testRandomEditing(t *testing.T, srv *server, rc *restClient, seed uint64) {
	const (
		nClients = 4
		nEdits   = 150 // per client
		maxLen   = 300
		// maxNetDelay bounds the delay of each chunk through the proxies.
		maxNetDelay = 20 * time.Millisecond
	)
	rc = rc.in(t)
	doc := rc.createDocument("Hello, world!\nA second line with an emoji 😀 and ü.\nThird.")
	initial := rc.contentAt(doc, 0)

	clients := make([]*client.Client, nClients)
	proxies := make([]*proxy, nClients)
	sent := make([]*sentOps, nClients)
	for i := range clients {
		proxies[i] = newDelayProxy(t, srv.addr, seed^uint64(i+1)<<32, maxNetDelay)
		s := newSentOps()
		sent[i] = s
		clients[i] = dialClient(t, proxies[i].addr(), doc, rc.token, collab.ClientID(fmt.Sprintf("c%d-%d", i, seed)), nil,
			func(o *client.Options) { o.OnAck = s.ack })
	}

	// Editors: each makes nEdits random edits of its own document, now and
	// then pausing. An edit made on a document that a remote edit changed
	// meanwhile may no longer fit; Submit refuses it and it is skipped.
	var wg sync.WaitGroup
	var mu sync.Mutex
	submitted := 0
	for i, c := range clients {
		r := rand.New(rand.NewPCG(seed, uint64(i+1)))
		s := sent[i]
		wg.Go(func() {
			for range nEdits {
				if r.IntN(4) != 0 {
					time.Sleep(time.Duration(r.IntN(10)) * time.Millisecond) // pacing, not synchronisation
				}
				d := randomEdit(r, c.Doc(), maxLen)
				if len(d) == 0 {
					continue
				}
				seq, err := c.SubmitSeq(d)
				if err != nil {
					if c.Err() != nil {
						t.Errorf("client %s stopped: %v", c.ID(), c.Err())
						return
					}
					continue // raced with a remote edit
				}
				s.submitted(seq)
				mu.Lock()
				submitted++
				mu.Unlock()
			}
		})
	}

	// The network: cut a random client's connection every few tens of
	// milliseconds until the editors are done; once, restart the server
	// instead (gracefully, on the same address). The restarted server
	// holds no recent edits in memory: clients catch up from the store.
	stop := make(chan struct{})
	cuts, restarts := 0, 0
	var restartErr error
	var cutter sync.WaitGroup
	cutter.Go(func() {
		r := rand.New(rand.NewPCG(seed, 1000))
		restartAt := 2 + r.IntN(6)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-time.After(time.Duration(10+r.IntN(60)) * time.Millisecond):
			}
			if i == restartAt {
				restartErr = srv.restart()
				restarts++
				continue
			}
			cuts += proxies[r.IntN(nClients)].cut()
		}
	})
	wg.Wait()
	close(stop)
	cutter.Wait()
	if restartErr != nil {
		t.Fatalf("restart the server: %v", restartErr)
	}

	version, stored := waitConverged(t, rc, doc, clients)
	hist := rc.history(doc)
	byOp := checkHistory(t, initial, hist, version, stored)
	checkSeqs(t, byOp, clients)
	checkAcks(t, hist, clients, sent)

	reconnects := 0
	for _, p := range proxies {
		reconnects += p.connections() - 1
	}
	t.Logf("%d edits submitted, %d committed ops, %d connections cut, %d server restarts, %d reconnects; final length %d",
		submitted, len(hist), cuts, restarts, reconnects, stored.Len())
	if cuts == 0 || restarts == 0 || reconnects <= nClients {
		t.Errorf("%d connections cut, %d restarts, %d reconnects: the test did not exercise reconnecting", cuts, restarts, reconnects)
	}
	// How many edits a client composes into one op depends on how fast
	// acks come back (a loaded machine composes more), so only ask that
	// every client committed something.
	if len(byOp) == 0 || len(hist) < nClients {
		t.Errorf("only %d ops committed: the test did not exercise concurrent editing", len(hist))
	}
}

// sentOps records the seqs a Go client returned from SubmitSeq and what
// its OnAck reported: seq → version.
type sentOps struct {
	mu    sync.Mutex
	seqs  map[int64]bool
	acks  map[int64]int64
	twice []string // acks of a seq acked before
}

func newSentOps() *sentOps {
	return &sentOps{seqs: map[int64]bool{}, acks: map[int64]int64{}}
}

func (s *sentOps) submitted(seq int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seqs[seq] = true
}

// ack is the client's OnAck.
func (s *sentOps) ack(seq, version int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if v, ok := s.acks[seq]; ok {
		s.twice = append(s.twice, fmt.Sprintf("seq %d acked as version %d, then as %d", seq, v, version))
		return
	}
	s.acks[seq] = version
}

// unacked returns the seqs submitted but not (yet) acked.
func (s *sentOps) unacked() []int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []int64
	for seq := range s.seqs {
		if _, ok := s.acks[seq]; !ok {
			out = append(out, seq)
		}
	}
	slices.Sort(out)
	return out
}

// vanishedBuffer reports whether seq is the newest seq SubmitSeq returned
// and the one after the newest acked: the seq of a buffer, the last op.
// The caller holds s.mu.
func (s *sentOps) vanishedBuffer(seq int64) bool {
	var top, topAcked int64
	for q := range s.seqs {
		top = max(top, q)
	}
	for q := range s.acks {
		topAcked = max(topAcked, q)
	}
	return seq == top && seq == topAcked+1
}

// checkAcks checks the acks the clients had (OnAck) against the stored
// history, once every client holds the stored version (every op was
// acked, no op was dropped): each op a client sent was acked exactly once,
// each ack names an op it sent, each acked (client, seq) is in the history
// exactly once and at the version acked, and the history holds nothing
// that none of the clients sent.
func checkAcks(t *testing.T, hist []historyEdit, clients []*client.Client, sent []*sentOps) {
	t.Helper()
	// OnAck runs on the client's callback goroutine, maybe after
	// WaitSynced returned: give it a moment (a short one for a seq that
	// may be a vanished buffer, see below).
	start := time.Now()
	for _, s := range sent {
		for {
			u := s.unacked()
			s.mu.Lock()
			vanished := len(u) == 1 && s.vanishedBuffer(u[0])
			s.mu.Unlock()
			wait := time.Since(start)
			if len(u) == 0 || vanished && wait > 300*time.Millisecond || wait > 5*time.Second {
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	inHist := map[opID][]int64{}
	for _, e := range hist {
		id := opID{e.Client, e.Seq}
		inHist[id] = append(inHist[id], e.Version)
	}
	ours := map[collab.ClientID]*sentOps{}
	acked := 0
	for i, c := range clients {
		s := sent[i]
		ours[c.ID()] = s
		u := s.unacked()
		s.mu.Lock()
		if len(u) == 1 && s.vanishedBuffer(u[0]) {
			// Documented client behaviour (SubmitSeq): a buffer that a
			// remote edit transforms into nothing is not sent, and its seq
			// goes to the next edit; after the last edit it is never
			// acked.
			t.Logf("client %s: seq %d, its last, was never acked: its buffer was presumably transformed into nothing by a remote edit", c.ID(), u[0])
		} else if len(u) > 0 {
			t.Errorf("client %s: %d ops sent but never acked (OnAck): seqs %v", c.ID(), len(u), u[:min(len(u), 10)])
		}
		for _, msg := range s.twice {
			t.Errorf("client %s: OnAck twice: %s", c.ID(), msg)
		}
		for seq, v := range s.acks {
			acked++
			id := opID{c.ID(), seq}
			if !s.seqs[seq] {
				t.Errorf("client %s: OnAck(%d, %d) for a seq SubmitSeq never returned", c.ID(), seq, v)
			}
			switch vs := inHist[id]; {
			case len(vs) == 0:
				t.Errorf("op %v was acked as version %d but is not in the history", id, v)
			case len(vs) > 1:
				t.Errorf("op %v was acked as version %d but is in the history %d times: versions %v", id, v, len(vs), vs)
			case vs[0] != v:
				t.Errorf("op %v was acked as version %d but the history has it at version %d", id, v, vs[0])
			}
		}
		s.mu.Unlock()
	}
	for _, e := range hist {
		s := ours[e.Client]
		if s == nil {
			t.Errorf("history version %d is op %v of a client that is not in the test", e.Version, opID{e.Client, e.Seq})
			continue
		}
		s.mu.Lock()
		_, wasSent := s.seqs[e.Seq]
		s.mu.Unlock()
		if !wasSent {
			t.Errorf("history version %d is op %v, which the client never sent", e.Version, opID{e.Client, e.Seq})
		}
	}
	if acked != len(hist) {
		t.Errorf("%d acks reported, %d edits in the history", acked, len(hist))
	}
}

// TestGracefulShutdown: while clients type, Main's context is cancelled.
// Every client is closed with 1001 after being sent every edit that was
// committed, every acknowledged edit is stored once, and a server
// restarted on the same data (and address) serves the same document: a
// Go client that was connected reconnects and finds nothing new.
func TestGracefulShutdown(t *testing.T) {
	srv := startServer(t, "--data-dir", t.TempDir())
	rc := signup(t, srv.addr)
	doc := rc.createDocument("before shutdown")
	initial := rc.contentAt(doc, 0)
	observer := dialClient(t, srv.addr, doc, rc.token, "observer", nil)

	typists := make([]*typist, 3)
	var typing sync.WaitGroup
	stop := make(chan struct{})
	for i := range typists {
		ty := newTypist(t, collab.ClientID(fmt.Sprintf("t%d", i)), rc.token)
		ty.connect(srv.addr, doc)
		typists[i] = ty
		typing.Go(func() { ty.typeUntil(stop, 4) })
	}
	waitFor(t, patience, "60 acknowledged ops", func() bool {
		n := 0
		for _, ty := range typists {
			n += len(ty.ackedOps())
		}
		return n >= 60
	})

	// Shut down while they type.
	stopped := make(chan error, 1)
	go func() { stopped <- srv.stop() }()
	for _, ty := range typists {
		if code := ty.waitEnded(); code != collab.CloseGoingAway {
			t.Errorf("typist %s: connection closed with %d, want %d (going away)", ty.id, code, collab.CloseGoingAway)
		}
	}
	if err := <-stopped; err != nil {
		t.Fatalf("Main after cancel = %v, want nil", err)
	}
	close(stop)
	typing.Wait()
	observerVersion, observerDoc := observer.Version(), observer.Doc()

	// Restart on the same data and address.
	if err := srv.restart(); err != nil {
		t.Fatal(err)
	}
	rc2 := rc.at(srv.addr)
	version, stored := rc2.content(doc)
	byOp := checkHistory(t, initial, rc2.history(doc), version, stored)
	for _, ty := range typists {
		checkTypist(t, ty, ty.ackedOps(), byOp, "before the shutdown")
		if v := ty.lastVersion(); v != version {
			t.Errorf("typist %s was closed having seen version %d, but version %d was stored: committed edits were not sent before 1001", ty.id, v, version)
		}
	}
	checkTokens(t, stored.Text(), byOp, typists)
	if observerVersion != version || !ot.Equal(observerDoc.Delta(), stored.Delta()) {
		t.Errorf("the observer held version %d at shutdown, the restarted server serves version %d:\n%s",
			observerVersion, version, docDiff("observer", observerDoc, "restarted", stored))
	}
	// The observer reconnects to the restarted server by itself.
	waitConverged(t, rc2, doc, []*client.Client{observer})
	t.Logf("%d edits stored", version)
}

// TestOfflineEditsSurviveRestart: a client loses its network and goes on
// editing offline while another client edits; the server is restarted
// (gracefully, on the same data and address) meanwhile. When the network
// comes back, the client reconnects with the version it holds, which is
// older than the restarted server's first version in memory: its offline
// edits must still be taken (docs/protocol.md, "How the shipped clients
// behave": edits made while offline are kept and sent once connected
// again), not dropped by a resync.
func TestOfflineEditsSurviveRestart(t *testing.T) {
	srv := startServer(t, "--data-dir", t.TempDir())
	rc := signup(t, srv.addr)
	doc := rc.createDocument("offline")
	network := newProxy(t, srv.addr)
	var dropped []error
	var mu sync.Mutex
	away := dialClient(t, network.addr(), doc, rc.token, "away", func(err error) {
		mu.Lock()
		defer mu.Unlock()
		dropped = append(dropped, err)
	})
	here := dialClient(t, srv.addr, doc, rc.token, "here", nil)
	submit := func(c *client.Client, d ot.Delta) {
		t.Helper()
		if err := c.Submit(d); err != nil {
			t.Fatalf("client %s: submit %s: %v", c.ID(), jsonOf(d), err)
		}
	}
	submit(away, ot.Delta{ot.InsertText("A1 ", nil)})
	waitConverged(t, rc, doc, []*client.Client{away, here})

	network.setDown(true)
	waitFor(t, patience, "the away client to notice", func() bool { return !away.Connected() })
	submit(away, ot.Delta{ot.InsertText("offline ", nil)})
	for i := range 5 {
		submit(here, ot.Delta{ot.Retain(here.Doc().Len()-1, nil), ot.InsertText(fmt.Sprintf(" h%d", i), nil)})
		ctx, cancel := context.WithTimeout(context.Background(), patience)
		err := here.WaitSynced(ctx)
		cancel()
		if err != nil {
			t.Fatal(err)
		}
	}

	if err := srv.restart(); err != nil {
		t.Fatal(err)
	}
	network.setDown(false)
	_, stored := waitConverged(t, rc, doc, []*client.Client{away, here})
	mu.Lock()
	defer mu.Unlock()
	if len(dropped) > 0 {
		t.Errorf("the away client reported %v", dropped)
	}
	if want := "offline A1 offline h0 h1 h2 h3 h4\n"; stored.Text() != want {
		t.Errorf("stored text = %q, want %q", stored.Text(), want)
	}
}

// TestOldOpAfterRestart: an op based on a version older than the first
// one a restarted server holds in memory (the graceful shutdown saved a
// checkpoint of the newest version, so after the restart the server holds
// no recent edits) is transformed past every edit after its base, read
// from the store (docs/protocol.md, guarantee 1). The Go clients send such
// ops whenever they reconnect with an op in flight: they resend it with
// its original base.
func TestOldOpAfterRestart(t *testing.T) {
	srv := startServer(t, "--data-dir", t.TempDir())
	rc := signup(t, srv.addr)
	doc := rc.createDocument("hello")
	a := newTypist(t, "a", rc.token)
	a.connect(srv.addr, doc)
	a.send(0, ot.Delta{ot.InsertText("A", nil)}) // "Ahello"
	a.waitAcked()
	a.send(1, ot.Delta{ot.Retain(1, nil), ot.InsertText("B", nil)}) // "ABhello"
	a.waitAcked()

	if err := srv.restart(); err != nil {
		t.Fatal(err)
	}
	b := newTypist(t, "b", rc.token)
	b.connect(srv.addr, doc)
	b.send(0, ot.Delta{ot.Retain(5, nil), ot.InsertText("!", nil)}) // "hello!" at version 0
	b.waitAcked()
	if _, stored := rc.content(doc); stored.Text() != "ABhello!\n" {
		t.Errorf("after an op based on version 0 that appends \"!\" to \"hello\", the document is %q, want %q", stored.Text(), "ABhello!\n")
	}
}

// randomEdit returns a random edit of doc: an insert (sometimes
// formatted, sometimes of several lines, sometimes of characters outside
// the BMP), a delete, a replace, or a format through retain attributes
// (character or line formats, set or removed). It never splits a
// surrogate pair nor touches the final "\n". Documents past maxLen get
// mostly deletes.
func randomEdit(r *rand.Rand, doc ot.Doc, maxLen int) ot.Delta {
	n := doc.Len()
	ok := boundaries(doc)
	// pos picks a boundary in [lo, hi] (lo itself if there is none).
	pos := func(lo, hi int) int {
		if hi <= lo {
			return lo
		}
		p := lo + r.IntN(hi-lo+1)
		for q := p; q <= hi; q++ {
			if ok[q] {
				return q
			}
		}
		for q := p; q >= lo; q-- {
			if ok[q] {
				return q
			}
		}
		return lo
	}
	var d ot.Delta
	retain := func(k int, attrs ot.Attributes) {
		if k > 0 {
			d = append(d, ot.Retain(k, attrs))
		}
	}
	kind := r.IntN(10)
	if n > maxLen && kind < 6 {
		kind = 4 // delete
	}
	if n < 3 && kind >= 4 && kind < 8 {
		kind = 0 // nothing much to delete or format
	}
	switch {
	case kind < 4: // insert
		p := pos(0, n-1)
		retain(p, nil)
		d = append(d, ot.InsertText(randomText(r), randomAttrs(r)))
	case kind < 6: // delete
		p := pos(0, n-2)
		q := pos(p+1, min(p+1+r.IntN(8), n-1))
		if q <= p {
			return nil
		}
		retain(p, nil)
		d = append(d, ot.Delete(q-p))
	case kind < 8: // format
		p := pos(0, n-1)
		q := pos(p+1, min(p+1+r.IntN(12), n))
		if q <= p {
			return nil
		}
		retain(p, nil)
		retain(q-p, formats[r.IntN(len(formats))])
	default: // replace
		p := pos(0, n-2)
		q := pos(p+1, min(p+1+r.IntN(4), n-1))
		if q <= p {
			return nil
		}
		retain(p, nil)
		d = append(d, ot.Delete(q-p), ot.InsertText(randomText(r), randomAttrs(r)))
	}
	return d
}

// formats are the retain attributes random edits apply: set and remove,
// character and line formats.
var formats = []ot.Attributes{
	{"bold": true}, {"bold": nil}, {"italic": true}, {"italic": nil},
	{"color": "#e6194b"}, {"color": nil}, {"header": float64(2)}, {"header": nil},
	{"bold": true, "italic": nil},
}

// pieces are what random inserts are made of: ASCII, a newline, a
// character of two UTF-8 bytes, one of three, and one outside the BMP
// (two UTF-16 units).
var pieces = []string{"a", "b", "c", "x", "y", "z", " ", " ", "\n", "é", "中", "😀"}

func randomText(r *rand.Rand) string {
	var sb strings.Builder
	for range 1 + r.IntN(4) {
		sb.WriteString(pieces[r.IntN(len(pieces))])
	}
	return sb.String()
}

func randomAttrs(r *rand.Rand) ot.Attributes {
	switch r.IntN(6) {
	case 0:
		return ot.Attributes{"bold": true}
	case 1:
		return ot.Attributes{"color": "#3cb44b", "italic": true}
	}
	return nil
}

// boundaries returns ok[i] for 0 <= i <= doc.Len(): whether index i is
// not inside a surrogate pair.
func boundaries(doc ot.Doc) []bool {
	ok := make([]bool, doc.Len()+1)
	i := 0
	for _, op := range doc.Delta() {
		if op.Insert == "" {
			ok[i] = true
			i += op.Len()
			continue
		}
		for _, c := range op.Insert {
			ok[i] = true
			if c >= 0x10000 {
				i += 2
			} else {
				i++
			}
		}
	}
	ok[i] = true
	return ok
}
