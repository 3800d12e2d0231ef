package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/collabd/collabd/collab"
	"github.com/collabd/collabd/collab/client"
)

// Bounds on the phases of a load run.
const (
	connectTimeout = 60 * time.Second // one editor's connection
	connectWorkers = 32               // connections opened at once
	typingGrace    = 30 * time.Second // after the end, for the last owed ops
	syncTimeout    = 30 * time.Second // for every full editor's WaitSynced
	drainTimeout   = 15 * time.Second // for every op to reach every editor
	convergeWait   = 10 * time.Second // for full editors to reach the server's version
)

// LoadResult is what a load run measured.
type LoadResult struct {
	Docs          int     `json:"docs"`
	Editors       int     `json:"editors_per_doc"`
	Full          int     `json:"full_per_doc"`
	Light         int     `json:"light_per_doc"`
	LightEdits    bool    `json:"light_edits"`
	Rate          float64 `json:"rate_per_editor"`
	WarmupSeconds float64 `json:"warmup_seconds"`
	Seconds       float64 `json:"seconds"`
	Seed          uint64  `json:"seed"`

	// Ops started in the measured window (after the warmup), and what
	// became of them.
	Ops         int     `json:"ops"`
	OpsPerSec   float64 `json:"ops_per_sec"`
	TargetRate  float64 `json:"target_edits_per_sec"` // editors that type × rate × docs
	Refused     int     `json:"refused"`
	Undelivered int     `json:"undelivered"` // not seen by every other editor of the document
	Duplicates  int     `json:"duplicates"`
	// Delivery: from when an op's first edit was due to when the last
	// other editor of its document received it.
	Delivery Latency `json:"delivery"`
	// PerSecond: the same, by the second the ops started in.
	PerSecond []Second `json:"per_second,omitempty"`

	// Over the whole run (warmup included).
	Ticks        int   `json:"ticks"`     // edits that came due
	Coalesced    int   `json:"coalesced"` // edits sent in one op with an earlier one (an op was in flight)
	Unsent       int   `json:"unsent"`    // edits still owed at the end
	Retried      int   `json:"retried"`   // edits that no longer fit when submitted, made again
	ForeignOps   int64 `json:"foreign_ops"`
	Resyncs      int64 `json:"resyncs"`
	ClientErrors int64 `json:"client_errors"`
	ServerErrors int64 `json:"server_errors"`
	Dropped      int64 `json:"dropped_connections"`
	// Handshakes the server refused with 429 (it limits them per IP
	// address) and the bench made again.
	ConnectRetries int64 `json:"connect_retries"`

	ConnectSeconds float64  `json:"connect_seconds"`
	Converged      int      `json:"converged_docs"`
	Diverged       []string `json:"diverged,omitempty"` // what differed, per document
	EditorErrors   []string `json:"editor_errors,omitempty"`

	// The server's own timing of commits and appends in the window.
	ServerLatency        *ServerLatency `json:"server_latency,omitempty"`
	ServerLatencyMissing string         `json:"server_latency_missing,omitempty"` // why there is none

	Server  *ProcStats    `json:"server,omitempty"` // with --pid
	DB      *TreeStats    `json:"db,omitempty"`     // with --db-pid
	Bench   *ProcStats    `json:"bench"`
	Machine *MachineStats `json:"machine,omitempty"`
}

// docRun is one document of a load run and its editors.
type docRun struct {
	id    string
	dd    *docDeliveries
	full  []*fullEditor
	light []*lightEditor
}

func runLoad(ctx context.Context, cfg config, rc *restClient, log io.Writer) (*LoadResult, error) {
	full := cfg.Editors - cfg.Light
	senders := full
	if cfg.LightEdits {
		senders = cfg.Editors
	}
	res := &LoadResult{
		Docs: cfg.Docs, Editors: cfg.Editors, Full: full, Light: cfg.Light, LightEdits: cfg.LightEdits,
		Rate: cfg.Rate, WarmupSeconds: cfg.Warmup.Seconds(), Seconds: cfg.Duration.Seconds(), Seed: cfg.Seed,
		TargetRate: float64(senders*cfg.Docs) * cfg.Rate,
	}
	ids, err := rc.createDocs(ctx, cfg.Docs, initialText)
	if err != nil {
		return nil, err
	}
	clk := newClock()
	var counters runCounters
	maxSeq := maxTicks(cfg.Rate, cfg.Warmup+cfg.Duration)
	run := make([]*docRun, len(ids))
	var runID [4]byte
	for i := range runID {
		runID[i] = "abcdefghijklmnopqrstuvwxyz"[rand.IntN(26)]
	}
	for i, id := range ids {
		prefix := "cb" + string(runID[:]) + "-" + strconv.Itoa(i) + "-"
		run[i] = &docRun{id: id, dd: newDocDeliveries(prefix, cfg.Editors, senders, maxSeq)}
	}

	fmt.Fprintf(log, "connecting %d editors (%d full, %d light per document)…\n", cfg.Docs*cfg.Editors, full, cfg.Light)
	connectStart := time.Now()
	var readers sync.WaitGroup // one per light connection, until it ends
	polls, err := newPollers(clk)
	if err != nil {
		return nil, err
	}
	err = connectAll(ctx, cfg, rc, run, clk, polls, &counters, &readers)
	defer func() {
		for _, d := range run {
			for _, l := range d.light {
				if l != nil {
					l.closing.Store(true)
					l.conn.close()
				}
			}
		}
		var wg sync.WaitGroup
		for _, d := range run {
			for _, f := range d.full {
				if f != nil {
					wg.Go(func() { f.c.Close() })
				}
			}
		}
		wg.Wait()
		readers.Wait()
		polls.stop()
	}()
	if err != nil {
		return nil, err
	}
	res.ConnectSeconds = round3(time.Since(connectStart).Seconds())

	// The clock starts after every editor is connected and the server
	// has sent the welcomes and presence of the joins.
	start := clk.now() + int64(500*time.Millisecond)
	measureFrom := start + int64(cfg.Warmup)
	end := measureFrom + int64(cfg.Duration)
	fmt.Fprintf(log, "connected in %.1fs; typing for %v (warmup %v)…\n", res.ConnectSeconds, cfg.Duration, cfg.Warmup)

	samples := sampleWindow(ctx, clk, cfg.Server, cfg.Pid, cfg.DBPid, measureFrom, end)

	typeCtx, cancel := context.WithDeadline(ctx, clk.time(end).Add(typingGrace))
	defer cancel()
	var typing sync.WaitGroup
	var mu sync.Mutex
	var total typingStats
	var editorErrs []error
	collect := func(st typingStats, err error) {
		mu.Lock()
		defer mu.Unlock()
		total.ticks += st.ticks
		total.ops += st.ops
		total.coalesced += st.coalesced
		total.unsent += st.unsent
		total.failed += st.failed
		if err != nil {
			editorErrs = append(editorErrs, err)
		}
	}
	seed := cfg.Seed
	for di, d := range run {
		for _, f := range d.full {
			f.rng = rand.New(rand.NewPCG(seed, uint64(di)<<20|uint64(f.index)))
			sch := newSchedule(rand.New(rand.NewPCG(seed^0x5eed, uint64(di)<<20|uint64(f.index))), cfg.Rate, start, end)
			typing.Go(func() { collect(typeLoop(typeCtx, clk, sch, f.ready, f.send)) })
		}
		if !cfg.LightEdits {
			continue
		}
		for _, l := range d.light {
			rng := rand.New(rand.NewPCG(seed, uint64(di)<<20|uint64(l.index)))
			sch := newSchedule(rand.New(rand.NewPCG(seed^0x5eed, uint64(di)<<20|uint64(l.index))), cfg.Rate, start, end)
			send := func(due int64) (bool, error) {
				return l.send(due, words[rng.IntN(len(words))]+" ", rng.IntN(len(initialText)))
			}
			typing.Go(func() { collect(typeLoop(typeCtx, clk, sch, l.ready, send)) })
		}
	}
	typing.Wait()
	window := <-samples
	res.Server, res.DB, res.Bench, res.Machine = window.server, window.db, window.bench, window.machine
	res.ServerLatency = window.latency
	if window.latencyErr != nil {
		res.ServerLatencyMissing = window.latencyErr.Error()
	}
	res.Ticks, res.Coalesced, res.Unsent, res.Retried = total.ticks, total.coalesced, total.unsent, total.failed
	for _, err := range editorErrs[:min(len(editorErrs), 10)] {
		res.EditorErrors = append(res.EditorErrors, err.Error())
	}

	fmt.Fprintln(log, "waiting for every edit to be acknowledged and delivered…")
	if err := syncAll(ctx, run); err != nil {
		res.EditorErrors = append(res.EditorErrors, err.Error())
	}
	drain(ctx, run)

	var t tally
	for _, d := range run {
		d.dd.collect(measureFrom, end, &t)
	}
	res.Ops, res.Refused, res.Undelivered, res.Duplicates = t.ops, t.refused, t.undelivered, t.duplicates
	res.OpsPerSec = round3(float64(t.ops) / cfg.Duration.Seconds())
	res.Delivery = summarize(slices.Clone(t.latencies)) // sorts its sample; t's stays paired with t.starts
	res.PerSecond = perSecond(&t, measureFrom, time.Duration(res.Delivery.P99*float64(time.Millisecond)))
	res.ForeignOps, res.Resyncs = counters.foreignOps.Load(), counters.resyncs.Load()
	res.ClientErrors, res.ServerErrors, res.Dropped = counters.clientErrors.Load(), counters.serverErrors.Load(), counters.dropped.Load()
	res.ConnectRetries = counters.connectRetries.Load()

	fmt.Fprintln(log, "checking convergence…")
	for _, d := range run {
		if msg := converged(ctx, rc, d); msg != "" {
			res.Diverged = append(res.Diverged, msg)
		} else {
			res.Converged++
		}
	}
	return res, nil
}

// connectAll opens every editor of every document, a few at a time, and
// starts the light editors' readers.
func connectAll(ctx context.Context, cfg config, rc *restClient, run []*docRun, clk clock, polls *pollers, counters *runCounters, readers *sync.WaitGroup) error {
	full := cfg.Editors - cfg.Light
	for _, d := range run {
		d.full = make([]*fullEditor, full)
		d.light = make([]*lightEditor, cfg.Light)
	}
	type job struct {
		d *docRun
		e int
	}
	jobs := make(chan job)
	errs := make(chan error, connectWorkers)
	var wg sync.WaitGroup
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for range connectWorkers {
		wg.Go(func() {
			for j := range jobs {
				if err := connectOne(ctx, rc, j.d, j.e, full, clk, polls.next(), counters, readers); err != nil {
					select {
					case errs <- err:
					default:
					}
					cancel()
				}
			}
		})
	}
	// Editors join round-robin over the documents, so every document
	// fills at the same pace.
feed:
	for e := range cfg.Editors {
		for _, d := range run {
			select {
			case jobs <- job{d, e}:
			case <-ctx.Done():
				break feed
			}
		}
	}
	close(jobs)
	wg.Wait()
	select {
	case err := <-errs:
		return err
	default:
		return ctx.Err()
	}
}

func connectOne(ctx context.Context, rc *restClient, d *docRun, e, full int, clk clock, p *poller, counters *runCounters, readers *sync.WaitGroup) error {
	ctx, cancel := context.WithTimeout(ctx, connectTimeout)
	defer cancel()
	id := d.dd.clientID(e)
	if e < full {
		f := &fullEditor{dd: d.dd, index: e}
		opts := client.Options{
			URL:      rc.liveURL(d.id),
			Header:   rc.authHeader(),
			ClientID: collab.ClientID(id),
			OnRemote: f.onRemote(clk, counters),
			OnError:  func(error) { counters.clientErrors.Add(1) },
		}
		var c *client.Client
		err := retryRateLimited(ctx, &counters.connectRetries, func() (err error) {
			c, err = client.Dial(ctx, opts)
			return err
		})
		if err != nil {
			return fmt.Errorf("connect full editor %s: %w", id, err)
		}
		f.c = c
		d.full[e] = f
		return nil
	}
	l := &lightEditor{dd: d.dd, index: e, stats: counters, acked: make(chan struct{}, 1), hello: make(chan error, 1)}
	onEnd := func(err error) {
		if err != nil && !l.closing.Load() {
			counters.dropped.Add(1)
		}
		readers.Done()
	}
	err := retryRateLimited(ctx, &counters.connectRetries, func() error {
		readers.Add(1) // onEnd's Done, once the poller has the connection
		c, err := dialPoll(ctx, p, rc.liveURL(d.id), rc.authHeader(), l.onMessage, onEnd)
		if err != nil {
			readers.Done()
			return err
		}
		if err := c.writeText(helloFrame(id)); err != nil {
			l.closing.Store(true)
			c.end(nil)
			return fmt.Errorf("hello: %w", err)
		}
		select {
		case err = <-l.hello:
		case <-ctx.Done():
			err = ctx.Err()
		}
		if err != nil {
			l.closing.Store(true)
			c.end(nil)
			return err
		}
		l.conn = c
		return nil
	})
	if err != nil {
		return fmt.Errorf("connect light editor %s: %w", id, err)
	}
	d.light[e-full] = l
	return nil
}

// syncAll waits until every full editor has all its edits acknowledged.
func syncAll(ctx context.Context, run []*docRun) error {
	ctx, cancel := context.WithTimeout(ctx, syncTimeout)
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, 1)
	for _, d := range run {
		for _, f := range d.full {
			wg.Go(func() {
				if err := f.c.WaitSynced(ctx); err != nil {
					select {
					case errs <- fmt.Errorf("wait synced %s: %w", f.c.ID(), err):
					default:
					}
				}
			})
		}
	}
	wg.Wait()
	select {
	case err := <-errs:
		return err
	default:
		return nil
	}
}

// drain waits, within drainTimeout, until every op sent has reached every
// other editor of its document.
func drain(ctx context.Context, run []*docRun) {
	deadline := time.Now().Add(drainTimeout)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		n := 0
		for _, d := range run {
			n += d.dd.pending()
		}
		if n == 0 {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// converged compares every full editor's document with the server's. It
// returns "" when they are all equal, else what differed.
func converged(ctx context.Context, rc *restClient, d *docRun) string {
	version, doc, err := rc.content(ctx, d.id)
	if err != nil {
		return fmt.Sprintf("document %s: %v", d.id, err)
	}
	want, err := doc.MarshalJSON()
	if err != nil {
		return fmt.Sprintf("document %s: %v", d.id, err)
	}
	deadline := time.Now().Add(convergeWait)
	for _, f := range d.full {
		for f.c.Version() < version && time.Now().Before(deadline) {
			select {
			case <-f.c.Changed():
			case <-time.After(50 * time.Millisecond):
			}
		}
		got, err := f.c.Doc().MarshalJSON()
		switch {
		case err != nil:
			return fmt.Sprintf("document %s: editor %s: %v", d.id, f.c.ID(), err)
		case f.c.Version() != version:
			return fmt.Sprintf("document %s: editor %s is at version %d, the server at %d", d.id, f.c.ID(), f.c.Version(), version)
		case !bytes.Equal(got, want):
			return fmt.Sprintf("document %s: editor %s holds %d units, the server %d, at version %d", d.id, f.c.ID(), f.c.Doc().Len(), doc.Len(), version)
		}
	}
	return ""
}

// window is the measured window's process figures.
type window struct {
	server, bench *ProcStats
	db            *TreeStats
	machine       *MachineStats
	latency       *ServerLatency
	latencyErr    error // why latency is missing
}

// sampleWindow reads the server (pid, if not 0), the database (dbPid and
// its children, if not 0), the bench, the machine and the server's
// latency metrics (from its URL) at from and at to, and sends the
// differences.
func sampleWindow(ctx context.Context, clk clock, server string, pid, dbPid int, from, to int64) <-chan window {
	out := make(chan window, 1)
	go func() {
		var w window
		defer func() { out <- w }()
		wait := func(at int64) bool {
			t := time.NewTimer(time.Duration(at - clk.now()))
			defer t.Stop()
			select {
			case <-t.C:
				return true
			case <-ctx.Done():
				return false
			}
		}
		if !wait(from) {
			return
		}
		h0, herr := scrapeServer(ctx, server)
		spid := strconv.Itoa(pid)
		s0, serr := readProc(spid)
		b0, berr := readProc("self")
		m0, merr := readMachine()
		d0, _, derr := readTreeCPU(dbPid)
		if !wait(to) {
			return
		}
		if herr == nil {
			var h1 map[string]*promHistogram
			if h1, herr = scrapeServer(ctx, server); herr == nil {
				w.latency, herr = serverLatency(h0, h1)
			}
		}
		w.latencyErr = herr
		if dbPid != 0 && derr == nil {
			if d1, n, err := readTreeCPU(dbPid); err == nil {
				wall := to - from
				cpu := (d1 - d0).Seconds()
				w.db = &TreeStats{PID: dbPid, Processes: n, CPUSeconds: round3(cpu), CPUCores: round3(cpu / time.Duration(wall).Seconds())}
			}
		}
		if pid != 0 && serr == nil {
			if s1, err := readProc(spid); err == nil {
				w.server = procStats(pid, s0, s1)
			}
		}
		if berr == nil {
			if b1, err := readProc("self"); err == nil {
				w.bench = procStats(0, b0, b1)
			}
		}
		if merr == nil {
			if m1, err := readMachine(); err == nil {
				w.machine = machineStats(m0, m1, runtime.NumCPU())
			}
		}
	}()
	return out
}
