package session

import (
	"sync/atomic"
	"time"
)

// LatencyBounds are the upper bounds, in seconds, of a Latency's buckets:
// from half a millisecond, where a quiet commit lands, to five seconds,
// past which something is wrong anyway; finest around the tens of
// milliseconds where a busy server's tail is, so quantiles estimated
// from them (histogram_quantile) say something there.
var LatencyBounds = [...]float64{.0005, .001, .002, .003, .005, .0075, .01, .015, .02, .025, .03, .04, .05, .075, .1, .25, .5, 1, 2.5, 5}

// Latency is a histogram of durations that any goroutine may add to
// without a lock: sessions observe into their registry's, and the metrics
// endpoint reads it. A reader may see a count and a sum from slightly
// different moments, which a scrape tolerates.
type Latency struct {
	buckets [len(LatencyBounds) + 1]atomic.Uint64 // per bound of LatencyBounds, then over the last
	sum     atomic.Int64                          // nanoseconds
}

// Observe adds one duration.
func (l *Latency) Observe(d time.Duration) {
	s := d.Seconds()
	i := 0
	for i < len(LatencyBounds) && s > LatencyBounds[i] {
		i++
	}
	l.buckets[i].Add(1)
	l.sum.Add(int64(d))
}

// LatencySnapshot is a Latency read at one moment.
type LatencySnapshot struct {
	// Cumulative counts: Cumulative[i] durations were at most
	// LatencyBounds[i].
	Cumulative []uint64
	Count      uint64
	Sum        time.Duration
}

// Snapshot reads the histogram.
func (l *Latency) Snapshot() LatencySnapshot {
	s := LatencySnapshot{Cumulative: make([]uint64, len(LatencyBounds)), Sum: time.Duration(l.sum.Load())}
	for i := range l.buckets {
		s.Count += l.buckets[i].Load()
		if i < len(LatencyBounds) {
			s.Cumulative[i] = s.Count
		}
	}
	return s
}
