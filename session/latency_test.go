package session

import (
	"context"
	"testing"
	"time"

	"github.com/collabd/collabd/collab"
	"github.com/collabd/collabd/ot"
)

func TestLatencyBuckets(t *testing.T) {
	var l Latency
	for _, d := range []time.Duration{
		200 * time.Microsecond, // ≤ 0.5 ms
		500 * time.Microsecond, // ≤ 0.5 ms: a bound is inclusive
		3 * time.Millisecond,   // ≤ 5 ms
		3 * time.Millisecond,   // ≤ 5 ms
		40 * time.Millisecond,  // ≤ 50 ms
		time.Minute,            // over the last bound
	} {
		l.Observe(d)
	}
	s := l.Snapshot()
	if s.Count != 6 {
		t.Fatalf("count %d, want 6", s.Count)
	}
	if want := 200*time.Microsecond + 500*time.Microsecond + 6*time.Millisecond + 40*time.Millisecond + time.Minute; s.Sum != want {
		t.Fatalf("sum %v, want %v", s.Sum, want)
	}
	for _, c := range []struct {
		bound float64
		want  uint64
	}{{.0005, 2}, {.001, 2}, {.002, 2}, {.005, 4}, {.025, 4}, {.05, 5}, {5, 5}} {
		i := boundIndex(t, c.bound)
		if s.Cumulative[i] != c.want {
			t.Errorf("≤ %gs: %d, want %d (all: %v)", c.bound, s.Cumulative[i], c.want, s.Cumulative)
		}
	}
}

func boundIndex(t *testing.T, bound float64) int {
	t.Helper()
	for i, b := range LatencyBounds {
		if b == bound {
			return i
		}
	}
	t.Fatalf("no bound %g", bound)
	return 0
}

// TestRegistryTimesCommits: every op committed is timed once from its
// request, live or REST, and every append once.
func TestRegistryTimesCommits(t *testing.T) {
	log := newMemLog()
	log.create("doc", "")
	reg := NewRegistry(testConfig(log))
	defer reg.Close(context.Background())
	p := joinEditor(t, reg, "doc", "c")
	<-p.Outbox() // welcome
	const ops = 5
	for seq := int64(1); seq <= ops; seq++ {
		p.Submit(context.Background(), seq, seq-1, ot.Delta{ot.InsertText("y", nil)})
		<-p.Outbox() // ack: the op is committed
	}
	commits := reg.CommitLatency()
	if commits.Count != ops {
		t.Fatalf("%d commits timed, want %d", commits.Count, ops)
	}
	if commits.Sum <= 0 {
		t.Fatalf("commit time sum %v, want > 0", commits.Sum)
	}
	// Each op waited for its ack before the next was sent, so each had an
	// append of its own; the append's time is observed before the session
	// hears of its end, so all five are in.
	if appends := reg.AppendLatency(); appends.Count != ops {
		t.Fatalf("%d appends timed, want %d", appends.Count, ops)
	}
	// An edit made through REST (Submit on the registry) counts too.
	if _, err := reg.Submit(context.Background(), "doc", Edit{Client: "rest", User: collab.UserInfo{ID: "u"}, Base: ops, Delta: ot.Delta{ot.InsertText("z", nil)}}); err != nil {
		t.Fatal(err)
	}
	if got := reg.CommitLatency().Count; got != ops+1 {
		t.Fatalf("after a REST edit %d commits timed, want %d", got, ops+1)
	}
}
