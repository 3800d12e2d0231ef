package api

import (
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/go-chi/chi/v5"

	"github.com/collabd/collabd/collab"
)

type tokenJSON struct {
	ID        string     `json:"id"`
	Name      string     `json:"name"`
	Token     string     `json:"token,omitempty"` // only when created
	CreatedAt time.Time  `json:"created_at"`
	LastUsed  *time.Time `json:"last_used,omitempty"`
}

type createTokenRequest struct {
	Name string `json:"name"`
}

// createToken makes a personal API token; its secret is in this answer
// only, the store keeps a hash.
func (a *API) createToken(w http.ResponseWriter, r *http.Request) {
	var req createTokenRequest
	if err := decodeJSON(w, r, maxBody, &req); err != nil {
		writeError(w, r, a.logger, err)
		return
	}
	req.Name = strings.TrimSpace(req.Name)
	if req.Name == "" || utf8.RuneCountInString(req.Name) > 100 || !utf8.ValidString(req.Name) {
		writeError(w, r, a.logger, collab.Errorf(collab.Invalid, "name the token (1 to 100 characters)"))
		return
	}
	secret, hash := NewPersonalToken()
	t := collab.Token{ID: collab.NewID(), User: userFrom(r).ID, Name: req.Name, Hash: hash, CreatedAt: time.Now().UTC()}
	if err := a.users.CreateToken(r.Context(), t); err != nil {
		writeError(w, r, a.logger, err)
		return
	}
	writeJSON(w, http.StatusCreated, tokenJSON{ID: t.ID, Name: t.Name, Token: secret, CreatedAt: t.CreatedAt})
}

func (a *API) listTokens(w http.ResponseWriter, r *http.Request) {
	tokens, err := a.users.Tokens(r.Context(), userFrom(r).ID)
	if err != nil {
		writeError(w, r, a.logger, err)
		return
	}
	out := listJSON[tokenJSON]{Items: make([]tokenJSON, 0, len(tokens))}
	for _, t := range tokens {
		j := tokenJSON{ID: t.ID, Name: t.Name, CreatedAt: t.CreatedAt}
		if !t.LastUsed.IsZero() {
			used := t.LastUsed
			j.LastUsed = &used
		}
		out.Items = append(out.Items, j)
	}
	writeJSON(w, http.StatusOK, out)
}

// revokeToken deletes a personal API token and closes the live connections
// it authenticated (on this process; see liveCredentials).
func (a *API) revokeToken(w http.ResponseWriter, r *http.Request) {
	id := chi.URLParam(r, "token")
	if err := a.users.RevokeToken(r.Context(), userFrom(r).ID, id); err != nil {
		writeError(w, r, a.logger, err)
		return
	}
	if n := a.liveCreds.revoke(personalCredentialID(id), reasonCredentialRevoked); n > 0 {
		a.logger.Info("closed the live connections of a revoked token", "token", id, "connections", n)
	}
	w.WriteHeader(http.StatusNoContent)
}

// readyz answers 200 when the store is reachable and migrated.
func (a *API) readyz(w http.ResponseWriter, r *http.Request) {
	if a.ready != nil {
		if err := a.ready(r.Context()); err != nil {
			a.logger.Warn("not ready", "err", err)
			writeError(w, r, a.logger, collab.Errorf(collab.Unavailable, "the store is not reachable"))
			return
		}
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}
