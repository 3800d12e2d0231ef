package migrations

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"strconv"
	"strings"

	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

//go:embed postgres/*.sql sqlite/*.sql
var files embed.FS

// Dialect names a schema directory.
type Dialect string

const (
	Postgres Dialect = "postgres"
	SQLite   Dialect = "sqlite"
)

// Up applies every migration of dialect that db has not applied yet. On
// Postgres an advisory lock keeps processes that start together from
// migrating at once.
func Up(ctx context.Context, db *sql.DB, d Dialect) error {
	p, err := provider(db, d)
	if err != nil {
		return err
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("migrate %s schema: %w", d, err)
	}
	return nil
}

func provider(db *sql.DB, d Dialect) (*goose.Provider, error) {
	sub, err := fs.Sub(files, string(d))
	if err != nil {
		return nil, fmt.Errorf("migrations for %s: %w", d, err)
	}
	var opts []goose.ProviderOption
	var dialect goose.Dialect
	switch d {
	case Postgres:
		dialect = goose.DialectPostgres
		// Poll the lock once a second for up to five minutes.
		locker, err := lock.NewPostgresSessionLocker(lock.WithLockTimeout(1, 300))
		if err != nil {
			return nil, fmt.Errorf("migration lock: %w", err)
		}
		opts = append(opts, goose.WithSessionLocker(locker))
	case SQLite:
		// SQLite has one writer at a time; the migration's transaction is
		// the lock.
		dialect = goose.DialectSQLite3
	default:
		return nil, fmt.Errorf("unknown migration dialect %q", d)
	}
	opts = append(opts, goose.WithDisableGlobalRegistry(true))
	p, err := goose.NewProvider(dialect, db, sub, opts...)
	if err != nil {
		return nil, fmt.Errorf("migrations for %s: %w", d, err)
	}
	return p, nil
}

// Latest returns the newest migration version embedded for dialect: what a
// migrated database reports as its version.
func Latest(d Dialect) int64 {
	entries, err := fs.ReadDir(files, string(d))
	if err != nil {
		return 0
	}
	var latest int64
	for _, e := range entries {
		num, _, ok := strings.Cut(path.Base(e.Name()), "_")
		if !ok {
			continue
		}
		if v, err := strconv.ParseInt(num, 10, 64); err == nil && v > latest {
			latest = v
		}
	}
	return latest
}

// VersionQuery is the SQL that returns a database's applied migration
// version, for a store's Ping. It reads goose's table directly so that a
// store can run it on its own connection.
const VersionQuery = "SELECT COALESCE(MAX(version_id), 0) FROM goose_db_version WHERE is_applied"
