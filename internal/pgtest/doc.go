// Package pgtest gives tests a real PostgreSQL: a throwaway cluster in a
// temporary directory on a free 127.0.0.1 port, or the server named by
// DATABASE_URL, with a fresh empty database per test.
//
// A test package that uses it runs its tests through Main, which removes the
// shared cluster when the tests end or the binary is interrupted:
//
//	func TestMain(m *testing.M) { pgtest.Main(m) }
//
//	func TestX(t *testing.T) {
//		url := pgtest.Shared(t).NewDatabase(t)
//		...
//	}
//
// Tests that stop and restart the server take a cluster of their own with
// Start, also when DATABASE_URL is set. The cluster runs with fsync and
// synchronous_commit on, as in production: durability is what the store
// benchmarks measure.
//
// As root, initdb and postgres run as the postgres user. The server is a
// child of the test binary that the kernel kills when the binary dies, and a
// later run removes directories that a killed run left behind. Without
// Postgres binaries and without DATABASE_URL the tests fail (never skip)
// saying what to install.
//
// Test-only; it imports pgx for its admin connections.
package pgtest
