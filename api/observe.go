package api

import (
	"math"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/collabd/collabd/collab"
	"github.com/collabd/collabd/session"
)

// metrics are the server's Prometheus metrics, on a registry of the API's
// own (so tests can build many APIs).
type metrics struct {
	registry *prometheus.Registry
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	live     prometheus.Gauge
}

func newMetrics(a *API) *metrics {
	m := &metrics{
		registry: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "collabd_http_requests_total", Help: "HTTP requests by route pattern, method and status.",
		}, []string{"route", "method", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "collabd_http_request_duration_seconds", Help: "HTTP request latency by route pattern.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"route"}),
		live: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "collabd_live_connections", Help: "Open live WebSocket connections.",
		}),
	}
	m.registry.MustRegister(m.requests, m.latency, m.live,
		prometheus.NewGoCollector(), prometheus.NewProcessCollector(prometheus.ProcessCollectorOpts{}))
	if a.sessions != nil {
		m.registry.MustRegister(
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "collabd_sessions_open", Help: "Documents open in a live session."},
				func() float64 { return float64(a.sessions.Len()) }),
			prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "collabd_edits_committed_total", Help: "Edits committed through live sessions."},
				func() float64 { return float64(a.sessions.Committed()) }),
			latencyCollector("collabd_store_append_seconds",
				"Time of each append to the op log: one per batch of a session's edits, the store's group commit included.",
				a.sessions.AppendLatency),
			latencyCollector("collabd_edit_commit_seconds",
				"Time from an edit (live or REST) reaching its document's session to its commit, when it is acknowledged and broadcast.",
				a.sessions.CommitLatency),
		)
	}
	return m
}

// latencyCollector exposes a session.Latency as a Prometheus histogram.
// The sessions keep the counts themselves (package session knows nothing
// of Prometheus); a scrape reads them.
func latencyCollector(name, help string, read func() session.LatencySnapshot) prometheus.Collector {
	return &latencyExport{desc: prometheus.NewDesc(name, help, nil, nil), read: read}
}

type latencyExport struct {
	desc *prometheus.Desc
	read func() session.LatencySnapshot
}

func (l *latencyExport) Describe(ch chan<- *prometheus.Desc) { ch <- l.desc }

func (l *latencyExport) Collect(ch chan<- prometheus.Metric) {
	snap := l.read()
	buckets := make(map[float64]uint64, len(session.LatencyBounds))
	for i, bound := range session.LatencyBounds {
		buckets[bound] = snap.Cumulative[i]
	}
	ch <- prometheus.MustNewConstHistogram(l.desc, snap.Count, snap.Sum.Seconds(), buckets)
}

func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{})
}

// observe logs each request (never its query string, which may carry an
// access token) and counts it by route pattern.
func (a *API) observe(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		ww := middleware.NewWrapResponseWriter(w, r.ProtoMajor)
		next.ServeHTTP(ww, r)
		route := chi.RouteContext(r.Context()).RoutePattern()
		if route == "" {
			route = "unmatched"
		}
		took := time.Since(start)
		status := ww.Status()
		if status == 0 {
			status = http.StatusSwitchingProtocols // hijacked for a WebSocket
		}
		a.metrics.requests.WithLabelValues(route, r.Method, strconv.Itoa(status)).Inc()
		a.metrics.latency.WithLabelValues(route).Observe(took.Seconds())
		if route == "/healthz" || route == "/readyz" || route == "/metrics" {
			return
		}
		a.logger.Info("request", "id", middleware.GetReqID(r.Context()), "method", r.Method, "path", r.URL.Path,
			"route", route, "status", status, "bytes", ww.BytesWritten(), "took", took, "ip", clientIP(r))
	})
}

// recoverPanics turns a handler's panic into a logged internal error, so
// one bad request never takes the server down.
func (a *API) recoverPanics(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				a.logger.Error("panic in handler", "path", r.URL.Path, "panic", p, "id", middleware.GetReqID(r.Context()))
				writeError(w, r, a.logger, collab.Errorf(collab.Internal, "panic: %v", p))
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// requestID gives each request an id, echoed in X-Request-Id and the log.
func requestID(next http.Handler) http.Handler {
	return middleware.RequestID(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Request-Id", middleware.GetReqID(r.Context()))
		next.ServeHTTP(w, r)
	}))
}

// rateLimiter is a token bucket per key (a user id, or an IP for requests
// without credentials).
type rateLimiter struct {
	rate  float64
	burst int

	mu      sync.Mutex // guards buckets
	buckets map[string]*tokenBucket
}

func newRateLimiter(rate float64, burst int) *rateLimiter {
	return &rateLimiter{rate: rate, burst: burst, buckets: map[string]*tokenBucket{}}
}

func (l *rateLimiter) allow(key string, now time.Time) bool {
	ok, _ := l.take(key, now)
	return ok
}

// take is allow that also says, when it refuses, how long until the key's
// bucket holds a token again.
func (l *rateLimiter) take(key string, now time.Time) (ok bool, wait time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.buckets[key]
	if !ok {
		if len(l.buckets) >= 100_000 {
			// Forget buckets that have refilled: they limit nothing.
			for k, old := range l.buckets {
				if now.Sub(old.last).Seconds()*l.rate >= float64(l.burst) {
					delete(l.buckets, k)
				}
			}
		}
		nb := newTokenBucket(l.rate, l.burst)
		b = &nb
		l.buckets[key] = b
	}
	if b.take(now) {
		return true, 0
	}
	return false, time.Duration((1 - b.tokens) / l.rate * float64(time.Second))
}

// refuse answers 429 rate_limited with Retry-After: the whole seconds
// until the bucket refills a token (at least 1), so a client that honours
// it is let in on its next try, whatever the configured rate.
func (a *API) refuse(w http.ResponseWriter, r *http.Request, wait time.Duration) {
	secs := max(1, int64(math.Ceil(wait.Seconds())))
	w.Header().Set("Retry-After", strconv.FormatInt(secs, 10))
	writeError(w, r, a.logger, collab.Errorf(collab.RateLimited, "too many requests; slow down"))
}

// limitByIP limits requests per client IP.
func (a *API) limitByIP(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if ok, wait := a.ipLimit.take(clientIP(r), time.Now()); !ok {
			a.refuse(w, r, wait)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// limitByUser limits requests per authenticated user (after requireUser).
func (a *API) limitByUser(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if ok, wait := a.userLimit.take(string(userFrom(r).ID), time.Now()); !ok {
			a.refuse(w, r, wait)
			return
		}
		next.ServeHTTP(w, r)
	})
}
