package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"github.com/collabd/collabd/collab"
	"github.com/collabd/collabd/migrations"
	"github.com/collabd/collabd/store/internal/group"
	"github.com/collabd/collabd/store/internal/record"
)

// Store is collab.Store on an SQLite file. Safe for concurrent use; another
// process may open the same file (writers then take turns, waiting up to
// the busy timeout).
type Store struct {
	// Set by Open; read-only afterwards.
	write     *sql.DB // one connection: the only writer of this process
	read      *sql.DB // read-only connections, read while the writer writes (WAL)
	committer *group.Committer[record.Rows]

	closeOnce sync.Once
	closeErr  error

	// failCommits makes that many batch commits fail after their writes and
	// before their commit; set only by tests.
	failCommits atomic.Int32
}

var _ collab.Store = (*Store)(nil)

// Options tune a Store; zero values take the defaults.
type Options struct {
	// MaxBatch is the most Appends committed in one transaction (256).
	MaxBatch int
	// CommitTimeout bounds one group commit (30s).
	CommitTimeout time.Duration
	// Readers is the number of read connections (4).
	Readers int
	// BusyTimeout is how long a write waits for another process's write
	// transaction (10s).
	BusyTimeout time.Duration
}

// Open opens (creating it and its directory if needed) the database file at
// path, applies the migrations and starts the committer.
func Open(ctx context.Context, path string) (*Store, error) {
	return OpenOptions(ctx, path, Options{})
}

// OpenOptions is Open with options.
func OpenOptions(ctx context.Context, path string, opts Options) (*Store, error) {
	if opts.Readers <= 0 {
		opts.Readers = 4
	}
	if opts.BusyTimeout <= 0 {
		opts.BusyTimeout = 10 * time.Second
	}
	if err := Migrate(ctx, path); err != nil {
		return nil, err
	}
	write, err := open(path, opts, false)
	if err != nil {
		return nil, err
	}
	write.SetMaxOpenConns(1)
	write.SetMaxIdleConns(1)
	write.SetConnMaxIdleTime(0)
	write.SetConnMaxLifetime(0)
	read, err := open(path, opts, true)
	if err != nil {
		write.Close()
		return nil, err
	}
	read.SetMaxOpenConns(opts.Readers)
	read.SetMaxIdleConns(opts.Readers)
	s := &Store{write: write, read: read}
	s.committer = group.New(s.commit, group.Options{
		MaxBatch: opts.MaxBatch,
		Timeout:  opts.CommitTimeout,
		Alone:    func(err error) bool { return !isUnavailable(err) },
		Closed:   collab.Errorf(collab.Unavailable, "store closed"),
	})
	if err := s.Ping(ctx); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// dsn builds the driver's name for path. Every connection gets the same
// settings: WAL (readers never block the writer), synchronous=FULL (a
// commit is on disk before Append returns: durable before ack), foreign
// keys, the busy timeout, and BEGIN IMMEDIATE for write transactions so
// that two processes never both hold a read snapshot they mean to write on.
func dsn(path string, opts Options, readOnly bool) (string, error) {
	if strings.ContainsAny(path, "?#") {
		return "", collab.Errorf(collab.Invalid, "sqlite path %q: ? and # are not allowed", path)
	}
	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", opts.BusyTimeout.Milliseconds()))
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(FULL)")
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "wal_autocheckpoint(10000)")
	q.Add("_pragma", "temp_store(MEMORY)")
	q.Add("_pragma", "cache_size(-65536)") // KiB: the hot pages of the op log stay in memory
	if readOnly {
		q.Add("_pragma", "query_only(1)")
	} else {
		q.Set("_txlock", "immediate")
	}
	return path + "?" + q.Encode(), nil
}

func open(path string, opts Options, readOnly bool) (*sql.DB, error) {
	name, err := dsn(path, opts, readOnly)
	if err != nil {
		return nil, err
	}
	db, err := sql.Open("sqlite", name)
	if err != nil {
		return nil, dbErr(err, "open "+path)
	}
	return db, nil
}

// Migrate creates the database file at path if needed and applies the
// migrations: the `collabd migrate` command. Open does it too.
func Migrate(ctx context.Context, path string) error {
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return collab.Errorf(collab.Unavailable, "create the database directory: %w", err)
		}
	}
	db, err := open(path, Options{BusyTimeout: 10 * time.Second}, false)
	if err != nil {
		return err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	if err := migrations.Up(ctx, db, migrations.SQLite); err != nil {
		return dbErr(err, "migrate "+path)
	}
	return nil
}

// Ping reports whether the file can be read and has the schema this binary
// expects.
func (s *Store) Ping(ctx context.Context) error {
	var v int64
	if err := s.read.QueryRowContext(ctx, migrations.VersionQuery).Scan(&v); err != nil {
		return dbErr(err, "ping sqlite")
	}
	if want := migrations.Latest(migrations.SQLite); v < want {
		return collab.Errorf(collab.Unavailable, "sqlite schema is at version %d, want %d: run collabd migrate", v, want)
	}
	return nil
}

// Close stops the committer (Appends not yet committed fail as
// unavailable) and closes the file.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.committer.Close()
		rerr := s.read.Close()
		if err := s.write.Close(); err != nil {
			rerr = err
		}
		s.closeErr = dbErr(rerr, "close sqlite")
	})
	return s.closeErr
}
