package storetest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/collabd/collabd/collab"
	"github.com/collabd/collabd/ot"
)

// BenchAppend measures durable appends through the group commit: docs
// documents, one appender goroutine per document, each appending one small
// edit at a time and waiting for it, as sessions do. It reports edits/s.
func BenchAppend(b *testing.B, be Backend, docs int) {
	f := newFixture(b, be)
	c := context.Background()
	ids := make([]collab.DocumentID, docs)
	for i := range ids {
		ids[i] = f.doc(b, "x").ID
	}
	var next atomic.Int64 // edits handed out
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	for i, id := range ids {
		wg.Go(func() {
			client := fmt.Sprintf("c%d", i)
			for v := int64(1); next.Add(1) <= int64(b.N); v++ {
				if err := f.s.Append(c, id, []collab.Edit{edit(v, client, v, insert(0, "x"))}); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "edits/s")
}

// BenchLoad measures loading a document of about 1 MiB (its snapshot) with
// 1,000 small edits after the snapshot: Load alone, or with replay also
// bringing it to its current version as a session does (Load, then Replay).
func BenchLoad(b *testing.B, be Backend, replay bool) {
	f := newFixture(b, be)
	c := context.Background()
	doc, err := ot.DocFromDelta(LargeDelta(1 << 20))
	must(b, err, "build the document")
	d, err := f.s.CreateDocument(c, collab.Document{ID: "doc-bench", Owner: f.alice.ID}, collab.Snapshot{Doc: doc})
	must(b, err, "create")
	rng := rand.New(rand.NewPCG(1, 2))
	for v := int64(1); v <= 1000; v += 100 {
		var batch []collab.Edit
		for w := v; w < v+100; w++ {
			var delta ot.Delta
			delta, doc = randomEdit(b, rng, doc)
			batch = append(batch, edit(w, "c", w, delta))
		}
		must(b, f.s.Append(c, d.ID, batch), "append")
	}
	want := docJSON(b, doc)
	b.ResetTimer()
	for b.Loop() {
		snap, edits, err := f.s.Load(c, d.ID)
		if err != nil {
			b.Fatal(err)
		}
		if len(edits) != 1000 {
			b.Fatalf("Load returned %d edits, want 1000", len(edits))
		}
		if replay {
			if _, v, err := collab.Replay(snap, edits); err != nil || v != 1000 {
				b.Fatalf("replay to %d: %v", v, err)
			}
		}
	}
	b.StopTimer()
	snap, edits, _ := f.s.Load(c, d.ID)
	got, _, _ := collab.Replay(snap, edits)
	sameJSON(b, docJSON(b, got), want, "loaded document")
}

// BenchDocAt measures reading a document at a random past version of a
// 100,000-edit history with a snapshot every every versions (what
// PrunePolicy{Every: every} leaves).
func BenchDocAt(b *testing.B, be Backend, every int64) {
	const total = 100_000
	f := newFixture(b, be)
	c := context.Background()
	d := f.doc(b, "start")
	doc := docOf(b, "start")
	rng := rand.New(rand.NewPCG(3, 4))
	versions := map[int64]string{}
	for v := int64(1); v <= total; v += 500 {
		batch := make([]collab.Edit, 0, 500)
		for w := v; w < v+500; w++ {
			var delta ot.Delta
			delta, doc = randomEdit(b, rng, doc)
			batch = append(batch, edit(w, "c", w, delta))
			if w%every == 0 {
				must(b, f.s.Append(c, d.ID, batch), "append")
				batch = batch[:0]
				must(b, f.s.SaveSnapshot(c, d.ID, collab.Snapshot{Version: w, Doc: doc}), "save snapshot")
			}
			if w%9973 == 0 {
				versions[w] = docJSON(b, doc)
			}
		}
		if len(batch) > 0 {
			must(b, f.s.Append(c, d.ID, batch), "append")
		}
	}
	b.ResetTimer()
	for b.Loop() {
		v := rng.Int64N(total) + 1
		if _, err := collab.DocAt(c, f.s, d.ID, v); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	for v, want := range versions {
		got, err := collab.DocAt(c, f.s, d.ID, v)
		must(b, err, "DocAt")
		sameJSON(b, docJSON(b, got), want, fmt.Sprintf("DocAt(%d)", v))
	}
}
