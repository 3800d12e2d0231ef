package api_test

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/gorilla/websocket"

	"github.com/collabd/collabd/collab"
)

// joinVia dials the live endpoint with the credential in the query or the
// header (as a browser or a script would send it) and says hello.
func (e *env) joinVia(doc collab.DocumentID, query url.Values, header http.Header, client string) *wsConn {
	e.t.Helper()
	u := "ws" + strings.TrimPrefix(e.srv.URL, "http") + "/v1/documents/" + string(doc) + "/live"
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	d := websocket.Dialer{HandshakeTimeout: 10 * time.Second}
	c, _, err := d.Dial(u, header)
	if err != nil {
		e.t.Fatalf("dial as %s: %v", client, err)
	}
	e.t.Cleanup(func() { c.Close() })
	w := &wsConn{t: e.t, c: c}
	w.send(map[string]any{"type": "hello", "client": client, "version": nil, "protocol": 1})
	if m := w.read(); m["type"] != "welcome" {
		e.t.Fatalf("%s: first message = %v, want welcome", client, m)
	}
	return w
}

func cookieHeader(e *env, loginToken string) http.Header {
	return http.Header{"Cookie": {"collabd_session=" + loginToken}, "Origin": {e.srv.URL}}
}

// closeFrame reads until the server's close frame, within a bounded wait,
// and returns its code and reason.
func (w *wsConn) closeFrame(within time.Duration) (int, string) {
	w.t.Helper()
	w.c.SetReadDeadline(time.Now().Add(within))
	for {
		_, _, err := w.c.ReadMessage()
		if err == nil {
			continue // messages queued before the close
		}
		var ce *websocket.CloseError
		if errors.As(err, &ce) {
			return ce.Code, ce.Text
		}
		w.t.Fatalf("no close frame within %v: %v", within, err)
	}
}

// editAcked submits an insert (based on version 0, so the session
// transforms it past anything newer) and waits for its ack: the connection
// still edits.
func (w *wsConn) editAcked(seq int) {
	w.t.Helper()
	w.send(map[string]any{"type": "op", "seq": seq, "version": 0, "delta": []any{map[string]any{"insert": "x"}}})
	for {
		m := w.read()
		switch {
		case m["type"] == "op":
			continue // another client's edit
		case m["type"] == "ack" && m["seq"] == float64(seq):
			return
		default:
			w.t.Fatalf("got %v, want the ack of seq %d", m, seq)
		}
	}
}

func (e *env) personalToken(loginToken string) (id, secret string) {
	e.t.Helper()
	var created struct{ ID, Token string }
	status, body := e.call("POST", "/v1/me/tokens", loginToken, map[string]string{"name": "script"}, &created)
	expect(e.t, "create token", status, body, http.StatusCreated, "")
	return created.ID, created.Token
}

// TestLiveConnectionsCloseWhenTheirCredentialExpires: a login token checked
// at the handshake ends the connection when it expires, whether it came as
// a bearer token, the login cookie or the access_token parameter; a
// connection with a credential that does not expire stays.
func TestLiveConnectionsCloseWhenTheirCredentialExpires(t *testing.T) {
	e := newEnv(t, func(c *testConfig) {
		c.tokens.TTL = 3 * time.Second
		c.tokens.Leeway = -1 // none: close at exp itself
	})
	alice, loginToken := e.user("alice")
	doc := e.document(alice, "hi")
	var claims jwt.RegisteredClaims
	if _, _, err := jwt.NewParser().ParseUnverified(loginToken, &claims); err != nil {
		t.Fatal(err)
	}
	exp := claims.ExpiresAt.Time
	_, personal := e.personalToken(loginToken)

	expiring := map[string]*wsConn{
		"bearer":       e.joinVia(doc, nil, http.Header{"Authorization": {"Bearer " + loginToken}}, "bearer"),
		"cookie":       e.joinVia(doc, nil, cookieHeader(e, loginToken), "cookie"),
		"access_token": e.joinVia(doc, url.Values{"access_token": {loginToken}}, nil, "access_token"),
	}
	stays := e.joinVia(doc, nil, http.Header{"Authorization": {"Bearer " + personal}}, "personal")
	if time.Now().After(exp) {
		t.Fatal("the token expired before the connections were open; raise its TTL")
	}
	for via, w := range expiring {
		code, reason := w.closeFrame(10 * time.Second)
		if code != collab.ClosePolicy || reason != "auth expired" {
			t.Fatalf("via %s: closed with %d %q, want 1008 \"auth expired\"", via, code, reason)
		}
		if time.Now().Before(exp) {
			t.Fatalf("via %s: closed before the token's expiry %v", via, exp)
		}
	}
	stays.editAcked(1)
}

// TestDeletingATokenClosesItsLiveConnections: deleting a personal token
// closes the connections it opened at once; another user's connection to
// the same document, and the owner's connection by another credential,
// go on editing.
func TestDeletingATokenClosesItsLiveConnections(t *testing.T) {
	e := newEnv(t)
	alice, bob := e.signup("alice"), e.signup("bob")
	var d docAnswer
	status, body := e.call("POST", "/v1/documents", alice.Token, map[string]any{"text": "abc"}, &d)
	expect(t, "create", status, body, http.StatusCreated, "")
	e.call("PUT", "/v1/documents/"+d.ID+"/members/bob", alice.Token, map[string]string{"role": "editor"}, nil)
	doc := collab.DocumentID(d.ID)
	tokenID, secret := e.personalToken(alice.Token)

	script := e.joinVia(doc, nil, http.Header{"Authorization": {"Bearer " + secret}}, "script")
	scriptByQuery := e.joinVia(doc, url.Values{"access_token": {secret}}, nil, "script-query")
	aliceLogin := e.joinVia(doc, nil, http.Header{"Authorization": {"Bearer " + alice.Token}}, "alice")
	bobLogin := e.joinVia(doc, nil, http.Header{"Authorization": {"Bearer " + bob.Token}}, "bob")

	status, body = e.call("DELETE", "/v1/me/tokens/"+tokenID, alice.Token, nil, nil)
	expect(t, "revoke", status, body, http.StatusNoContent, "")
	for _, w := range []*wsConn{script, scriptByQuery} {
		if code, reason := w.closeFrame(5 * time.Second); code != collab.ClosePolicy || reason != "credential revoked" {
			t.Fatalf("connection of the deleted token closed with %d %q, want 1008 \"credential revoked\"", code, reason)
		}
	}
	bobLogin.editAcked(1)
	aliceLogin.editAcked(1)
}

// TestLogoutClosesThatLoginsLiveConnections: logging out closes the
// connections opened with that login's token (by cookie or otherwise),
// and not those of the same user's other login or personal token.
func TestLogoutClosesThatLoginsLiveConnections(t *testing.T) {
	e := newEnv(t)
	alice := e.signup("alice")
	var second authAnswer
	status, body := e.call("POST", "/v1/auth/login", "", map[string]string{"username": "alice", "password": "correct horse"}, &second)
	expect(t, "login", status, body, http.StatusOK, "")
	if second.Token == alice.Token {
		t.Fatal("two logins got the same token: a logout could not tell them apart")
	}
	var d docAnswer
	e.call("POST", "/v1/documents", alice.Token, map[string]any{"text": "abc"}, &d)
	doc := collab.DocumentID(d.ID)
	_, personal := e.personalToken(alice.Token)

	byCookie := e.joinVia(doc, nil, cookieHeader(e, second.Token), "tab")
	byBearer := e.joinVia(doc, nil, http.Header{"Authorization": {"Bearer " + second.Token}}, "same-login")
	otherLogin := e.joinVia(doc, nil, cookieHeader(e, alice.Token), "other-tab")
	script := e.joinVia(doc, nil, http.Header{"Authorization": {"Bearer " + personal}}, "script")

	req, err := http.NewRequest("POST", e.srv.URL+"/v1/auth/logout", nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range cookieHeader(e, second.Token) {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("logout: %d", resp.StatusCode)
	}
	for _, w := range []*wsConn{byCookie, byBearer} {
		code, reason := w.closeFrame(5 * time.Second)
		if code != collab.ClosePolicy || !strings.HasPrefix(reason, "credential revoked") {
			t.Fatalf("connection of the logged-out login closed with %d %q, want 1008 \"credential revoked…\"", code, reason)
		}
	}
	otherLogin.editAcked(1)
	script.editAcked(1)
}
