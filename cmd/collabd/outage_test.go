package main

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/collabd/collabd/collab"
	"github.com/collabd/collabd/collab/client"
	"github.com/collabd/collabd/internal/pgtest"
)

// TestPostgresOutage: Postgres stops while clients edit. An op sent
// meanwhile, and sent again, is refused with unavailable (and REST answers
// 503); the Go clients keep editing, hold their edits and resend them by
// themselves, one of them reconnecting meanwhile; nothing acknowledged is
// lost. Once Postgres is back the
// service resumes: the refused op is taken when resent with the same seq,
// the Go clients' edits flow again, a new client can join, and everyone
// converges on the stored document.
func TestPostgresOutage(t *testing.T) {
	pg := pgtest.Start(t) // a cluster of our own, to stop and start
	srv := startServer(t, "--data-dir", t.TempDir(), "--database-url", pg.NewDatabase(t))
	rc := signup(t, srv.addr)
	doc := rc.createDocument("outage\n")
	initial := rc.contentAt(doc, 0)

	// Client 0 reaches the server through a network that fails during the
	// outage: it must reconnect while the store is down.
	const nClients = 3
	network := newProxy(t, srv.addr)
	clients := make([]*client.Client, nClients)
	for i := range clients {
		addr := srv.addr
		if i == 0 {
			addr = network.addr()
		}
		clients[i] = dialClient(t, addr, doc, rc.token, collab.ClientID(fmt.Sprintf("c%d", i)), nil)
	}
	// The Go clients edit at random until told to stop, through the outage.
	var editing sync.WaitGroup
	stop := make(chan struct{})
	for i, c := range clients {
		r := rand.New(rand.NewPCG(7, uint64(i)))
		editing.Go(func() {
			for {
				select {
				case <-stop:
					return
				case <-time.After(time.Duration(1+r.IntN(10)) * time.Millisecond): // pacing
				}
				if d := randomEdit(r, c.Doc(), 300); len(d) > 0 {
					c.Submit(d) // an edit that no longer fits (a remote edit came first) is refused locally
				}
			}
		})
	}
	ty := newTypist(t, "raw", rc.token)
	ty.connect(srv.addr, doc)
	for range 5 {
		ty.typeOne()
		ty.waitAcked()
	}
	waitFor(t, patience, "30 edits stored", func() bool { v, ok := storedVersion(rc, doc); return ok && v >= 30 })

	// The outage.
	if err := pg.Stop(); err != nil {
		t.Fatal(err)
	}
	acksBefore := ty.ackedOps()
	seq := ty.typeOne()
	for attempt := range 3 {
		if attempt > 0 {
			ty.resend() // resending is safe: refused again, nothing applied
		}
		ty.await(patience, fmt.Sprintf("an answer to op %d (attempt %d)", seq, attempt+1), func() bool { return ty.answers[seq] || ty.ended })
		errs := ty.errors()
		_, acked := ty.ackedOps()[seq]
		if acked || len(errs) != attempt+1 || errs[attempt].Seq != seq || errs[attempt].Code != collab.Unavailable {
			t.Fatalf("op %d sent while Postgres is down (attempt %d): acked %v, errors %+v; want one error unavailable for seq %d per attempt",
				seq, attempt+1, acked, errs, seq)
		}
	}
	if status, err := rc.do("GET", "/v1/documents/"+string(doc)+"/content", nil, nil); status != http.StatusServiceUnavailable {
		t.Errorf("GET content while Postgres is down = %d (%v), want 503", status, err)
	}
	// The Go clients go on editing: the in-flight op cannot be taken, so
	// later edits wait composed in the buffer.
	waitFor(t, patience, "every Go client to hold edits it could not send", func() bool {
		for _, c := range clients {
			if c.Status() != client.AwaitingAckWithBuffer {
				return false
			}
		}
		return true
	})
	for _, c := range clients[1:] {
		if !c.Connected() {
			t.Errorf("client %s lost its connection during the outage", c.ID())
		}
	}
	// Client 0's connection is cut; its handshakes fail (the server cannot
	// check its access) until Postgres is back.
	network.cut()
	attempts := network.connections()
	waitFor(t, patience, "client 0 to try to reconnect twice", func() bool { return network.connections() >= attempts+2 })
	if clients[0].Connected() {
		t.Errorf("client %s reconnected while Postgres is down", clients[0].ID())
	}
	outageVersion := make([]int64, nClients)
	for i, c := range clients {
		outageVersion[i] = c.Version()
	}

	// Postgres is back.
	if err := pg.Start(); err != nil {
		t.Fatal(err)
	}
	ty.resend() // the refused op, same seq
	ty.waitAcked()
	waitFor(t, patience, "every Go client's edits to be taken again", func() bool {
		for i, c := range clients {
			if c.Version() < outageVersion[i]+10 {
				return false
			}
		}
		return true
	})
	close(stop)
	editing.Wait()
	late := dialClient(t, srv.addr, doc, rc.token, "late", nil)
	version, stored := waitConverged(t, rc, doc, append(clients, late))
	byOp := checkHistory(t, initial, rc.history(doc), version, stored)
	checkSeqs(t, byOp, clients)
	checkTypist(t, ty, acksBefore, byOp, "before the outage")
	checkTypist(t, ty, ty.ackedOps(), byOp, "after the outage")
	t.Logf("%d edits stored", version)
}

// storedVersion returns the document's stored version, or false if the
// server could not answer.
func storedVersion(rc *restClient, doc collab.DocumentID) (int64, bool) {
	var out struct {
		Version int64 `json:"version"`
	}
	_, err := rc.do("GET", "/v1/documents/"+string(doc)+"/content?format=delta", nil, &out)
	return out.Version, err == nil
}
