package group

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// recorder is a commit function that records its batches and can be held
// inside a commit until released.
type recorder struct {
	mu      sync.Mutex
	batches [][]string
	hold    chan struct{} // if set, commits wait until it is closed
	fail    func(batch []*Request[int]) error
}

func (rec *recorder) commit(ctx context.Context, batch []*Request[int]) ([]error, error) {
	keys := make([]string, len(batch))
	for i, r := range batch {
		keys[i] = r.Key
	}
	rec.mu.Lock()
	rec.batches = append(rec.batches, keys)
	rec.mu.Unlock()
	if rec.hold != nil {
		<-rec.hold
	}
	if rec.fail != nil {
		if err := rec.fail(batch); err != nil {
			return nil, err
		}
	}
	errs := make([]error, len(batch))
	for i, r := range batch {
		if r.Value < 0 {
			errs[i] = fmt.Errorf("negative %d", r.Value)
		}
	}
	return errs, nil
}

func TestLoneRequest(t *testing.T) {
	rec := &recorder{}
	c := New(rec.commit, Options{})
	defer c.Close()
	start := time.Now()
	if err := c.Do(context.Background(), "a", 1); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("a lone request took %v", d)
	}
	if err := c.Do(context.Background(), "a", -1); err == nil {
		t.Error("Do(-1) = nil, want the commit's error for that request")
	}
}

// While one commit is in flight, the requests that arrive form the next
// batch; a second request for a key waits for the batch after.
func TestBatchesWhatArrivedDuringCommit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := &recorder{hold: make(chan struct{})}
		c := New(rec.commit, Options{MaxBatch: 3})
		defer c.Close()
		var wg sync.WaitGroup
		do := func(key string) {
			wg.Go(func() {
				if err := c.Do(context.Background(), key, 0); err != nil {
					t.Errorf("Do(%s) = %v", key, err)
				}
			})
		}
		do("first")
		synctest.Wait() // the first commit is in flight, held
		for _, k := range []string{"a", "b", "a", "c", "d"} {
			do(k)
		}
		synctest.Wait() // all five wait for the committer
		close(rec.hold)
		wg.Wait()
		// The order in which waiting senders are received is not defined:
		// check the shape. Batch 2 is full (3 of the 5, "a" at most once),
		// batch 3 the rest.
		b := rec.batches
		if len(b) != 3 || len(b[0]) != 1 || len(b[1]) != 3 || len(b[2]) != 2 {
			t.Fatalf("batches = %v, want sizes 1, 3, 2", b)
		}
		count := map[string]int{}
		for _, batch := range b[1:] {
			inBatch := map[string]bool{}
			for _, k := range batch {
				if inBatch[k] {
					t.Errorf("batch %v holds %s twice", batch, k)
				}
				inBatch[k] = true
				count[k]++
			}
		}
		if fmt.Sprint(count) != "map[a:2 b:1 c:1 d:1]" {
			t.Errorf("committed %v, want a twice and b, c, d once", count)
		}
	})
}

func TestWithdrawnBeforeCommit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := &recorder{hold: make(chan struct{})}
		c := New(rec.commit, Options{})
		defer c.Close()
		go c.Do(context.Background(), "busy", 0)
		synctest.Wait()
		ctx, cancel := context.WithCancel(context.Background())
		errc := make(chan error, 1)
		go func() { errc <- c.Do(ctx, "late", 0) }()
		cancel()
		if err := <-errc; !errors.Is(err, context.Canceled) {
			t.Fatalf("Do with a cancelled context = %v, want context.Canceled", err)
		}
		close(rec.hold)
		if err := c.Do(context.Background(), "next", 0); err != nil {
			t.Fatal(err)
		}
		rec.mu.Lock()
		defer rec.mu.Unlock()
		for _, b := range rec.batches {
			for _, k := range b {
				if k == "late" {
					t.Errorf("withdrawn request was committed in batch %v", b)
				}
			}
		}
	})
}

// A caller whose context ends while its batch commits still gets the
// outcome: it must be able to trust that a failure stored nothing.
func TestCancelDuringCommitWaitsForOutcome(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := &recorder{hold: make(chan struct{})}
		c := New(rec.commit, Options{})
		defer c.Close()
		ctx, cancel := context.WithCancel(context.Background())
		errc := make(chan error, 1)
		go func() { errc <- c.Do(ctx, "a", 0) }()
		synctest.Wait() // the commit is in flight
		cancel()
		synctest.Wait()
		select {
		case err := <-errc:
			t.Fatalf("Do returned %v while its commit was in flight", err)
		default:
		}
		close(rec.hold)
		if err := <-errc; err != nil {
			t.Fatalf("Do = %v, want nil: the commit succeeded", err)
		}
	})
}

func TestBatchErrorRetriesAlone(t *testing.T) {
	bad := errors.New("batch broke")
	synctest.Test(t, func(t *testing.T) {
		rec := &recorder{hold: make(chan struct{})}
		rec.fail = func(batch []*Request[int]) error {
			for _, r := range batch {
				if r.Value == 13 {
					return bad // one request breaks the whole transaction
				}
			}
			return nil
		}
		c := New(rec.commit, Options{Alone: func(err error) bool { return errors.Is(err, bad) }})
		defer c.Close()
		go c.Do(context.Background(), "busy", 0)
		synctest.Wait()
		var wg sync.WaitGroup
		errs := make([]error, 4)
		for i := range errs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				v := 0
				if i == 2 {
					v = 13
				}
				errs[i] = c.Do(context.Background(), fmt.Sprint(i), v)
			}()
		}
		synctest.Wait() // they queue behind the held commit
		close(rec.hold)
		wg.Wait()
		for i, err := range errs {
			if i == 2 && !errors.Is(err, bad) {
				t.Errorf("request 2: err = %v, want the batch error", err)
			}
			if i != 2 && err != nil {
				t.Errorf("request %d: err = %v, want nil after the retry alone", i, err)
			}
		}
	})
}

func TestClose(t *testing.T) {
	closed := errors.New("closed")
	rec := &recorder{}
	c := New(rec.commit, Options{Closed: closed})
	if err := c.Do(context.Background(), "a", 0); err != nil {
		t.Fatal(err)
	}
	c.Close()
	c.Close()
	if err := c.Do(context.Background(), "a", 0); !errors.Is(err, closed) {
		t.Fatalf("Do after Close = %v, want %v", err, closed)
	}
}

// overlapSetup makes a committer with two committers and Overlap 3 whose
// commits hold until rec.hold is closed; do appends key from a goroutine
// of wg.
func overlapSetup(t *testing.T) (rec *recorder, c *Committer[int], do func(key string), wg *sync.WaitGroup) {
	rec = &recorder{hold: make(chan struct{})}
	c = New(rec.commit, Options{Committers: 2, Overlap: 3})
	wg = &sync.WaitGroup{}
	do = func(key string) {
		wg.Go(func() {
			if err := c.Do(context.Background(), key, 0); err != nil {
				t.Errorf("Do(%s) = %v", key, err)
			}
		})
	}
	return rec, c, do, wg
}

func TestSmallBatchWaitsForTheRunningCommit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec, c, do, wg := overlapSetup(t)
		defer c.Close()
		do("first")
		synctest.Wait() // one commit in flight, held
		do("a")
		do("b")
		synctest.Wait() // the other committer holds a and b, fewer than Overlap
		rec.mu.Lock()
		n := len(rec.batches)
		rec.mu.Unlock()
		close(rec.hold)
		wg.Wait()
		if n != 1 {
			t.Fatalf("%d batches while the first commit ran, want 1 (a small batch waits): %v", n, rec.batches)
		}
		if b := rec.batches; len(b) != 2 || len(b[1]) != 2 {
			t.Fatalf("batches = %v, want [first] then a and b together", b)
		}
	})
}

func TestBatchOfOverlapCommitsBesideTheRunningOne(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec, c, do, wg := overlapSetup(t)
		defer c.Close()
		do("first")
		synctest.Wait()
		for _, k := range []string{"a", "b", "c"} {
			do(k)
		}
		synctest.Wait() // the second batch reached Overlap: it commits at once
		rec.mu.Lock()
		b := append([][]string(nil), rec.batches...)
		rec.mu.Unlock()
		close(rec.hold)
		wg.Wait()
		if len(b) != 2 || len(b[1]) != 3 {
			t.Fatalf("batches while the first commit ran = %v, want [first] and a 3-request batch beside it", b)
		}
	})
}
