package postgres

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/collabd/collabd/collab"
	"github.com/collabd/collabd/internal/pgtest"
	"github.com/collabd/collabd/ot"
)

// Postgres restarted under a running store: while it is down every call
// fails promptly with ErrUnavailable (the caller may retry); once it is back
// the same store works again, without reopening, and nothing was lost.
func TestRestart(t *testing.T) {
	cluster := pgtest.Start(t) // its own: this test stops it
	s := openTest(t, cluster.NewDatabase(t))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	alice, err := s.CreateUser(ctx, collab.User{ID: "u-alice", Username: "alice"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := s.CreateDocument(ctx, collab.Document{ID: "doc", Owner: alice.ID}, collab.Snapshot{})
	if err != nil {
		t.Fatal(err)
	}
	edit := func(v int64) []collab.Edit {
		return []collab.Edit{{Version: v, Client: "c", Seq: v, Author: alice.ID, Delta: ot.Delta{ot.InsertText("x", nil)}}}
	}
	if err := s.Append(ctx, doc.ID, edit(1)); err != nil {
		t.Fatal(err)
	}

	if err := cluster.Stop(); err != nil {
		t.Fatal(err)
	}
	for name, call := range map[string]func(context.Context) error{
		"Append":   func(c context.Context) error { return s.Append(c, doc.ID, edit(2)) },
		"Document": func(c context.Context) error { _, err := s.Document(c, doc.ID); return err },
		"Load":     func(c context.Context) error { _, _, err := s.Load(c, doc.ID); return err },
		"Ping":     func(c context.Context) error { return s.Ping(c) },
	} {
		c, cancel := context.WithTimeout(ctx, 30*time.Second)
		start := time.Now()
		err := call(c)
		cancel()
		if !errors.Is(err, collab.ErrUnavailable) {
			t.Errorf("%s while postgres is down: err = %v, want ErrUnavailable", name, err)
		}
		if d := time.Since(start); d > 10*time.Second {
			t.Errorf("%s while postgres is down took %v, want a prompt answer", name, d)
		}
	}

	if err := cluster.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, err := s.Document(ctx, doc.ID)
		if err == nil {
			break
		}
		if !errors.Is(err, collab.ErrUnavailable) {
			t.Fatalf("Document after the restart: err = %v, want nil or ErrUnavailable", err)
		}
		if time.Now().After(deadline) {
			t.Fatalf("the store did not recover within 30s of the restart: %v", err)
		}
		time.Sleep(20 * time.Millisecond) // polling with a deadline
	}
	if err := s.Append(ctx, doc.ID, edit(2)); err != nil {
		t.Fatalf("Append after the restart: %v", err)
	}
	edits, err := s.Edits(ctx, doc.ID, 1, 10)
	if err != nil || len(edits) != 2 {
		t.Fatalf("after the restart: %d edits (%v), want 2", len(edits), err)
	}
}
