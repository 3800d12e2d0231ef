package api

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/collabd/collabd/collab"
	"github.com/collabd/collabd/ot"
	"github.com/collabd/collabd/session"
	"github.com/collabd/collabd/store/sqlite"
)

// TestWriterSendsTheQueueInOneWrite: everything queued for a peer when its
// writer starts goes out with one system call, complete and in order; the
// close that follows is written after it.
func TestWriterSendsTheQueueInOneWrite(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "collabd.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	user, err := st.CreateUser(ctx, collab.User{ID: "u-a", Username: "a", Name: "a", Color: "#123456", CreatedAt: time.Now().UTC()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	doc0, _ := ot.DocFromDelta(ot.Delta{ot.InsertText("\n", nil)})
	d, err := st.CreateDocument(ctx, collab.Document{ID: collab.DocumentID(collab.NewID()), Title: "t", Owner: user.ID}, collab.Snapshot{Doc: doc0, CreatedAt: time.Now().UTC()})
	if err != nil {
		t.Fatal(err)
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	reg := session.NewRegistry(session.Config{Log: st, Logger: logger, IdleTimeout: time.Hour})
	defer reg.Close(ctx)
	peer, err := reg.Join(ctx, d.ID, session.JoinRequest{Client: "listener", User: user.Info(), Role: collab.Editor})
	if err != nil {
		t.Fatal(err)
	}
	const ops = 30
	for i := range int64(ops) {
		if _, err := reg.Submit(ctx, d.ID, session.Edit{Client: "rest", Seq: i + 1, User: user.Info(), Base: i, Delta: ot.Delta{ot.InsertText("x", nil)}}); err != nil {
			t.Fatal(err)
		}
	}
	// A refused edit is answered after the session has finished the last
	// commit, broadcast included: everything is queued now.
	if _, err := reg.Submit(ctx, d.ID, session.Edit{Client: "rest", Seq: ops + 1, User: user.Info(), Base: 1 << 40, Delta: ot.Delta{ot.InsertText("x", nil)}}); err == nil {
		t.Fatal("an edit based on a future version was accepted")
	}

	firstWrite := make(chan int, 1)
	ws := upgraded(t, func(fc *frameConn) {
		a := &API{live: LiveConfig{}.withDefaults(), logger: logger}
		c := &liveConn{api: a, fc: fc, doc: d.ID, done: make(chan struct{}), pinger: time.AfterFunc(time.Hour, func() {})}
		c.peer = peer
		peer.Notify(c.wake) // the welcome and the ops are queued: a writer starts
		deadline := time.Now().Add(10 * time.Second)
		for fc.writeCount() == 0 && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond) // polling a condition, bounded by the deadline
		}
		firstWrite <- fc.writeCount()
		peer.Leave() // the session closes the queue: the writer sends 1000
		select {
		case <-c.done:
		case <-time.After(10 * time.Second):
			t.Error("the writer did not finish after the peer left")
		}
	})
	ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	var m struct {
		Type    string
		Version int64
	}
	for i := 0; i <= ops; i++ {
		_, b, err := ws.ReadMessage()
		if err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		if want := map[bool]string{true: "welcome", false: "op"}[i == 0]; m.Type != want || (i > 0 && m.Version != int64(i)) {
			t.Fatalf("message %d = %s, want %s version %d", i, b, want, i)
		}
	}
	_, _, err = ws.ReadMessage()
	var ce *websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != collab.CloseNormal {
		t.Fatalf("after the messages: %v, want close 1000", err)
	}
	if n := <-firstWrite; n != 1 {
		t.Fatalf("the queue of %d messages took %d writes, want 1", ops+1, n)
	}
}
