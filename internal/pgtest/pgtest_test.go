package pgtest

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

func TestMain(m *testing.M) { Main(m) }

func query(t *testing.T, url, sql string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return "", err
	}
	defer conn.Close(context.Background())
	var s string
	err = conn.QueryRow(ctx, sql).Scan(&s)
	return s, err
}

func TestSharedDatabases(t *testing.T) {
	c := Shared(t)
	a, b := c.NewDatabase(t), c.NewDatabase(t)
	if a == b {
		t.Fatalf("NewDatabase returned %s twice", a)
	}
	for _, u := range []string{a, b} {
		if _, err := query(t, u, "CREATE TABLE t (x int)"); err != nil && !errors.Is(err, pgx.ErrNoRows) {
			t.Fatalf("create table in %s: %v", u, err)
		}
	}
	if os.Getenv("DATABASE_URL") == "" {
		for _, setting := range []string{"fsync", "synchronous_commit"} {
			got, err := query(t, a, "SHOW "+setting)
			if err != nil {
				t.Fatal(err)
			}
			if got != "on" {
				t.Errorf("%s = %s, want on", setting, got)
			}
		}
	}
}

func TestStopStart(t *testing.T) {
	c := Start(t)
	u := c.NewDatabase(t)
	if _, err := query(t, u, "SELECT current_database()"); err != nil {
		t.Fatal(err)
	}
	if err := c.Stop(); err != nil {
		t.Fatal(err)
	}
	_, err := query(t, u, "SELECT current_database()")
	var connErr *pgconn.ConnectError
	if !errors.As(err, &connErr) {
		t.Fatalf("query while stopped: err = %v, want a connect error", err)
	}
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	if _, err := query(t, u, "SELECT current_database()"); err != nil {
		t.Fatalf("query after restart: %v", err)
	}
	dir := c.server.dir
	c.server.remove()
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("cluster directory %s still there after remove (stat: %v)", dir, err)
	}
}
