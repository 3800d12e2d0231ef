package main

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

const metricsPage = `# HELP collabd_edit_commit_seconds Time from ...
# TYPE collabd_edit_commit_seconds histogram
collabd_edit_commit_seconds_bucket{le="0.001"} %d
collabd_edit_commit_seconds_bucket{le="0.002"} %d
collabd_edit_commit_seconds_bucket{le="0.005"} %d
collabd_edit_commit_seconds_bucket{le="+Inf"} %d
collabd_edit_commit_seconds_sum 1.5
collabd_edit_commit_seconds_count %d
collabd_edits_committed_total 100
collabd_store_append_seconds_bucket{le="0.001"} 0
collabd_store_append_seconds_bucket{le="+Inf"} 0
`

func page(counts ...int) string {
	args := make([]any, len(counts))
	for i, c := range counts {
		args[i] = c
	}
	return fmt.Sprintf(metricsPage, args...)
}

func TestScrapeHistograms(t *testing.T) {
	before, err := scrapeHistograms(strings.NewReader(page(10, 10, 10, 10, 10)), commitMetric, appendMetric)
	if err != nil {
		t.Fatal(err)
	}
	// 100 more: 50 under 1 ms, 40 in (1, 2] ms, 9 in (2, 5] ms, 1 over.
	after, err := scrapeHistograms(strings.NewReader(page(60, 100, 109, 110, 110)), commitMetric, appendMetric)
	if err != nil {
		t.Fatal(err)
	}
	if h := after[appendMetric]; h == nil || len(h.bounds) != 2 || h.count() != 0 {
		t.Fatalf("append histogram = %+v, want two empty buckets", h)
	}
	d, err := after[commitMetric].since(before[commitMetric])
	if err != nil {
		t.Fatal(err)
	}
	if d.count() != 100 {
		t.Fatalf("count %g, want 100", d.count())
	}
	for _, c := range []struct {
		q    float64
		want time.Duration
	}{
		{.25, 500 * time.Microsecond}, // halfway through the first bucket
		{.5, time.Millisecond},        // its top
		{.7, 1500 * time.Microsecond}, // halfway through (1, 2]
		{.99, 5 * time.Millisecond},   // the top of (2, 5]
		{.995, 5 * time.Millisecond},  // over the last finite bound: that bound
		{0, 0},
	} {
		if got := d.quantile(c.q); (got - c.want).Abs() > time.Microsecond {
			t.Errorf("q%g = %v, want %v", c.q, got, c.want)
		}
	}
	if empty := after[appendMetric]; empty.quantile(.99) != 0 {
		t.Errorf("quantile of nothing = %v, want 0", empty.quantile(.99))
	}
}

func TestScrapeHistogramsRefusesNonsense(t *testing.T) {
	for name, text := range map[string]string{
		"bound":    `collabd_edit_commit_seconds_bucket{le="soon"} 1`,
		"count":    `collabd_edit_commit_seconds_bucket{le="0.1"} many`,
		"order":    "collabd_edit_commit_seconds_bucket{le=\"0.1\"} 1\ncollabd_edit_commit_seconds_bucket{le=\"0.05\"} 1",
		"no close": `collabd_edit_commit_seconds_bucket{le="0.1 1`,
	} {
		if _, err := scrapeHistograms(strings.NewReader(text), commitMetric); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}
