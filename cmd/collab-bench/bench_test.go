package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// startCollabd builds the server and runs it on a free 127.0.0.1 port with
// its embedded database. It returns the server's URL and pid.
func startCollabd(t *testing.T) (string, int) {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the end-to-end test builds collabd and needs the go command: %v", err)
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "collabd")
	if out, err := exec.Command(goBin, "build", "-o", bin, "github.com/collabd/collabd/cmd/collabd").CombinedOutput(); err != nil {
		t.Fatalf("build collabd: %v\n%s", err, out)
	}
	cmd := exec.Command(bin, "--addr", "127.0.0.1:0", "--data-dir", filepath.Join(dir, "data"))
	var stdout, stderr syncBuffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("start collabd: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		select {
		case <-exited:
		case <-time.After(25 * time.Second):
			cmd.Process.Kill()
			<-exited
			t.Errorf("collabd did not stop within 25s of SIGINT")
		}
		if t.Failed() {
			t.Logf("collabd's log:\n%s", stderr.String())
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		for line := range strings.Lines(stdout.String()) {
			if a, ok := strings.CutPrefix(strings.TrimSpace(line), "collabd is serving on http://"); ok {
				return a, cmd.Process.Pid
			}
		}
		select {
		case err := <-exited:
			t.Fatalf("collabd exited before serving: %v\n%s", err, stderr.String())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("collabd did not say where it serves within 30s\n%s", stderr.String())
		}
	}
}

// syncBuffer is a bytes.Buffer that a process may write while a test reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// bench runs Main with args and the server flags, and decodes its JSON.
func bench(t *testing.T, url string, pid int, args ...string) Result {
	t.Helper()
	out := filepath.Join(t.TempDir(), "out.json")
	args = append([]string{"--server", url, "--pid", strconv.Itoa(pid), "--json", out}, args...)
	var stdout, stderr bytes.Buffer
	if err := Main(t.Context(), args, &stdout, &stderr); err != nil {
		t.Fatalf("collab-bench %s: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	t.Logf("collab-bench %s\n%s", strings.Join(args, " "), stdout.String())
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var r Result
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatalf("decode %s: %v", b, err)
	}
	return r
}

func TestAgainstCollabd(t *testing.T) {
	url, pid := startCollabd(t)
	url = "http://" + url

	t.Run("load", func(t *testing.T) {
		r := bench(t, url, pid, "--docs", "2", "--editors", "3", "--light", "1",
			"--rate", "10", "--duration", "2s", "--warmup", "500ms", "--seed", "1")
		l := r.Load
		if r.Mode != "load" || l == nil {
			t.Fatalf("result = %+v, want a load result", r)
		}
		// 2 docs × 2 full editors × 10/s × 2s: about 80 ops.
		if l.Ops < 40 || l.Delivery.Count != l.Ops || l.Undelivered != 0 || l.Refused != 0 {
			t.Errorf("ops = %d, delivered %d, undelivered %d, refused %d; want about 80, all delivered",
				l.Ops, l.Delivery.Count, l.Undelivered, l.Refused)
		}
		if l.Delivery.P50 <= 0 || l.Delivery.Max < l.Delivery.P99 || l.Delivery.P99 < l.Delivery.P50 {
			t.Errorf("delivery = %+v, want positive, ordered percentiles", l.Delivery)
		}
		if l.Converged != 2 || len(l.Diverged) != 0 {
			t.Errorf("converged %d of 2, diverged %q", l.Converged, l.Diverged)
		}
		if l.ForeignOps != 0 || l.Dropped != 0 || l.Unsent != 0 {
			t.Errorf("foreign ops %d, dropped %d, unsent %d; want none", l.ForeignOps, l.Dropped, l.Unsent)
		}
		if s := l.Server; s == nil || s.PID != pid || s.RSSEnd <= 0 || s.CPUSeconds <= 0 {
			t.Errorf("server stats = %+v, want the server's RSS and CPU", s)
		}
		// The server timed the window's commits: about as many as the ops
		// measured (the window's edges cut a few either way).
		if sl := l.ServerLatency; sl == nil || sl.Commits < int64(l.Ops/2) || sl.Commits > int64(2*l.Ops) || sl.Appends < 1 ||
			sl.CommitP50Ms <= 0 || sl.CommitP99Ms < sl.CommitP50Ms || sl.AppendP99Ms < sl.AppendP50Ms {
			t.Errorf("server latency = %+v (missing: %q), want the window's commits timed, about %d", sl, l.ServerLatencyMissing, l.Ops)
		}
	})

	t.Run("light editors type", func(t *testing.T) {
		r := bench(t, url, pid, "--docs", "1", "--editors", "4", "--light", "2", "--light-edits",
			"--rate", "10", "--duration", "2s", "--warmup", "500ms", "--seed", "2")
		l := r.Load
		// 4 typing editors × 10/s × 2s: about 80 ops, half of them light.
		if l.Ops < 40 || l.Delivery.Count != l.Ops || l.Refused != 0 || l.Converged != 1 {
			t.Errorf("ops = %d, delivered %d, refused %d, converged %d; want about 80, all delivered, converged",
				l.Ops, l.Delivery.Count, l.Refused, l.Converged)
		}
	})

	t.Run("idle", func(t *testing.T) {
		r := bench(t, url, pid, "--idle", "30", "--docs", "3", "--duration", "1s")
		i := r.Idle
		if r.Mode != "idle" || i == nil {
			t.Fatalf("result = %+v, want an idle result", r)
		}
		if i.Opened != 30 || i.Failed != 0 || i.Dropped != 0 || i.Docs != 3 {
			t.Errorf("idle = %+v, want 30 opened over 3 docs, none failed or dropped", i)
		}
		if i.ServerRSSAfter <= 0 || i.ServerRSSBefore <= 0 {
			t.Errorf("server RSS before %d, after %d; want both read", i.ServerRSSBefore, i.ServerRSSAfter)
		}
	})
}

func TestFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		ok   bool
	}{
		{nil, true},
		{[]string{"--idle", "100"}, true},
		{[]string{"--editors", "500", "--light", "490"}, true},
		{[]string{"--editors", "3", "--light", "3"}, false}, // no full editor
		{[]string{"--rate", "0"}, false},
		{[]string{"--docs", "0"}, false},
		{[]string{"--idle", "2", "--docs", "3"}, false},
		{[]string{"extra"}, false},
		{[]string{"--nope"}, false},
	} {
		c, err := parseFlags(tc.args, io.Discard)
		if ok := err == nil; ok != tc.ok {
			t.Errorf("parseFlags(%q) = %v, want ok %v", tc.args, err, tc.ok)
		}
		if err != nil && !errors.Is(err, errUsage) {
			t.Errorf("parseFlags(%q) = %v, want a usage error", tc.args, err)
		}
		if err == nil && c.Seed == 0 {
			t.Errorf("parseFlags(%q): seed 0, want a random one", tc.args)
		}
	}
	if c, _ := parseFlags([]string{"--idle", "1000"}, io.Discard); c.Docs != 5 {
		t.Errorf("--idle 1000 spreads over %d docs, want 5 (200 each)", c.Docs)
	}
}
