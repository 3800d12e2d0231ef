package api_test

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/collabd/collabd/collab"
	"github.com/collabd/collabd/collab/client"
	"github.com/collabd/collabd/ot"
)

// TestLiveRemoteCursorEndsAfterTypedText: two Go clients on one document
// through the server. One types a few characters, moving its cursor after
// each as an editor does; the other, and a late joiner, see that cursor
// right after the typed text, not one further for the typist's own edit.
func TestLiveRemoteCursorEndsAfterTypedText(t *testing.T) {
	e := newEnv(t)
	alice, aliceTok := e.user("alice")
	bob, bobTok := e.user("bob")
	doc := e.document(alice, "hello world")
	e.share(doc, bob, collab.Editor)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	dial := func(token string, onPresence func(client.Peer)) *client.Client {
		t.Helper()
		return dialGoClient(t, e, doc, token, nil, func(o *client.Options) { o.OnPresence = onPresence })
	}
	// Every range b is told of for a's cursor, in order.
	var (
		seenMu sync.Mutex
		seen   []ot.Range
	)
	a := dial(aliceTok, nil)
	b := dial(bobTok, func(p client.Peer) {
		if p.Client == a.ID() && p.Range != nil {
			seenMu.Lock()
			seen = append(seen, *p.Range)
			seenMu.Unlock()
		}
	})
	cursorOf := func(c *client.Client) *ot.Range {
		for _, p := range c.Peers() {
			if p.Client == a.ID() {
				return p.Range
			}
		}
		return nil
	}

	if err := a.SetSelection(&ot.Range{Index: 5}); err != nil { // after "hello"
		t.Fatal(err)
	}
	for i, ch := range []string{",", " ", "m", "y"} {
		if err := a.Submit(ot.Delta{ot.Retain(5+i, nil), ot.InsertText(ch, nil)}); err != nil {
			t.Fatal(err)
		}
		if err := a.SetSelection(&ot.Range{Index: 5 + i + 1}); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.WaitSynced(ctx); err != nil {
		t.Fatal(err)
	}
	want := ot.Range{Index: 9} // after "hello, my"
	waitUntil(t, "b to have a's edits", func() bool { return b.Version() == a.Version() })
	for deadline := time.Now().Add(5 * time.Second); ; {
		r := cursorOf(b)
		if r != nil && *r == want {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("b sees a's cursor at %v, want %v, right after the typed text", r, want)
		}
		time.Sleep(5 * time.Millisecond) // polling a condition, bounded by the deadline
	}
	if got := b.Text(); got != "hello, my world\n" {
		t.Fatalf("b has %q", got)
	}
	if r := cursorOf(dial(bobTok, nil)); r == nil || *r != want {
		t.Errorf("a late joiner sees a's cursor at %v, want %v", r, want)
	}
	// Presence is coalesced (per client and per server tick), so a late,
	// misplaced one could still be on its way: a moves its cursor to the
	// start as a marker, and nothing b hears between the right place and
	// the marker may differ from the right place.
	marker := ot.Range{Index: 0}
	if err := a.SetSelection(&marker); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "b to see a's marker", func() bool { r := cursorOf(b); return r != nil && *r == marker })
	seenMu.Lock()
	defer seenMu.Unlock()
	first := slices.Index(seen, want)
	last := -1
	if first >= 0 {
		last = slices.Index(seen[first:], marker)
	}
	if first < 0 || last < 0 {
		t.Fatalf("b heard a's cursor at %v: want %v, then the marker", seen, want)
	}
	for _, r := range seen[first : first+last] {
		if r != want {
			t.Errorf("after the right place b heard a's cursor at %v (all: %v)", r, seen)
		}
	}
}

// TestLivePresenceVersionIsChecked: a presence in terms of a version the
// document has not reached, or with a malformed version, is refused with
// an error and the connection stays open.
func TestLivePresenceVersionIsChecked(t *testing.T) {
	e := newEnv(t)
	alice, aliceTok := e.user("alice")
	doc := e.document(alice, "abc")
	w, _ := e.join(doc, aliceTok, "c1")
	w.send(map[string]any{"type": "presence", "range": map[string]int{"index": 1, "length": 0}, "version": 1})
	w.expectError(collab.VersionAhead)
	w.send(map[string]any{"type": "presence", "range": map[string]int{"index": 1, "length": 0}, "version": -1})
	w.expectError(collab.BadMessage)
	w.send(map[string]any{"type": "op", "seq": 1, "version": 0, "delta": []any{map[string]any{"insert": "x"}}})
	if m := w.read(); m["type"] != "ack" {
		t.Fatalf("after the refused presences an op got %v, want its ack", m)
	}
}
