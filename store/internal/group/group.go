// Package group commits concurrent requests together: group commit. One
// committer goroutine per store takes the requests waiting for it (up to a
// batch size), commits them in one transaction through the store's commit
// function, answers each caller, and starts over with what arrived while it
// was committing. A lone request is committed at once: there is no timer
// that waits for company.
//
// It knows nothing of SQL or documents: a request is a key (a document id;
// a batch holds at most one request per key, later ones wait for the next
// batch) and a value. Both stores use it for Append.
package group

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// Request is one caller's part of a batch.
type Request[T any] struct {
	Key   string
	Value T

	// Written by the committer before done is closed.
	err  error
	done chan struct{}

	// waiting -> taken (by the committer, into a batch) or withdrawn (by
	// the caller, whose context ended first). Once taken, the caller waits
	// for the outcome: the commit may succeed, and a caller told "failed"
	// must be able to rely on nothing having been stored.
	state atomic.Int32
}

const (
	waiting int32 = iota
	taken
	withdrawn
)

// CommitFunc commits batch, which holds at most one request per key, in one
// transaction. It returns one outcome per request (nil for committed), or a
// batch error if the transaction failed as a whole and none is committed.
type CommitFunc[T any] func(ctx context.Context, batch []*Request[T]) ([]error, error)

// Options tune a Committer. Zero values take the defaults.
type Options struct {
	// MaxBatch is the most requests committed together (default 256).
	MaxBatch int
	// Timeout bounds one commit (default 30s); the callers' contexts do not,
	// since a batch serves many callers.
	Timeout time.Duration
	// Alone reports whether a batch error calls for committing each
	// request of the batch on its own, so that each caller gets its own
	// answer: true for errors such as a constraint violation that only one
	// request may have caused, false for a lost connection (then every
	// caller gets the error). Default: never.
	Alone func(error) bool
	// Closed is what requests get once the committer is closed.
	Closed error
	// Committers is the number of batches that may commit at once (1).
	// More than one keeps the database busy while another batch waits
	// for its flush to disk; each committer takes what waits when it is
	// free. Two batches may then hold requests with the same key: the
	// commit function must resolve that as concurrent writers would.
	Committers int
	// Overlap is the fewest requests a batch needs to commit beside
	// another committer's batch; a smaller one waits, gathering requests,
	// until that commit ends or it has Overlap requests. Under a light load
	// that makes one commit in flight gather what would have been several
	// small ones (each a transaction and a WAL flush: the database's cost
	// is per commit more than per row); a heavy load still keeps several
	// committers busy. 0 or 1: a batch never waits.
	Overlap int
}

// Committer runs the committer goroutine.
type Committer[T any] struct {
	// Set by New; read-only afterwards.
	commit CommitFunc[T]
	opts   Options
	in     chan *Request[T] // unbuffered: a send succeeds only while run receives
	quit   chan struct{}    // closed by Close
	exited sync.WaitGroup   // the run goroutines

	closeOnce sync.Once

	busy  atomic.Int32  // committers inside commitBatch
	freed chan struct{} // a commit ended (cap 1; a token may be stale)
}

// New starts a committer that commits with commit.
func New[T any](commit CommitFunc[T], opts Options) *Committer[T] {
	if opts.MaxBatch <= 0 {
		opts.MaxBatch = 256
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 30 * time.Second
	}
	if opts.Alone == nil {
		opts.Alone = func(error) bool { return false }
	}
	if opts.Closed == nil {
		opts.Closed = errors.New("committer closed")
	}
	if opts.Committers <= 0 {
		opts.Committers = 1
	}
	c := &Committer[T]{
		commit: commit,
		opts:   opts,
		in:     make(chan *Request[T]),
		quit:   make(chan struct{}),
		freed:  make(chan struct{}, 1),
	}
	for range opts.Committers {
		c.exited.Go(c.run)
	}
	return c
}

// Do commits v as part of the next batch and returns its outcome. If ctx
// ends before the request joins a batch, Do returns ctx's error and nothing
// is committed; once the request is in a batch, Do waits for the outcome.
func (c *Committer[T]) Do(ctx context.Context, key string, v T) error {
	if err := ctx.Err(); err != nil {
		return err // select below would pick at random among ready cases
	}
	r := &Request[T]{Key: key, Value: v, done: make(chan struct{})}
	select {
	case c.in <- r:
	case <-c.quit:
		return c.opts.Closed
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case <-r.done:
		return r.err
	case <-ctx.Done():
		if r.state.CompareAndSwap(waiting, withdrawn) {
			return ctx.Err()
		}
		<-r.done // the commit is under way and bounded by Options.Timeout
		return r.err
	}
}

// Close stops the committer after the batch in flight; requests not yet
// committed get Options.Closed.
func (c *Committer[T]) Close() {
	c.closeOnce.Do(func() { close(c.quit) })
	c.exited.Wait()
}

func (c *Committer[T]) run() {
	// Owned by this run goroutine.
	var (
		carry []*Request[T] // requests whose key was in the batch already
		batch []*Request[T]
		keys  = map[string]bool{}
	)
	add := func(r *Request[T]) {
		if keys[r.Key] || len(batch) == c.opts.MaxBatch {
			carry = append(carry, r)
			return
		}
		if !r.state.CompareAndSwap(waiting, taken) {
			return // withdrawn: its caller has gone
		}
		keys[r.Key] = true
		batch = append(batch, r)
	}
	for {
		batch = batch[:0]
		clear(keys)
		prev := carry
		carry = nil
		for _, r := range prev {
			add(r)
		}
		if len(batch) == 0 && len(carry) == 0 {
			select {
			case r := <-c.in:
				add(r)
			case <-c.quit:
				return
			}
		}
		// Whatever is waiting now joins, without waiting for more.
	drain:
		for len(batch) < c.opts.MaxBatch {
			select {
			case r := <-c.in:
				add(r)
			default:
				break drain
			}
		}
		// A small batch does not commit beside another one: it gathers
		// until that commit ends (see Options.Overlap).
		quit := false
	gather:
		for len(batch) > 0 && len(batch) < min(c.opts.Overlap, c.opts.MaxBatch) && c.busy.Load() > 0 {
			select {
			case r := <-c.in:
				add(r)
			case <-c.freed: // recheck busy: the token may be stale
			case <-c.quit:
				quit = true
				break gather
			}
		}
		if !quit {
			select {
			case <-c.quit:
				quit = true
			default:
			}
		}
		if quit {
			for _, r := range append(batch, carry...) {
				r.answer(c.opts.Closed)
			}
			return
		}
		if len(batch) > 0 {
			c.busy.Add(1)
			c.commitBatch(batch)
			c.busy.Add(-1)
			select {
			case c.freed <- struct{}{}:
			default:
			}
		}
	}
}

// answer gives r its outcome, whether it was taken or is still waiting.
func (r *Request[T]) answer(err error) {
	if r.state.CompareAndSwap(waiting, taken) || r.state.Load() == taken {
		r.err = err
		close(r.done)
	}
}

func (c *Committer[T]) commitBatch(batch []*Request[T]) {
	errs, err := c.commitTimed(batch)
	if err != nil && len(batch) > 1 && c.opts.Alone(err) {
		for _, r := range batch {
			errs, err := c.commitTimed([]*Request[T]{r})
			if err == nil {
				err = errs[0]
			}
			r.err = err
			close(r.done)
		}
		return
	}
	for i, r := range batch {
		if err != nil {
			r.err = err
		} else {
			r.err = errs[i]
		}
		close(r.done)
	}
}

func (c *Committer[T]) commitTimed(batch []*Request[T]) (errs []error, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), c.opts.Timeout)
	defer cancel()
	errs, err = c.commit(ctx, batch)
	if err == nil && len(errs) != len(batch) {
		err = fmt.Errorf("commit returned %d outcomes for %d requests", len(errs), len(batch))
	}
	return errs, err
}
