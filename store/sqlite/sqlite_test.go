package sqlite

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/collabd/collabd/collab"
	"github.com/collabd/collabd/store/internal/record"
	"github.com/collabd/collabd/store/storetest"
)

// backend gives the suite a new file in t's temporary directory per test.
func backend() storetest.Backend {
	return storetest.Backend{
		Open: func(t testing.TB) (collab.Store, func() collab.Store) {
			path := filepath.Join(t.TempDir(), "data", "collabd.db")
			open := func() collab.Store { return openTest(t, path) }
			return open(), open
		},
		FailCommits: func(s collab.Store, n int) { s.(*Store).failCommits.Store(int32(n)) },
		SetUpdatedAt: func(s collab.Store, doc collab.DocumentID, at time.Time) {
			if _, err := s.(*Store).write.Exec(`UPDATE documents SET updated_at = $2 WHERE id = $1`,
				doc, record.Micros(at)); err != nil {
				panic(err)
			}
		},
	}
}

func openTest(t testing.TB, path string) *Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestStore(t *testing.T) { storetest.Run(t, backend()) }
