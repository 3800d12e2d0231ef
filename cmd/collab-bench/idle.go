package main

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// Idle mode holds N connections open that say hello and then only read
// (answering pings), and measures what they cost the server: its resident
// memory after they opened, less before, per connection.

const (
	idleWorkers     = 64               // connections opened at once
	idleOpenTimeout = 10 * time.Minute // for opening them all
	idleMaxFailures = 200              // stop opening after this many failures
	idleSettle      = 3 * time.Second  // before each memory reading
)

// IdleResult is what an idle run measured.
type IdleResult struct {
	Requested   int     `json:"requested"`
	Docs        int     `json:"docs"`
	Opened      int     `json:"opened"`
	Failed      int     `json:"failed"`
	FirstError  string  `json:"first_error,omitempty"`
	OpenSeconds float64 `json:"open_seconds"`
	HoldSeconds float64 `json:"hold_seconds"`
	Dropped     int64   `json:"dropped"` // closed by the server while held
	// Handshakes the server refused with 429 (it limits them per IP
	// address) and the bench made again.
	ConnectRetries int64  `json:"connect_retries"`
	FileLimit      uint64 `json:"file_limit"`

	// Before: one connection per document is open, so every document's
	// session is loaded; after: all of them, once settled and held.
	ServerRSSBefore    int64   `json:"server_rss_before_bytes,omitempty"`
	ServerRSSAfter     int64   `json:"server_rss_after_bytes,omitempty"`
	ServerBytesPerConn float64 `json:"server_bytes_per_conn,omitempty"`
	ServerThreads      int     `json:"server_threads_after,omitempty"`
	BenchRSSBefore     int64   `json:"bench_rss_before_bytes"`
	BenchRSSAfter      int64   `json:"bench_rss_after_bytes"`
	BenchBytesPerConn  float64 `json:"bench_bytes_per_conn"`
}

func runIdle(ctx context.Context, cfg config, rc *restClient, fileLimit uint64, log io.Writer) (*IdleResult, error) {
	res := &IdleResult{Requested: cfg.Idle, Docs: cfg.Docs, FileLimit: fileLimit}
	ids, err := rc.createDocs(ctx, cfg.Docs, initialText)
	if err != nil {
		return nil, err
	}
	runID := strconv.Itoa(rand.IntN(1e6))

	var (
		mu      sync.Mutex
		conns   []*websocket.Conn
		closing atomic.Bool
		dropped atomic.Int64
		retries atomic.Int64
		readers sync.WaitGroup
	)
	defer func() {
		closing.Store(true)
		mu.Lock()
		all := conns
		mu.Unlock()
		sem := make(chan struct{}, idleWorkers)
		var wg sync.WaitGroup
		for _, ws := range all {
			sem <- struct{}{}
			wg.Go(func() { closeRaw(ws); <-sem })
		}
		wg.Wait()
		readers.Wait()
	}()
	open := func(ctx context.Context, i int) error {
		ctx, cancel := context.WithTimeout(ctx, connectTimeout)
		defer cancel()
		doc := i % len(ids)
		var ws *websocket.Conn
		err := retryRateLimited(ctx, &retries, func() (err error) {
			ws, _, err = dialRaw(ctx, rc.liveURL(ids[doc]), rc.authHeader(), "cb"+runID+"-"+strconv.Itoa(doc)+"-i"+strconv.Itoa(i))
			return err
		})
		if err != nil {
			return err
		}
		mu.Lock()
		conns = append(conns, ws)
		mu.Unlock()
		readers.Go(func() {
			for {
				_, r, err := ws.NextReader()
				if err == nil {
					_, err = io.Copy(io.Discard, r)
				}
				if err != nil {
					if !closing.Load() {
						dropped.Add(1)
					}
					return
				}
			}
		})
		return nil
	}

	// One connection per document first: the sessions they load are not
	// the connections' cost.
	for i := range len(ids) {
		if err := open(ctx, i); err != nil {
			return nil, fmt.Errorf("open the first connection of each document: %w", err)
		}
	}
	time.Sleep(idleSettle)
	s0, serr := readProc(strconv.Itoa(cfg.Pid))
	b0, _ := readProc("self")

	fmt.Fprintf(log, "opening %d connections over %d documents…\n", cfg.Idle, cfg.Docs)
	openStart := time.Now()
	octx, cancel := context.WithTimeout(ctx, idleOpenTimeout)
	defer cancel()
	var failed atomic.Int64
	var firstErr atomic.Value
	next := make(chan int)
	var wg sync.WaitGroup
	for range idleWorkers {
		wg.Go(func() {
			for i := range next {
				if err := open(octx, i); err != nil {
					firstErr.CompareAndSwap(nil, err.Error())
					if failed.Add(1) >= idleMaxFailures {
						cancel()
					}
				}
			}
		})
	}
feed:
	for i := len(ids); i < cfg.Idle; i++ {
		select {
		case next <- i:
		case <-octx.Done():
			break feed
		}
		if i%2000 == 0 && i > len(ids) {
			fmt.Fprintf(log, "  %d open\n", i)
		}
	}
	close(next)
	wg.Wait()
	res.OpenSeconds = round3(time.Since(openStart).Seconds())
	mu.Lock()
	res.Opened = len(conns)
	mu.Unlock()
	res.Failed = int(failed.Load())
	res.ConnectRetries = retries.Load()
	if e, ok := firstErr.Load().(string); ok {
		res.FirstError = e
	}
	fmt.Fprintf(log, "%d open (%d failed) in %.1fs; holding for %v…\n", res.Opened, res.Failed, res.OpenSeconds, cfg.Duration)

	holdStart := time.Now()
	select {
	case <-time.After(max(idleSettle, cfg.Duration)):
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	res.HoldSeconds = round3(time.Since(holdStart).Seconds())
	res.Dropped = dropped.Load()
	added := res.Opened - len(ids)
	if cfg.Pid != 0 && serr == nil {
		if s1, err := readProc(strconv.Itoa(cfg.Pid)); err == nil {
			res.ServerRSSBefore, res.ServerRSSAfter, res.ServerThreads = s0.rss, s1.rss, s1.thread
			if added > 0 {
				res.ServerBytesPerConn = float64(int64(float64(s1.rss-s0.rss) / float64(added)))
			}
		}
	}
	if b1, err := readProc("self"); err == nil {
		res.BenchRSSBefore, res.BenchRSSAfter = b0.rss, b1.rss
		if added > 0 {
			res.BenchBytesPerConn = float64(int64(float64(b1.rss-b0.rss) / float64(added)))
		}
	}
	return res, nil
}
