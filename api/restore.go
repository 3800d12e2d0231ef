package api

import (
	"fmt"
	"net/http"

	"github.com/collabd/collabd/collab"
	"github.com/collabd/collabd/ot"
	"github.com/collabd/collabd/session"
)

type restoreRequest struct {
	Version *int64 `json:"version"`
}

// restore makes the content equal to an earlier version with a new edit,
// so history is kept and the restore itself can be undone. The edit is
// the inverses of every later edit, composed newest first; it goes through
// the session like any edit, so live editors see it and edits made
// meanwhile are transformed, not overwritten.
func (a *API) restore(w http.ResponseWriter, r *http.Request) {
	id, _, err := a.access(r, collab.Editor)
	if err != nil {
		writeError(w, r, a.logger, err)
		return
	}
	var req restoreRequest
	if err := decodeJSON(w, r, maxBody, &req); err != nil {
		writeError(w, r, a.logger, err)
		return
	}
	if req.Version == nil {
		writeError(w, r, a.logger, collab.Errorf(collab.BadRequest, `send {"version": n}`))
		return
	}
	d, err := a.docs.Document(r.Context(), id)
	if err != nil {
		writeError(w, r, a.logger, err)
		return
	}
	target, current := *req.Version, d.Version
	if target < 0 {
		writeError(w, r, a.logger, collab.Errorf(collab.Invalid, "version must be 0 or more, not %d", target))
		return
	}
	if target > current {
		writeError(w, r, a.logger, collab.Errorf(collab.NotFound, "version %d does not exist; the document is at version %d", target, current))
		return
	}
	undo, err := a.undoSince(r, id, target, current)
	if err != nil {
		writeError(w, r, a.logger, err)
		return
	}
	if len(undo) == 0 {
		writeJSON(w, http.StatusOK, map[string]int64{"version": current})
		return
	}
	user := userFrom(r)
	v, err := a.sessions.Submit(r.Context(), id, session.Edit{
		Client: collab.ClientID("restore-" + collab.NewID()), Seq: 1, User: user.Info(),
		Base: current, Delta: undo,
	})
	if err != nil {
		writeError(w, r, a.logger, fromSession(err))
		return
	}
	writeJSON(w, http.StatusOK, map[string]int64{"version": v})
}

// undoSince returns the edit that turns version current back into version
// target.
func (a *API) undoSince(r *http.Request, id collab.DocumentID, target, current int64) (ot.Delta, error) {
	doc, err := collab.DocAt(r.Context(), a.log, id, target)
	if err != nil {
		return nil, err
	}
	edits, err := a.log.Edits(r.Context(), id, target+1, current)
	if err != nil {
		return nil, err
	}
	if int64(len(edits)) != current-target {
		return nil, fmt.Errorf("history of %s has %d edits after %d, want %d", id, len(edits), target, current-target)
	}
	var undo ot.Delta
	for _, e := range edits {
		inv := doc.Invert(e.Delta)
		if doc, err = doc.Apply(e.Delta); err != nil {
			return nil, fmt.Errorf("replay edit %d of %s: %w", e.Version, id, err)
		}
		undo = ot.Compose(inv, undo) // newest first
	}
	return ot.Canonical(undo), nil
}
