package main

import (
	"slices"
	"strings"
	"testing"
	"time"
)

func TestPercentileNearestRank(t *testing.T) {
	hundred := make([]time.Duration, 100)
	for i := range hundred {
		hundred[i] = time.Duration(i+1) * time.Millisecond
	}
	for _, tc := range []struct {
		name   string
		sample []time.Duration
		p      float64
		want   time.Duration
	}{
		{"empty", nil, 50, 0},
		{"one p50", []time.Duration{7}, 50, 7},
		{"one p99", []time.Duration{7}, 99, 7},
		{"hundred p1", hundred, 1, 1 * time.Millisecond},
		{"hundred p50", hundred, 50, 50 * time.Millisecond},
		{"hundred p95", hundred, 95, 95 * time.Millisecond},
		{"hundred p99", hundred, 99, 99 * time.Millisecond},
		{"hundred p99.9 is the max", hundred, 99.9, 100 * time.Millisecond},
		{"hundred p100", hundred, 100, 100 * time.Millisecond},
		{"tiny p rounds up to the first", hundred, 0.001, 1 * time.Millisecond},
		// Ten samples: p95 needs 9.5 of them at or below, so the 10th.
		{"ten p95", hundred[:10], 95, 10 * time.Millisecond},
		{"ten p50", hundred[:10], 50, 5 * time.Millisecond},
	} {
		if got := percentile(tc.sample, tc.p); got != tc.want {
			t.Errorf("%s: percentile(p%g) = %v, want %v", tc.name, tc.p, got, tc.want)
		}
	}
}

func TestSummarize(t *testing.T) {
	// Unsorted on purpose: summarize sorts.
	sample := []time.Duration{
		30 * time.Millisecond, 1500 * time.Microsecond, 900 * time.Microsecond,
		3 * time.Millisecond, 7 * time.Second, 4 * time.Millisecond,
	}
	l := summarize(sample)
	if !slices.IsSorted(sample) {
		t.Errorf("sample not sorted after summarize: %v", sample)
	}
	if l.Count != 6 || l.P50 != 3 || l.Max != 7000 || l.P99 != 7000 {
		t.Errorf("summary = %+v, want count 6, p50 3ms, p99 = max = 7000ms", l)
	}
	if want := (0.9 + 1.5 + 3 + 4 + 30 + 7000) / 6; l.Mean < want-0.001 || l.Mean > want+0.001 {
		t.Errorf("mean = %v, want %v", l.Mean, want)
	}
	want := []Bucket{{"1", 1}, {"2", 1}, {"5", 2}, {"10", 0}, {"20", 0}, {"50", 1}, {"100", 0},
		{"200", 0}, {"500", 0}, {"1000", 0}, {"2000", 0}, {"5000", 0}, {"+Inf", 1}}
	if !slices.Equal(l.Buckets, want) {
		t.Errorf("buckets = %v, want %v", l.Buckets, want)
	}
	if got := summarize(nil); got.Count != 0 || got.Buckets != nil {
		t.Errorf("summary of nothing = %+v, want zero", got)
	}
}

func TestHistogramDropsEmptyTail(t *testing.T) {
	got := histogram([]time.Duration{500 * time.Microsecond, 2 * time.Millisecond})
	want := []Bucket{{"1", 1}, {"2", 1}}
	if !slices.Equal(got, want) {
		t.Errorf("histogram = %v, want %v", got, want)
	}
}

func TestDeliveries(t *testing.T) {
	d := newDocDeliveries("cbx-3-", 3, 2, 4) // 3 editors: every op must reach 2
	if got := d.clientID(1); got != "cbx-3-1" {
		t.Fatalf("clientID(1) = %q", got)
	}
	// Editor 0's ops 1 (delivered) and 2 (reached one editor only);
	// editor 1's op 1 (refused).
	d.senders[0][1].start.Store(100)
	d.senders[0][2].start.Store(200)
	d.senders[1][1].start.Store(150)
	d.senders[1][1].refused.Store(true)
	for _, r := range []struct {
		client string
		seq    int64
		at     int64
	}{{"cbx-3-0", 1, 130}, {"cbx-3-0", 1, 120}, {"cbx-3-0", 2, 260}} {
		if !d.received([]byte(r.client), r.seq, r.at) {
			t.Errorf("received(%s, %d) = false, want true", r.client, r.seq)
		}
	}
	for _, r := range []struct {
		client string
		seq    int64
	}{{"cbx-4-0", 1}, {"cbx-3-", 1}, {"cbx-3-9", 1}, {"cbx-3-0", 0}, {"cbx-3-0", 5}, {"cbx-3-0x", 1}, {"other", 1}} {
		if d.received([]byte(r.client), r.seq, 1) {
			t.Errorf("received(%s, %d) = true, want false: not a slot", r.client, r.seq)
		}
	}
	if got := d.pending(); got != 1 {
		t.Errorf("pending = %d, want 1 (editor 0's op 2)", got)
	}
	var all tally
	d.collect(0, 1000, &all)
	if all.ops != 3 || all.refused != 1 || all.undelivered != 1 || !slices.Equal(all.latencies, []time.Duration{30}) {
		t.Errorf("tally = %+v, want 3 ops, 1 refused, 1 undelivered, latencies [30]", all)
	}
	var window tally
	d.collect(150, 200, &window) // start in [150, 200): editor 1's op only
	if window.ops != 1 || window.refused != 1 {
		t.Errorf("window tally = %+v, want only the refused op", window)
	}
}

// TestPerSecondFindsTheStall: ops are split by the second they started in,
// and the report names the second that holds the slow ones.
func TestPerSecondFindsTheStall(t *testing.T) {
	const from = int64(5 * time.Second)
	var tl tally
	for sec := range 4 {
		for i := range 100 {
			lat := 3 * time.Millisecond
			if sec == 2 && i < 30 {
				lat = 90 * time.Millisecond // a stall in the third second
			}
			tl.starts = append(tl.starts, from+int64(sec)*int64(time.Second)+int64(i)*int64(time.Millisecond))
			tl.latencies = append(tl.latencies, lat)
		}
	}
	secs := perSecond(&tl, from, 10*time.Millisecond)
	if len(secs) != 4 {
		t.Fatalf("%d seconds, want 4", len(secs))
	}
	for _, s := range secs {
		wantOver, wantMax := 0, 3.0
		if s.At == 2 {
			wantOver, wantMax = 30, 90
		}
		if s.Ops != 100 || s.Over != wantOver || s.Max != wantMax {
			t.Errorf("second %d: %d ops, %d over, max %v; want 100, %d, %v", s.At, s.Ops, s.Over, s.Max, wantOver, wantMax)
		}
	}
	if line := worstSeconds(secs, 2); !strings.HasPrefix(line, "30 ops over p99; 100% in the worst 2 of 4 seconds: 2s:30 ") {
		t.Errorf("worstSeconds = %q", line)
	}
}
