package api_test

// Tests for the fixes of the REST audit: owner-only rename, session
// timeouts, status codes of bad parameters, the last page of /ops, the
// case of the Bearer scheme and the per-IP limit of failed authentication.

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/collabd/collabd/collab"
)

func TestOnlyOwnersRename(t *testing.T) {
	e := newEnv(t)
	alice, bob, carol := e.signup("alice"), e.signup("bob"), e.signup("carol")
	var d docAnswer
	status, body := e.call("POST", "/v1/documents", alice.Token, map[string]any{"title": "mine"}, &d)
	expect(t, "create", status, body, 201, "")
	e.call("PUT", "/v1/documents/"+d.ID+"/members/bob", alice.Token, map[string]string{"role": "editor"}, nil)
	e.call("PUT", "/v1/documents/"+d.ID+"/members/carol", alice.Token, map[string]string{"role": "viewer"}, nil)

	status, body = e.call("PATCH", "/v1/documents/"+d.ID, bob.Token, map[string]string{"title": "ours"}, nil)
	expect(t, "editor renames", status, body, 403, collab.Forbidden)
	status, body = e.call("PATCH", "/v1/documents/"+d.ID, carol.Token, map[string]string{"title": "ours"}, nil)
	expect(t, "viewer renames", status, body, 403, collab.Forbidden)
	var got docAnswer
	e.call("GET", "/v1/documents/"+d.ID, alice.Token, nil, &got)
	if got.Title != "mine" {
		t.Fatalf("title %q after refused renames, want mine", got.Title)
	}
	status, body = e.call("PATCH", "/v1/documents/"+d.ID, alice.Token, map[string]string{"title": "renamed"}, &got)
	expect(t, "owner renames", status, body, 200, "")
	if got.Title != "renamed" {
		t.Fatalf("renamed to %q", got.Title)
	}
}

// slowLog is an op log whose appends wait for release (a database that
// hangs) and whose reads of edits can be made to wait for their context.
type slowLog struct {
	collab.Log
	blockAppend atomic.Bool
	blockEdits  atomic.Bool
	release     chan struct{}
}

func (l *slowLog) Append(ctx context.Context, doc collab.DocumentID, edits []collab.Edit) error {
	if l.blockAppend.Load() {
		select {
		case <-l.release:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return l.Log.Append(ctx, doc, edits)
}

func (l *slowLog) Edits(ctx context.Context, doc collab.DocumentID, from, to int64) ([]collab.Edit, error) {
	if l.blockEdits.Load() {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	return l.Log.Edits(ctx, doc, from, to)
}

func TestTimeoutsAnswerWithTheErrorShape(t *testing.T) {
	slow := &slowLog{release: make(chan struct{})}
	e := newEnv(t, func(c *testConfig) {
		c.requestTimeout = 300 * time.Millisecond
		c.wrapLog = func(l collab.Log) collab.Log { slow.Log = l; return slow }
	})
	t.Cleanup(func() { close(slow.release) }) // before the env's cleanup: let the session finish
	alice := e.signup("alice")
	var d docAnswer
	e.call("POST", "/v1/documents", alice.Token, map[string]any{"text": "abc"}, &d)

	// The session does not answer before the request's deadline: 503
	// unavailable with a message, not 500 internal.
	slow.blockAppend.Store(true)
	status, body := e.call("POST", "/v1/documents/"+d.ID+"/ops", alice.Token, `{"version":0,"delta":[{"insert":"x"}]}`, nil)
	expect(t, "edit whose session times out", status, body, 503, collab.Unavailable)

	// A handler stopped by the request timeout: 504 with the error shape.
	slow.blockEdits.Store(true)
	status, body = e.call("GET", "/v1/documents/"+d.ID+"/ops", alice.Token, nil, nil)
	expect(t, "history that times out", status, body, 504, "timeout")
}

func TestBadParametersStatusCodes(t *testing.T) {
	onBothStores(t, func(t *testing.T, opt func(*testConfig)) {
		e := newEnv(t, opt)
		alice := e.signup("alice")
		var d docAnswer
		e.call("POST", "/v1/documents", alice.Token, map[string]any{"text": "abc"}, &d)
		status, body := e.call("GET", "/v1/documents?cursor=garbage", alice.Token, nil, nil)
		expect(t, "malformed documents cursor", status, body, 400, collab.BadRequest)
		status, body = e.call("GET", "/v1/documents/"+d.ID+"/ops?cursor=!!", alice.Token, nil, nil)
		expect(t, "malformed ops cursor", status, body, 400, collab.BadRequest)
		status, body = e.call("POST", "/v1/documents/"+d.ID+"/restore", alice.Token, map[string]int64{"version": -1}, nil)
		expect(t, "restore a negative version", status, body, 422, collab.Invalid)
		status, body = e.call("GET", "/v1/documents/"+d.ID+"/ops?from=5&to=2", alice.Token, nil, nil)
		expect(t, "from after to", status, body, 400, collab.BadRequest)
	})
}

func TestOpsLastPageHasNoCursor(t *testing.T) {
	e := newEnv(t)
	alice := e.signup("alice")
	var d docAnswer
	e.call("POST", "/v1/documents", alice.Token, map[string]any{"text": "abc"}, &d)
	for v := range 4 {
		status, body := e.call("POST", "/v1/documents/"+d.ID+"/ops", alice.Token, `{"version":`+itoa(v)+`,"delta":[{"insert":"x"}]}`, nil)
		expect(t, "submit", status, body, 200, "")
	}
	type page struct {
		Items []struct {
			Version int64 `json:"version"`
		} `json:"items"`
		NextCursor string `json:"next_cursor"`
	}
	for _, tc := range []struct {
		query    string
		versions int
		more     bool
	}{
		{"limit=4", 4, false},        // ends exactly at the last edit
		{"limit=2", 2, true},         // more after it
		{"limit=2&from=3", 2, false}, // ends exactly at the last edit
		{"limit=2&to=2", 2, false},   // ends exactly at to
		{"limit=1&to=2", 1, true},
	} {
		var p page
		status, body := e.call("GET", "/v1/documents/"+d.ID+"/ops?"+tc.query, alice.Token, nil, &p)
		expect(t, tc.query, status, body, 200, "")
		if len(p.Items) != tc.versions || (p.NextCursor != "") != tc.more {
			t.Fatalf("?%s: %s, want %d edits and next_cursor %v", tc.query, body, tc.versions, tc.more)
		}
	}
	// Following the cursors reads every edit and ends without an empty page.
	var all []int64
	cursor, pages := "", 0
	for {
		var p page
		status, body := e.call("GET", "/v1/documents/"+d.ID+"/ops?limit=2&cursor="+cursor, alice.Token, nil, &p)
		expect(t, "page", status, body, 200, "")
		pages++
		if len(p.Items) == 0 {
			t.Fatalf("page %d is empty", pages)
		}
		for _, it := range p.Items {
			all = append(all, it.Version)
		}
		if cursor = p.NextCursor; cursor == "" {
			break
		}
	}
	if pages != 2 || len(all) != 4 || all[0] != 1 || all[3] != 4 {
		t.Fatalf("read %v in %d pages, want 1..4 in 2", all, pages)
	}
}

// get makes a GET with a raw Authorization header.
func (e *env) get(path, authorization string) (int, string) {
	e.t.Helper()
	req, err := http.NewRequest("GET", e.srv.URL+path, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(raw)
}

func TestBearerSchemeIsCaseInsensitive(t *testing.T) {
	e := newEnv(t)
	alice := e.signup("alice")
	for _, scheme := range []string{"Bearer", "bearer", "BEARER", "bEaReR"} {
		status, body := e.get("/v1/me", scheme+" "+alice.Token)
		expect(t, scheme, status, body, 200, "")
		var me struct {
			Username string `json:"username"`
		}
		if err := json.Unmarshal([]byte(body), &me); err != nil || me.Username != "alice" {
			t.Fatalf("%s: /v1/me answered %s", scheme, body)
		}
	}
	status, body := e.get("/v1/me", "Basic "+alice.Token)
	expect(t, "another scheme", status, body, 401, collab.Unauthorized)
}

func TestFailedAuthenticationIsLimitedPerIP(t *testing.T) {
	e := newEnv(t, func(c *testConfig) { c.ipRate, c.ipBurst = 0.01, 5 })
	alice := e.signup("alice") // sign-up takes one of the IP's tokens
	limited := 0
	for i := range 20 {
		status, body := e.get("/v1/documents", "Bearer not-a-token-"+itoa(i))
		switch status {
		case 401:
			if limited > 0 {
				t.Fatalf("request %d: 401 after a 429", i)
			}
		case 429:
			expect(t, "bad token", status, body, 429, collab.RateLimited)
			limited++
		default:
			t.Fatalf("request %d: %d %s", i, status, body)
		}
	}
	if limited == 0 {
		t.Fatal("20 requests with bad tokens from one IP were never limited")
	}
	status, body := e.get("/v1/me", "")
	expect(t, "no credentials", status, body, 429, collab.RateLimited)
	// A user with good credentials is limited as a user, not by the IP.
	status, body = e.get("/v1/me", "Bearer "+alice.Token)
	expect(t, "good token from the same IP", status, body, 200, "")
}
