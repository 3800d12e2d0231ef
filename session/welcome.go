package session

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/collabd/collabd/collab"
)

// storeWelcome is a welcome whose oldest ops are read from the store when
// the peer's writer encodes it, so the session never waits on a long
// catch-up read. The edits it reads are committed, so they can't change.
type storeWelcome struct {
	welcome  collab.Welcome // ops from the window already in
	cfg      *Config
	doc      collab.DocumentID
	from, to int64 // versions [from, to] come from the store
}

// MarshalJSON reads the missing edits and encodes the whole welcome.
func (w *storeWelcome) MarshalJSON() ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), w.cfg.StoreTimeout)
	defer cancel()
	edits, err := w.cfg.Log.Edits(ctx, w.doc, w.from, w.to)
	if err != nil {
		return nil, fmt.Errorf("read edits %d..%d of %s for a welcome: %w", w.from, w.to, w.doc, storeError(err))
	}
	if int64(len(edits)) != w.to-w.from+1 {
		return nil, fmt.Errorf("store returned %d edits for versions %d..%d of %s", len(edits), w.from, w.to, w.doc)
	}
	users := map[collab.UserID]collab.UserInfo{}
	ops := make([]collab.WireEdit, 0, len(edits)+len(w.welcome.Ops))
	for _, e := range edits {
		u, ok := users[e.Author]
		if !ok {
			u = collab.UserInfo{ID: e.Author, Name: string(e.Author), Color: collab.ColorFor(e.Author)}
			if w.cfg.Users != nil {
				if got, err := w.cfg.Users(ctx, e.Author); err == nil {
					u = got
				}
			}
			users[e.Author] = u
		}
		ops = append(ops, collab.WireEdit{Version: e.Version, Delta: e.Delta, Client: e.Client, Seq: e.Seq, User: u})
	}
	full := w.welcome
	full.Ops = append(ops, full.Ops...)
	return json.Marshal(full)
}
