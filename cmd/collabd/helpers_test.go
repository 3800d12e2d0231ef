package main

// The harness of the end-to-end tests (e2e_test.go, crash_test.go,
// outage_test.go): the server in-process (Main) or as a subprocess, a REST
// client, Go clients and the wait for them to converge, a TCP proxy that
// cuts connections, and the checks every test makes on the stored
// history. The raw live-protocol client (typist) is in crash_test.go, its
// first user; the random edits are in e2e_test.go.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/collabd/collabd/collab"
	"github.com/collabd/collabd/collab/client"
	"github.com/collabd/collabd/internal/pgtest"
	"github.com/collabd/collabd/ot"
)

// TestMain runs the tests through pgtest, which removes the throwaway
// Postgres cluster when they end.
func TestMain(m *testing.M) { pgtest.Main(m) }

// patience bounds every wait of these tests.
const patience = 30 * time.Second

// waitFor polls cond until it holds, failing the test after d.
func waitFor(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// serverArgs are flags every test server gets: the edit rate is far above
// what the tests type, so no op is refused as rate_limited.
var serverArgs = []string{"serve", "--addr", "127.0.0.1:0", "--edit-rate", "100000", "--edit-burst", "100000"}

// logBuffer collects a server's log, shown when a test fails.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// tail returns the last n bytes of the log.
func (b *logBuffer) tail(n int) string {
	s := b.String()
	if len(s) > n {
		s = "…" + s[len(s)-n:]
	}
	return s
}

// server is Main running in the test process.
type server struct {
	addr string
	args []string // as given to startServer
	logs *logBuffer
	out  *logBuffer // Main's standard output

	mu     sync.Mutex // guards the fields below
	cancel context.CancelFunc
	done   chan error // Main's result; nil while stopped
}

// startServer runs Main with serverArgs and args (later flags win) until
// the test ends or stop is called.
func startServer(t *testing.T, args ...string) *server {
	t.Helper()
	s := &server{args: args, logs: &logBuffer{}, out: &logBuffer{}}
	if err := s.start(args); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.stop(); err != nil {
			t.Errorf("stop server: %v", err)
		}
		if t.Failed() {
			t.Logf("server log (%s):\n%s", s.addr, s.logs.tail(8000))
		}
	})
	return s
}

// start runs Main and waits until it serves.
func (s *server) start(args []string) error {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	ready := make(chan string, 1)
	go func() {
		done <- Main(ctx, append(slices.Clone(serverArgs), args...), env(nil), s.out, s.logs, ready)
	}()
	select {
	case addr := <-ready:
		s.mu.Lock()
		s.addr, s.cancel, s.done = addr, cancel, done
		s.mu.Unlock()
		return nil
	case err := <-done:
		cancel()
		return fmt.Errorf("Main returned before serving: %v\n%s", err, s.logs.tail(4000))
	case <-time.After(patience):
		cancel()
		return fmt.Errorf("server did not start within %v", patience)
	}
}

// stop cancels Main's context (a graceful shutdown) and returns what Main
// returned; nil if it was stopped already.
func (s *server) stop() error {
	s.mu.Lock()
	cancel, done := s.cancel, s.done
	s.done = nil
	s.mu.Unlock()
	if done == nil {
		return nil
	}
	cancel()
	select {
	case err := <-done:
		return err
	case <-time.After(patience):
		return fmt.Errorf("Main did not return within %v of cancel", patience)
	}
}

// restart stops Main gracefully and runs it again with the same flags on
// the same address, so clients find it where they left it.
func (s *server) restart() error {
	if err := s.stop(); err != nil {
		return fmt.Errorf("stop: %w", err)
	}
	args := append(slices.Clone(s.args), "--addr", s.addr)
	if err := s.start(args); err != nil {
		return fmt.Errorf("restart on %s: %w", s.addr, err)
	}
	return nil
}

// proc is collabd running as a subprocess, so that it can be killed.
type proc struct {
	cmd    *exec.Cmd
	addr   string
	logs   *logBuffer    // stderr
	exited chan struct{} // closed when the process has been waited for
}

// buildCollabd builds this command into a temporary directory of t, with
// the race detector when the tests run with it, and returns the binary.
func buildCollabd(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "collabd")
	args := []string{"build", "-o", bin}
	if raceEnabled() {
		args = append(args, "-race")
	}
	args = append(args, ".")
	if out, err := exec.Command("go", args...).CombinedOutput(); err != nil {
		t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return bin
}

// raceEnabled reports whether this test binary was built with -race.
func raceEnabled() bool {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return false
	}
	for _, s := range bi.Settings {
		if s.Key == "-race" && s.Value == "true" {
			return true
		}
	}
	return false
}

// startProc starts the binary with serverArgs and args and waits until it
// serves. The process is killed when the test ends, or when the test
// binary dies.
func startProc(t *testing.T, bin string, args ...string) *proc {
	t.Helper()
	p := &proc{logs: &logBuffer{}, exited: make(chan struct{})}
	p.cmd = exec.Command(bin, append(slices.Clone(serverArgs), args...)...)
	// Only what the flags say: no DATABASE_URL or COLLABD_* from the
	// environment of whoever runs the tests.
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "DATABASE_URL=") && !strings.HasPrefix(kv, "COLLABD_") {
			p.cmd.Env = append(p.cmd.Env, kv)
		}
	}
	addr := make(chan string, 1)
	p.cmd.Stdout = &servingWriter{addr: addr}
	p.cmd.Stderr = p.logs
	// The kernel kills the server if the test binary dies. The signal
	// follows the thread that forked, so fork from a goroutine locked to a
	// thread that lives as long as the child.
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	started := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread ends with this goroutine
		if err := p.cmd.Start(); err != nil {
			started <- err
			close(p.exited)
			return
		}
		started <- nil
		p.cmd.Wait()
		close(p.exited)
	}()
	if err := <-started; err != nil {
		t.Fatalf("start %s: %v", bin, err)
	}
	t.Cleanup(func() {
		p.kill()
		if t.Failed() {
			t.Logf("log of collabd (pid %d, %s):\n%s", p.cmd.Process.Pid, p.addr, p.logs.tail(8000))
		}
		if strings.Contains(p.logs.String(), "WARNING: DATA RACE") {
			t.Errorf("collabd (pid %d) reported a data race:\n%s", p.cmd.Process.Pid, p.logs.tail(8000))
		}
	})
	select {
	case p.addr = <-addr:
	case <-p.exited:
		t.Fatalf("collabd exited before serving: %v\n%s", p.cmd.ProcessState, p.logs.tail(4000))
	case <-time.After(patience):
		t.Fatalf("collabd did not serve within %v\n%s", patience, p.logs.tail(4000))
	}
	return p
}

// servingWriter is a server's stdout: it sends the address of the line
// "collabd is serving on http://…" on addr.
type servingWriter struct {
	addr chan<- string
	line []byte
}

func (w *servingWriter) Write(p []byte) (int, error) {
	w.line = append(w.line, p...)
	for {
		i := bytes.IndexByte(w.line, '\n')
		if i < 0 {
			return len(p), nil
		}
		if a, ok := strings.CutPrefix(string(w.line[:i]), "collabd is serving on http://"); ok {
			select {
			case w.addr <- a:
			default:
			}
		}
		w.line = w.line[i+1:]
	}
}

// kill sends SIGKILL and waits for the process to be gone.
func (p *proc) kill() {
	p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.exited
}

// restClient calls the REST API as one user.
type restClient struct {
	t     *testing.T
	base  string // http://host:port
	token string
	http  *http.Client
}

// signup creates a user on the server at addr and returns a client acting
// as them.
func signup(t *testing.T, addr string) *restClient {
	t.Helper()
	rc := &restClient{t: t, base: "http://" + addr, http: &http.Client{Timeout: 10 * time.Second}}
	var out struct {
		Token string `json:"token"`
	}
	name := "e2e-" + strconv.FormatInt(rand.Int64N(1e9), 36)
	rc.must(http.StatusCreated, "POST", "/v1/auth/signup", map[string]string{"username": name, "password": "correct horse battery"}, &out)
	if out.Token == "" {
		t.Fatal("signup answered no token")
	}
	rc.token = out.Token
	return rc
}

// in returns the same client for use in test t (a subtest).
func (rc *restClient) in(t *testing.T) *restClient {
	c := *rc
	c.t = t
	return &c
}

// at returns the same user's client for a server at another address.
func (rc *restClient) at(addr string) *restClient {
	c := *rc
	c.base = "http://" + addr
	return &c
}

// do sends a request and decodes a JSON answer into out (if not nil).
func (rc *restClient) do(method, path string, body, out any) (int, error) {
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, err
		}
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, rc.base+path, r)
	if err != nil {
		return 0, err
	}
	if rc.token != "" {
		req.Header.Set("Authorization", "Bearer "+rc.token)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := rc.http.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, err
	}
	if out != nil && resp.StatusCode < 300 {
		if err := json.Unmarshal(b, out); err != nil {
			return resp.StatusCode, fmt.Errorf("%s %s: decode %.200s: %w", method, path, b, err)
		}
	}
	if resp.StatusCode >= 300 {
		return resp.StatusCode, fmt.Errorf("%s %s = %d %.300s", method, path, resp.StatusCode, b)
	}
	return resp.StatusCode, nil
}

func (rc *restClient) must(want int, method, path string, body, out any) {
	rc.t.Helper()
	status, err := rc.do(method, path, body, out)
	if status != want {
		rc.t.Fatalf("%s %s = %d, want %d: %v", method, path, status, want, err)
	}
	if err != nil {
		rc.t.Fatal(err)
	}
}

// createDocument creates a document holding text (plus the final "\n").
func (rc *restClient) createDocument(text string) collab.DocumentID {
	rc.t.Helper()
	var out struct {
		ID collab.DocumentID `json:"id"`
	}
	rc.must(http.StatusCreated, "POST", "/v1/documents", map[string]string{"title": "e2e", "text": text}, &out)
	return out.ID
}

// content returns the stored document at its newest version.
func (rc *restClient) content(doc collab.DocumentID) (int64, ot.Doc) {
	rc.t.Helper()
	var out struct {
		Version int64  `json:"version"`
		Delta   ot.Doc `json:"delta"`
	}
	rc.must(http.StatusOK, "GET", "/v1/documents/"+string(doc)+"/content?format=delta", nil, &out)
	return out.Version, out.Delta
}

// contentAt returns the stored document at version.
func (rc *restClient) contentAt(doc collab.DocumentID, version int64) ot.Doc {
	rc.t.Helper()
	var out struct {
		Delta ot.Doc `json:"delta"`
	}
	rc.must(http.StatusOK, "GET", fmt.Sprintf("/v1/documents/%s/content?format=delta&version=%d", doc, version), nil, &out)
	return out.Delta
}

// historyEdit is one edit of GET /v1/documents/{id}/ops.
type historyEdit struct {
	Version int64           `json:"version"`
	Delta   ot.Delta        `json:"delta"`
	Client  collab.ClientID `json:"client"`
	Seq     int64           `json:"seq"`
}

// history reads the whole op history, page by page.
func (rc *restClient) history(doc collab.DocumentID) []historyEdit {
	rc.t.Helper()
	var all []historyEdit
	cursor := ""
	for page := 0; ; page++ {
		if page > 1000 {
			rc.t.Fatal("history: more than 1000 pages")
		}
		var out struct {
			Items      []historyEdit `json:"items"`
			NextCursor string        `json:"next_cursor"`
		}
		path := "/v1/documents/" + string(doc) + "/ops?limit=1000"
		if cursor != "" {
			path += "&cursor=" + cursor
		}
		rc.must(http.StatusOK, "GET", path, nil, &out)
		all = append(all, out.Items...)
		if out.NextCursor == "" {
			return all
		}
		cursor = out.NextCursor
	}
}

// opID names an op: (client, seq).
type opID struct {
	client collab.ClientID
	seq    int64
}

func (id opID) String() string { return fmt.Sprintf("(%s, %d)", id.client, id.seq) }

// checkHistory checks what holds for every document's history: versions
// 1, 2, … in order, no (client, seq) twice (protocol: exactly once), and
// replaying the edits on initial gives final. It returns the edits by
// (client, seq).
func checkHistory(t *testing.T, initial ot.Doc, hist []historyEdit, finalVersion int64, final ot.Doc) map[opID]historyEdit {
	t.Helper()
	byOp := make(map[opID]historyEdit, len(hist))
	doc := initial
	for i, e := range hist {
		if e.Version != int64(i+1) {
			t.Fatalf("history[%d] has version %d, want %d", i, e.Version, i+1)
		}
		id := opID{e.Client, e.Seq}
		if prev, dup := byOp[id]; dup {
			t.Errorf("op %v is in the history twice: versions %d and %d", id, prev.Version, e.Version)
		}
		byOp[id] = e
		next, err := doc.Apply(e.Delta)
		if err != nil {
			t.Fatalf("replaying edit %d %s of %v: %v", e.Version, jsonOf(e.Delta), id, err)
		}
		doc = next
	}
	if int64(len(hist)) != finalVersion {
		t.Errorf("history has %d edits, but the document is at version %d", len(hist), finalVersion)
	}
	if !ot.Equal(doc.Delta(), final.Delta()) {
		t.Errorf("the history replayed on the initial document differs from the stored content:\n%s", docDiff("replayed", doc, "stored", final))
	}
	return byOp
}

func jsonOf(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprintf("%#v", v)
	}
	return string(b)
}

// docDiff shows where the JSON of two documents first differs.
func docDiff(aName string, a ot.Doc, bName string, b ot.Doc) string {
	aj, bj := jsonOf(a), jsonOf(b)
	i := 0
	for i < len(aj) && i < len(bj) && aj[i] == bj[i] {
		i++
	}
	from := max(0, i-60)
	clip := func(s string) string {
		return "…" + s[from:min(len(s), i+100)] + "…"
	}
	return fmt.Sprintf("  %s (length %d): at byte %d of its JSON: %s\n  %s (length %d): at byte %d of its JSON: %s",
		aName, a.Len(), i, clip(aj), bName, b.Len(), i, clip(bj))
}

// wsURL is the live endpoint of doc on the server at addr.
func wsURL(addr string, doc collab.DocumentID) string {
	return "ws://" + addr + "/v1/documents/" + string(doc) + "/live"
}

func bearer(token string) http.Header {
	return http.Header{"Authorization": {"Bearer " + token}}
}

// dialClient connects a Go client, which reconnects quickly after a
// failure. Errors it survives go to onError (nil: the test fails on
// any but unavailable and rate_limited).
// Each of opts may set more options (OnAck, say) before the dial.
func dialClient(t *testing.T, addr string, doc collab.DocumentID, token string, id collab.ClientID, onError func(error), opts ...func(*client.Options)) *client.Client {
	t.Helper()
	if onError == nil {
		onError = func(err error) {
			switch collab.ErrorCode(err) {
			case collab.Unavailable, collab.RateLimited:
				return
			}
			t.Errorf("client %s: %v", id, err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	o := client.Options{
		URL: wsURL(addr, doc), Header: bearer(token), ClientID: id,
		ReconnectMin: 5 * time.Millisecond, ReconnectMax: 200 * time.Millisecond,
		Dialer:  &websocket.Dialer{HandshakeTimeout: 5 * time.Second},
		OnError: onError,
	}
	for _, f := range opts {
		f(&o)
	}
	c, err := client.Dial(ctx, o)
	if err != nil {
		t.Fatalf("dial client %s: %v", id, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// waitConverged waits until every client is connected, has nothing
// unacknowledged and holds the stored version, then checks that they all
// hold the stored document. It returns the stored version and document.
func waitConverged(t *testing.T, rc *restClient, doc collab.DocumentID, clients []*client.Client) (int64, ot.Doc) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	for _, c := range clients {
		if err := c.WaitSynced(ctx); err != nil {
			t.Fatalf("client %s: wait synced: %v (status %s, connected %v, version %d)", c.ID(), err, c.Status(), c.Connected(), c.Version())
		}
	}
	var version int64
	var stored ot.Doc
	deadline := time.Now().Add(patience)
	for {
		version, stored = rc.content(doc)
		behind := ""
		for _, c := range clients {
			if v := c.Version(); v != version || c.Pending() {
				behind = fmt.Sprintf("client %s at version %d (pending %v)", c.ID(), v, c.Pending())
				break
			}
		}
		if behind == "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("clients did not reach the stored version %d within %v: %s", version, patience, behind)
		}
		time.Sleep(5 * time.Millisecond)
	}
	for _, c := range clients {
		if d := c.Doc(); !ot.Equal(d.Delta(), stored.Delta()) {
			t.Errorf("client %s differs from the stored document at version %d:\n%s", c.ID(), version, docDiff("client", d, "stored", stored))
		}
	}
	return version, stored
}

// checkSeqs checks that the history holds ops 1..n of each Go client, n
// at least 1: each op the client made was committed once, none was lost
// (the client numbers its ops 1, 2, … and keeps each until acked).
func checkSeqs(t *testing.T, byOp map[opID]historyEdit, clients []*client.Client) {
	t.Helper()
	top := map[collab.ClientID]int64{}
	count := map[collab.ClientID]int64{}
	for id := range byOp {
		top[id.client] = max(top[id.client], id.seq)
		count[id.client]++
	}
	for _, c := range clients {
		if top[c.ID()] == 0 {
			t.Errorf("client %s has no edit in the history", c.ID())
		}
		if count[c.ID()] != top[c.ID()] {
			var missing []int64
			for s := int64(1); s <= top[c.ID()] && len(missing) < 10; s++ {
				if _, ok := byOp[opID{c.ID(), s}]; !ok {
					missing = append(missing, s)
				}
			}
			t.Errorf("client %s: the history has %d of its ops but seqs up to %d; missing %v", c.ID(), count[c.ID()], top[c.ID()], missing)
		}
	}
}

// proxy forwards TCP connections on 127.0.0.1 to a target and can cut
// them all at once (with a reset, as a failing network would end them).
// A proxy made by newDelayProxy also holds back each chunk it forwards
// for a random while (a slow network): the bytes of each direction still
// arrive in order, only later, so that messages cross in flight.
type proxy struct {
	t      *testing.T
	ln     net.Listener
	target string
	wg     sync.WaitGroup // accept loop and pipes

	maxDelay time.Duration // 0: forward at once
	rmu      sync.Mutex    // guards r
	r        *rand.Rand    // draws the delays

	mu       sync.Mutex // guards the fields below
	conns    map[net.Conn]bool
	accepted int
	down     bool // the network is down: connections are reset at once
	closed   bool
}

func newProxy(t *testing.T, target string) *proxy {
	return newDelayProxy(t, target, 0, 0)
}

// newDelayProxy is newProxy that delays each chunk it forwards by a
// random time in [0, maxDelay], drawn from a generator seeded with seed.
// (Which chunks the bytes come in depends on timing, so the delays do not
// repeat exactly from run to run.)
func newDelayProxy(t *testing.T, target string, seed uint64, maxDelay time.Duration) *proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{t: t, ln: ln, target: target, conns: map[net.Conn]bool{}, maxDelay: maxDelay}
	if maxDelay > 0 {
		p.r = rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))
	}
	p.wg.Go(p.accept)
	t.Cleanup(p.close)
	return p
}

func (p *proxy) addr() string { return p.ln.Addr().String() }

func (p *proxy) accept() {
	for {
		in, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		down := p.down
		p.mu.Unlock()
		if down {
			in.(*net.TCPConn).SetLinger(0)
			in.Close()
			continue
		}
		out, err := net.DialTimeout("tcp", p.target, 5*time.Second)
		if err != nil {
			in.Close()
			continue
		}
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			in.Close()
			out.Close()
			return
		}
		p.accepted++
		p.conns[in], p.conns[out] = true, true
		p.mu.Unlock()
		p.wg.Go(func() { p.pipe(out, in) })
		p.wg.Go(func() { p.pipe(in, out) })
	}
}

// pipe forwards src to dst until either fails, then closes both (one
// direction ended: end the other, as the network would).
func (p *proxy) pipe(dst, src net.Conn) {
	if p.maxDelay == 0 {
		io.Copy(dst, src)
	} else {
		p.delayedCopy(dst, src)
	}
	src.Close()
	dst.Close()
	p.mu.Lock()
	delete(p.conns, src)
	delete(p.conns, dst)
	p.mu.Unlock()
}

// delayedCopy is io.Copy through a delay queue: this goroutine reads
// chunks and stamps each with the time it is due, a writer goroutine
// writes them in the order read once due. What was read before src ended
// is still delivered; once a write fails the rest is dropped. It returns
// when both have stopped.
func (p *proxy) delayedCopy(dst, src net.Conn) {
	type chunk struct {
		b   []byte
		due time.Time
	}
	queue := make(chan chunk, 64)
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		failed := false
		for c := range queue {
			if failed {
				continue // drain, so that the reader never blocks
			}
			if d := time.Until(c.due); d > 0 {
				time.Sleep(d)
			}
			if _, err := dst.Write(c.b); err != nil {
				failed = true
				src.Close() // stop the reader too
			}
		}
	}()
	var last time.Time
	for {
		buf := make([]byte, 32<<10)
		n, err := src.Read(buf)
		if n > 0 {
			p.rmu.Lock()
			d := time.Duration(p.r.Int64N(int64(p.maxDelay) + 1))
			p.rmu.Unlock()
			due := time.Now().Add(d)
			if due.Before(last) {
				due = last // a queue: never due before the chunk ahead
			}
			last = due
			queue <- chunk{buf[:n], due}
		}
		if err != nil {
			break
		}
	}
	close(queue)
	<-writerDone
}

// cut resets every connection open through the proxy and reports how
// many pairs there were.
func (p *proxy) cut() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.conns {
		if tc, ok := c.(*net.TCPConn); ok {
			tc.SetLinger(0) // close with RST
		}
		c.Close()
	}
	n := len(p.conns) / 2
	clear(p.conns)
	return n
}

// setDown takes the network down (every connection is cut, new ones are
// reset at once) or brings it back up.
func (p *proxy) setDown(down bool) {
	p.mu.Lock()
	p.down = down
	p.mu.Unlock()
	if down {
		p.cut()
	}
}

// connections reports how many connections the proxy has accepted.
func (p *proxy) connections() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.accepted
}

func (p *proxy) close() {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	p.ln.Close()
	p.cut()
	done := make(chan struct{})
	go func() {
		p.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(patience):
		p.t.Errorf("proxy %s: its goroutines did not end within %v of closing it", p.addr(), patience)
	}
}
