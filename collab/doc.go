// Package collab holds the vocabulary every part of collabd shares:
// documents, users, roles, edits, error codes, the live protocol's wire
// messages and the store interfaces that session and api program against.
//
// It imports only ot (so wire messages and edits carry a typed ot.Delta)
// and the standard library. The implementations live elsewhere: store/sqlite
// and store/postgres implement the store interfaces, session drives a
// document with them, and only cmd/collabd wires the pieces together.
package collab
