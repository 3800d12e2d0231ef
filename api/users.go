package api

import (
	"context"
	"errors"
	"fmt"
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
	u, err := CreateAccount(r.Context(), a.users, req.Username, req.Password, req.Name, a.passwordCost)
	if err != nil {
		writeError(w, r, a.logger, err)
		return
	}
	a.issueLogin(w, r, u, http.StatusCreated)
}

// CreateAccount checks and stores a built-in account: the sign-up route
// and `collabd user create` share it. cost is the bcrypt cost (0 for the
// default).
func CreateAccount(ctx context.Context, users collab.Users, username, password, name string, cost int) (collab.User, error) {
	name = strings.TrimSpace(name)
	switch {
	case !validUsername(username):
		return collab.User{}, collab.Errorf(collab.Invalid, "username must be 2 to 32 letters, digits, '.', '_' or '-'")
	case len(password) < 8 || len(password) > 72:
		// bcrypt reads at most 72 bytes; refuse rather than silently ignore the rest.
		return collab.User{}, collab.Errorf(collab.Invalid, "password must be 8 to 72 bytes long")
	case !utf8.ValidString(name) || utf8.RuneCountInString(name) > 100:
		return collab.User{}, collab.Errorf(collab.Invalid, "name must be at most 100 characters")
	}
	if name == "" {
		name = username
	}
	if cost == 0 {
		cost = bcrypt.DefaultCost
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(password), cost)
	if err != nil {
		return collab.User{}, fmt.Errorf("hash password: %w", err)
	}
	id := collab.UserID(collab.NewID())
	u, err := users.CreateUser(ctx, collab.User{
		ID: id, Username: username, Name: name, Color: collab.ColorFor(id), CreatedAt: time.Now().UTC(),
	}, hash)
	if errors.Is(err, collab.ErrDuplicate) {
		return collab.User{}, collab.Errorf(collab.Duplicate, "username %q is taken", username)
	}
	return u, err
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

// logout clears the login cookie and closes the live connections that the
// caller's login token authenticated (on this process; see
// liveCredentials), not those of the user's other logins or tokens. The
// token is a JWT and stays valid until it expires: there is no server-side
// list of ended logins.
func (a *API) logout(w http.ResponseWriter, r *http.Request) {
	if _, cred, err := a.authenticate(r); err == nil && cred.Kind == LoginToken {
		if n := a.liveCreds.revoke(cred.ID, reasonLoggedOut); n > 0 {
			a.logger.Info("closed the live connections of a logged-out login", "connections", n)
		}
	}
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: r.TLS != nil})
	w.WriteHeader(http.StatusNoContent)
}

func (a *API) me(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, toUserJSON(userFrom(r)))
}
