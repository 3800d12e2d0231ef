package api_test

import (
	"runtime"
	"testing"
	"time"
)

// TestIdleConnectionsHoldOneGoroutine: a connection with nothing to send
// has only its reader; a writer runs only while there is something to
// write.
func TestIdleConnectionsHoldOneGoroutine(t *testing.T) {
	e := newEnv(t, func(c *testConfig) { c.session.IdleTimeout = time.Hour })
	alice, tok := e.user("alice")
	doc := e.document(alice, "")
	before := runtime.NumGoroutine()
	const n = 20
	for i := range n {
		c, _ := e.join(doc, tok, "c"+itoa(i))
		c.send(map[string]any{"type": "presence", "range": map[string]int{"index": 0, "length": 0}})
	}
	// Joins and selections are broadcast to everyone: writers run, then
	// end. What stays is a reader per connection and the session.
	waitUntil(t, "writers to end", func() bool { return runtime.NumGoroutine() <= before+n+1 })
}
