package api_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/collabd/collabd/collab"
	"github.com/collabd/collabd/collab/client"
	"github.com/collabd/collabd/ot"
)

// call makes a REST request and decodes a JSON answer into out (if not
// nil), returning the status and the raw body.
func (e *env) call(method, path, token string, body any, out any) (int, string) {
	e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, e.srv.URL+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if out != nil && resp.StatusCode < 300 {
		if err := json.Unmarshal(raw, out); err != nil {
			e.t.Fatalf("%s %s: answer %s: %v", method, path, raw, err)
		}
	}
	return resp.StatusCode, string(raw)
}

// expect checks a status and, for errors, the error code in the one shape.
func expect(t testing.TB, what string, status int, body string, wantStatus int, wantCode collab.Code) {
	t.Helper()
	if status != wantStatus {
		t.Fatalf("%s: status %d (%s), want %d", what, status, body, wantStatus)
	}
	if wantCode != "" {
		var e struct {
			Error struct {
				Code    collab.Code `json:"code"`
				Message string      `json:"message"`
			} `json:"error"`
		}
		if err := json.Unmarshal([]byte(body), &e); err != nil || e.Error.Code != wantCode || e.Error.Message == "" {
			t.Fatalf("%s: body %s, want error code %s with a message", what, body, wantCode)
		}
	}
}

type authAnswer struct {
	User struct {
		ID       string `json:"id"`
		Username string `json:"username"`
		Name     string `json:"name"`
		Color    string `json:"color"`
	} `json:"user"`
	Token string `json:"token"`
}

func (e *env) signup(username string) authAnswer {
	e.t.Helper()
	var a authAnswer
	status, body := e.call("POST", "/v1/auth/signup", "", map[string]string{"username": username, "password": "correct horse", "name": "N " + username}, &a)
	expect(e.t, "signup", status, body, http.StatusCreated, "")
	return a
}

type docAnswer struct {
	ID      string `json:"id"`
	Title   string `json:"title"`
	Version int64  `json:"version"`
	Role    string `json:"role"`
	Owner   struct {
		Username string `json:"username"`
	} `json:"owner"`
}

func TestAccounts(t *testing.T) {
	onBothStores(t, func(t *testing.T, opt func(*testConfig)) {
		e := newEnv(t, opt)
		a := e.signup("alice")
		if a.Token == "" || a.User.Username != "alice" || a.User.Name != "N alice" || !strings.HasPrefix(a.User.Color, "#") {
			t.Fatalf("signup answer %+v", a)
		}
		var me authAnswer
		status, body := e.call("GET", "/v1/me", a.Token, nil, &me.User)
		expect(t, "me", status, body, 200, "")
		if me.User.ID != a.User.ID {
			t.Fatalf("me = %+v, want alice", me.User)
		}
		for _, tc := range []struct {
			name   string
			body   any
			status int
			code   collab.Code
		}{
			{"taken", map[string]string{"username": "alice", "password": "another one"}, 409, collab.Duplicate},
			{"bad username", map[string]string{"username": "a b<script>", "password": "long enough"}, 422, collab.Invalid},
			{"short password", map[string]string{"username": "bob", "password": "short"}, 422, collab.Invalid},
			{"not JSON", "{nope", 400, collab.BadRequest},
			{"unknown field", map[string]any{"username": "bob", "password": "long enough", "admin": true}, 400, collab.BadRequest},
			{"wrong type", map[string]any{"username": 5, "password": "long enough"}, 400, collab.BadRequest},
			{"oversize", map[string]string{"username": "bob", "password": strings.Repeat("x", 100<<10)}, 413, collab.TooLarge},
		} {
			status, body := e.call("POST", "/v1/auth/signup", "", tc.body, nil)
			expect(t, tc.name, status, body, tc.status, tc.code)
		}
		var login authAnswer
		status, body = e.call("POST", "/v1/auth/login", "", map[string]string{"username": "alice", "password": "correct horse"}, &login)
		expect(t, "login", status, body, 200, "")
		if login.Token == "" {
			t.Fatal("login gave no token")
		}
		status, body = e.call("POST", "/v1/auth/login", "", map[string]string{"username": "alice", "password": "wrong"}, nil)
		expect(t, "wrong password", status, body, 401, collab.Unauthorized)
		status, body = e.call("POST", "/v1/auth/login", "", map[string]string{"username": "nobody", "password": "wrong"}, nil)
		expect(t, "unknown user", status, body, 401, collab.Unauthorized)
	})
}

func TestLoginBruteForceIsThrottled(t *testing.T) {
	e := newEnv(t)
	e.signup("alice")
	limited := false
	for i := 0; i < 20; i++ {
		status, _ := e.call("POST", "/v1/auth/login", "", map[string]string{"username": "alice", "password": "guess"}, nil)
		if status == http.StatusTooManyRequests {
			limited = true
			break
		}
		if status != http.StatusUnauthorized {
			t.Fatalf("guess %d: status %d", i, status)
		}
	}
	if !limited {
		t.Fatal("20 wrong passwords in a row were never throttled")
	}
	// Even the right password is refused while throttled.
	status, body := e.call("POST", "/v1/auth/login", "", map[string]string{"username": "alice", "password": "correct horse"}, nil)
	expect(t, "right password while throttled", status, body, 429, collab.RateLimited)
}

func TestSignupCanBeClosed(t *testing.T) {
	e := newEnv(t, func(c *testConfig) { c.closed = true })
	status, body := e.call("POST", "/v1/auth/signup", "", map[string]string{"username": "alice", "password": "correct horse"}, nil)
	expect(t, "closed signup", status, body, 403, collab.Forbidden)
}

func TestTokensAreVerifiedStrictly(t *testing.T) {
	e := newEnv(t)
	a := e.signup("alice")
	sign := func(method jwt.SigningMethod, key any, claims jwt.MapClaims) string {
		s, err := jwt.NewWithClaims(method, claims).SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	now := time.Now()
	good := jwt.MapClaims{"iss": "collabd", "sub": a.User.ID, "exp": now.Add(time.Hour).Unix()}
	secret := []byte("0123456789abcdef0123456789abcdef")
	if status, body := e.call("GET", "/v1/me", sign(jwt.SigningMethodHS256, secret, good), nil, nil); status != 200 {
		t.Fatalf("a well-signed token was refused: %d %s", status, body)
	}
	none, _ := jwt.NewWithClaims(jwt.SigningMethodNone, good).SignedString(jwt.UnsafeAllowNoneSignatureType)
	expired := jwt.MapClaims{"iss": "collabd", "sub": a.User.ID, "exp": now.Add(-time.Hour).Unix()}
	other := jwt.MapClaims{"iss": "someone-else", "sub": a.User.ID, "exp": now.Add(time.Hour).Unix()}
	noExp := jwt.MapClaims{"iss": "collabd", "sub": a.User.ID}
	tampered := sign(jwt.SigningMethodHS256, secret, good)
	parts := strings.Split(tampered, ".")
	claims, _ := json.Marshal(jwt.MapClaims{"iss": "collabd", "sub": "someone", "exp": now.Add(time.Hour).Unix()})
	parts[1] = strings.TrimRight(b64(claims), "=")
	for name, tok := range map[string]string{
		"alg none":      none,
		"wrong key":     sign(jwt.SigningMethodHS256, []byte("another key of at least thirty-two bytes"), good),
		"HS512 ours":    sign(jwt.SigningMethodHS512, secret, good),
		"expired":       sign(jwt.SigningMethodHS256, secret, expired),
		"no expiry":     sign(jwt.SigningMethodHS256, secret, noExp),
		"other issuer":  sign(jwt.SigningMethodHS256, secret, other),
		"tampered":      strings.Join(parts, "."),
		"garbage":       "not.a.token",
		"revoked-style": "cdp_doesnotexist",
	} {
		status, body := e.call("GET", "/v1/me", tok, nil, nil)
		expect(t, name, status, body, 401, collab.Unauthorized)
	}
}

func b64(b []byte) string {
	return strings.NewReplacer("+", "-", "/", "_").Replace(base64Std(b))
}

func TestPersonalTokens(t *testing.T) {
	onBothStores(t, func(t *testing.T, opt func(*testConfig)) {
		e := newEnv(t, opt)
		a := e.signup("alice")
		var created struct {
			ID, Name, Token string
		}
		status, body := e.call("POST", "/v1/me/tokens", a.Token, map[string]string{"name": "ci"}, &created)
		expect(t, "create token", status, body, 201, "")
		if !strings.HasPrefix(created.Token, "cdp_") {
			t.Fatalf("token %q", created.Token)
		}
		if status, body := e.call("GET", "/v1/me", created.Token, nil, nil); status != 200 {
			t.Fatalf("personal token refused: %s", body)
		}
		_, body = e.call("GET", "/v1/me/tokens", a.Token, nil, nil)
		if strings.Contains(body, created.Token) || !strings.Contains(body, `"ci"`) {
			t.Fatalf("token list %s: must name the token and never show its secret", body)
		}
		status, body = e.call("DELETE", "/v1/me/tokens/"+created.ID, a.Token, nil, nil)
		expect(t, "revoke", status, body, 204, "")
		status, body = e.call("GET", "/v1/me", created.Token, nil, nil)
		expect(t, "revoked token", status, body, 401, collab.Unauthorized)
		status, body = e.call("DELETE", "/v1/me/tokens/"+created.ID, a.Token, nil, nil)
		expect(t, "revoke again", status, body, 404, collab.NotFound)
	})
}

func TestDocuments(t *testing.T) {
	onBothStores(t, func(t *testing.T, opt func(*testConfig)) {
		e := newEnv(t, opt)
		alice, bob := e.signup("alice"), e.signup("bob")
		evil := `<script>alert(1)</script>'; DROP TABLE documents; --`
		var d docAnswer
		status, body := e.call("POST", "/v1/documents", alice.Token, map[string]any{"title": evil, "text": "hello"}, &d)
		expect(t, "create", status, body, 201, "")
		if d.Title != evil || d.Version != 0 || d.Role != "owner" || d.Owner.Username != "alice" {
			t.Fatalf("created %+v", d)
		}
		var content struct {
			Version int64           `json:"version"`
			Delta   json.RawMessage `json:"delta"`
		}
		status, body = e.call("GET", "/v1/documents/"+d.ID+"/content", alice.Token, nil, &content)
		expect(t, "content", status, body, 200, "")
		if string(content.Delta) != `[{"insert":"hello\n"}]` {
			t.Fatalf("content %s", content.Delta)
		}
		for _, tc := range []struct {
			name   string
			body   any
			status int
			code   collab.Code
		}{
			{"content that is no document", map[string]any{"content": []any{map[string]any{"retain": 3}}}, 422, collab.Invalid},
			{"content without final newline", map[string]any{"content": []any{map[string]any{"insert": "x"}}}, 422, collab.Invalid},
			{"content and text", map[string]any{"content": []any{map[string]any{"insert": "x\n"}}, "text": "y"}, 422, collab.Invalid},
			{"title of two lines", map[string]any{"title": "a\nb"}, 422, collab.Invalid},
			{"title too long", map[string]any{"title": strings.Repeat("t", 201)}, 422, collab.Invalid},
		} {
			status, body := e.call("POST", "/v1/documents", alice.Token, tc.body, nil)
			expect(t, tc.name, status, body, tc.status, tc.code)
		}
		// Another user's document is not found, as an unknown one.
		for _, path := range []string{"/v1/documents/" + d.ID, "/v1/documents/" + d.ID + "/content", "/v1/documents/nope", "/v1/documents/..%2f..%2fetc", "/v1/documents/' OR 1=1 --"} {
			status, body := e.call("GET", strings.ReplaceAll(path, " ", "%20"), bob.Token, nil, nil)
			expect(t, "bob GET "+path, status, body, 404, collab.NotFound)
		}
		status, body = e.call("GET", "/v1/documents/"+d.ID, "", nil, nil)
		expect(t, "no credentials", status, body, 401, collab.Unauthorized)

		// Rename and list, newest activity first.
		var other docAnswer
		e.call("POST", "/v1/documents", alice.Token, map[string]any{"title": "second"}, &other)
		status, body = e.call("PATCH", "/v1/documents/"+d.ID, alice.Token, map[string]string{"title": "renamed"}, nil)
		expect(t, "rename", status, body, 200, "")
		var list struct {
			Items      []docAnswer `json:"items"`
			NextCursor string      `json:"next_cursor"`
		}
		status, body = e.call("GET", "/v1/documents?limit=1", alice.Token, nil, &list)
		expect(t, "list", status, body, 200, "")
		if len(list.Items) != 1 || list.Items[0].Title != "renamed" || list.NextCursor == "" {
			t.Fatalf("first page %s: want the renamed document (newest activity) and a cursor", body)
		}
		cursor := list.NextCursor
		list.Items, list.NextCursor = nil, ""
		status, body = e.call("GET", "/v1/documents?limit=1&cursor="+cursor, alice.Token, nil, &list)
		expect(t, "page 2", status, body, 200, "")
		if len(list.Items) != 1 || list.Items[0].Title != "second" || list.NextCursor != "" {
			t.Fatalf("second page %s: want the other document and no cursor", body)
		}
		status, body = e.call("GET", "/v1/documents?limit=0", alice.Token, nil, nil)
		expect(t, "limit 0", status, body, 400, collab.BadRequest)

		// Delete: owner only, then gone.
		status, body = e.call("DELETE", "/v1/documents/"+d.ID, bob.Token, nil, nil)
		expect(t, "bob deletes", status, body, 404, collab.NotFound)
		status, body = e.call("DELETE", "/v1/documents/"+d.ID, alice.Token, nil, nil)
		expect(t, "delete", status, body, 204, "")
		status, body = e.call("GET", "/v1/documents/"+d.ID, alice.Token, nil, nil)
		expect(t, "deleted", status, body, 404, collab.NotFound)
	})
}

func TestEditsHistoryAndRestore(t *testing.T) {
	onBothStores(t, func(t *testing.T, opt func(*testConfig)) {
		e := newEnv(t, opt)
		alice := e.signup("alice")
		var d docAnswer
		e.call("POST", "/v1/documents", alice.Token, map[string]any{"text": "abc"}, &d)
		submit := func(version int64, delta string) (int, string) {
			return e.call("POST", "/v1/documents/"+d.ID+"/ops", alice.Token, `{"version":`+itoa(int(version))+`,"delta":`+delta+`}`, nil)
		}
		status, body := submit(0, `[{"insert":"X"}]`)
		expect(t, "submit", status, body, 200, "")
		if body != "{\"version\":1}\n" {
			t.Fatalf("submit answered %s", body)
		}
		// Based on version 0 again: transformed past version 1.
		status, body = submit(0, `[{"retain":3},{"insert":"!"}]`)
		expect(t, "stale submit", status, body, 200, "")
		if got := e.text(collab.DocumentID(d.ID)); got != "Xabc!\n" {
			t.Fatalf("text %q, want Xabc!", got)
		}
		status, body = submit(9, `[{"insert":"x"}]`)
		expect(t, "future version", status, body, 409, collab.Conflict)
		status, body = submit(2, `[{"retain":99},{"insert":"x"}]`)
		expect(t, "does not fit", status, body, 422, collab.Invalid)
		status, body = submit(2, `[{"retain":-1}]`)
		expect(t, "malformed", status, body, 422, collab.Invalid)
		status, body = e.call("POST", "/v1/documents/"+d.ID+"/ops", alice.Token, `{"delta":[]}`, nil)
		expect(t, "no version", status, body, 400, collab.BadRequest)

		var ops struct {
			Items []struct {
				Version int64           `json:"version"`
				Delta   json.RawMessage `json:"delta"`
				User    struct {
					Username string `json:"username"`
				} `json:"user"`
			} `json:"items"`
			NextCursor string `json:"next_cursor"`
		}
		status, body = e.call("GET", "/v1/documents/"+d.ID+"/ops?limit=1", alice.Token, nil, &ops)
		expect(t, "history", status, body, 200, "")
		if len(ops.Items) != 1 || ops.Items[0].Version != 1 || ops.Items[0].User.Username != "alice" || ops.NextCursor == "" {
			t.Fatalf("history page %s", body)
		}
		cursor := ops.NextCursor
		ops.Items, ops.NextCursor = nil, ""
		e.call("GET", "/v1/documents/"+d.ID+"/ops?cursor="+cursor, alice.Token, nil, &ops)
		if len(ops.Items) != 1 || ops.Items[0].Version != 2 || ops.NextCursor != "" {
			t.Fatalf("history page 2 %+v", ops)
		}

		// Restore version 0: a new edit, history kept.
		var restored struct {
			Version int64 `json:"version"`
		}
		status, body = e.call("POST", "/v1/documents/"+d.ID+"/restore", alice.Token, map[string]int64{"version": 0}, &restored)
		expect(t, "restore", status, body, 200, "")
		if restored.Version != 3 || e.text(collab.DocumentID(d.ID)) != "abc\n" {
			t.Fatalf("after restore: version %d text %q, want 3 and abc", restored.Version, e.text(collab.DocumentID(d.ID)))
		}
		status, body = e.call("GET", "/v1/documents/"+d.ID+"/content?version=2&format=text", alice.Token, nil, nil)
		if status != 200 || body != "Xabc!\n" {
			t.Fatalf("version 2 as text: %d %q", status, body)
		}
		status, body = e.call("POST", "/v1/documents/"+d.ID+"/restore", alice.Token, map[string]int64{"version": 42}, nil)
		expect(t, "restore a future version", status, body, 404, collab.NotFound)
		status, body = e.call("GET", "/v1/documents/"+d.ID+"/content?version=42", alice.Token, nil, nil)
		expect(t, "content of a future version", status, body, 404, collab.NotFound)
		status, body = e.call("GET", "/v1/documents/"+d.ID+"/content?format=pdf", alice.Token, nil, nil)
		expect(t, "unknown format", status, body, 400, collab.BadRequest)
	})
}

func TestMembersAndRoles(t *testing.T) {
	onBothStores(t, func(t *testing.T, opt func(*testConfig)) {
		e := newEnv(t, opt)
		alice, bob := e.signup("alice"), e.signup("bob")
		var d docAnswer
		e.call("POST", "/v1/documents", alice.Token, map[string]any{"text": "abc"}, &d)
		status, body := e.call("PUT", "/v1/documents/"+d.ID+"/members/bob", alice.Token, map[string]string{"role": "viewer"}, nil)
		expect(t, "share as viewer", status, body, 200, "")
		status, body = e.call("GET", "/v1/documents/"+d.ID+"/content", bob.Token, nil, nil)
		expect(t, "viewer reads", status, body, 200, "")
		status, body = e.call("POST", "/v1/documents/"+d.ID+"/ops", bob.Token, map[string]any{"version": 0, "delta": []any{map[string]any{"insert": "x"}}}, nil)
		expect(t, "viewer edits", status, body, 403, collab.Forbidden)
		status, body = e.call("PATCH", "/v1/documents/"+d.ID, bob.Token, map[string]string{"title": "mine"}, nil)
		expect(t, "viewer renames", status, body, 403, collab.Forbidden)
		status, body = e.call("PUT", "/v1/documents/"+d.ID+"/members/alice", bob.Token, map[string]string{"role": "viewer"}, nil)
		expect(t, "viewer shares", status, body, 403, collab.Forbidden)
		for _, tc := range []struct {
			name, user, role string
			status           int
			code             collab.Code
		}{
			{"bad role", "bob", "admin", 422, collab.Invalid},
			{"unknown user", "nobody", "viewer", 404, collab.NotFound},
			{"demote the creator", "alice", "viewer", 422, collab.Invalid},
		} {
			status, body := e.call("PUT", "/v1/documents/"+d.ID+"/members/"+tc.user, alice.Token, map[string]string{"role": tc.role}, nil)
			expect(t, tc.name, status, body, tc.status, tc.code)
		}
		var members struct {
			Items []struct {
				User struct{ Username string } `json:"user"`
				Role string                    `json:"role"`
			} `json:"items"`
		}
		e.call("GET", "/v1/documents/"+d.ID+"/members", alice.Token, nil, &members)
		if len(members.Items) != 2 {
			t.Fatalf("members %+v", members)
		}
		e.call("PUT", "/v1/documents/"+d.ID+"/members/bob", alice.Token, map[string]string{"role": "editor"}, nil)
		status, body = e.call("POST", "/v1/documents/"+d.ID+"/ops", bob.Token, map[string]any{"version": 0, "delta": []any{map[string]any{"insert": "x"}}}, nil)
		expect(t, "editor edits", status, body, 200, "")
		status, body = e.call("DELETE", "/v1/documents/"+d.ID+"/members/bob", alice.Token, nil, nil)
		expect(t, "remove", status, body, 204, "")
		status, body = e.call("GET", "/v1/documents/"+d.ID, bob.Token, nil, nil)
		expect(t, "removed member", status, body, 404, collab.NotFound)
		status, body = e.call("DELETE", "/v1/documents/"+d.ID+"/members/alice", alice.Token, nil, nil)
		expect(t, "remove the creator", status, body, 422, collab.Invalid)
	})
}

func TestLiveRevocationAndDeletionCloseConnections(t *testing.T) {
	e := newEnv(t)
	alice, bob := e.signup("alice"), e.signup("bob")
	var d docAnswer
	e.call("POST", "/v1/documents", alice.Token, map[string]any{"text": "abc"}, &d)
	e.call("PUT", "/v1/documents/"+d.ID+"/members/bob", alice.Token, map[string]string{"role": "editor"}, nil)
	a, _ := e.join(collab.DocumentID(d.ID), alice.Token, "a")
	b, _ := e.join(collab.DocumentID(d.ID), bob.Token, "b")
	// Demoted to viewer while connected: the next op is forbidden.
	e.call("PUT", "/v1/documents/"+d.ID+"/members/bob", alice.Token, map[string]string{"role": "viewer"}, nil)
	waitUntil(t, "bob's role to change", func() bool {
		b.send(map[string]any{"type": "presence", "range": nil})
		return true
	})
	e.call("DELETE", "/v1/documents/"+d.ID+"/members/bob", alice.Token, nil, nil)
	if code := b.closed(); code != collab.CloseAccessRevoked {
		t.Fatalf("removed member closed with %d, want 4403", code)
	}
	e.call("DELETE", "/v1/documents/"+d.ID, alice.Token, nil, nil)
	if code := a.closed(); code != collab.CloseDocumentGone {
		t.Fatalf("editor of a deleted document closed with %d, want 4404", code)
	}
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond) // polling a condition, bounded by the deadline
	}
}

func TestCookieWritesNeedTheRightOrigin(t *testing.T) {
	e := newEnv(t)
	alice := e.signup("alice")
	do := func(method, origin string) int {
		req, _ := http.NewRequest(method, e.srv.URL+"/v1/documents", strings.NewReader(`{"title":"x"}`))
		req.AddCookie(&http.Cookie{Name: "collabd_session", Value: alice.Token})
		if origin != "" {
			req.Header.Set("Origin", origin)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if s := do("POST", "https://evil.example"); s != 403 {
		t.Fatalf("cookie POST from a foreign origin: %d, want 403", s)
	}
	if s := do("POST", ""); s != 403 {
		t.Fatalf("cookie POST without an Origin: %d, want 403", s)
	}
	if s := do("POST", e.srv.URL); s != 201 {
		t.Fatalf("cookie POST from our own origin: %d, want 201", s)
	}
	if s := do("GET", ""); s != 200 {
		t.Fatalf("cookie GET of a same-origin page: %d, want 200", s)
	}
}

func TestOperationsEndpoints(t *testing.T) {
	e := newEnv(t)
	for path, want := range map[string]string{"/healthz": "ok", "/readyz": "ready", "/metrics": "collabd_live_connections"} {
		status, body := e.call("GET", path, "", nil, nil)
		if status != 200 || !strings.Contains(body, want) {
			t.Fatalf("GET %s = %d %q", path, status, body)
		}
	}
	status, body := e.call("GET", "/v1/nope", "", nil, nil)
	expect(t, "unknown route", status, body, 404, collab.NotFound)
	status, body = e.call("PUT", "/v1/auth/login", "", nil, nil)
	expect(t, "wrong method", status, body, 405, "method_not_allowed")
}

func base64Std(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

// TestMetricsTimeEdits: /metrics exposes the sessions' commit and append
// latency histograms, counting each edit.
func TestMetricsTimeEdits(t *testing.T) {
	e := newEnv(t)
	alice := e.signup("alice")
	var d docAnswer
	e.call("POST", "/v1/documents", alice.Token, map[string]any{"text": "base"}, &d)
	const edits = 3
	for i := range edits {
		status, body := e.call("POST", "/v1/documents/"+d.ID+"/ops", alice.Token, map[string]any{"version": i, "delta": []any{map[string]any{"insert": "x"}}}, nil)
		expect(t, "REST edit "+itoa(i), status, body, 200, "")
	}
	status, body := e.call("GET", "/metrics", "", nil, nil)
	if status != 200 {
		t.Fatalf("GET /metrics = %d", status)
	}
	// Each edit waited for its answer, so each had an append of its own.
	for _, want := range []string{
		"collabd_edit_commit_seconds_count " + itoa(edits),
		"collabd_store_append_seconds_count " + itoa(edits),
		`collabd_store_append_seconds_bucket{le="+Inf"} ` + itoa(edits),
	} {
		if !strings.Contains(body, want+"\n") {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}

// TestRESTEditsAndRestoreReachLiveEditors: server-side edits and a restore,
// interleaved with a live Go client typing, converge; the client sees them.
func TestRESTEditsAndRestoreReachLiveEditors(t *testing.T) {
	e := newEnv(t)
	alice := e.signup("alice")
	var d docAnswer
	e.call("POST", "/v1/documents", alice.Token, map[string]any{"text": "base"}, &d)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, client.Options{
		URL:    "ws" + strings.TrimPrefix(e.srv.URL, "http") + "/v1/documents/" + d.ID + "/live",
		Header: http.Header{"Authorization": {"Bearer " + alice.Token}},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for i := range 20 {
		if err := c.Submit(ot.Delta{ot.InsertText("L", nil)}); err != nil {
			t.Fatal(err)
		}
		// A REST edit based on version 0 every time: always transformed.
		status, body := e.call("POST", "/v1/documents/"+d.ID+"/ops", alice.Token, map[string]any{"version": 0, "delta": []any{map[string]any{"retain": 4}, map[string]any{"insert": "R"}}}, nil)
		expect(t, "REST edit "+itoa(i), status, body, 200, "")
	}
	if err := c.WaitSynced(ctx); err != nil {
		t.Fatal(err)
	}
	var restored struct{ Version int64 }
	status, body := e.call("POST", "/v1/documents/"+d.ID+"/restore", alice.Token, map[string]int64{"version": 0}, &restored)
	expect(t, "restore", status, body, 200, "")
	waitUntil(t, "the client to see the restore", func() bool { return c.Version() >= restored.Version })
	if err := c.WaitSynced(ctx); err != nil {
		t.Fatal(err)
	}
	stored := e.text(collab.DocumentID(d.ID))
	if c.Text() != stored || stored != "base\n" {
		t.Fatalf("client %q, store %q; want both \"base\\n\" after restoring version 0", c.Text(), stored)
	}
}
