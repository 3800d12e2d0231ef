package api

import (
	"log/slog"
	"net/http"

	"github.com/go-chi/chi/v5"
)

// Config is what the HTTP surface needs from the process that wires it.
type Config struct {
	Logger *slog.Logger
}

// NewRouter returns the handler serving every route of collabd.
func NewRouter(c Config) http.Handler {
	r := chi.NewRouter()
	r.Get("/healthz", healthz)
	return r
}

// healthz answers while the process is up; readiness (store reachable) is
// /readyz.
func healthz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Write([]byte(`{"status":"ok"}` + "\n"))
}
