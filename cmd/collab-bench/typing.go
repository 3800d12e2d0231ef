package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync/atomic"
	"time"

	"github.com/collabd/collabd/collab/client"
	"github.com/collabd/collabd/ot"
)

// Typing. Every typing editor has a schedule of ticks, one edit due at
// each: the first at a random phase, then at intervals of 1/rate with
// ±50% jitter, until the end of the run.
//
// An editor keeps one op in flight, as the shipped clients do. A tick that
// comes while an op is in flight is owed: when the ack comes, the editor
// sends one op for all the ticks it owes (the Go client would compose them
// into its buffer the same way), and that op's start is the due time of
// the first of them, so waiting for the ack counts in its latency.
//
// The full editor sends only when its client is synchronized, so the op
// it makes is always new and its seq is known: the client numbers its ops
// 1, 2, 3… and makes a new one only for an edit made while synchronized,
// or when an ack sends the buffer, which is then always empty. (Submit
// does not return the seq; see the report's note on the client API.)

// schedule hands out the due times of one editor's ticks.
type schedule struct {
	rng      *rand.Rand
	interval float64 // mean ns between ticks
	next     int64   // due time of the next tick (clock ns)
	end      int64   // no tick is due at or after end
}

func newSchedule(rng *rand.Rand, rate float64, start, end int64) *schedule {
	s := &schedule{rng: rng, interval: float64(time.Second) / rate, end: end}
	s.next = start + int64(rng.Float64()*s.interval)
	return s
}

func (s *schedule) advance() { s.next += int64(s.interval * (0.5 + s.rng.Float64())) }

// maxTicks bounds how many ticks a schedule of rate over d can hand out,
// jitter included: the slots every sender gets.
func maxTicks(rate float64, d time.Duration) int {
	return int(2*rate*d.Seconds()) + 4
}

// typingStats counts one editor's ticks and ops.
type typingStats struct {
	ticks     int // edits that came due
	ops       int // ops sent
	coalesced int // ticks sent in an op together with an earlier tick
	unsent    int // ticks still owed when the run ended
	failed    int // edits the client refused (did not fit a document that moved meanwhile): retried
}

// typeLoop runs a schedule: it waits for each tick, and sends the owed
// ticks as one op when ready says an op may go (or returns a channel that
// signals when to look again). send returns false for an edit that was not
// made (tried again at once), or an error that ends the editor.
func typeLoop(ctx context.Context, clk clock, sch *schedule, ready func() (bool, <-chan struct{}), send func(due int64) (bool, error)) (st typingStats, err error) {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	var owed int
	var owedSince int64
	failures := 0
	for {
		var wake <-chan struct{}
		if owed > 0 {
			ok, ch := ready()
			if ok {
				sent, err := send(owedSince)
				if err != nil {
					st.unsent = owed
					return st, err
				}
				if sent {
					st.ops++
					st.coalesced += owed - 1
					owed, failures = 0, 0
					continue
				}
				st.failed++
				if failures++; failures > 100 {
					st.unsent = owed
					return st, errors.New("100 edits in a row did not fit the document")
				}
				continue
			}
			wake = ch
		}
		var tick <-chan time.Time
		if sch.next < sch.end {
			timer.Reset(time.Duration(sch.next - clk.now()))
			tick = timer.C
		} else if owed == 0 {
			return st, nil
		}
		select {
		case <-tick:
			if owed == 0 {
				owedSince = sch.next
			}
			owed++
			st.ticks++
			sch.advance()
		case <-wake:
		case <-ctx.Done():
			st.unsent = owed
			return st, ctx.Err()
		}
		timer.Stop()
	}
}

// words are what editors type, a word and a space at a time.
var words = []string{"lorem", "ipsum", "dolor", "sit", "amet", "quill", "delta", "op", "text", "edit", "sync", "go"}

// initialText is every document's content at version 0. Light editors
// insert within its length, so deletes stay away from documents shorter
// than twice that.
const initialText = "The quick brown fox jumps over the lazy dog while many editors type into this shared document at once."

// fullEditor is a Go client that types at random places of its document
// and deletes now and then.
type fullEditor struct {
	// Set before typing starts; read-only afterwards.
	c     *client.Client
	dd    *docDeliveries
	index int

	// Owned by the typing goroutine.
	rng *rand.Rand
	seq int64 // the seq of the newest op this client made
}

// ready: an op may go when the client is synchronized. Changed is taken
// first, so a change between the two calls still wakes the caller.
func (f *fullEditor) ready() (bool, <-chan struct{}) {
	ch := f.c.Changed()
	if f.c.Status() == client.Synchronized {
		return true, nil
	}
	return false, ch
}

func (f *fullEditor) send(due int64) (bool, error) {
	slots := f.dd.senders[f.index]
	if f.seq+1 >= int64(len(slots)) {
		return false, errors.New("more ops than slots")
	}
	if err := f.c.Submit(f.edit(f.c.Doc())); err != nil {
		if err := f.c.Err(); err != nil {
			return false, fmt.Errorf("client %s stopped: %w", f.c.ID(), err)
		}
		return false, nil // a remote edit came between Doc and Submit
	}
	f.seq++
	slots[f.seq].start.Store(due)
	return true, nil
}

// edit makes a random edit of doc: mostly a word inserted anywhere before
// the final "\n", one time in ten 1 to 4 characters deleted.
func (f *fullEditor) edit(doc ot.Doc) ot.Delta {
	n := doc.Len() // the final "\n" included
	if n > 2*len(initialText)+8 && f.rng.IntN(10) == 0 {
		k := 1 + f.rng.IntN(4)
		p := f.rng.IntN(n - k) // p+k <= n-1: the final "\n" stays
		return withRetain(p, ot.Delete(k))
	}
	p := f.rng.IntN(n)
	return withRetain(p, ot.InsertText(words[f.rng.IntN(len(words))]+" ", nil))
}

func withRetain(p int, op ot.Op) ot.Delta {
	if p == 0 {
		return ot.Delta{op}
	}
	return ot.Delta{ot.Retain(p, nil), op}
}

// onRemote times the delivery of a remote edit.
func (f *fullEditor) onRemote(clk clock, counters *runCounters) func(client.Remote) {
	return func(r client.Remote) {
		now := clk.now()
		if r.Client == "" {
			counters.resyncs.Add(1) // a snapshot after a resync
			return
		}
		if !f.dd.received([]byte(r.Client), r.Seq, now) {
			counters.foreignOps.Add(1)
		}
	}
}

// runCounters are the run's event counts, from every goroutine.
type runCounters struct {
	foreignOps     atomic.Int64 // ops received that are not this run's, or past the slots
	resyncs        atomic.Int64 // snapshots a full client took after a resync
	clientErrors   atomic.Int64 // errors a full client survived (OnError)
	serverErrors   atomic.Int64 // error messages a light editor received
	dropped        atomic.Int64 // light connections that ended before the bench closed them
	connectRetries atomic.Int64 // handshakes refused with 429 and made again
}
