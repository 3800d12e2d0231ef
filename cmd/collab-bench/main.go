// Command collab-bench is collabd's load generator. It drives a running
// server through the live protocol and the REST API, as one bench user
// that owns every document it creates.
//
// A load run opens D documents with K editors each and types at a rate
// per editor for a duration after a warmup. It reports the edits per
// second the server took, the delivery latency of each op (from when its
// edit was due to when the last other editor of the document received it)
// as p50/p95/p99/max, whether every document converged (every full editor
// holds the server's document; exit status 1 if not), and, given the
// server's pid, the server's CPU and resident memory.
//
// Of the K editors, --light are light: a raw WebSocket that times
// deliveries without keeping a document (--light-edits makes them type
// inserts too), read by a few epoll pollers rather than a goroutine
// each. The others are full: the Go client (collab/client), typing words
// at random places and deleting now and then, checked for convergence at
// the end.
//
// An idle run (--idle N) holds N connections open over the documents and
// reports the server's resident memory per connection.
//
//	collab-bench --docs 200 --editors 5 --rate 5 --duration 60s --pid $(pgrep -x collabd) --json out.json
//	collab-bench --docs 1 --editors 500 --light 490 --rate 1 --duration 60s
//	collab-bench --idle 20000 --docs 100 --pid … --duration 10s
//
// Files: main.go (flags, the run, exit status), setup.go (REST: sign-up,
// documents, content), typing.go (schedules, the full editor), light.go
// (raw connections and the frame scanner), poll.go (the light editors'
// WebSocket and its epoll pollers), deliveries.go (timing slots,
// percentiles), load.go (a load run), idle.go (an idle run), proc.go
// (/proc readings, the open-file limit), report.go (the summary).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := Main(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	switch {
	case err == nil:
	case errors.Is(err, flag.ErrHelp):
	case errors.Is(err, errUsage):
		fmt.Fprintln(os.Stderr, "collab-bench:", err)
		os.Exit(2)
	default:
		fmt.Fprintln(os.Stderr, "collab-bench:", err)
		os.Exit(1)
	}
}

// Errors Main's caller branches on.
var (
	errUsage    = errors.New("usage")
	errDiverged = errors.New("documents diverged")
)

// config is the command line.
type config struct {
	Server     string
	Token      string
	Docs       int
	Editors    int
	Light      int
	LightEdits bool
	Rate       float64
	Duration   time.Duration
	Warmup     time.Duration
	Idle       int
	Pid        int
	DBPid      int
	JSON       string
	Seed       uint64
	CPUProfile string
}

func parseFlags(args []string, stderr io.Writer) (config, error) {
	var c config
	fs := flag.NewFlagSet("collab-bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.Server, "server", "http://127.0.0.1:8080", "the collabd to drive")
	fs.StringVar(&c.Token, "token", "", "a bearer token of the bench user (default: sign up a new user)")
	fs.IntVar(&c.Docs, "docs", 1, "documents (idle mode: default one per 200 connections)")
	fs.IntVar(&c.Editors, "editors", 5, "editors per document")
	fs.IntVar(&c.Light, "light", 0, "of the editors per document, how many are light (raw WebSocket, no document)")
	fs.BoolVar(&c.LightEdits, "light-edits", false, "light editors type too (inserts at --rate), not only time deliveries")
	fs.Float64Var(&c.Rate, "rate", 1, "edits per second per typing editor")
	fs.DurationVar(&c.Duration, "duration", 10*time.Second, "measured time (idle mode: how long to hold the connections)")
	fs.DurationVar(&c.Warmup, "warmup", 2*time.Second, "typing before the measured time")
	fs.IntVar(&c.Idle, "idle", 0, "idle mode: hold this many connections and measure the server's memory per connection")
	fs.IntVar(&c.Pid, "pid", 0, "the server's process id, for its CPU and memory (from /proc)")
	fs.IntVar(&c.DBPid, "db-pid", 0, "the database server's process id (a Postgres postmaster): its CPU and its children's")
	fs.StringVar(&c.JSON, "json", "", "write the results to this file as JSON")
	fs.Uint64Var(&c.Seed, "seed", 0, "random seed of the edits and their timing (default: random, printed)")
	fs.StringVar(&c.CPUProfile, "cpuprofile", "", "write the bench's own CPU profile to this file")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return c, err
		}
		return c, fmt.Errorf("%w: %w", errUsage, err)
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if c.Idle > 0 && !set["docs"] {
		c.Docs = (c.Idle + 199) / 200
	}
	if c.Seed == 0 {
		c.Seed = 1 + rand.Uint64N(1<<53-1) // exact in JSON readers that use doubles
	}
	bad := func(format string, a ...any) (config, error) {
		return c, fmt.Errorf("%w: "+format, append([]any{errUsage}, a...)...)
	}
	switch {
	case fs.NArg() > 0:
		return bad("unexpected arguments %q", fs.Args())
	case c.Docs < 1:
		return bad("--docs must be at least 1")
	case c.Idle < 0:
		return bad("--idle must not be negative")
	case c.Idle > 0 && c.Idle < c.Docs:
		return bad("--idle %d is fewer connections than --docs %d", c.Idle, c.Docs)
	case c.Idle > 0:
	case c.Editors < 1:
		return bad("--editors must be at least 1")
	case c.Light < 0 || c.Light >= c.Editors:
		return bad("--light must be from 0 to --editors - 1: at least one full editor per document")
	case c.Rate <= 0 || c.Rate > 1000:
		return bad("--rate must be above 0 and at most 1000 edits per second")
	case c.Duration <= 0 || c.Warmup < 0:
		return bad("--duration must be positive and --warmup not negative")
	}
	return c, nil
}

// Result is the JSON the bench writes.
type Result struct {
	Tool      string      `json:"tool"`
	Mode      string      `json:"mode"` // load or idle
	Server    string      `json:"server"`
	Started   time.Time   `json:"started"`
	Args      []string    `json:"args"`
	FileLimit uint64      `json:"file_limit"`
	Load      *LoadResult `json:"load,omitempty"`
	Idle      *IdleResult `json:"idle,omitempty"`
}

// Main runs the bench with args, printing progress and the summary to
// stdout. It returns errDiverged (wrapped) when a document diverged, an
// error wrapping errUsage for a bad command line.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	if cfg.CPUProfile != "" {
		f, err := os.Create(cfg.CPUProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	res, err := run(ctx, cfg, args, stdout)
	if err != nil {
		return err
	}
	if cfg.JSON != "" {
		b, err := json.MarshalIndent(res, "", "  ")
		if err != nil {
			return err
		}
		if err := os.WriteFile(cfg.JSON, append(b, '\n'), 0o644); err != nil {
			return fmt.Errorf("write results: %w", err)
		}
	}
	if res.Load != nil && len(res.Load.Diverged) > 0 {
		return fmt.Errorf("%w: %d of %d", errDiverged, len(res.Load.Diverged), res.Load.Docs)
	}
	return nil
}

// run does the run cfg asks for and prints its summary.
func run(ctx context.Context, cfg config, args []string, stdout io.Writer) (*Result, error) {
	res := &Result{Tool: "collab-bench", Mode: "load", Server: cfg.Server, Started: time.Now().UTC(), Args: args}
	if res.Args == nil {
		res.Args = []string{}
	}
	// Every connection is a file on both ends: the server needs as many.
	want := uint64(cfg.Docs*cfg.Editors + 1024)
	if cfg.Idle > 0 {
		res.Mode = "idle"
		want = uint64(cfg.Idle + 1024)
	}
	limit, err := raiseFileLimit(want)
	if err != nil {
		return nil, err
	}
	res.FileLimit = limit
	if limit < want {
		fmt.Fprintf(stdout, "warning: the open-file limit is %d, below the %d this run needs; connections past it will fail (raise the hard limit: ulimit -Hn)\n", limit, want)
	}
	rc, err := newRESTClient(cfg.Server)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errUsage, err)
	}
	if cfg.Token != "" {
		rc.token = cfg.Token
	} else {
		name, err := rc.signup(ctx)
		if err != nil {
			return nil, err
		}
		fmt.Fprintf(stdout, "signed up as %s\n", name)
	}
	if cfg.Idle > 0 {
		res.Idle, err = runIdle(ctx, cfg, rc, limit, stdout)
		if err != nil {
			return nil, err
		}
		printIdle(stdout, cfg, res.Idle)
		return res, nil
	}
	res.Load, err = runLoad(ctx, cfg, rc, stdout)
	if err != nil {
		return nil, err
	}
	printLoad(stdout, cfg, res.Load)
	return res, nil
}
