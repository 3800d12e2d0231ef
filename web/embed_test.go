package web

import (
	"bytes"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"
)

// assetRef matches the asset URLs index.html refers to.
var assetRef = regexp.MustCompile(`(?:src|href)="/assets/([^"]+)"`)

// TestAssetsHaveIndexAndEveryReferencedFile: the embedded editor is
// complete: index.html refers to a script and a stylesheet, and every file
// it refers to is embedded and not empty.
func TestAssetsHaveIndexAndEveryReferencedFile(t *testing.T) {
	fsys := Assets()
	index, err := fs.ReadFile(fsys, "index.html")
	if err != nil {
		t.Fatalf("index.html is not embedded: %v", err)
	}
	refs := assetRef.FindAllStringSubmatch(string(index), -1)
	var js, css int
	for _, m := range refs {
		name := m[1]
		b, err := fs.ReadFile(fsys, "assets/"+name)
		if err != nil {
			t.Errorf("index.html refers to /assets/%s, which is not embedded: %v", name, err)
			continue
		}
		if len(b) == 0 {
			t.Errorf("assets/%s is empty", name)
		}
		switch filepath.Ext(name) {
		case ".js":
			js++
		case ".css":
			css++
		}
	}
	if js != 1 || css != 1 {
		t.Errorf("index.html refers to %d scripts and %d stylesheets, want 1 and 1:\n%s", js, css, index)
	}
	if bytes.Contains(index, []byte("{{")) {
		t.Errorf("index.html has an unfilled placeholder:\n%s", index)
	}
	// Nothing may load from elsewhere.
	if regexp.MustCompile(`(?:src|href)="(?:[a-z]+:)?//`).Match(index) {
		t.Errorf("index.html loads something from another origin:\n%s", index)
	}
}

// TestDistIsFresh rebuilds the editor and compares it with the committed
// web/dist byte for byte: a change under web/src without `node
// web/build.mjs` fails here. It needs node and web/node_modules (`npm ci
// --prefix web`), which the test command installs.
func TestDistIsFresh(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatal("node is not installed; the test command (scripts/test.sh) installs it")
	}
	if _, err := os.Stat("node_modules/esbuild"); err != nil {
		t.Fatal("web/node_modules is missing: run `npm ci --prefix web` (scripts/test.sh does)")
	}
	out := t.TempDir()
	cmd := exec.Command(node, "build.mjs", "--out", out)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("node build.mjs: %v\n%s", err, b)
	}
	want := readTree(t, out)
	got := readTree(t, "dist")
	for name, b := range want {
		c, ok := got[name]
		switch {
		case !ok:
			t.Errorf("web/dist lacks %s: run `node web/build.mjs` and commit web/dist", name)
		case !bytes.Equal(b, c):
			t.Errorf("web/dist/%s is stale: run `node web/build.mjs` and commit web/dist", name)
		}
	}
	for name := range got {
		if _, ok := want[name]; !ok {
			t.Errorf("web/dist/%s is left over from an older build: run `node web/build.mjs` and commit web/dist", name)
		}
	}
}

func readTree(t *testing.T, root string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		out[filepath.ToSlash(rel)] = b
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(out) == 0 || out["index.html"] == nil {
		t.Fatalf("%s has no index.html", root)
	}
	return out
}
