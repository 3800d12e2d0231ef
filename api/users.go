package api

import (
	"errors"
	"net/http"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/crypto/bcrypt"

	"github.com/collabd/collabd/collab"
)

type signupRequest struct {
	Username string `json:"username"`
	Password string `json:"password"`
	Name     string `json:"name"`
}

type authResponse struct {
	User  userJSON `json:"user"`
	Token string   `json:"token"`
}

// validUsername: 2 to 32 letters, digits, '.', '_' or '-': safe in URLs
// (members are addressed by username) and unambiguous to read.
func validUsername(s string) bool {
	if n := utf8.RuneCountInString(s); n < 2 || n > 32 {
		return false
	}
	for _, r := range s {
		if !(unicode.IsLetter(r) || unicode.IsDigit(r) || r == '.' || r == '_' || r == '-') {
			return false
		}
	}
	return true
}

func (a *API) signup(w http.ResponseWriter, r *http.Request) {
	if !a.openSignup {
		writeError(w, r, a.logger, collab.Errorf(collab.Forbidden, "sign-up is closed on this server"))
		return
	}
	var req signupRequest
	if err := decodeJSON(w, r, maxBody, &req); err != nil {
		writeError(w, r, a.logger, err)
		return
	}
	req.Name = strings.TrimSpace(req.Name)
	switch {
	case !validUsername(req.Username):
		writeError(w, r, a.logger, collab.Errorf(collab.Invalid, "username must be 2 to 32 letters, digits, '.', '_' or '-'"))
		return
	case len(req.Password) < 8 || len(req.Password) > 72:
		// bcrypt reads at most 72 bytes; refuse rather than silently ignore the rest.
		writeError(w, r, a.logger, collab.Errorf(collab.Invalid, "password must be 8 to 72 bytes long"))
		return
	case !utf8.ValidString(req.Name) || utf8.RuneCountInString(req.Name) > 100:
		writeError(w, r, a.logger, collab.Errorf(collab.Invalid, "name must be at most 100 characters"))
		return
	}
	if req.Name == "" {
		req.Name = req.Username
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(req.Password), a.passwordCost)
	if err != nil {
		writeError(w, r, a.logger, err)
		return
	}
	id := collab.UserID(collab.NewID())
	u, err := a.users.CreateUser(r.Context(), collab.User{
		ID: id, Username: req.Username, Name: req.Name, Color: collab.ColorFor(id), CreatedAt: time.Now().UTC(),
	}, hash)
	if errors.Is(err, collab.ErrDuplicate) {
		writeError(w, r, a.logger, collab.Errorf(collab.Duplicate, "username %q is taken", req.Username))
		return
	}
	if err != nil {
		writeError(w, r, a.logger, err)
		return
	}
	a.issueLogin(w, r, u, http.StatusCreated)
}

type loginRequest struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

func (a *API) login(w http.ResponseWriter, r *http.Request) {
	var req loginRequest
	if err := decodeJSON(w, r, maxBody, &req); err != nil {
		writeError(w, r, a.logger, err)
		return
	}
	key := clientIP(r) + "\x00" + strings.ToLower(req.Username)
	if !a.loginLimiter.allow(key, time.Now()) {
		writeError(w, r, a.logger, collab.Errorf(collab.RateLimited, "too many failed log-ins; wait a minute"))
		return
	}
	bad := collab.Errorf(collab.Unauthorized, "wrong username or password")
	u, hash, err := a.users.UserByUsername(r.Context(), req.Username)
	if errors.Is(err, collab.ErrNotFound) || (err == nil && hash == nil) {
		// Spend the same time as a wrong password, so a probe can't tell
		// which usernames exist.
		bcrypt.CompareHashAndPassword(a.dummyHash, []byte(req.Password))
		a.loginLimiter.fail(key, time.Now())
		writeError(w, r, a.logger, bad)
		return
	}
	if err != nil {
		writeError(w, r, a.logger, err)
		return
	}
	if bcrypt.CompareHashAndPassword(hash, []byte(req.Password)) != nil {
		a.loginLimiter.fail(key, time.Now())
		writeError(w, r, a.logger, bad)
		return
	}
	a.loginLimiter.reset(key)
	a.issueLogin(w, r, u, http.StatusOK)
}

// issueLogin answers with the user and a token, and sets the token as the
// browser's login cookie.
func (a *API) issueLogin(w http.ResponseWriter, r *http.Request, u collab.User, status int) {
	token, exp, err := a.tokens.Mint(u)
	if err != nil {
		writeError(w, r, a.logger, err)
		return
	}
	http.SetCookie(w, &http.Cookie{
		Name: cookieName, Value: token, Path: "/", Expires: exp,
		HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: r.TLS != nil,
	})
	writeJSON(w, status, authResponse{User: toUserJSON(u), Token: token})
}

func (a *API) logout(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: r.TLS != nil})
	w.WriteHeader(http.StatusNoContent)
}

func (a *API) me(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, toUserJSON(userFrom(r)))
}
