// Package session runs live documents: one goroutine per open document
// owns its state (the document, its version, a window of recent edits and
// the connected peers with their presence), and a Registry opens, shares and
// retires them.
//
// It knows no socket, no SQL and no router: it talks to peers through
// channels and to the store through collab.Log, so it is tested with
// channels and a real store in a temp dir. It imports collab and ot only.
//
// Contract: the live protocol's semantics (docs/protocol.md).
package session
