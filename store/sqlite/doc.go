// Package sqlite implements collab.Store on an SQLite file
// (modernc.org/sqlite, pure Go): the embedded default, kept in the data
// dir. See package store for what both stores promise; store/storetest
// tests it.
//
// The file is in WAL mode with synchronous=FULL, so a commit is on disk
// before Append returns. One writer connection does every write (SQLite
// has one writer at a time anyway) and a few read-only connections read
// alongside it. Append goes through a group commit (store/internal/group):
// one transaction and two statements per batch (append.go). Temporary
// journals stay in memory and the page cache holds the op log's hot pages,
// so a commit's cost is its WAL frames.
//
// Errors are mapped by SQLite's extended result codes (errors.go).
// Imports: collab, migrations, store/internal, modernc.org/sqlite.
package sqlite
