package store

import (
	"context"
	"fmt"

	"github.com/collabd/collabd/collab"
	"github.com/collabd/collabd/ot"
)

// DocAt returns document doc as it was at version: the newest snapshot at
// or before it with the edits after the snapshot applied. How many edits
// that replays depends on the snapshots kept (collab.PrunePolicy.Every).
// ErrNotFound if the document does not exist or has not reached version.
func DocAt(ctx context.Context, log collab.Log, doc collab.DocumentID, version int64) (ot.Doc, error) {
	if version < 0 {
		return ot.Doc{}, collab.Errorf(collab.Invalid, "version %d of %s: versions start at 0", version, doc)
	}
	s, err := log.SnapshotAt(ctx, doc, version)
	if err != nil {
		return ot.Doc{}, fmt.Errorf("document %s at version %d: %w", doc, version, err)
	}
	var edits []collab.Edit
	if s.Version < version {
		if edits, err = log.Edits(ctx, doc, s.Version+1, version); err != nil {
			return ot.Doc{}, fmt.Errorf("document %s at version %d: %w", doc, version, err)
		}
	}
	d, v, err := Replay(s, edits)
	if err != nil {
		return ot.Doc{}, fmt.Errorf("document %s at version %d: %w", doc, version, err)
	}
	if v != version {
		return ot.Doc{}, collab.Errorf(collab.NotFound, "document %s has no version %d (it is at %d)", doc, version, v)
	}
	return d, nil
}

// Replay applies edits, which must follow s in version order, to s's
// document: what Load's result becomes in a session. It returns the
// document and its version.
func Replay(s collab.Snapshot, edits []collab.Edit) (ot.Doc, int64, error) {
	d, v := s.Doc, s.Version
	for _, e := range edits {
		if e.Version != v+1 {
			return ot.Doc{}, v, fmt.Errorf("replay: edit %d after version %d", e.Version, v)
		}
		next, err := d.Apply(e.Delta)
		if err != nil {
			return ot.Doc{}, v, fmt.Errorf("replay edit %d: %w", e.Version, err)
		}
		d, v = next, e.Version
	}
	return d, v, nil
}
