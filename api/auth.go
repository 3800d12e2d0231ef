package api

import (
	"context"
	"net/http"
	"strings"

	"github.com/collabd/collabd/collab"
)

// Verifier turns a credential into the user it belongs to.
type Verifier interface {
	Verify(ctx context.Context, token string) (collab.User, error)
}

// cookieName is the login session cookie of the browser editor.
const cookieName = "collabd_session"

// authenticate identifies the caller by bearer token, access_token query
// parameter or login cookie. A cookie is sent by the browser on its own, so
// a cookie-authenticated request must also come from an allowed origin.
func (a *API) authenticate(r *http.Request) (collab.User, error) {
	token, viaCookie := credential(r)
	if token == "" {
		return collab.User{}, collab.Errorf(collab.Unauthorized, "no credentials: send a bearer token")
	}
	if a.verifier == nil {
		return collab.User{}, collab.Errorf(collab.Unauthorized, "this server accepts no credentials")
	}
	u, err := a.verifier.Verify(r.Context(), token)
	if err != nil {
		return collab.User{}, err
	}
	if viaCookie && !a.cookieOriginOK(r) {
		return collab.User{}, collab.Errorf(collab.Forbidden, "origin %q may not use the login cookie", r.Header.Get("Origin"))
	}
	return u, nil
}

func credential(r *http.Request) (token string, viaCookie bool) {
	if h := r.Header.Get("Authorization"); h != "" {
		if t, ok := strings.CutPrefix(h, "Bearer "); ok {
			return strings.TrimSpace(t), false
		}
		return "", false
	}
	if t := r.URL.Query().Get("access_token"); t != "" {
		return t, false
	}
	if c, err := r.Cookie(cookieName); err == nil && c.Value != "" {
		return c.Value, true
	}
	return "", false
}

// cookieOriginOK guards cookie-authenticated requests against cross-site
// forgery: a request that carries an Origin must come from the server's
// own or an allowed origin, and a state-changing one must carry it.
// Browsers send Origin on every cross-site request, every non-GET request
// and every WebSocket handshake, so a safe request without it is a
// same-origin page load.
func (a *API) cookieOriginOK(r *http.Request) bool {
	if r.Header.Get("Origin") == "" {
		return r.Method == http.MethodGet || r.Method == http.MethodHead
	}
	return a.sameOrAllowedOrigin(r)
}
