package postgres

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/collabd/collabd/collab"
	"github.com/collabd/collabd/migrations"
	"github.com/collabd/collabd/store/internal/group"
	"github.com/collabd/collabd/store/internal/record"
)

// Store is collab.Store on PostgreSQL. Safe for concurrent use; several
// processes may share one database.
type Store struct {
	// Set by Open; read-only afterwards.
	pool      *pgxpool.Pool
	committer *group.Committer[record.Rows] // Append's group commit

	// prepared maps a *pgx.Conn to its appendStatement. Entries are added
	// by the committers and removed when the pool closes the connection.
	prepared sync.Map
	stmtSeq  atomic.Int64 // numbers the prepared statements

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
	// Committers is how many batches commit at once (2).
	Committers int
	// Overlap is the fewest Appends a batch needs to commit beside another
	// batch (group.Options.Overlap); a smaller one waits for the running
	// commit and gathers meanwhile. Default defaultOverlap; 1: never wait.
	Overlap int
}

// defaultOverlap: see Options.Overlap.
const defaultOverlap = 16

// defaultMaxConns is the pool size unless the URL sets pool_max_conns: the
// committers (2), the checkpoints (2 at most, see session.Config) and reads.
const defaultMaxConns = 16

// Open connects to the database at url (postgres://...; pool settings such
// as pool_max_conns may be given in it), applies the migrations and starts
// the committer.
func Open(ctx context.Context, url string) (*Store, error) {
	return OpenOptions(ctx, url, Options{})
}

// OpenOptions is Open with options.
func OpenOptions(ctx context.Context, url string, opts Options) (*Store, error) {
	if opts.Committers <= 0 {
		opts.Committers = 2
	}
	if opts.Overlap <= 0 {
		opts.Overlap = defaultOverlap
	}
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, collab.Errorf(collab.Invalid, "database URL: %w", err)
	}
	if !strings.Contains(url, "pool_max_conns") {
		// pgxpool's default (4 on two cores) queues the committers behind
		// reads under load; a URL may still set its own.
		cfg.MaxConns = defaultMaxConns
	}
	if err := migrate(ctx, cfg.ConnConfig); err != nil {
		return nil, err
	}
	s := &Store{}
	cfg.BeforeClose = func(c *pgx.Conn) { s.prepared.Delete(c) }
	if s.pool, err = pgxpool.NewWithConfig(ctx, cfg); err != nil {
		return nil, dbErr(err, "connect to postgres")
	}
	s.committer = group.New(s.commit, group.Options{
		MaxBatch: opts.MaxBatch,
		Timeout:  opts.CommitTimeout,
		Alone:    func(err error) bool { return !isConnErr(err) },
		Closed:   collab.Errorf(collab.Unavailable, "store closed"),
		// While one batch waits for its WAL flush, the next one executes.
		Committers: opts.Committers,
		Overlap:    opts.Overlap,
	})
	return s, nil
}

// Migrate applies the migrations to the database at url: the `collabd
// migrate` command. Open does it too.
func Migrate(ctx context.Context, url string) error {
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		return collab.Errorf(collab.Invalid, "database URL: %w", err)
	}
	return migrate(ctx, cfg)
}

func migrate(ctx context.Context, cfg *pgx.ConnConfig) error {
	db := stdlib.OpenDB(*cfg)
	defer db.Close()
	if err := migrations.Up(ctx, db, migrations.Postgres); err != nil {
		return dbErr(err, "migrate postgres")
	}
	return nil
}

// Ping reports whether the database answers and has the schema this binary
// expects.
func (s *Store) Ping(ctx context.Context) error {
	var v int64
	if err := s.pool.QueryRow(ctx, migrations.VersionQuery).Scan(&v); err != nil {
		return dbErr(err, "ping postgres")
	}
	if want := migrations.Latest(migrations.Postgres); v < want {
		return collab.Errorf(collab.Unavailable, "postgres schema is at version %d, want %d: run collabd migrate", v, want)
	}
	return nil
}

// Close stops the committer (Appends not yet committed fail as
// unavailable) and closes the connections.
func (s *Store) Close() error {
	s.committer.Close()
	s.pool.Close()
	return nil
}
