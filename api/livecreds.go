package api

import (
	"sync"
	"time"

	"github.com/collabd/collabd/collab"
)

// Reasons sent in the 1008 close frame when a live connection's credential
// ends.
const (
	reasonAuthExpired       = "auth expired"
	reasonCredentialRevoked = "credential revoked"
	reasonLoggedOut         = "credential revoked: logged out"
)

// revokedMemory is how long a revocation is remembered for handshakes that
// verified the credential just before it and register their connection
// after it: far longer than the store query and upgrade between the two.
const revokedMemory = time.Minute

// liveCredentials indexes the open live connections by the credential that
// authenticated their handshake, so that revoking a credential closes them
// at once (expiry is each connection's own timer).
//
// It knows only the connections of this process: with several server
// processes, a revocation made on one does not reach the connections held
// by the others (they close when the credential expires).
type liveCredentials struct {
	mu sync.Mutex // guards the maps; held only to read or change them, never while closing a connection
	// conns: the open connections of each credential. serveLive adds a
	// connection before its reader starts; the reader's goroutine removes it
	// when the connection has ended.
	conns map[CredentialID]map[*liveConn]struct{}
	// revoked: when each recently revoked credential was revoked, kept for
	// revokedMemory and pruned by revoke.
	revoked map[CredentialID]time.Time
}

func newLiveCredentials() *liveCredentials {
	return &liveCredentials{conns: map[CredentialID]map[*liveConn]struct{}{}, revoked: map[CredentialID]time.Time{}}
}

// add registers c under the credential its handshake verified at
// verifiedAt. It returns false if the credential was revoked since: a
// revocation between verification and registration found no connection to
// close, so the caller must close c itself. c is registered either way, and
// removed by remove.
func (l *liveCredentials) add(id CredentialID, c *liveConn, verifiedAt time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	set := l.conns[id]
	if set == nil {
		set = map[*liveConn]struct{}{}
		l.conns[id] = set
	}
	set[c] = struct{}{}
	revokedAt, ok := l.revoked[id]
	return !ok || revokedAt.Before(verifiedAt)
}

// remove forgets an ended connection.
func (l *liveCredentials) remove(id CredentialID, c *liveConn) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.conns[id], c)
	if len(l.conns[id]) == 0 {
		delete(l.conns, id)
	}
}

// revoke closes every open connection of a credential with 1008 and
// reason, and returns how many it closed. Each closes along its usual path:
// its writer flushes what is queued, sends the close frame, and its reader
// leaves the session.
func (l *liveCredentials) revoke(id CredentialID, reason string) int {
	now := time.Now()
	l.mu.Lock()
	for other, at := range l.revoked {
		if now.Sub(at) > revokedMemory {
			delete(l.revoked, other)
		}
	}
	l.revoked[id] = now
	conns := make([]*liveConn, 0, len(l.conns[id]))
	for c := range l.conns[id] {
		conns = append(conns, c)
	}
	l.mu.Unlock()
	for _, c := range conns {
		c.close(collab.ClosePolicy, reason)
	}
	return len(conns)
}
