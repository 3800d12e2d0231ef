package api

import (
	"compress/gzip"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/fstest"

	"golang.org/x/crypto/bcrypt"
)

const (
	testIndex = "<!doctype html><title>t</title><script type=module src=/assets/main-ABCD1234.js></script>"
	testJS    = "console.log('the editor');" // repeated below so that gzip pays
)

func editorFS() fstest.MapFS {
	return fstest.MapFS{
		"index.html":                  {Data: []byte(testIndex)},
		"assets/main-ABCD1234.js":     {Data: []byte(strings.Repeat(testJS, 100))},
		"assets/main-WXYZ5678.css":    {Data: []byte("body{color:red}")},
		"assets/favicon-0a1b2c3d.svg": {Data: []byte("<svg xmlns='http://www.w3.org/2000/svg'/>")},
		"assets/notes.txt":            {Data: []byte(strings.Repeat("not hashed ", 100))},
	}
}

func editorRouter(t *testing.T, assets fstest.MapFS) http.Handler {
	t.Helper()
	c := Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), PasswordCost: bcrypt.MinCost}
	if assets != nil {
		c.Assets = assets
	}
	return New(c).Handler()
}

func get(t *testing.T, h http.Handler, method, path string, header map[string]string) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(method, path, nil)
	for k, v := range header {
		r.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func TestEditorPagesServeIndex(t *testing.T) {
	h := editorRouter(t, editorFS())
	for _, p := range []string{"/", "/login", "/signup", "/d/abc123", "/d/abc123?x=1"} {
		w := get(t, h, http.MethodGet, p, nil)
		if w.Code != http.StatusOK {
			t.Fatalf("GET %s: %d %s", p, w.Code, w.Body)
		}
		if got := w.Body.String(); got != testIndex {
			t.Errorf("GET %s: body %q, want index.html", p, got)
		}
		hd := w.Header()
		if ct := hd.Get("Content-Type"); ct != "text/html; charset=utf-8" {
			t.Errorf("GET %s: Content-Type %q", p, ct)
		}
		if cc := hd.Get("Cache-Control"); cc != "no-cache" {
			t.Errorf("GET %s: Cache-Control %q, want no-cache", p, cc)
		}
		csp := hd.Get("Content-Security-Policy")
		for _, want := range []string{"default-src 'self'", "script-src 'self';", "style-src 'self' 'unsafe-inline'", "connect-src 'self'", "frame-ancestors 'none'"} {
			if !strings.Contains(csp, want) {
				t.Errorf("GET %s: CSP %q lacks %q", p, csp, want)
			}
		}
		if strings.Contains(csp, "http") || strings.Contains(csp, "*") {
			t.Errorf("GET %s: CSP %q allows another origin", p, csp)
		}
	}
	// Revalidation: the ETag answers 304.
	w := get(t, h, http.MethodGet, "/", nil)
	etag := w.Header().Get("ETag")
	if etag == "" {
		t.Fatal("index.html has no ETag")
	}
	if w := get(t, h, http.MethodGet, "/login", map[string]string{"If-None-Match": etag}); w.Code != http.StatusNotModified {
		t.Errorf("GET /login with its ETag: %d, want 304", w.Code)
	}
	if w := get(t, h, http.MethodHead, "/d/x", nil); w.Code != http.StatusOK || w.Body.Len() != 0 {
		t.Errorf("HEAD /d/x: %d with %d bytes, want 200 and no body", w.Code, w.Body.Len())
	}
	// Deeper paths are not pages.
	if w := get(t, h, http.MethodGet, "/d/abc/def", nil); w.Code != http.StatusNotFound {
		t.Errorf("GET /d/abc/def: %d, want 404", w.Code)
	}
}

func TestEditorAssetsCachedAndGzipped(t *testing.T) {
	h := editorRouter(t, editorFS())
	js := strings.Repeat(testJS, 100)

	w := get(t, h, http.MethodGet, "/assets/main-ABCD1234.js", map[string]string{"Accept-Encoding": "br, gzip"})
	if w.Code != http.StatusOK {
		t.Fatalf("GET js: %d %s", w.Code, w.Body)
	}
	hd := w.Header()
	if hd.Get("Content-Encoding") != "gzip" || !strings.Contains(hd.Get("Vary"), "Accept-Encoding") {
		t.Fatalf("GET js with gzip: Content-Encoding %q, Vary %q", hd.Get("Content-Encoding"), hd.Get("Vary"))
	}
	zr, err := gzip.NewReader(w.Body)
	if err != nil {
		t.Fatal(err)
	}
	plain, err := io.ReadAll(zr)
	if err != nil || string(plain) != js {
		t.Fatalf("gunzipped body differs (err %v): %d bytes, want %d", err, len(plain), len(js))
	}
	if ct := hd.Get("Content-Type"); ct != "text/javascript; charset=utf-8" {
		t.Errorf("Content-Type %q", ct)
	}
	if cc := hd.Get("Cache-Control"); !strings.Contains(cc, "max-age=31536000") || !strings.Contains(cc, "immutable") {
		t.Errorf("hashed asset: Cache-Control %q, want a year, immutable", cc)
	}
	if hd.Get("X-Content-Type-Options") != "nosniff" {
		t.Error("asset lacks X-Content-Type-Options: nosniff")
	}
	gzETag := hd.Get("ETag")

	// Without gzip (or with q=0): the plain body, another ETag.
	for _, ae := range []string{"", "identity", "gzip;q=0", "deflate"} {
		w = get(t, h, http.MethodGet, "/assets/main-ABCD1234.js", map[string]string{"Accept-Encoding": ae})
		if w.Header().Get("Content-Encoding") != "" || w.Body.String() != js {
			t.Errorf("Accept-Encoding %q: Content-Encoding %q, %d bytes", ae, w.Header().Get("Content-Encoding"), w.Body.Len())
		}
		if w.Header().Get("ETag") == gzETag {
			t.Errorf("Accept-Encoding %q: the plain body has the gzip body's ETag", ae)
		}
	}
	if w := get(t, h, http.MethodGet, "/assets/main-ABCD1234.js", map[string]string{"Accept-Encoding": "gzip", "If-None-Match": gzETag}); w.Code != http.StatusNotModified {
		t.Errorf("conditional GET: %d, want 304", w.Code)
	}

	// Small files are not worth compressing; SVG gets its type.
	w = get(t, h, http.MethodGet, "/assets/favicon-0a1b2c3d.svg", map[string]string{"Accept-Encoding": "gzip"})
	if w.Code != http.StatusOK || w.Header().Get("Content-Type") != "image/svg+xml" || w.Header().Get("Content-Encoding") != "" {
		t.Errorf("svg: %d, %q, %q", w.Code, w.Header().Get("Content-Type"), w.Header().Get("Content-Encoding"))
	}

	// A name without a content hash may change: revalidate every time.
	w = get(t, h, http.MethodGet, "/assets/notes.txt", nil)
	if w.Code != http.StatusOK || w.Header().Get("Cache-Control") != "no-cache" {
		t.Errorf("unhashed asset: %d, Cache-Control %q, want no-cache", w.Code, w.Header().Get("Cache-Control"))
	}
}

func TestEditorMissingAssetIsJSON404(t *testing.T) {
	h := editorRouter(t, editorFS())
	for _, p := range []string{"/assets/nope.js", "/assets/../index.html", "/assets/"} {
		w := get(t, h, http.MethodGet, p, nil)
		if w.Code != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404", p, w.Code)
			continue
		}
		var e struct {
			Error struct{ Code, Message string } `json:"error"`
		}
		if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil || e.Error.Code != "not_found" || e.Error.Message == "" {
			t.Errorf("GET %s: body %q, want a not_found error", p, w.Body)
		}
	}
}

func TestNoAssetsNoEditorRoutes(t *testing.T) {
	// nil Assets, and assets without index.html: the API alone.
	for name, fsys := range map[string]fstest.MapFS{"nil": nil, "no index": {"assets/a-ABCD1234.js": {Data: []byte("x")}}} {
		h := editorRouter(t, fsys)
		for _, p := range []string{"/", "/login", "/d/x", "/assets/a-ABCD1234.js"} {
			if w := get(t, h, http.MethodGet, p, nil); w.Code != http.StatusNotFound {
				t.Errorf("%s: GET %s: %d, want 404", name, p, w.Code)
			}
		}
		if w := get(t, h, http.MethodGet, "/healthz", nil); w.Code != http.StatusOK {
			t.Errorf("%s: /healthz: %d", name, w.Code)
		}
	}
}

func TestAcceptsGzip(t *testing.T) {
	for ae, want := range map[string]bool{
		"": false, "gzip": true, "GZIP": true, "br, gzip;q=0.8": true, "gzip; q=0": false,
		"gzip;q=0.000": false, "deflate, br": false, "x-gzip": false, "identity": false,
	} {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.Header.Set("Accept-Encoding", ae)
		if got := acceptsGzip(r); got != want {
			t.Errorf("acceptsGzip(%q) = %v, want %v", ae, got, want)
		}
	}
}
