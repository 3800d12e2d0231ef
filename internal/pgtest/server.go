package pgtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// server is a postgres process of our own over a data directory in a
// temporary directory. The process is a direct child of the test binary,
// started with a parent-death signal, so it dies with the binary even when
// no cleanup runs; cleanStale removes what such a run left on disk.
type server struct {
	// Set by startServer; read-only afterwards.
	dir  string // temporary directory: data/, the socket, log, owner.pid
	bin  string // directory of initdb and postgres
	port int
	cred *syscall.Credential // the postgres user's, when running as root

	mu      sync.Mutex // guards the fields below
	proc    *exec.Cmd  // nil when stopped
	exited  chan struct{}
	removed bool
}

const (
	startTimeout = 60 * time.Second
	stopTimeout  = 60 * time.Second
	dirPrefix    = "collabd-pgtest-"
)

// binDir finds initdb and postgres: the Debian location of PostgreSQL 15
// (or another version there), else PATH.
func binDir() (string, error) {
	candidates := []string{"/usr/lib/postgresql/15/bin"}
	if more, _ := filepath.Glob("/usr/lib/postgresql/*/bin"); len(more) > 0 {
		candidates = append(candidates, more...)
	}
	for _, dir := range candidates {
		if isExecutable(filepath.Join(dir, "initdb")) && isExecutable(filepath.Join(dir, "postgres")) {
			return dir, nil
		}
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		dir := filepath.Dir(p)
		if isExecutable(filepath.Join(dir, "postgres")) {
			return dir, nil
		}
	}
	return "", errors.New(installHint)
}

func isExecutable(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0
}

func startServer() (*server, error) {
	bin, err := binDir()
	if err != nil {
		return nil, err
	}
	cleanStale()
	dir, err := os.MkdirTemp("", dirPrefix)
	if err != nil {
		return nil, fmt.Errorf("pgtest: %w", err)
	}
	s := &server{dir: dir, bin: bin}
	liveMu.Lock()
	live[s] = true
	liveMu.Unlock()
	if err := s.init(); err != nil {
		s.remove()
		return nil, err
	}
	// A free port can be taken between our probe and the server's bind:
	// try a few.
	for attempt := 1; ; attempt++ {
		if s.port, err = freePort(); err == nil {
			err = s.start()
		}
		if err == nil {
			return s, nil
		}
		if attempt == 3 {
			s.remove()
			return nil, err
		}
	}
}

// init creates the data directory with initdb, owned by the postgres user
// when running as root (initdb and postgres refuse to run as root).
func (s *server) init() error {
	if err := os.WriteFile(filepath.Join(s.dir, "owner.pid"), []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
		return fmt.Errorf("pgtest: %w", err)
	}
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			return fmt.Errorf("pgtest: running as root needs a postgres user to run the server as (apt-get install -y postgresql creates it): %w", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		s.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		if err := os.Chmod(s.dir, 0o755); err != nil {
			return fmt.Errorf("pgtest: %w", err)
		}
		if err := os.Chown(s.dir, uid, gid); err != nil {
			return fmt.Errorf("pgtest: %w", err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	// --no-sync only skips initdb's final flush of the new files; the server
	// itself runs with fsync on.
	cmd := exec.CommandContext(ctx, filepath.Join(s.bin, "initdb"),
		"-D", s.dataDir(), "-U", "postgres", "--auth=trust", "-E", "UTF8",
		"--locale=C", "--no-sync", "--no-instructions")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: s.cred, Pdeathsig: syscall.SIGKILL}
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("pgtest: initdb: %w\n%s", err, out)
	}
	return nil
}

func (s *server) dataDir() string { return filepath.Join(s.dir, "data") }
func (s *server) logFile() string { return filepath.Join(s.dir, "postgres.log") }

func (s *server) url(db string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", s.port, db)
}

func (s *server) running() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.proc != nil
}

// start runs postgres and waits until it accepts connections.
func (s *server) start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.removed {
		return errors.New("pgtest: cluster removed")
	}
	if s.proc != nil {
		return nil
	}
	logf, err := os.OpenFile(s.logFile(), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("pgtest: %w", err)
	}
	defer logf.Close()
	cmd := exec.Command(filepath.Join(s.bin, "postgres"),
		"-D", s.dataDir(),
		"-p", strconv.Itoa(s.port),
		"-c", "listen_addresses=127.0.0.1",
		"-c", "unix_socket_directories="+s.dir,
		"-c", "fsync=on",
		"-c", "synchronous_commit=on",
		"-c", "full_page_writes=on",
		"-c", "max_connections=300",
		"-c", "shared_buffers=256MB",
		"-c", "max_wal_size=4GB",
		"-c", "logging_collector=off",
	)
	cmd.Stdout = logf
	cmd.Stderr = logf
	// Kill the server if the test binary dies. The signal follows the
	// thread that forked, so fork from a goroutine locked to its thread that
	// lives as long as the server.
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: s.cred, Pdeathsig: syscall.SIGKILL}
	started := make(chan error, 1)
	exited := make(chan struct{})
	go func() {
		runtime.LockOSThread() // never unlocked: the thread ends with this goroutine
		if err := cmd.Start(); err != nil {
			started <- err
			close(exited)
			return
		}
		started <- nil
		cmd.Wait()
		close(exited)
	}()
	if err := <-started; err != nil {
		return fmt.Errorf("pgtest: start postgres: %w", err)
	}
	if err := waitReady(s.url("postgres"), exited); err != nil {
		cmd.Process.Kill()
		<-exited
		return fmt.Errorf("pgtest: postgres on port %d did not start: %w\n%s", s.port, err, tail(s.logFile()))
	}
	s.proc, s.exited = cmd, exited
	return nil
}

// waitReady polls until the server accepts a connection, it exits, or the
// start timeout passes.
func waitReady(u string, exited <-chan struct{}) error {
	deadline := time.Now().Add(startTimeout)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		conn, err := pgx.Connect(ctx, u)
		cancel()
		if err == nil {
			conn.Close(context.Background())
			return nil
		}
		select {
		case <-exited:
			return errors.New("postgres exited")
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not accepting connections after %v: %w", startTimeout, err)
		}
	}
}

// stop shuts the server down fast (SIGINT: sessions are cut, data kept).
func (s *server) stop() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc == nil {
		return nil
	}
	s.proc.Process.Signal(syscall.SIGINT)
	select {
	case <-s.exited:
	case <-time.After(stopTimeout):
		s.proc.Process.Kill()
		<-s.exited
	}
	s.proc = nil
	return nil
}

// remove stops the server and deletes its directory.
func (s *server) remove() {
	s.stop()
	s.mu.Lock()
	s.removed = true
	s.mu.Unlock()
	os.RemoveAll(s.dir)
	liveMu.Lock()
	delete(live, s)
	liveMu.Unlock()
}

// cleanStale removes the directories of clusters whose test binary is gone
// (killed before it could clean up). Their servers died with the binary;
// kill any leftover of one anyway before deleting its files.
func cleanStale() {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), dirPrefix+"*"))
	for _, dir := range dirs {
		b, err := os.ReadFile(filepath.Join(dir, "owner.pid"))
		if err != nil {
			continue // still being set up, or not ours
		}
		owner, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil || owner <= 0 || processAlive(owner) {
			continue
		}
		if pb, err := os.ReadFile(filepath.Join(dir, "data", "postmaster.pid")); err == nil {
			first, _, _ := bytes.Cut(pb, []byte("\n"))
			if pid, err := strconv.Atoi(strings.TrimSpace(string(first))); err == nil && pid > 0 && processAlive(pid) {
				syscall.Kill(pid, syscall.SIGQUIT) // immediate shutdown
			}
		}
		os.RemoveAll(dir)
	}
}

func processAlive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("pgtest: find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// tail returns the end of a log file, for a failure message.
func tail(path string) string {
	b, _ := os.ReadFile(path)
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}
