package api

import (
	"testing"
	"time"
)

// TestLiveCredentialsCatchARevocationDuringTheHandshake: a credential
// revoked after a handshake verified it, but before its connection was
// registered, must still end that connection; a handshake verified after
// the revocation (a logged-out login token is still a valid JWT) is let in.
func TestLiveCredentialsCatchARevocationDuringTheHandshake(t *testing.T) {
	l := newLiveCredentials()
	const id = CredentialID("pat:t1")
	verifiedBefore := time.Now()
	if n := l.revoke(id, reasonCredentialRevoked); n != 0 {
		t.Fatalf("revoke closed %d connections of none", n)
	}
	raced := &liveConn{}
	if l.add(id, raced, verifiedBefore) {
		t.Fatal("a connection verified before the revocation was let in")
	}
	later := &liveConn{}
	if !l.add(id, later, time.Now()) {
		t.Fatal("a connection verified after the revocation was refused")
	}
	l.remove(id, raced)
	l.remove(id, later)
	if len(l.conns) != 0 {
		t.Fatalf("ended connections are still indexed: %v", l.conns)
	}
}
