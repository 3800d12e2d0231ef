package main

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/collabd/collabd/collab"
	"github.com/collabd/collabd/collab/client"
	"github.com/collabd/collabd/internal/pgtest"
	"github.com/collabd/collabd/session"
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
	if c.Limits.IPRate != 50 || c.Limits.IPBurst != 100 {
		t.Errorf("ip rate, burst = %v, %d; want 50, 100", c.Limits.IPRate, c.Limits.IPBurst)
	}
	if d := session.DefaultConfig(); c.Limits.CheckpointEvery != d.CheckpointEvery || c.Limits.CheckpointAfter != d.CheckpointInterval {
		t.Errorf("checkpoint every %d edits or %v, want the session defaults %d, %v",
			c.Limits.CheckpointEvery, c.Limits.CheckpointAfter, d.CheckpointEvery, d.CheckpointInterval)
	}
}

func TestConfigIPRate(t *testing.T) {
	c, err := parseConfig("collabd", []string{"--ip-burst", "3"},
		env(map[string]string{"COLLABD_IP_RATE": "7.5", "COLLABD_IP_BURST": "9"}))
	if err != nil {
		t.Fatal(err)
	}
	if c.Limits.IPRate != 7.5 {
		t.Errorf("ip rate = %v, want the environment's 7.5", c.Limits.IPRate)
	}
	if c.Limits.IPBurst != 3 {
		t.Errorf("ip burst = %d, want the flag's 3", c.Limits.IPBurst)
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
		{"zero ip rate", []string{"--ip-rate", "0"}, nil, "--ip-rate"},
		{"NaN ip rate", nil, map[string]string{"COLLABD_IP_RATE": "NaN"}, "--ip-rate"},
		{"infinite ip rate", []string{"--ip-rate", "+Inf"}, nil, "--ip-rate"},
		{"NaN edit rate", []string{"--edit-rate", "NaN"}, nil, "--edit-rate"},
		{"infinite user edit rate", nil, map[string]string{"COLLABD_USER_EDIT_RATE": "Inf"}, "--user-edit-rate"},
		{"NaN request rate", nil, map[string]string{"COLLABD_REQUEST_RATE": "nan"}, "--request-rate"},
		{"bad env ip rate", nil, map[string]string{"COLLABD_IP_RATE": "lots"}, "COLLABD_IP_RATE"},
		{"zero ip burst", []string{"--ip-burst", "0"}, nil, "--ip-burst"},
		{"zero checkpoint-every", []string{"--checkpoint-every", "0"}, nil, "--checkpoint-every"},
		{"tiny checkpoint-after", nil, map[string]string{"COLLABD_CHECKPOINT_AFTER": "10ms"}, "--checkpoint-after"},
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
	srv := startServer(t, "--data-dir", t.TempDir())
	resp, err := http.Get("http://" + srv.addr + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "ok") {
		t.Fatalf("GET /healthz = %d %q, want 200 ok", resp.StatusCode, body)
	}
	if err := srv.stop(); err != nil {
		t.Fatalf("Main after cancel = %v, want nil", err)
	}
}

// TestConfigIPRateLimitsLiveHandshakes: --ip-rate and --ip-burst reach the
// server; a live handshake over the rate is answered 429 with the
// Retry-After the rate implies, which the Go client honours when it dials
// again; 401 and 404 reach the client as typed errors at once.
func TestConfigIPRateLimitsLiveHandshakes(t *testing.T) {
	srv := startServer(t, "--data-dir", t.TempDir(), "--ip-rate", "0.5", "--ip-burst", "3")
	rc := signup(t, srv.addr) // takes one of the address's 3 tokens
	doc := rc.createDocument("hi")
	live := wsURL(srv.addr, doc)
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()

	// One token each; at 0.5/s, the 3 tokens last through these.
	_, err := client.Dial(ctx, client.Options{URL: live, Header: bearer("not-a-token")})
	if !errors.Is(err, client.ErrUnauthorized) || collab.ErrorCode(err) != collab.Unauthorized {
		t.Fatalf("dial with a bad token = %v, want ErrUnauthorized (code unauthorized)", err)
	}
	_, err = client.Dial(ctx, client.Options{URL: wsURL(srv.addr, "no-such-document"), Header: bearer(rc.token)})
	if !errors.Is(err, client.ErrNotFound) || collab.ErrorCode(err) != collab.NotFound {
		t.Fatalf("dial to a missing document = %v, want ErrNotFound (code not_found)", err)
	}

	// Take tokens without credentials until a handshake that got one (401)
	// is followed at once by one refused: the bucket is then empty, and a
	// token is two seconds away (polling while refused takes none).
	get := func() *http.Response {
		resp, err := http.Get("http" + strings.TrimPrefix(live, "ws"))
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp
	}
	var refused *http.Response
	deadline := time.Now().Add(patience)
	for prev := 0; refused == nil; {
		if time.Now().After(deadline) {
			t.Fatal("no handshake refused right after one let in")
		}
		resp := get()
		switch {
		case resp.StatusCode == http.StatusTooManyRequests && prev == http.StatusUnauthorized:
			refused = resp
		case resp.StatusCode == http.StatusTooManyRequests:
			time.Sleep(50 * time.Millisecond) // polling until the bucket refills
		case resp.StatusCode != http.StatusUnauthorized:
			t.Fatalf("handshake without credentials = %d, want 401 or 429", resp.StatusCode)
		}
		prev = resp.StatusCode
	}
	if got := refused.Header.Get("Retry-After"); got != "2" {
		t.Errorf("Retry-After = %q, want \"2\" (one token at 0.5/s)", got)
	}

	var mu sync.Mutex
	var retries []error
	start := time.Now()
	c, err := client.Dial(ctx, client.Options{
		URL: live, Header: bearer(rc.token), ReconnectMin: time.Millisecond, ReconnectMax: 10 * time.Millisecond,
		OnRetry: func(err error, _ time.Duration) { mu.Lock(); retries = append(retries, err); mu.Unlock() },
	})
	if err != nil {
		t.Fatalf("dial while rate limited = %v, want it to wait and get in", err)
	}
	defer c.Close()
	took := time.Since(start)
	if got := c.Text(); got != "hi\n" {
		t.Errorf("text = %q, want %q", got, "hi\n")
	}
	waitFor(t, patience, "OnRetry", func() bool { mu.Lock(); defer mu.Unlock(); return len(retries) > 0 })
	mu.Lock()
	defer mu.Unlock()
	for _, err := range retries {
		var he *client.HandshakeError
		if !errors.As(err, &he) || he.Status != http.StatusTooManyRequests || he.RetryAfter < time.Second {
			t.Errorf("retried after %v, want a 429 with Retry-After", err)
		}
	}
	if took < time.Second {
		t.Errorf("dial got in after %v, sooner than the server's Retry-After", took)
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

// TestServeDebugAddr: --debug-addr serves the profiler on its own address
// and not on the API's, and stops with the server.
func TestServeDebugAddr(t *testing.T) {
	srv := startServer(t, "--data-dir", t.TempDir(), "--debug-addr", "127.0.0.1:0")
	out, addr := srv.out, srv.addr
	_, debugURL, ok := strings.Cut(out.String(), "profiler on ")
	if !ok {
		t.Fatalf("stdout %q does not say where the profiler is", out.String())
	}
	debugURL, _, _ = strings.Cut(debugURL, "\n")
	get := func(url string) (int, string) {
		t.Helper()
		resp, err := http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	if code, body := get(debugURL + "goroutine?debug=1"); code != http.StatusOK || !strings.Contains(body, "goroutine profile") {
		t.Errorf("GET %sgoroutine = %d %.80q, want 200 and a goroutine profile", debugURL, code, body)
	}
	if code, body := get("http://" + addr + "/debug/pprof/goroutine?debug=1"); strings.Contains(body, "goroutine profile") {
		t.Errorf("the API address serves the profiler (%d)", code)
	}
	if err := srv.stop(); err != nil {
		t.Fatalf("Main after cancel = %v, want nil", err)
	}
	if _, err := http.Get(debugURL); err == nil {
		t.Error("the profiler still answers after the server stopped")
	}
}
