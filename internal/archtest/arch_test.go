// Package archtest holds the test that keeps imports pointing inward, as
// the README draws them: cmd → api → session → collab → ot, and
// store → collab.
package archtest

import (
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/collabd/collabd"

// allowed lists, for each of our packages (by prefix), which of our
// packages and which outside modules it may import. The standard library
// is always allowed.
var allowed = []struct {
	pkg      string
	ours     []string
	external []string
}{
	{"ot", nil, nil},
	{"collab/client", []string{"collab", "ot"}, []string{"github.com/gorilla/websocket"}},
	{"collab", []string{"ot"}, nil},
	{"session", []string{"collab", "ot"}, nil},
	{"migrations", nil, []string{"github.com/pressly/goose"}},
	{"store", []string{"collab", "ot", "migrations", "store"}, []string{"github.com/jackc/", "modernc.org/", "github.com/pressly/goose"}},
	{"api", []string{"collab", "session", "ot", "web"}, []string{"github.com/go-chi/", "github.com/golang-jwt/", "github.com/gorilla/websocket", "golang.org/x/crypto", "github.com/prometheus/"}},
	{"web", nil, nil},
	{"internal/pgtest", nil, []string{"github.com/jackc/"}},
	{"internal/traces", nil, nil},
	{"cmd", []string{""}, []string{""}}, // cmd wires everything
	{"internal/archtest", nil, nil},
}

// TestImportsPointInward parses every non-test Go file of the module (the
// files themselves, so that the test cache notices any change).
func TestImportsPointInward(t *testing.T) {
	root := "../.."
	checked := 0
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if name := d.Name(); path != root && (strings.HasPrefix(name, ".") || name == "node_modules" || name == "testdata") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		rel, _ := filepath.Rel(root, filepath.Dir(path))
		rel = filepath.ToSlash(rel)
		rule := -1
		for i, a := range allowed {
			if rel == a.pkg || strings.HasPrefix(rel, a.pkg+"/") {
				rule = i
				break
			}
		}
		if rule < 0 {
			t.Errorf("package %s has no import rule here: add one", rel)
			return nil
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		checked++
		for _, spec := range f.Imports {
			imp, _ := strconv.Unquote(spec.Path.Value)
			if !strings.Contains(strings.SplitN(imp, "/", 2)[0], ".") {
				continue // standard library
			}
			if !importAllowed(allowed[rule].ours, allowed[rule].external, imp) {
				t.Errorf("%s imports %s, which its layer may not", path, imp)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if checked < 20 {
		t.Fatalf("checked only %d files; is the walk rooted right?", checked)
	}
}
func importAllowed(ours, external []string, imp string) bool {
	if rel, ok := strings.CutPrefix(imp, module); ok {
		rel = strings.TrimPrefix(rel, "/")
		for _, o := range ours {
			if o == "" || rel == o || strings.HasPrefix(rel, o+"/") {
				return true
			}
		}
		return false
	}
	for _, e := range external {
		if e == "" || strings.HasPrefix(imp, e) {
			return true
		}
	}
	return false
}
