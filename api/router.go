package api

import (
	"net/http"

	"github.com/go-chi/chi/v5"
)

// Handler returns the router: every route of collabd is listed here.
func (a *API) Handler() http.Handler {
	r := chi.NewRouter()
	r.Get("/healthz", healthz)

	r.Route("/v1", func(r chi.Router) {
		r.Post("/auth/signup", a.signup)
		r.Post("/auth/login", a.login)
		r.Post("/auth/logout", a.logout)

		r.Group(func(r chi.Router) {
			r.Use(a.requireUser)
			r.Get("/me", a.me)

			r.Post("/documents", a.createDocument)
			r.Get("/documents", a.listDocuments)
			r.Get("/documents/{id}", a.getDocument)
			r.Get("/documents/{id}/content", a.getContent)
			r.Get("/documents/{id}/ops", a.listOps)
			r.Post("/documents/{id}/ops", a.submitOp)
		})
		// The live endpoint authenticates itself: its failures must be
		// plain HTTP answers before the upgrade.
		r.Get("/documents/{id}/live", a.serveLive)
	})
	return r
}

// healthz answers while the process is up; readiness (store reachable) is
// /readyz.
func healthz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Write([]byte(`{"status":"ok"}` + "\n"))
}
