package session

import (
	"context"
	"sync"

	"github.com/collabd/collabd/collab"
	"github.com/collabd/collabd/ot"
)

// memLog is a small in-memory collab.Log for tests that need to make the
// store fail or race on purpose; the simulation also runs on real SQLite.
type memLog struct {
	mu   sync.Mutex
	docs map[collab.DocumentID]*memDoc
	// failNext, when set, is returned by the next appends (and cleared
	// after failCount of them).
	failNext  error
	failCount int
	appends   int // successful Append calls
	blockNext chan struct{}
}

type memDoc struct {
	snaps []collab.Snapshot
	edits []collab.Edit
}

func newMemLog() *memLog { return &memLog{docs: map[collab.DocumentID]*memDoc{}} }

func (l *memLog) create(id collab.DocumentID, text string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	doc, err := ot.DocFromDelta(ot.Delta{ot.InsertText(text+"\n", nil)})
	if err != nil {
		panic(err)
	}
	l.docs[id] = &memDoc{snaps: []collab.Snapshot{{Version: 0, Doc: doc}}}
}

// fail makes the next n appends return err.
func (l *memLog) fail(err error, n int) {
	l.mu.Lock()
	l.failNext, l.failCount = err, n
	l.mu.Unlock()
}

func (l *memLog) doc(id collab.DocumentID) (*memDoc, error) {
	d, ok := l.docs[id]
	if !ok {
		return nil, collab.ErrNotFound
	}
	return d, nil
}

func (l *memLog) Append(ctx context.Context, id collab.DocumentID, edits []collab.Edit) error {
	l.mu.Lock()
	block := l.blockNext
	l.blockNext = nil
	l.mu.Unlock()
	if block != nil {
		select {
		case <-block:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.failCount > 0 {
		l.failCount--
		return l.failNext
	}
	d, err := l.doc(id)
	if err != nil {
		return err
	}
	next := int64(len(d.edits)) + 1
	seen := map[[2]any]bool{}
	for _, e := range d.edits {
		seen[[2]any{e.Client, e.Seq}] = true
	}
	for i, e := range edits {
		if e.Version != next+int64(i) {
			return collab.ErrVersionTaken
		}
		if seen[[2]any{e.Client, e.Seq}] {
			return collab.ErrDuplicate
		}
	}
	d.edits = append(d.edits, edits...)
	l.appends++
	return nil
}

func (l *memLog) Edits(ctx context.Context, id collab.DocumentID, from, to int64) ([]collab.Edit, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	d, err := l.doc(id)
	if err != nil {
		return nil, err
	}
	var out []collab.Edit
	for _, e := range d.edits {
		if e.Version >= from && e.Version <= to {
			out = append(out, e)
		}
	}
	return out, nil
}

func (l *memLog) EditBySeq(ctx context.Context, id collab.DocumentID, client collab.ClientID, seq int64) (collab.Edit, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	d, err := l.doc(id)
	if err != nil {
		return collab.Edit{}, err
	}
	for _, e := range d.edits {
		if e.Client == client && e.Seq == seq {
			return e, nil
		}
	}
	return collab.Edit{}, collab.ErrNotFound
}

func (l *memLog) Load(ctx context.Context, id collab.DocumentID) (collab.Snapshot, []collab.Edit, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	d, err := l.doc(id)
	if err != nil {
		return collab.Snapshot{}, nil, err
	}
	s := d.snaps[len(d.snaps)-1]
	return s, append([]collab.Edit(nil), d.edits[s.Version:]...), nil
}

func (l *memLog) SnapshotAt(ctx context.Context, id collab.DocumentID, v int64) (collab.Snapshot, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	d, err := l.doc(id)
	if err != nil {
		return collab.Snapshot{}, err
	}
	for i := len(d.snaps) - 1; i >= 0; i-- {
		if d.snaps[i].Version <= v {
			return d.snaps[i], nil
		}
	}
	return collab.Snapshot{}, collab.ErrNotFound
}

func (l *memLog) SaveSnapshot(ctx context.Context, id collab.DocumentID, s collab.Snapshot) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	d, err := l.doc(id)
	if err != nil {
		return err
	}
	if s.Version > d.snaps[len(d.snaps)-1].Version {
		d.snaps = append(d.snaps, s)
	}
	return nil
}

func (l *memLog) PruneSnapshots(ctx context.Context, id collab.DocumentID, p collab.PrunePolicy) error {
	return nil
}

// content replays a document's log: the stored truth to compare with.
func (l *memLog) content(id collab.DocumentID) (ot.Doc, int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	d := l.docs[id]
	doc := d.snaps[0].Doc
	for _, e := range d.edits {
		var err error
		if doc, err = doc.Apply(e.Delta); err != nil {
			panic(err)
		}
	}
	return doc, int64(len(d.edits))
}
