package api_test

import (
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// typist is a well-behaved editor that types on its own goroutine, one op
// in flight at a time, and records how long each ack took.
type typist struct {
	c      *websocket.Conn
	delta  func(n int) []any // the delta of the n-th op (from 1)
	seq    int
	base   int64 // the newest version seen
	acked  int
	mu     sync.Mutex
	lat    []time.Duration
	left   map[string]bool // clients seen leaving
	stopCh chan struct{}
	errCh  chan error
}

func newTypist(w *wsConn, delta func(n int) []any) *typist {
	return &typist{c: w.c, delta: delta, left: map[string]bool{}}
}

// edit sends the next op and reads until its ack.
func (ty *typist) edit() error {
	ty.seq++
	b, err := json.Marshal(map[string]any{"type": "op", "seq": ty.seq, "version": ty.base, "delta": ty.delta(ty.seq)})
	if err != nil {
		return err
	}
	start := time.Now()
	ty.c.SetWriteDeadline(start.Add(10 * time.Second))
	if err := ty.c.WriteMessage(websocket.TextMessage, b); err != nil {
		return fmt.Errorf("typist write: %w", err)
	}
	for {
		ty.c.SetReadDeadline(time.Now().Add(10 * time.Second))
		_, p, err := ty.c.ReadMessage()
		if err != nil {
			return fmt.Errorf("typist read: %w", err)
		}
		var m struct {
			Type    string `json:"type"`
			Seq     int    `json:"seq"`
			Version int64  `json:"version"`
			Client  string `json:"client"`
		}
		if err := json.Unmarshal(p, &m); err != nil {
			return fmt.Errorf("typist got %s: %w", p, err)
		}
		switch m.Type {
		case "ack":
			if m.Seq != ty.seq {
				return fmt.Errorf("typist got ack for seq %d, want %d", m.Seq, ty.seq)
			}
			ty.base = m.Version
			ty.mu.Lock()
			ty.acked++
			ty.lat = append(ty.lat, time.Since(start))
			ty.mu.Unlock()
			return nil
		case "op":
			ty.base = m.Version
		case "leave":
			ty.mu.Lock()
			ty.left[m.Client] = true
			ty.mu.Unlock()
		case "presence":
		default:
			return fmt.Errorf("typist got %s", p)
		}
	}
}

// start types every pace until stop.
func (ty *typist) start(pace time.Duration) {
	ty.stopCh, ty.errCh = make(chan struct{}), make(chan error, 1)
	go func() {
		for {
			select {
			case <-ty.stopCh:
				ty.errCh <- nil
				return
			default:
			}
			if err := ty.edit(); err != nil {
				ty.errCh <- err
				return
			}
			time.Sleep(pace)
		}
	}()
}

// stop ends the typing and returns the first error it met.
func (ty *typist) stop() error {
	close(ty.stopCh)
	return <-ty.errCh
}

// acks returns how many ops were acked so far.
func (ty *typist) acks() int {
	ty.mu.Lock()
	defer ty.mu.Unlock()
	return ty.acked
}

func (ty *typist) sawLeave(client string) bool {
	ty.mu.Lock()
	defer ty.mu.Unlock()
	return ty.left[client]
}

// latencies returns the ack latencies recorded since the last call, and
// forgets them.
func (ty *typist) latencies() []time.Duration {
	ty.mu.Lock()
	defer ty.mu.Unlock()
	l := ty.lat
	ty.lat = nil
	return l
}

// latencyStats returns the count, p99 and maximum of l.
func latencyStats(l []time.Duration) (n int, p99, worst time.Duration) {
	if len(l) == 0 {
		return 0, 0, 0
	}
	s := slices.Clone(l)
	slices.Sort(s)
	return len(s), s[(len(s)*99)/100-boolInt(len(s)*99%100 == 0)], s[len(s)-1]
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
