// Package store is where collabd's data is kept: it implements the store
// interfaces of package collab (Log, Documents, Users) twice, with one
// behaviour.
//
//   - store/postgres: PostgreSQL through pgx, for servers that share a
//     database.
//   - store/sqlite: the embedded default, an SQLite file in the data dir.
//   - store/storetest: the one conformance suite both run; a behaviour not
//     tested there is not a promise.
//
// Both open with migrations applied (package migrations), keep deltas and
// snapshots as the JSON text ot writes (byte for byte, never jsonb), map
// driver errors to collab's codes by SQLSTATE or SQLite result code, and
// commit the Appends of many documents in one transaction through one
// committer goroutine (store/internal/group). An Append stores version v of
// a document only if v-1 is there and v is not, which is what lets several
// server processes share one database.
//
// What callers build on any collab.Log, such as reading a document at a
// past version, lives in package collab (collab.DocAt); this package holds
// only this overview and benchmarks of what is shared.
package store
