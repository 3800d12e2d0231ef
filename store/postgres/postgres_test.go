package postgres

import (
	"context"
	"testing"
	"time"

	"github.com/collabd/collabd/collab"
	"github.com/collabd/collabd/internal/pgtest"
	"github.com/collabd/collabd/store/storetest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// backend gives the suite a fresh database of the shared cluster (or of
// DATABASE_URL) per test.
func backend() storetest.Backend {
	return storetest.Backend{
		Open: func(t testing.TB) (collab.Store, func() collab.Store) {
			url := pgtest.Shared(t).NewDatabase(t)
			open := func() collab.Store { return openTest(t, url) }
			return open(), open
		},
		FailCommits: func(s collab.Store, n int) { s.(*Store).failCommits.Store(int32(n)) },
		SetUpdatedAt: func(s collab.Store, doc collab.DocumentID, at time.Time) {
			if _, err := s.(*Store).pool.Exec(context.Background(),
				`UPDATE documents SET updated_at = $2 WHERE id = $1`, doc, at); err != nil {
				panic(err)
			}
		},
	}
}

func openTest(t testing.TB, url string) *Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := Open(ctx, url)
	if err != nil {
		t.Fatalf("open %s: %v", url, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestStore(t *testing.T) { storetest.Run(t, backend()) }
