// Package postgres implements collab.Store on PostgreSQL through pgx (a
// pgxpool): the store for servers that share one database. See package
// store for what both stores promise; store/storetest tests it.
//
// Append goes through a group commit (store/internal/group): the Appends
// waiting for a committer go into one statement (appendSQL in append.go)
// that locks each document's row, checks its version, and inserts the
// edits of the documents that passed from unnested arrays, so a batch costs
// one round trip and one WAL flush however many documents it holds, and a
// conflict on one document fails only that one. Two committers run, so
// that one batch executes while the other waits for its flush. A stored
// (client, seq) breaks the statement on its unique index; the committer
// then sets those requests aside as duplicates and commits the rest.
//
// Errors are mapped by SQLSTATE and pgx's error types (errors.go). Imports:
// collab, migrations, store/internal, pgx.
package postgres
