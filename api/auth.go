package api

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/collabd/collabd/collab"
)

// Verifier turns a credential into the user it belongs to, and says which
// credential it was and until when it holds.
type Verifier interface {
	Verify(ctx context.Context, token string) (collab.User, Credential, error)
}

// Credential is what authenticated a request. A live connection keeps it
// to close itself when the credential expires or is revoked.
type Credential struct {
	Kind CredentialKind
	// ID names this one credential, unique over kinds: "pat:" and the
	// personal token's id, or "jwt:", the JWT's issuer and its jti (a hash
	// of the token when it has no jti).
	ID CredentialID
	// Expires is when Verify stops accepting the credential (leeway
	// included); zero if it does not expire.
	Expires time.Time
}

// CredentialID names a credential; see Credential.ID.
type CredentialID string

// CredentialKind tells the credentials apart: a logout ends a login token,
// deleting a personal token ends that token.
type CredentialKind uint8

const (
	LoginToken    CredentialKind = iota + 1 // signed by this server at sign-up or log-in (also the cookie)
	PersonalToken                           // a personal API token ("cdp_…")
	AppToken                                // a JWT from a trusted external issuer
)

// cookieName is the login session cookie of the browser editor.
const cookieName = "collabd_session"

// authenticate identifies the caller by bearer token, access_token query
// parameter or login cookie. A cookie is sent by the browser on its own, so
// a cookie-authenticated request must also come from an allowed origin.
func (a *API) authenticate(r *http.Request) (collab.User, Credential, error) {
	token, viaCookie := credential(r)
	if token == "" {
		return collab.User{}, Credential{}, collab.Errorf(collab.Unauthorized, "no credentials: send a bearer token")
	}
	if a.verifier == nil {
		return collab.User{}, Credential{}, collab.Errorf(collab.Unauthorized, "this server accepts no credentials")
	}
	u, cred, err := a.verifier.Verify(r.Context(), token)
	if err != nil {
		return collab.User{}, Credential{}, err
	}
	if viaCookie && !a.cookieOriginOK(r) {
		return collab.User{}, Credential{}, collab.Errorf(collab.Forbidden, "origin %q may not use the login cookie", r.Header.Get("Origin"))
	}
	return u, cred, nil
}

func credential(r *http.Request) (token string, viaCookie bool) {
	if h := r.Header.Get("Authorization"); h != "" {
		// The scheme is case-insensitive (RFC 9110 11.1): "bearer" and
		// "BEARER" are Bearer too.
		if scheme, t, ok := strings.Cut(h, " "); ok && strings.EqualFold(scheme, "Bearer") {
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
