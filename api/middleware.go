package api

import (
	"context"
	"errors"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/go-chi/chi/v5/middleware"

	"github.com/collabd/collabd/collab"
)

type ctxKey int

const userKey ctxKey = iota

// requireUser authenticates every request it guards and puts the user in
// the request's context. A request whose authentication fails (no, bad or
// expired credentials) has no user to be limited by, so it is limited per
// client IP, as requests without credentials are: guessing tokens is
// throttled too.
func (a *API) requireUser(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, _, err := a.authenticate(r)
		if err != nil {
			if ok, wait := a.ipLimit.take(clientIP(r), time.Now()); !ok {
				a.refuse(w, r, wait)
				return
			}
			writeError(w, r, a.logger, err)
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), userKey, u)))
	})
}

// timeoutRequests bounds a request by the configured timeout (30 s), as
// chi's middleware.Timeout does, but a handler that returns without an
// answer when the deadline passed gets 504 with the error shape (code
// timeout) rather than an empty body. A handler that answered already
// keeps its answer.
func (a *API) timeoutRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), a.timeout)
		defer cancel()
		r = r.WithContext(ctx)
		ww := middleware.NewWrapResponseWriter(w, r.ProtoMajor)
		next.ServeHTTP(ww, r)
		if ww.Status() == 0 && errors.Is(ctx.Err(), context.DeadlineExceeded) {
			writeError(ww, r, a.logger, errTimeout)
		}
	})
}

// userFrom returns the user requireUser authenticated.
func userFrom(r *http.Request) collab.User {
	u, _ := r.Context().Value(userKey).(collab.User)
	return u
}

// clientIP is the peer address of a request (proxies are not trusted).
func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// failureLimiter throttles brute force: a key (IP and username) with max
// failures within window is refused until the window has passed.
type failureLimiter struct {
	max    int
	window time.Duration

	mu       sync.Mutex // guards failures
	failures map[string][]time.Time
}

func newFailureLimiter(max int, window time.Duration) *failureLimiter {
	return &failureLimiter{max: max, window: window, failures: map[string][]time.Time{}}
}

func (l *failureLimiter) recent(key string, now time.Time) []time.Time {
	kept := l.failures[key][:0]
	for _, t := range l.failures[key] {
		if now.Sub(t) < l.window {
			kept = append(kept, t)
		}
	}
	if len(kept) == 0 {
		delete(l.failures, key)
		return nil
	}
	l.failures[key] = kept
	return kept
}

func (l *failureLimiter) allow(key string, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.recent(key, now)) < l.max
}

func (l *failureLimiter) fail(key string, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.failures) > 100_000 {
		// Bound memory under a distributed attack: forget the oldest state.
		clear(l.failures)
	}
	l.failures[key] = append(l.recent(key, now), now)
}

func (l *failureLimiter) reset(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.failures, key)
}
