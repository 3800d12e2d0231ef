package api

// LiveWrites returns how many system calls have written frames over the
// live connections open now (for tests of the fan-out's cost).
func LiveWrites(a *API) int {
	a.liveCreds.mu.Lock()
	var conns []*liveConn
	for _, set := range a.liveCreds.conns {
		for c := range set {
			conns = append(conns, c)
		}
	}
	a.liveCreds.mu.Unlock()
	n := 0
	for _, c := range conns {
		n += c.fc.writeCount()
	}
	return n
}
