package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// installHint is what a test says when it finds no PostgreSQL to run.
const installHint = "no PostgreSQL: install it with `apt-get install -y postgresql` " +
	"(the tests start a throwaway cluster from its binaries), or set DATABASE_URL " +
	"to a server where the test user may create databases"

// Cluster is a PostgreSQL server the tests may create databases in: either
// one this package started (own) or the one named by DATABASE_URL.
type Cluster struct {
	// Set by newCluster or external; read-only afterwards.
	url    string  // a URL of the server's "postgres" database
	server *server // nil for DATABASE_URL: it cannot be stopped
}

var (
	// mainRunning is set by Main: Shared needs Main to remove its cluster.
	mainRunning bool

	sharedMu  sync.Mutex
	shared    *Cluster
	sharedErr error

	// live holds every own cluster not yet removed, for the signal handler.
	liveMu sync.Mutex
	live   = map[*server]bool{}
)

// Main runs the tests of m and exits with their status, removing the shared
// cluster first. It also removes every cluster of this binary when the
// binary gets SIGINT or SIGTERM.
func Main(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	mainRunning = true
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	defer close(done)
	go func() {
		select {
		case s := <-sigs:
			removeAll()
			fmt.Fprintf(os.Stderr, "pgtest: %v: removed the test clusters\n", s)
			os.Exit(1)
		case <-done:
			signal.Stop(sigs)
		}
	}()
	defer removeAll()
	return m.Run()
}

func removeAll() {
	liveMu.Lock()
	servers := make([]*server, 0, len(live))
	for s := range live {
		servers = append(servers, s)
	}
	liveMu.Unlock()
	for _, s := range servers {
		s.remove()
	}
}

// Shared returns the cluster for ordinary tests: DATABASE_URL when it is
// set, otherwise one throwaway cluster per test binary, started on first use
// and removed by Main. Give each test its own database with NewDatabase.
func Shared(tb testing.TB) *Cluster {
	tb.Helper()
	if u := os.Getenv("DATABASE_URL"); u != "" {
		return &Cluster{url: u}
	}
	if !mainRunning {
		tb.Fatal("pgtest.Shared needs the package's tests to run through pgtest.Main: add func TestMain(m *testing.M) { pgtest.Main(m) }")
	}
	sharedMu.Lock()
	defer sharedMu.Unlock()
	if shared == nil && sharedErr == nil {
		shared, sharedErr = newCluster()
	}
	if sharedErr != nil {
		tb.Fatal(sharedErr)
	}
	return shared
}

// Start starts a cluster of tb's own, for a test that stops and restarts
// the server; it is removed when tb ends. DATABASE_URL does not apply.
func Start(tb testing.TB) *Cluster {
	tb.Helper()
	c, err := newCluster()
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(c.server.remove)
	return c
}

func newCluster() (*Cluster, error) {
	s, err := startServer()
	if err != nil {
		return nil, err
	}
	return &Cluster{url: s.url("postgres"), server: s}, nil
}

// URL returns a URL of the cluster's "postgres" database.
func (c *Cluster) URL() string { return c.url }

// NewDatabase creates a fresh empty database, dropped when tb ends, and
// returns its URL.
func (c *Cluster) NewDatabase(tb testing.TB) string {
	tb.Helper()
	var b [6]byte
	rand.Read(b[:])
	name := "collabd_test_" + hex.EncodeToString(b[:])
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := c.exec(ctx, "CREATE DATABASE "+name); err != nil {
		tb.Fatalf("create test database: %v", err)
	}
	tb.Cleanup(func() {
		if c.server != nil && !c.server.running() {
			return // stopped by the test; the cluster goes as a whole
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := c.exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			tb.Errorf("drop test database: %v", err)
		}
	})
	u, err := url.Parse(c.url)
	if err != nil {
		tb.Fatalf("parse database URL: %v", err)
	}
	u.Path = "/" + name
	return u.String()
}

// exec runs one statement on the cluster's "postgres" database.
func (c *Cluster) exec(ctx context.Context, sql string) error {
	conn, err := pgx.Connect(ctx, c.url)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	_, err = conn.Exec(ctx, sql)
	return err
}

// Stop shuts the server down (fast: open connections are cut), keeping its
// data and port for Start. Only for a cluster from Start.
func (c *Cluster) Stop() error {
	if c.server == nil {
		return errors.New("pgtest: cannot stop the DATABASE_URL server")
	}
	return c.server.stop()
}

// Start starts a stopped cluster again on the same port and data.
func (c *Cluster) Start() error {
	if c.server == nil {
		return errors.New("pgtest: cannot start the DATABASE_URL server")
	}
	return c.server.start()
}
