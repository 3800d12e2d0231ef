package main

import (
	"context"
	"math/rand/v2"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/collabd/collabd/ot"
)

func TestTypeLoopSendsEveryTickWhenReady(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		clk := newClock()
		start := clk.now()
		end := start + int64(10*time.Second)
		sch := newSchedule(rand.New(rand.NewPCG(1, 2)), 10, start, end)
		var dues []int64
		st, err := typeLoop(t.Context(), clk, sch,
			func() (bool, <-chan struct{}) { return true, nil },
			func(due int64) (bool, error) {
				if late := clk.now() - due; late < 0 {
					t.Errorf("sent %v before it was due", time.Duration(-late))
				}
				dues = append(dues, due)
				return true, nil
			})
		if err != nil {
			t.Fatal(err)
		}
		// 10/s for 10s with ±50% jitter: about 100, within the slots.
		if st.ticks < 80 || st.ticks > 120 || st.ticks > maxTicks(10, 10*time.Second) {
			t.Errorf("ticks = %d, want about 100", st.ticks)
		}
		if st.ops != st.ticks || st.coalesced != 0 || st.unsent != 0 || len(dues) != st.ops {
			t.Errorf("stats = %+v with %d sends, want one op per tick", st, len(dues))
		}
		for i := 1; i < len(dues); i++ {
			if gap := time.Duration(dues[i] - dues[i-1]); gap < 50*time.Millisecond || gap > 150*time.Millisecond {
				t.Errorf("gap %d = %v, want 100ms ± 50%%", i, gap)
			}
		}
		if last := dues[len(dues)-1]; last >= end {
			t.Errorf("last due %v is past the end", time.Duration(last-end))
		}
	})
}

func TestTypeLoopCoalescesWhileInFlight(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		clk := newClock()
		start := clk.now()
		sch := newSchedule(rand.New(rand.NewPCG(3, 4)), 10, start, start+int64(2*time.Second))
		// An ack takes 250ms: ticks every ~100ms pile up behind it.
		acked := make(chan struct{}, 1)
		var inflight atomic.Bool
		var starts []int64
		st, err := typeLoop(t.Context(), clk, sch,
			func() (bool, <-chan struct{}) { return !inflight.Load(), acked },
			func(due int64) (bool, error) {
				starts = append(starts, due)
				inflight.Store(true)
				time.AfterFunc(250*time.Millisecond, func() { inflight.Store(false); acked <- struct{}{} })
				return true, nil
			})
		if err != nil {
			t.Fatal(err)
		}
		if st.ops+st.coalesced != st.ticks || st.coalesced == 0 || st.ops > 9 {
			t.Errorf("stats = %+v, want every tick in an op, several per op, at most one op per 250ms", st)
		}
		// An op's start is the due time of its first tick: at least as old
		// as the ack it waited for.
		for i := 1; i < len(starts); i++ {
			if gap := time.Duration(starts[i] - starts[i-1]); gap > 250*time.Millisecond+150*time.Millisecond {
				t.Errorf("op %d started %v after the previous: a tick's wait was not counted", i, gap)
			}
		}
	})
}

func TestTypeLoopGivesUpOnEditsThatNeverFit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		clk := newClock()
		sch := newSchedule(rand.New(rand.NewPCG(5, 6)), 10, clk.now(), clk.now()+int64(time.Second))
		st, err := typeLoop(context.Background(), clk, sch,
			func() (bool, <-chan struct{}) { return true, nil },
			func(int64) (bool, error) { return false, nil })
		if err == nil || st.ops != 0 || st.unsent != 1 {
			t.Errorf("typeLoop = %+v, %v; want an error and one unsent edit", st, err)
		}
	})
}

func TestFullEditorEditsFit(t *testing.T) {
	f := &fullEditor{rng: rand.New(rand.NewPCG(7, 8))}
	doc, err := ot.DocFromDelta(ot.Delta{ot.InsertText(initialText+"\n", nil)})
	if err != nil {
		t.Fatal(err)
	}
	deletes := 0
	for i := range 3000 {
		e := f.edit(doc)
		if e[len(e)-1].Delete > 0 {
			deletes++
		}
		if doc, err = doc.Apply(e); err != nil {
			t.Fatalf("edit %d %v does not fit: %v", i, e, err)
		}
	}
	if deletes < 150 || deletes > 450 {
		t.Errorf("%d deletes in 3000 edits, want about one in ten once the document is long", deletes)
	}
	if doc.Len() < len(initialText) {
		t.Errorf("document shrank to %d units, below the initial text that light editors insert into", doc.Len())
	}
}
