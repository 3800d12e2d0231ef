// Package migrations holds the database schema of both stores as goose SQL
// files, embedded in the binary, and applies them: postgres/*.sql for
// store/postgres, sqlite/*.sql for store/sqlite. The two directories keep the
// same numbering, one file per schema change in each.
//
// Both stores migrate when they open; the `collabd migrate` command does it
// on its own through the stores' Migrate functions. It imports the standard
// library and goose only; the caller supplies the *sql.DB and its driver.
package migrations
