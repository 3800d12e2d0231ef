package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// The server times each commit and each op log append in histograms on
// /metrics. Read at both ends of the measured window, they say how much
// of the delivery latency the server spent committing, and how much of
// that waited on the database.

// promHistogram is one Prometheus histogram as scraped: cumulative counts by
// upper bound, in increasing order of bound.
type promHistogram struct {
	bounds []float64 // seconds; the last is +Inf
	counts []float64
}

// scrapeHistograms reads the named histograms from a /metrics page.
func scrapeHistograms(r io.Reader, names ...string) (map[string]*promHistogram, error) {
	out := map[string]*promHistogram{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		for _, name := range names {
			rest, ok := strings.CutPrefix(line, name+`_bucket{le="`)
			if !ok {
				continue
			}
			le, count, ok := strings.Cut(rest, `"} `)
			if !ok {
				return nil, fmt.Errorf("metrics: cannot read %q", line)
			}
			bound, err := strconv.ParseFloat(le, 64) // "+Inf" parses as +Inf
			if err != nil {
				return nil, fmt.Errorf("metrics: bucket bound in %q: %w", line, err)
			}
			n, err := strconv.ParseFloat(count, 64)
			if err != nil {
				return nil, fmt.Errorf("metrics: bucket count in %q: %w", line, err)
			}
			h := out[name]
			if h == nil {
				h = &promHistogram{}
				out[name] = h
			}
			if len(h.bounds) > 0 && bound <= h.bounds[len(h.bounds)-1] {
				return nil, fmt.Errorf("metrics: %s buckets out of order at %q", name, line)
			}
			h.bounds = append(h.bounds, bound)
			h.counts = append(h.counts, n)
		}
	}
	return out, sc.Err()
}

// since is what was observed between an earlier scrape and h.
func (h *promHistogram) since(earlier *promHistogram) (*promHistogram, error) {
	if len(earlier.bounds) != len(h.bounds) {
		return nil, fmt.Errorf("metrics: buckets changed between scrapes")
	}
	d := &promHistogram{bounds: h.bounds, counts: make([]float64, len(h.counts))}
	for i := range h.counts {
		d.counts[i] = h.counts[i] - earlier.counts[i]
	}
	return d, nil
}

func (h *promHistogram) count() float64 { return h.counts[len(h.counts)-1] }

// quantile estimates the q-quantile as Prometheus's histogram_quantile
// does: linearly within the bucket it falls in. Past the last finite
// bound it answers that bound.
func (h *promHistogram) quantile(q float64) time.Duration {
	total := h.count()
	if total == 0 {
		return 0
	}
	rank := q * total
	lower, below := 0.0, 0.0
	for i, c := range h.counts {
		if c >= rank {
			if math.IsInf(h.bounds[i], 1) {
				return seconds(lower)
			}
			frac := 1.0
			if in := c - below; in > 0 {
				frac = (rank - below) / in
			}
			return seconds(lower + (h.bounds[i]-lower)*frac)
		}
		lower, below = h.bounds[i], c
	}
	return seconds(lower)
}

func seconds(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

const (
	commitMetric = "collabd_edit_commit_seconds"
	appendMetric = "collabd_store_append_seconds"
)

// ServerLatency is the server's own timing of the measured window, from
// its metrics: estimates within histogram buckets.
type ServerLatency struct {
	Commits     int64   `json:"commits"`
	CommitP50Ms float64 `json:"commit_p50_ms"`
	CommitP99Ms float64 `json:"commit_p99_ms"`
	Appends     int64   `json:"appends"`
	AppendP50Ms float64 `json:"append_p50_ms"`
	AppendP99Ms float64 `json:"append_p99_ms"`
}

// scrapeServer reads the commit and append histograms from the server.
func scrapeServer(ctx context.Context, server string) (map[string]*promHistogram, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(server, "/")+"/metrics", nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET /metrics: %s", resp.Status)
	}
	hs, err := scrapeHistograms(resp.Body, commitMetric, appendMetric)
	if err != nil {
		return nil, err
	}
	if hs[commitMetric] == nil || hs[appendMetric] == nil {
		return nil, fmt.Errorf("GET /metrics: no %s or %s (an older server?)", commitMetric, appendMetric)
	}
	return hs, nil
}

// serverLatency is what the server timed between two scrapes.
func serverLatency(before, after map[string]*promHistogram) (*ServerLatency, error) {
	commits, err := after[commitMetric].since(before[commitMetric])
	if err != nil {
		return nil, err
	}
	appends, err := after[appendMetric].since(before[appendMetric])
	if err != nil {
		return nil, err
	}
	ms := func(d time.Duration) float64 { return round3(float64(d) / float64(time.Millisecond)) }
	return &ServerLatency{
		Commits: int64(commits.count()), CommitP50Ms: ms(commits.quantile(.5)), CommitP99Ms: ms(commits.quantile(.99)),
		Appends: int64(appends.count()), AppendP50Ms: ms(appends.quantile(.5)), AppendP99Ms: ms(appends.quantile(.99)),
	}, nil
}
