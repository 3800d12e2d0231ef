package main

import (
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// Delivery timing. Every op a bench editor sends is named by (client, seq),
// as the protocol names it. The sender writes the op's start time into a
// slot; every other editor of the document, when the op reaches it, counts
// itself into the slot and raises the slot's latest-receipt time. The
// op's delivery latency is latest receipt minus start, once all the
// document's other editors have counted themselves in.
//
// Slots are preallocated (an editor cannot send more ops than it has
// ticks), so recording takes no lock and allocates nothing: 500 editors
// of one document record about 250,000 receipts a second.

// clock is the bench's time base: nanoseconds since epoch, on the
// monotonic clock, never 0 for a real instant.
type clock struct{ epoch time.Time }

func newClock() clock { return clock{epoch: time.Now().Add(-time.Millisecond)} }

func (c clock) now() int64              { return int64(time.Since(c.epoch)) }
func (c clock) time(ns int64) time.Time { return c.epoch.Add(time.Duration(ns)) }

// slot follows one op.
type slot struct {
	start   atomic.Int64 // when the op's first edit was due (clock ns); 0: never sent
	seen    atomic.Int32 // receipts by other editors
	last    atomic.Int64 // the latest receipt (clock ns)
	refused atomic.Bool  // the server answered the op with an error
}

// docDeliveries is the slots of one document: senders[e][seq] for
// editor e's op seq (seq 0 unused).
type docDeliveries struct {
	prefix    string // client ids of this document's editors: prefix + editor index
	receivers int32  // other editors every op must reach: editors - 1
	senders   [][]slot
}

func newDocDeliveries(prefix string, editors, senders, maxSeq int) *docDeliveries {
	d := &docDeliveries{prefix: prefix, receivers: int32(editors - 1), senders: make([][]slot, senders)}
	for i := range d.senders {
		d.senders[i] = make([]slot, maxSeq+1)
	}
	return d
}

// clientID names editor e of the document.
func (d *docDeliveries) clientID(e int) string { return d.prefix + strconv.Itoa(e) }

// slot returns the slot of (client, seq), or nil for an op that is not
// one of this run's (a REST edit, another tool) or beyond the slots.
func (d *docDeliveries) slot(client []byte, seq int64) *slot {
	if len(client) <= len(d.prefix) || string(client[:len(d.prefix)]) != d.prefix {
		return nil
	}
	e := 0
	for _, ch := range client[len(d.prefix):] {
		if ch < '0' || ch > '9' || e > 1<<20 {
			return nil
		}
		e = e*10 + int(ch-'0')
	}
	if e >= len(d.senders) || seq < 1 || seq >= int64(len(d.senders[e])) {
		return nil
	}
	return &d.senders[e][seq]
}

// received records that (client, seq) reached one more editor at now. It
// reports false for an op it has no slot for.
func (d *docDeliveries) received(client []byte, seq int64, now int64) bool {
	s := d.slot(client, seq)
	if s == nil {
		return false
	}
	s.seen.Add(1)
	for {
		old := s.last.Load()
		if now <= old || s.last.CompareAndSwap(old, now) {
			return true
		}
	}
}

// pending reports how many sent, unrefused ops have not reached every
// receiver yet.
func (d *docDeliveries) pending() int {
	n := 0
	for _, ss := range d.senders {
		for i := range ss {
			s := &ss[i]
			if s.start.Load() != 0 && !s.refused.Load() && s.seen.Load() < d.receivers {
				n++
			}
		}
	}
	return n
}

// tally is what the slots say about the ops that started in a window.
type tally struct {
	ops         int             // sent in the window
	refused     int             // refused by the server
	undelivered int             // not seen by every other editor by the end
	duplicates  int             // seen more often than there are receivers
	latencies   []time.Duration // of the delivered ops
	starts      []int64         // when each of latencies' ops started (clock ns)
}

// collect tallies the ops whose start is in [from, to). Call it once the
// senders and receivers are done.
func (d *docDeliveries) collect(from, to int64, t *tally) {
	for _, ss := range d.senders {
		for i := range ss {
			s := &ss[i]
			start := s.start.Load()
			if start == 0 || start < from || start >= to {
				continue
			}
			t.ops++
			seen := s.seen.Load()
			switch {
			case s.refused.Load():
				t.refused++
			case seen < d.receivers:
				t.undelivered++
			default:
				if seen > d.receivers {
					t.duplicates++
				}
				if d.receivers > 0 {
					t.latencies = append(t.latencies, time.Duration(s.last.Load()-start))
					t.starts = append(t.starts, start)
				}
			}
		}
	}
}

// Latency summarises a sample of delivery latencies, in milliseconds.
type Latency struct {
	Count int     `json:"count"`
	Mean  float64 `json:"mean_ms"`
	P50   float64 `json:"p50_ms"`
	P90   float64 `json:"p90_ms"`
	P95   float64 `json:"p95_ms"`
	P99   float64 `json:"p99_ms"`
	P999  float64 `json:"p999_ms"`
	Max   float64 `json:"max_ms"`
	// Buckets counts the sample by upper bound in ms (a sample counts in
	// the first bucket whose bound it does not exceed; "+Inf" last).
	Buckets []Bucket `json:"buckets,omitempty"`
}

// Bucket is one bar of the latency histogram.
type Bucket struct {
	LE    string `json:"le"` // upper bound in ms, or "+Inf"
	Count int    `json:"count"`
}

// bucketBounds are the histogram's upper bounds in ms.
var bucketBounds = []float64{1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000}

// summarize sorts sample in place and summarises it. Percentiles use the
// nearest rank: the smallest value with at least p% of the sample at or
// below it, so p100 is the max and every reported value was observed.
func summarize(sample []time.Duration) Latency {
	l := Latency{Count: len(sample)}
	if len(sample) == 0 {
		return l
	}
	slices.Sort(sample)
	var sum time.Duration
	for _, d := range sample {
		sum += d
	}
	l.Mean = ms(sum / time.Duration(len(sample)))
	l.P50 = ms(percentile(sample, 50))
	l.P90 = ms(percentile(sample, 90))
	l.P95 = ms(percentile(sample, 95))
	l.P99 = ms(percentile(sample, 99))
	l.P999 = ms(percentile(sample, 99.9))
	l.Max = ms(sample[len(sample)-1])
	l.Buckets = histogram(sample)
	return l
}

// percentile returns the nearest-rank p-th percentile (0 < p <= 100) of a
// sorted sample; 0 for an empty one.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	rank = min(max(rank, 1), len(sorted))
	return sorted[rank-1]
}

// histogram counts a sorted sample into bucketBounds, leaving out empty
// buckets past the last sample.
func histogram(sorted []time.Duration) []Bucket {
	out := make([]Bucket, 0, len(bucketBounds)+1)
	i := 0
	for _, b := range bucketBounds {
		n := 0
		for i < len(sorted) && ms(sorted[i]) <= b {
			i++
			n++
		}
		out = append(out, Bucket{LE: strconv.FormatFloat(b, 'f', -1, 64), Count: n})
	}
	out = append(out, Bucket{LE: "+Inf", Count: len(sorted) - i})
	for len(out) > 1 && out[len(out)-1].Count == 0 {
		out = out[:len(out)-1]
	}
	return out
}

func ms(d time.Duration) float64 { return math.Round(float64(d)/1e3) / 1e3 }

// String is the one-line human form.
func (l Latency) String() string {
	if l.Count == 0 {
		return "no samples"
	}
	var b strings.Builder
	b.WriteString("p50 " + fmtMS(l.P50) + "  p95 " + fmtMS(l.P95) + "  p99 " + fmtMS(l.P99) +
		"  p99.9 " + fmtMS(l.P999) + "  max " + fmtMS(l.Max) + "  mean " + fmtMS(l.Mean) +
		"  (" + strconv.Itoa(l.Count) + " ops)")
	return b.String()
}

func fmtMS(v float64) string {
	switch {
	case v < 10:
		return strconv.FormatFloat(v, 'f', 2, 64) + "ms"
	case v < 100:
		return strconv.FormatFloat(v, 'f', 1, 64) + "ms"
	}
	return strconv.FormatFloat(v, 'f', 0, 64) + "ms"
}

// Second is the delivery latency of the ops that started in one second of
// the measured window. A tail made of a few bad seconds points at stalls
// (a slow disk flush, a pause); one spread over every second points at
// steady queueing.
type Second struct {
	At   int     `json:"at_s"` // seconds since the measured window began
	Ops  int     `json:"ops"`
	P50  float64 `json:"p50_ms"`
	P99  float64 `json:"p99_ms"`
	Max  float64 `json:"max_ms"`
	Over int     `json:"over_p99"` // ops slower than the whole window's p99
}

// perSecond splits t's delivered ops by the second they started in, from
// from on, and summarises each second; p99 is the whole window's.
func perSecond(t *tally, from int64, p99 time.Duration) []Second {
	var by [][]time.Duration
	for i, start := range t.starts {
		k := int((start - from) / int64(time.Second))
		for len(by) <= k {
			by = append(by, nil)
		}
		by[k] = append(by[k], t.latencies[i])
	}
	out := make([]Second, 0, len(by))
	for k, sample := range by {
		s := Second{At: k, Ops: len(sample)}
		if len(sample) > 0 {
			slices.Sort(sample)
			s.P50, s.P99, s.Max = ms(percentile(sample, 50)), ms(percentile(sample, 99)), ms(sample[len(sample)-1])
			s.Over = len(sample) - sort.Search(len(sample), func(i int) bool { return sample[i] > p99 })
		}
		out = append(out, s)
	}
	return out
}
