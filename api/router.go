package api

import (
	"net/http"

	"github.com/go-chi/chi/v5"
)

// Handler returns the router: every route of collabd is listed here.
func (a *API) Handler() http.Handler {
	r := chi.NewRouter()
	r.Use(requestID, a.observe, a.recoverPanics)
	r.Get("/healthz", healthz)
	r.Get("/readyz", a.readyz)
	r.Method(http.MethodGet, "/metrics", a.metrics.handler())
	if a.static != nil {
		// The browser editor: its pages all answer index.html (it routes
		// itself in the browser), its assets are content-hashed files.
		for _, page := range []string{"/", "/login", "/signup", "/d/{id}"} {
			r.Get(page, a.serveIndex)
			r.Head(page, a.serveIndex)
		}
		r.Get("/assets/*", a.serveAsset)
		r.Head("/assets/*", a.serveAsset)
	}

	r.Route("/v1", func(r chi.Router) {
		r.Get("/openapi.json", a.openapi)
		// The live endpoint authenticates itself (its failures must be plain
		// HTTP answers before the upgrade) and has no request timeout.
		r.With(a.limitByIP).Get("/documents/{id}/live", a.serveLive)

		r.Group(func(r chi.Router) {
			r.Use(a.timeoutRequests)
			r.Group(func(r chi.Router) {
				r.Use(a.limitByIP)
				r.Post("/auth/signup", a.signup)
				r.Post("/auth/login", a.login)
				r.Post("/auth/logout", a.logout)
			})
			r.Group(func(r chi.Router) {
				r.Use(a.requireUser, a.limitByUser)
				r.Get("/me", a.me)
				r.Post("/me/tokens", a.createToken)
				r.Get("/me/tokens", a.listTokens)
				r.Delete("/me/tokens/{token}", a.revokeToken)

				r.Post("/documents", a.createDocument)
				r.Get("/documents", a.listDocuments)
				r.Get("/documents/{id}", a.getDocument)
				r.Patch("/documents/{id}", a.renameDocument)
				r.Delete("/documents/{id}", a.deleteDocument)
				r.Get("/documents/{id}/content", a.getContent)
				r.Get("/documents/{id}/ops", a.listOps)
				r.Post("/documents/{id}/ops", a.submitOp)
				r.Post("/documents/{id}/restore", a.restore)
				r.Get("/documents/{id}/members", a.listMembers)
				r.Put("/documents/{id}/members/{user}", a.setMember)
				r.Delete("/documents/{id}/members/{user}", a.removeMember)
			})
		})
	})
	r.NotFound(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, r, a.logger, errNoRoute)
	})
	r.MethodNotAllowed(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, r, a.logger, errNoMethod)
	})
	return r
}

// healthz answers while the process is up; readiness (store reachable) is
// /readyz.
func healthz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Write([]byte(`{"status":"ok"}` + "\n"))
}
