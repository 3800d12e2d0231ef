package main

import (
	"fmt"
	"io"
	"slices"
	"strings"
)

// printLoad writes a load run's summary.
func printLoad(w io.Writer, cfg config, r *LoadResult) {
	typing := "full editors type"
	if r.LightEdits {
		typing = "all editors type"
	}
	fmt.Fprintf(w, "\ncollab-bench: %d docs × %d editors (%d full, %d light; %s), %g edits/s each, %v after %v warmup, seed %d\n",
		r.Docs, r.Editors, r.Full, r.Light, typing, r.Rate, cfg.Duration, cfg.Warmup, r.Seed)
	fmt.Fprintf(w, "  ops        %d in %gs: %.1f/s (target %.1f/s); %d refused, %d undelivered, %d duplicated\n",
		r.Ops, r.Seconds, r.OpsPerSec, r.TargetRate, r.Refused, r.Undelivered, r.Duplicates)
	fmt.Fprintf(w, "  edits      %d due, %d coalesced into an earlier op (one op in flight), %d unsent at the end, %d retried\n",
		r.Ticks, r.Coalesced, r.Unsent, r.Retried)
	fmt.Fprintf(w, "  delivery   %s\n", r.Delivery)
	if len(r.Delivery.Buckets) > 0 {
		var b strings.Builder
		for _, k := range r.Delivery.Buckets {
			fmt.Fprintf(&b, " ≤%s:%d", k.LE, k.Count)
		}
		fmt.Fprintf(w, "  histogram %s (ms:ops)\n", strings.ReplaceAll(b.String(), "≤+Inf", ">max"))
	}
	if line := worstSeconds(r.PerSecond, 5); line != "" {
		fmt.Fprintf(w, "  seconds    %s\n", line)
	}
	if l := r.ServerLatency; l != nil {
		fmt.Fprintf(w, "  in server  commit p50 %.3gms p99 %.3gms (%d edits); op log append p50 %.3gms p99 %.3gms (%d appends); bucket estimates\n",
			l.CommitP50Ms, l.CommitP99Ms, l.Commits, l.AppendP50Ms, l.AppendP99Ms, l.Appends)
	} else if r.ServerLatencyMissing != "" {
		fmt.Fprintf(w, "  in server  no latency figures: %s\n", r.ServerLatencyMissing)
	}
	if r.Server != nil {
		printProc(w, "server", r.Server)
	}
	if d := r.DB; d != nil {
		fmt.Fprintf(w, "  %-10s pid %d: %.2f cores (%.1f CPU s) in %d processes\n", "database", d.PID, d.CPUCores, d.CPUSeconds, d.Processes)
	}
	if r.Bench != nil {
		printProc(w, "bench", r.Bench)
	}
	if m := r.Machine; m != nil {
		others := ""
		if r.Server != nil && r.Bench != nil {
			o := m.BusyCores - r.Server.CPUCores - r.Bench.CPUCores
			if r.DB != nil {
				o -= r.DB.CPUCores
			}
			others = fmt.Sprintf(" (%.2f by other processes)", max(0, o))
		}
		fmt.Fprintf(w, "  machine    %.2f of %d cores busy%s\n", m.BusyCores, m.Cores, others)
	}
	fmt.Fprintf(w, "  connect    %d editors in %.1fs, %d handshakes refused with 429 and retried\n", r.Docs*r.Editors, r.ConnectSeconds, r.ConnectRetries)
	if n := r.ForeignOps + r.Resyncs + r.ClientErrors + r.ServerErrors + r.Dropped; n > 0 {
		fmt.Fprintf(w, "  events     %d foreign ops, %d resyncs, %d client errors, %d server errors, %d dropped connections\n",
			r.ForeignOps, r.Resyncs, r.ClientErrors, r.ServerErrors, r.Dropped)
	}
	for _, e := range r.EditorErrors {
		fmt.Fprintf(w, "  error      %s\n", e)
	}
	fmt.Fprintf(w, "  converged  %d/%d documents\n", r.Converged, r.Docs)
	for _, d := range r.Diverged {
		fmt.Fprintf(w, "  DIVERGED   %s\n", d)
	}
}

func printProc(w io.Writer, name string, p *ProcStats) {
	pid := ""
	if p.PID != 0 {
		pid = fmt.Sprintf("pid %d: ", p.PID)
	}
	fmt.Fprintf(w, "  %-10s %s%.2f cores (%.1f CPU s), RSS %s → %s (peak %s), %d threads\n",
		name, pid, p.CPUCores, p.CPUSeconds, mib(p.RSSStart), mib(p.RSSEnd), mib(p.RSSPeak), p.ThreadsEnd)
}

// printIdle writes an idle run's summary.
func printIdle(w io.Writer, cfg config, r *IdleResult) {
	fmt.Fprintf(w, "\ncollab-bench idle: %d connections requested over %d documents (open-file limit %d)\n", r.Requested, r.Docs, r.FileLimit)
	fmt.Fprintf(w, "  opened     %d in %.1fs (%d handshakes refused with 429 and retried), %d failed, %d dropped while held %.0fs\n",
		r.Opened, r.OpenSeconds, r.ConnectRetries, r.Failed, r.Dropped, r.HoldSeconds)
	if r.FirstError != "" {
		fmt.Fprintf(w, "  first error %s\n", r.FirstError)
	}
	if r.ServerRSSAfter > 0 {
		fmt.Fprintf(w, "  server     RSS %s → %s: %.1f KiB per connection, %d threads\n",
			mib(r.ServerRSSBefore), mib(r.ServerRSSAfter), r.ServerBytesPerConn/1024, r.ServerThreads)
	} else {
		fmt.Fprintln(w, "  server     pass --pid for the server's memory per connection")
	}
	fmt.Fprintf(w, "  bench      RSS %s → %s: %.1f KiB per connection\n", mib(r.BenchRSSBefore), mib(r.BenchRSSAfter), r.BenchBytesPerConn/1024)
}

func mib(b int64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }

// worstSeconds says how the ops over the window's p99 spread over its
// seconds: the n seconds holding most of them, and their share.
func worstSeconds(secs []Second, n int) string {
	total := 0
	for _, s := range secs {
		total += s.Over
	}
	if total == 0 {
		return ""
	}
	worst := slices.Clone(secs)
	slices.SortStableFunc(worst, func(a, b Second) int { return b.Over - a.Over })
	worst = worst[:min(n, len(worst))]
	var b strings.Builder
	in := 0
	for _, s := range worst {
		in += s.Over
		fmt.Fprintf(&b, " %ds:%d (p99 %s)", s.At, s.Over, fmtMS(s.P99))
	}
	return fmt.Sprintf("%d ops over p99; %d%% in the worst %d of %d seconds:%s", total, 100*in/total, len(worst), len(secs), b.String())
}
