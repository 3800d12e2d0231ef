package main

import (
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestCurlDemoScript runs examples/curl-demo.sh, the README's tour of the
// REST API, against a real server: it must sign up, edit, read every
// format and restore.
func TestCurlDemoScript(t *testing.T) {
	if _, err := exec.LookPath("curl"); err != nil {
		t.Fatal("curl is not installed: make test installs it (apt-get install -y curl)")
	}
	srv := startServer(t, "--data-dir", t.TempDir())
	addr := srv.addr
	runCtx, stop := context.WithTimeout(context.Background(), 60*time.Second)
	defer stop()
	out, err := exec.CommandContext(runCtx, "bash", "../../examples/curl-demo.sh", "http://"+addr).CombinedOutput()
	if err != nil {
		t.Fatalf("curl-demo.sh: %v\n%s", err, out)
	}
	s := string(out)
	for _, want := range []string{
		`{"version":1}`, `{"version":2}`, // the two edits
		`"insert":"collabd","attributes":{"bold":true}`, // delta
		"Hello world\ncollabd keeps every edit.\n",      // text
		"<h1>Hello world</h1>",                          // html
		"# Hello world",                                 // markdown
		`"version":3`,                                   // the restore's edit
	} {
		if !strings.Contains(s, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	if !strings.HasSuffix(s, "== content after the restore\nHello world\n") {
		t.Errorf("after the restore the text is not the original; output ends %q", s[max(0, len(s)-200):])
	}
	if t.Failed() {
		t.Logf("output:\n%s", s)
	}
}
