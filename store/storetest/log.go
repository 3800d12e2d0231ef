package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/collabd/collabd/collab"
	"github.com/collabd/collabd/ot"
)

func testAppend(t *testing.T, b Backend) {
	f := newFixture(t, b)
	c := ctx(t)
	must(t, f.s.Ping(c), "Ping")
	d := f.doc(t, "hello")
	e1 := edit(1, "c1", 1, insert(5, " world"))
	e1.CreatedAt = time.Date(2024, 1, 2, 3, 4, 5, 6000, time.UTC) // kept when given
	must(t, f.s.Append(c, d.ID, []collab.Edit{e1}), "append edit 1")
	e2 := edit(2, "c2", 1, insert(0, ">"))
	e3 := edit(3, "c1", 2, ot.Delta{ot.Retain(1, nil), ot.Delete(5)})
	must(t, f.s.Append(c, d.ID, []collab.Edit{e2, e3}), "append edits 2-3")

	got, err := f.s.Document(c, d.ID)
	must(t, err, "Document")
	if got.Version != 3 {
		t.Errorf("version = %d, want 3", got.Version)
	}
	if got.UpdatedAt.Before(d.UpdatedAt) {
		t.Errorf("UpdatedAt = %v, before creation %v", got.UpdatedAt, d.UpdatedAt)
	}

	all, err := f.s.Edits(c, d.ID, 1, 3)
	must(t, err, "Edits(1, 3)")
	checkEdits(t, all, []collab.Edit{e1, e2, e3}, "Edits(1, 3)")
	if len(all) == 3 && !all[0].CreatedAt.Equal(e1.CreatedAt) {
		t.Errorf("edit 1 CreatedAt = %v, want the given %v", all[0].CreatedAt, e1.CreatedAt)
	}
	for _, r := range []struct {
		from, to int64
		want     []collab.Edit
	}{
		{2, 2, []collab.Edit{e2}},
		{0, 1, []collab.Edit{e1}},
		{3, 100, []collab.Edit{e3}},
		{4, 10, nil},
		{3, 1, nil},
	} {
		got, err := f.s.Edits(c, d.ID, r.from, r.to)
		must(t, err, fmt.Sprintf("Edits(%d, %d)", r.from, r.to))
		checkEdits(t, got, r.want, fmt.Sprintf("Edits(%d, %d)", r.from, r.to))
	}

	bySeq, err := f.s.EditBySeq(c, d.ID, "c1", 2)
	must(t, err, "EditBySeq(c1, 2)")
	checkEdits(t, []collab.Edit{bySeq}, []collab.Edit{e3}, "EditBySeq(c1, 2)")
	_, err = f.s.EditBySeq(c, d.ID, "c1", 3)
	wantCode(t, err, collab.NotFound, "EditBySeq(c1, 3)")
	_, err = f.s.EditBySeq(c, "doc-unknown", "c1", 1)
	wantCode(t, err, collab.NotFound, "EditBySeq on an unknown document")
	_, err = f.s.Edits(c, "doc-unknown", 1, 3)
	wantCode(t, err, collab.NotFound, "Edits of an unknown document")

	snap, edits, err := f.s.Load(c, d.ID)
	must(t, err, "Load")
	if snap.Version != 0 || len(edits) != 3 {
		t.Fatalf("Load = snapshot %d and %d edits, want 0 and 3", snap.Version, len(edits))
	}
	doc, v, err := collab.Replay(snap, edits)
	must(t, err, "replay")
	if v != 3 || doc.Text() != "> world\n" {
		t.Errorf("replayed version %d = %q, want 3, \"> world\\n\"", v, doc.Text())
	}
	_, _, err = f.s.Load(c, "doc-unknown")
	wantCode(t, err, collab.NotFound, "Load(unknown)")
}

func testAppendErrors(t *testing.T, b Backend) {
	f := newFixture(t, b)
	c := ctx(t)
	d := f.doc(t, "x")
	must(t, f.s.Append(c, d.ID, []collab.Edit{edit(1, "c1", 1, insert(0, "a"))}), "append edit 1")

	for _, tc := range []struct {
		name  string
		doc   collab.DocumentID
		edits []collab.Edit
		code  collab.Code
	}{
		{"a version taken", d.ID, []collab.Edit{edit(1, "c2", 1, insert(0, "b"))}, collab.Conflict},
		{"a gap", d.ID, []collab.Edit{edit(3, "c2", 1, insert(0, "b"))}, collab.Invalid},
		{"a stored op", d.ID, []collab.Edit{edit(2, "c1", 1, insert(0, "b"))}, collab.Duplicate},
		{"a stored op at a taken version", d.ID, []collab.Edit{edit(1, "c1", 1, insert(0, "b"))}, collab.Duplicate},
		{"one op twice", d.ID, []collab.Edit{edit(2, "c3", 1, insert(0, "b")), edit(3, "c3", 1, insert(0, "b"))}, collab.Duplicate},
		{"versions not consecutive", d.ID, []collab.Edit{edit(2, "c2", 1, insert(0, "b")), edit(4, "c2", 2, insert(0, "b"))}, collab.Invalid},
		{"version 0", d.ID, []collab.Edit{edit(0, "c2", 1, insert(0, "b"))}, collab.Invalid},
		{"no edits", d.ID, nil, collab.Invalid},
		{"an unknown document", "doc-unknown", []collab.Edit{edit(1, "c2", 1, insert(0, "b"))}, collab.NotFound},
	} {
		err := f.s.Append(c, tc.doc, tc.edits)
		wantCode(t, err, tc.code, "append "+tc.name)
		if tc.code == collab.Conflict && !errors.Is(err, collab.ErrVersionTaken) {
			t.Errorf("append %s: err = %v, want ErrVersionTaken", tc.name, err)
		}
	}
	got, _ := f.s.Document(c, d.ID)
	edits, _ := f.s.Edits(c, d.ID, 1, 10)
	if got.Version != 1 || len(edits) != 1 {
		t.Errorf("after the failed appends: version %d, %d edits; want 1 and 1", got.Version, len(edits))
	}
}

// A call that fails stores none of its edits, even those before the one
// that failed.
func testAppendNothingOfFailedCall(t *testing.T, b Backend) {
	f := newFixture(t, b)
	c := ctx(t)
	d := f.doc(t, "x")
	must(t, f.s.Append(c, d.ID, []collab.Edit{edit(1, "c1", 1, insert(0, "a"))}), "append edit 1")
	err := f.s.Append(c, d.ID, []collab.Edit{
		edit(2, "c2", 1, insert(0, "b")),
		edit(3, "c2", 2, insert(0, "c")),
		edit(4, "c1", 1, insert(0, "d")), // stored already as edit 1
	})
	wantCode(t, err, collab.Duplicate, "append 2-4 with a stored op")
	got, _ := f.s.Document(c, d.ID)
	edits, _ := f.s.Edits(c, d.ID, 2, 10)
	if got.Version != 1 || len(edits) != 0 {
		t.Errorf("after the failed append: version %d and %d edits after 1, want 1 and none", got.Version, len(edits))
	}
	_, err = f.s.EditBySeq(c, d.ID, "c2", 1)
	wantCode(t, err, collab.NotFound, "EditBySeq of an op of the failed call")
	must(t, f.s.Append(c, d.ID, []collab.Edit{edit(2, "c2", 1, insert(0, "b")), edit(3, "c2", 2, insert(0, "c"))}), "append 2-3 again")
}

// Appenders in three stores on one database (as three server processes)
// race for each version: exactly one wins, every other sees ErrVersionTaken.
func testAppendRace(t *testing.T, b Backend) {
	f := newFixture(t, b)
	c := ctx(t)
	d := f.doc(t, "x")
	stores := []collab.Store{f.s, f.again(), f.again()}
	const (
		perStore = 4
		rounds   = 25
	)
	n := perStore * len(stores)
	for round := 1; round <= rounds; round++ {
		v := int64(round)
		errs := make([]error, n)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for g := range n {
			wg.Go(func() {
				<-start
				errs[g] = stores[g%len(stores)].Append(c, d.ID, []collab.Edit{edit(v, fmt.Sprintf("g%02d", g), v, insert(0, "x"))})
			})
		}
		close(start)
		wg.Wait()
		winner := -1
		for g, err := range errs {
			switch {
			case err == nil && winner >= 0:
				t.Fatalf("round %d: appenders %d and %d both stored version %d", round, winner, g, v)
			case err == nil:
				winner = g
			case !errors.Is(err, collab.ErrVersionTaken):
				t.Fatalf("round %d: appender %d: err = %v, want nil or ErrVersionTaken", round, g, err)
			}
		}
		if winner < 0 {
			t.Fatalf("round %d: no appender stored version %d", round, v)
		}
		got, err := f.s.Edits(c, d.ID, v, v)
		must(t, err, "Edits")
		if want := fmt.Sprintf("g%02d", winner); len(got) != 1 || string(got[0].Client) != want {
			t.Fatalf("round %d: stored %+v, want the edit of the winner %s", round, got, want)
		}
	}
	got, _ := f.s.Document(c, d.ID)
	if got.Version != rounds {
		t.Errorf("version = %d, want %d", got.Version, rounds)
	}
}

// Appends to many documents at once, committed together: the one that
// conflicts, the one with a stored op and the deleted one fail, each with
// its own error; the others are stored.
func testGroupCommitOneConflicts(t *testing.T, b Backend) {
	f := newFixture(t, b)
	c := ctx(t)
	const n = 40
	docs := make([]collab.DocumentID, n)
	for i := range docs {
		docs[i] = f.doc(t, "x").ID
		must(t, f.s.Append(c, docs[i], []collab.Edit{edit(1, fmt.Sprintf("c-%d", i), 1, insert(0, "a"))}), "append edit 1")
	}
	other := f.again()
	must(t, other.Append(c, docs[0], []collab.Edit{edit(2, "other", 1, insert(0, "o"))}), "another process takes version 2 of doc 0")
	must(t, f.s.DeleteDocument(c, docs[2]), "delete doc 2")

	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range docs {
		wg.Go(func() {
			client, seq := fmt.Sprintf("c-%d", i), int64(2)
			if i == 1 {
				seq = 1 // stored already, as edit 1
			}
			<-start
			errs[i] = f.s.Append(c, docs[i], []collab.Edit{edit(2, client, seq, insert(0, "b"))})
		})
	}
	close(start)
	wg.Wait()
	wantCode(t, errs[0], collab.Conflict, "doc 0 (version 2 taken)")
	wantCode(t, errs[1], collab.Duplicate, "doc 1 (op stored)")
	wantCode(t, errs[2], collab.NotFound, "doc 2 (deleted)")
	for i := 3; i < n; i++ {
		if errs[i] != nil {
			t.Errorf("doc %d: err = %v, want nil", i, errs[i])
		}
	}
	for i, want := range map[int]int64{0: 2, 1: 1, 3: 2, n - 1: 2} {
		got, err := f.s.Document(c, docs[i])
		if err != nil || got.Version != want {
			t.Errorf("doc %d: version = %d (%v), want %d", i, got.Version, err, want)
		}
	}
	e, err := f.s.Edits(c, docs[0], 2, 2)
	if err != nil || len(e) != 1 || e[0].Client != "other" {
		t.Errorf("doc 0 edit 2 = %+v, %v; want the other process's", e, err)
	}
}

// A batch whose transaction breaks off after its writes leaves nothing;
// the same appends succeed afterwards.
func testBrokenCommit(t *testing.T, b Backend) {
	if b.FailCommits == nil {
		t.Fatal("Backend.FailCommits is needed for fault injection")
	}
	f := newFixture(t, b)
	c := ctx(t)
	const n = 10
	docs := make([]collab.DocumentID, n)
	for i := range docs {
		docs[i] = f.doc(t, "x").ID
	}
	appendAll := func() []error {
		errs := make([]error, n)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := range docs {
			wg.Go(func() {
				<-start
				errs[i] = f.s.Append(c, docs[i], []collab.Edit{
					edit(1, "c", 1, insert(0, "a")),
					edit(2, "c", 2, insert(0, "b")),
				})
			})
		}
		close(start)
		wg.Wait()
		return errs
	}
	b.FailCommits(f.s, 1000)
	for i, err := range appendAll() {
		if err == nil {
			t.Errorf("doc %d: append while commits fail = nil, want an error", i)
		}
	}
	b.FailCommits(f.s, 0)
	for i, id := range docs {
		d, err := f.s.Document(c, id)
		edits, _ := f.s.Edits(c, id, 1, 10)
		if err != nil || d.Version != 0 || len(edits) != 0 {
			t.Errorf("doc %d after the broken commits: version %d, %d edits (%v); want 0 and none", i, d.Version, len(edits), err)
		}
	}
	for i, err := range appendAll() {
		if err != nil {
			t.Errorf("doc %d: append after the fault = %v, want nil", i, err)
		}
	}
}

func testContexts(t *testing.T, b Backend) {
	f := newFixture(t, b)
	d := f.doc(t, "x")
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	err := f.s.Append(cancelled, d.ID, []collab.Edit{edit(1, "c", 1, insert(0, "a"))})
	if !errors.Is(err, context.Canceled) || !errors.Is(err, collab.ErrUnavailable) {
		t.Errorf("Append with a cancelled context: err = %v, want context.Canceled and ErrUnavailable", err)
	}
	expired, cancel2 := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel2()
	_, err = f.s.Document(expired, d.ID)
	if !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, collab.ErrUnavailable) {
		t.Errorf("Document with an expired context: err = %v, want context.DeadlineExceeded and ErrUnavailable", err)
	}
	if _, _, err := f.s.Load(cancelled, d.ID); !errors.Is(err, context.Canceled) {
		t.Errorf("Load with a cancelled context: err = %v, want context.Canceled", err)
	}
	got, _ := f.s.Document(ctx(t), d.ID)
	if got.Version != 0 {
		t.Errorf("version = %d after a cancelled append, want 0", got.Version)
	}
}

func testSnapshots(t *testing.T, b Backend) {
	f := newFixture(t, b)
	c := ctx(t)
	d := f.doc(t, "abc")
	docs := []ot.Doc{docOf(t, "abc")}
	for v := int64(1); v <= 5; v++ {
		delta := insert(0, fmt.Sprintf("x%d", v))
		next, err := docs[v-1].Apply(delta)
		must(t, err, "apply")
		docs = append(docs, next)
		must(t, f.s.Append(c, d.ID, []collab.Edit{edit(v, "c", v, delta)}), "append")
	}
	must(t, f.s.SaveSnapshot(c, d.ID, collab.Snapshot{Version: 2, Doc: docs[2]}), "save snapshot 2")
	must(t, f.s.SaveSnapshot(c, d.ID, collab.Snapshot{Version: 2, Doc: docs[2]}), "save snapshot 2 again")
	wantCode(t, f.s.SaveSnapshot(c, d.ID, collab.Snapshot{Version: 9, Doc: docs[5]}), collab.Invalid, "save a snapshot past the document's version")
	wantCode(t, f.s.SaveSnapshot(c, d.ID, collab.Snapshot{Version: -1, Doc: docs[0]}), collab.Invalid, "save snapshot -1")
	wantCode(t, f.s.SaveSnapshot(c, d.ID, collab.Snapshot{Version: 3}), collab.Invalid, "save the zero Doc")
	wantCode(t, f.s.SaveSnapshot(c, "doc-unknown", collab.Snapshot{Version: 0, Doc: docs[0]}), collab.NotFound, "save a snapshot of an unknown document")

	for v, want := range map[int64]int64{0: 0, 1: 0, 2: 2, 4: 2, 100: 2} {
		s, err := f.s.SnapshotAt(c, d.ID, v)
		must(t, err, fmt.Sprintf("SnapshotAt(%d)", v))
		if s.Version != want || docJSON(t, s.Doc) != docJSON(t, docs[want]) {
			t.Errorf("SnapshotAt(%d) = version %d %q, want %d %q", v, s.Version, s.Doc.Text(), want, docs[want].Text())
		}
	}
	_, err := f.s.SnapshotAt(c, d.ID, -1)
	wantCode(t, err, collab.NotFound, "SnapshotAt(-1)")
	_, err = f.s.SnapshotAt(c, "doc-unknown", 1)
	wantCode(t, err, collab.NotFound, "SnapshotAt on an unknown document")

	snap, edits, err := f.s.Load(c, d.ID)
	must(t, err, "Load")
	if snap.Version != 2 || len(edits) != 3 || edits[0].Version != 3 {
		t.Fatalf("Load = snapshot %d and %d edits, want snapshot 2 and edits 3-5", snap.Version, len(edits))
	}
	for v := range int64(6) {
		got, err := collab.DocAt(c, f.s, d.ID, v)
		must(t, err, fmt.Sprintf("DocAt(%d)", v))
		if docJSON(t, got) != docJSON(t, docs[v]) {
			t.Errorf("DocAt(%d) = %q, want %q", v, got.Text(), docs[v].Text())
		}
	}
	_, err = collab.DocAt(c, f.s, d.ID, 6)
	wantCode(t, err, collab.NotFound, "DocAt(6), past the end")
	_, err = collab.DocAt(c, f.s, d.ID, -1)
	wantCode(t, err, collab.Invalid, "DocAt(-1)")
}

func testPrune(t *testing.T, b Backend) {
	f := newFixture(t, b)
	c := ctx(t)
	d := f.doc(t, "")
	docs := []ot.Doc{docOf(t, "")}
	for v := int64(1); v <= 100; v += 10 {
		var batch []collab.Edit
		for w := v; w < v+10; w++ {
			delta := insert(0, "x")
			next, err := docs[w-1].Apply(delta)
			must(t, err, "apply")
			docs = append(docs, next)
			batch = append(batch, edit(w, "c", w, delta))
		}
		must(t, f.s.Append(c, d.ID, batch), "append")
	}
	for v := int64(5); v <= 100; v += 5 {
		must(t, f.s.SaveSnapshot(c, d.ID, collab.Snapshot{Version: v, Doc: docs[v]}), "save snapshot")
	}
	check := func(kept []int64, what string) {
		t.Helper()
		for v := range int64(101) {
			want := int64(0)
			for _, k := range kept {
				if k <= v {
					want = k
				}
			}
			s, err := f.s.SnapshotAt(c, d.ID, v)
			if err != nil || s.Version != want {
				t.Errorf("%s: SnapshotAt(%d) = %d (%v), want %d (kept %v)", what, v, s.Version, err, want, kept)
				return
			}
			if v == want && docJSON(t, s.Doc) != docJSON(t, docs[v]) {
				t.Errorf("%s: snapshot %d holds %q, want %q", what, v, s.Doc.Text(), docs[v].Text())
			}
		}
	}
	p := collab.PrunePolicy{KeepLatest: 2, Every: 20}
	must(t, f.s.PruneSnapshots(c, d.ID, p), "prune")
	want := []int64{0, 20, 40, 60, 80, 95, 100}
	check(want, "after pruning")
	must(t, f.s.PruneSnapshots(c, d.ID, p), "prune again")
	check(want, "after pruning again")
	must(t, f.s.PruneSnapshots(c, d.ID, collab.PrunePolicy{KeepLatest: 1}), "prune to the latest")
	check([]int64{0, 100}, "after pruning to the latest")
	must(t, f.s.PruneSnapshots(c, d.ID, collab.PrunePolicy{}), "prune all")
	check([]int64{0}, "after pruning all")

	edits, err := f.s.Edits(c, d.ID, 1, 100)
	if err != nil || len(edits) != 100 {
		t.Errorf("after pruning, %d edits (%v), want all 100: the log is kept", len(edits), err)
	}
	got, err := collab.DocAt(c, f.s, d.ID, 77)
	if err != nil || docJSON(t, got) != docJSON(t, docs[77]) {
		t.Errorf("DocAt(77) after pruning = %q (%v), want %q", got.Text(), err, docs[77].Text())
	}
	wantCode(t, f.s.PruneSnapshots(c, d.ID, collab.PrunePolicy{KeepLatest: -1}), collab.Invalid, "prune with KeepLatest -1")
	wantCode(t, f.s.PruneSnapshots(c, "doc-unknown", p), collab.NotFound, "prune an unknown document")
}
