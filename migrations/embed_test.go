package migrations

import (
	"context"
	"database/sql"
	"io/fs"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	_ "modernc.org/sqlite"
)

// Both dialects have the same migrations, one file per version each.
func TestDialectsMatch(t *testing.T) {
	names := func(d Dialect) []string {
		entries, err := fs.ReadDir(files, string(d))
		if err != nil {
			t.Fatal(err)
		}
		var versions []string
		for _, e := range entries {
			v, _, _ := strings.Cut(e.Name(), "_")
			versions = append(versions, v)
		}
		return versions
	}
	pg, lite := names(Postgres), names(SQLite)
	if !slices.Equal(pg, lite) || len(pg) == 0 {
		t.Errorf("migration versions: postgres %v, sqlite %v; want the same, at least one", pg, lite)
	}
	if Latest(Postgres) != Latest(SQLite) || Latest(SQLite) < 1 {
		t.Errorf("Latest = %d (postgres), %d (sqlite); want equal, at least 1", Latest(Postgres), Latest(SQLite))
	}
}

// Up applies every migration once; running it again changes nothing.
func TestUpSQLite(t *testing.T) {
	db, err := sql.Open("sqlite", filepath.Join(t.TempDir(), "m.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	for range 2 {
		if err := Up(ctx, db, SQLite); err != nil {
			t.Fatal(err)
		}
	}
	var v int64
	if err := db.QueryRow(VersionQuery).Scan(&v); err != nil || v != Latest(SQLite) {
		t.Errorf("version after Up = %d (%v), want %d", v, err, Latest(SQLite))
	}
	if err := Up(ctx, db, "oracle"); err == nil {
		t.Error("Up with an unknown dialect = nil, want an error")
	}
}
