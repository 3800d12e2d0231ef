package api

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"regexp"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/collabd/collabd/collab"
)

// editorCSP allows only the server itself. Quill sets inline styles
// (formats, the colour picker, cursors), hence 'unsafe-inline' for styles;
// data: images are what Quill makes of pasted pictures, and load nothing.
const editorCSP = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; " +
	"img-src 'self' data:; font-src 'self'; connect-src 'self'; object-src 'none'; " +
	"base-uri 'self'; form-action 'self'; frame-ancestors 'none'"

// hashedName matches the content-hashed file names web/build.mjs writes
// (name-<8 hex of sha256>.ext): such a name never changes content, so it
// may be cached for ever.
var hashedName = regexp.MustCompile(`-[A-Za-z0-9]{8}\.[a-z0-9]+$`)

// asset is one file of the editor, read and compressed once at start.
type asset struct {
	body      []byte
	gz        []byte // nil when not worth it
	etag      string
	ctype     string
	immutable bool
}

// staticFiles is the built editor in memory. Set by New; read-only after.
type staticFiles struct {
	index  *asset
	assets map[string]*asset // by path under assets/, e.g. "main-AB12CD34.js"
}

// loadStatic reads the editor's files from fsys: index.html and assets/.
func loadStatic(fsys fs.FS) (*staticFiles, error) {
	s := &staticFiles{assets: map[string]*asset{}}
	b, err := fs.ReadFile(fsys, "index.html")
	if err != nil {
		return nil, fmt.Errorf("editor assets: %w", err)
	}
	s.index = newAsset("index.html", b)
	err = fs.WalkDir(fsys, "assets", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		s.assets[strings.TrimPrefix(p, "assets/")] = newAsset(p, b)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("editor assets: %w", err)
	}
	return s, nil
}

func newAsset(name string, body []byte) *asset {
	sum := sha256.Sum256(body)
	a := &asset{
		body:      body,
		etag:      `"` + hex.EncodeToString(sum[:8]) + `"`,
		ctype:     contentType(name),
		immutable: hashedName.MatchString(path.Base(name)),
	}
	if compressible(a.ctype) && len(body) > 512 {
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
		zw.Write(body)
		zw.Close()
		if buf.Len() < len(body)*9/10 {
			a.gz = buf.Bytes()
		}
	}
	return a
}

func contentType(name string) string {
	switch path.Ext(name) {
	case ".js", ".mjs":
		return "text/javascript; charset=utf-8"
	case ".css":
		return "text/css; charset=utf-8"
	case ".html":
		return "text/html; charset=utf-8"
	case ".svg":
		return "image/svg+xml"
	case ".json", ".map":
		return "application/json"
	}
	if t := mime.TypeByExtension(path.Ext(name)); t != "" {
		return t
	}
	return "application/octet-stream"
}

func compressible(ctype string) bool {
	return strings.HasPrefix(ctype, "text/") || strings.HasPrefix(ctype, "image/svg") || strings.HasPrefix(ctype, "application/json")
}

// acceptsGzip reports whether the request accepts gzip (and not with q=0).
func acceptsGzip(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		name, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if !strings.EqualFold(strings.TrimSpace(name), "gzip") {
			continue
		}
		q := strings.ReplaceAll(strings.TrimSpace(params), " ", "")
		return q != "q=0" && q != "q=0.0" && q != "q=0.00" && q != "q=0.000"
	}
	return false
}

// serve writes the asset, gzipped when the client takes it; conditional
// requests (If-None-Match) are answered 304 by http.ServeContent.
func (s *asset) serve(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Type", s.ctype)
	h.Set("X-Content-Type-Options", "nosniff")
	if s.immutable {
		h.Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		h.Set("Cache-Control", "no-cache")
	}
	body, etag := s.body, s.etag
	if s.gz != nil {
		h.Add("Vary", "Accept-Encoding")
		if acceptsGzip(r) {
			body = s.gz
			etag = strings.TrimSuffix(s.etag, `"`) + `-gz"`
			h.Set("Content-Encoding", "gzip")
		}
	}
	h.Set("ETag", etag)
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(body))
}

// serveIndex answers every page route of the editor with index.html; the
// page routes itself in the browser.
func (a *API) serveIndex(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", editorCSP)
	h.Set("Referrer-Policy", "same-origin")
	h.Set("X-Frame-Options", "DENY")
	a.static.index.serve(w, r)
}

// serveAsset answers /assets/{name}: the editor's scripts, styles and icons.
func (a *API) serveAsset(w http.ResponseWriter, r *http.Request) {
	name := chi.URLParam(r, "*")
	f, ok := a.static.assets[name]
	if !ok {
		writeError(w, r, a.logger, collab.Errorf(collab.NotFound, "no asset %q", name))
		return
	}
	f.serve(w, r)
}
