package session

import (
	"bytes"
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/collabd/collabd/collab"
	"github.com/collabd/collabd/ot"
)

// drainUntil drains p, waiting (bounded) until cond holds for what was
// drained so far.
func drainUntil(t *testing.T, p *Peer, cond func(msgs []Outgoing, closed bool) bool) ([]Outgoing, bool) {
	t.Helper()
	var all []Outgoing
	deadline := time.Now().Add(10 * time.Second)
	for {
		msgs, closed := p.Drain()
		all = append(all, msgs...)
		if cond(all, closed) {
			return all, closed
		}
		if time.Now().After(deadline) {
			t.Fatalf("gave up after %d messages (closed %v)", len(all), closed)
		}
		time.Sleep(2 * time.Millisecond) // polling a condition, bounded by the deadline
	}
}

func restEdit(t *testing.T, reg *Registry, seq int64) {
	t.Helper()
	if _, err := reg.Submit(context.Background(), "doc", Edit{Client: "rest", Seq: seq, User: collab.UserInfo{ID: "u"}, Base: seq - 1, Delta: ot.Delta{ot.InsertText("x", nil)}}); err != nil {
		t.Fatal(err)
	}
}

// The queue hands over its messages in order, calls Notify only when it
// goes from empty to non-empty, and keeps no array while empty.
func TestPeerQueueDrainAndNotify(t *testing.T) {
	log := newMemLog()
	log.create("doc", "")
	cfg := testConfig(log)
	reg := NewRegistry(cfg)
	defer reg.Close(context.Background())
	p := joinEditor(t, reg, "doc", "c")
	var notified atomic.Int32
	p.Notify(func() { notified.Add(1) }) // the welcome is queued already: called at once
	if notified.Load() != 1 {
		t.Fatalf("Notify with a queued welcome called f %d times, want 1", notified.Load())
	}
	msgs, closed := p.Drain()
	if len(msgs) != 1 || msgs[0].Value == nil || closed {
		t.Fatalf("first drain = %d messages (closed %v), want the welcome", len(msgs), closed)
	}
	const n = 5
	for i := range int64(n) {
		restEdit(t, reg, i+1)
	}
	msgs, _ = drainUntil(t, p, func(m []Outgoing, _ bool) bool { return len(m) >= n })
	for i, m := range msgs {
		if want := []byte(`"version":` + string(rune('1'+i)) + `,`); !bytes.Contains(m.Frame, want) {
			t.Fatalf("message %d = %s, want version %d", i, m.Frame, i+1)
		}
	}
	if k := notified.Load(); k < 2 || k > 1+n {
		t.Fatalf("f called %d times for %d messages after the welcome", k, n)
	}
	p.qmu.Lock()
	held := p.queue
	p.qmu.Unlock()
	if held != nil {
		t.Fatalf("an empty queue holds an array of %d", cap(held))
	}
	p.Leave()
	_, closed = drainUntil(t, p, func(_ []Outgoing, closed bool) bool { return closed })
	if code, _ := p.CloseCode(); !closed || code != collab.CloseNormal {
		t.Fatalf("after Leave: closed %v, code %d", closed, code)
	}
}

// A peer that does not drain is dropped with 1013 once QueueLen messages
// wait; what was queued before is still handed over, then the close.
func TestPeerQueueOverflowCloses1013(t *testing.T) {
	log := newMemLog()
	log.create("doc", "")
	cfg := testConfig(log)
	cfg.QueueLen = 4
	reg := NewRegistry(cfg)
	defer reg.Close(context.Background())
	slow := joinEditor(t, reg, "doc", "slow")
	var notified atomic.Int32
	slow.Notify(func() { notified.Add(1) })
	// The welcome and three ops fill the queue; the fourth drops the peer.
	for i := range int64(4) {
		restEdit(t, reg, i+1)
	}
	msgs, closed := drainUntil(t, slow, func(_ []Outgoing, closed bool) bool { return closed })
	if len(msgs) != 4 {
		t.Fatalf("drained %d messages, want the welcome and 3 ops", len(msgs))
	}
	if code, _ := slow.CloseCode(); !closed || code != collab.CloseTryAgainLater {
		t.Fatalf("closed %v with %d, want 1013", closed, code)
	}
	if notified.Load() < 2 {
		t.Fatal("the close was not notified")
	}
	if msgs, closed := slow.Drain(); len(msgs) != 0 || !closed {
		t.Fatalf("after the close: %d messages, closed %v", len(msgs), closed)
	}
}
