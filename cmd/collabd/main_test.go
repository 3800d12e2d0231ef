package main

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/collabd/collabd/internal/pgtest"
)

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestConfigFlagsOverrideEnvironment(t *testing.T) {
	c, err := parseConfig("collabd", []string{"--addr", "127.0.0.1:9999", "--open-signup=false"},
		env(map[string]string{"COLLABD_ADDR": "0.0.0.0:1", "COLLABD_DATA_DIR": "/tmp/x", "COLLABD_EDIT_RATE": "12.5", "COLLABD_ALLOWED_ORIGINS": "https://a.example, https://b.example"}))
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr != "127.0.0.1:9999" {
		t.Errorf("addr = %q, want the flag's 127.0.0.1:9999", c.Addr)
	}
	if c.DataDir != "/tmp/x" {
		t.Errorf("data dir = %q, want the environment's /tmp/x", c.DataDir)
	}
	if c.OpenSignup {
		t.Error("open signup = true, want false from the flag")
	}
	if c.Limits.EditsPerSecond != 12.5 {
		t.Errorf("edit rate = %v, want 12.5", c.Limits.EditsPerSecond)
	}
	if got := strings.Join(c.AllowedOrigins, "|"); got != "https://a.example|https://b.example" {
		t.Errorf("allowed origins = %q", got)
	}
}

func TestConfigDefaults(t *testing.T) {
	c, err := parseConfig("collabd", nil, env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr != "127.0.0.1:8080" || c.DataDir != "./data" || !c.OpenSignup || c.DatabaseURL != "" {
		t.Errorf("defaults = %+v", c)
	}
}

func TestConfigRejectsBadValues(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"bad env number", nil, map[string]string{"COLLABD_EDIT_RATE": "fast"}, "COLLABD_EDIT_RATE"},
		{"bad flag duration", []string{"--idle-timeout", "soon"}, nil, "idle-timeout"},
		{"negative rate", []string{"--edit-rate", "-1"}, nil, "--edit-rate"},
		{"not postgres", []string{"--database-url", "mysql://x"}, nil, "postgres://"},
		{"alg", []string{"--issuer-alg", "none"}, nil, "issuer-alg"},
		{"stray argument", []string{"extra"}, nil, "unexpected argument"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseConfig("collabd", tc.args, env(tc.env))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one mentioning %q", err, tc.want)
			}
		})
	}
}

func TestServeAnswersHealthzAndStops(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- Main(ctx, []string{"serve", "--addr", "127.0.0.1:0", "--data-dir", t.TempDir()}, env(nil), io.Discard, io.Discard, ready)
	}()
	var addr string
	select {
	case addr = <-ready:
	case err := <-done:
		t.Fatalf("Main returned before serving: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("server did not start within 30s")
	}
	resp, err := http.Get("http://" + addr + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "ok") {
		t.Fatalf("GET /healthz = %d %q, want 200 ok", resp.StatusCode, body)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Main after cancel = %v, want nil", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("server did not stop within 30s of cancel")
	}
}

func TestUnknownCommand(t *testing.T) {
	err := Main(context.Background(), []string{"frobnicate"}, env(nil), io.Discard, io.Discard, nil)
	if err == nil || !strings.Contains(err.Error(), "frobnicate") {
		t.Fatalf("err = %v, want unknown command", err)
	}
}

func TestMigrateOnEmptyDatabases(t *testing.T) {
	for name, args := range map[string][]string{
		"data dir": {"migrate", "--data-dir", t.TempDir() + "/fresh"},
		"postgres": {"migrate", "--database-url", pgtest.Shared(t).NewDatabase(t)},
	} {
		t.Run(name, func(t *testing.T) {
			var out strings.Builder
			for range 2 { // and again: applying is idempotent
				out.Reset()
				if err := Main(context.Background(), args, env(nil), &out, io.Discard, nil); err != nil {
					t.Fatalf("collabd %v: %v", args, err)
				}
				if !strings.Contains(out.String(), "migrations applied") {
					t.Fatalf("output %q", out.String())
				}
			}
		})
	}
}
