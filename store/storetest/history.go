package storetest

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/collabd/collabd/collab"
	"github.com/collabd/collabd/ot"
)

// The document at any past version, read through snapshots and the log,
// equals replaying the log from the start (random edits, seeded).
func testHistory(t *testing.T, b Backend) {
	seed := uint64(time.Now().UnixNano())
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("seed %d", seed)
		}
	})
	rng := rand.New(rand.NewPCG(seed, 1))
	f := newFixture(t, b)
	c := ctx(t)
	d := f.doc(t, "start")
	docs := []ot.Doc{docOf(t, "start")}
	var all []collab.Edit
	const total = 400
	for v := int64(1); v <= total; {
		var batch []collab.Edit
		for k := 1 + rng.IntN(5); k > 0 && v <= total; k-- {
			delta, next := randomEdit(t, rng, docs[len(docs)-1])
			docs = append(docs, next)
			e := edit(v, fmt.Sprintf("c%d", rng.IntN(3)), v, delta)
			batch = append(batch, e)
			v++
		}
		must(t, f.s.Append(c, d.ID, batch), "append")
		all = append(all, batch...)
		if last := batch[len(batch)-1].Version; last/50 != (last-int64(len(batch)))/50 {
			must(t, f.s.SaveSnapshot(c, d.ID, collab.Snapshot{Version: last, Doc: docs[last]}), "save snapshot")
		}
	}
	must(t, f.s.PruneSnapshots(c, d.ID, collab.PrunePolicy{KeepLatest: 1, Every: 100}), "prune")

	stored, err := f.s.Edits(c, d.ID, 1, total)
	must(t, err, "Edits")
	checkEdits(t, stored, all, "the whole log")
	versions := []int64{0, 1, total}
	for range 30 {
		versions = append(versions, rng.Int64N(total+1))
	}
	for _, v := range versions {
		got, err := collab.DocAt(c, f.s, d.ID, v)
		must(t, err, fmt.Sprintf("DocAt(%d)", v))
		if g, w := docJSON(t, got), docJSON(t, docs[v]); g != w {
			t.Fatalf("DocAt(%d) = %s, want %s", v, g, w)
		}
	}
	snap, edits, err := f.s.Load(c, d.ID)
	must(t, err, "Load")
	got, v, err := collab.Replay(snap, edits)
	must(t, err, "replay Load")
	if v != total || docJSON(t, got) != docJSON(t, docs[total]) {
		t.Errorf("Load replayed to version %d = %q, want %d %q", v, got.Text(), total, docs[total].Text())
	}
}

// LargeDelta builds a document of at least size bytes of JSON (merged
// runs are shorter than their ops, hence the margin) with emoji
// (astral characters), accents, formats, line formats and embeds whose
// values have keys out of order and fractional numbers.
func LargeDelta(size int) ot.Delta {
	var d ot.Delta
	n := 0
	for i := 0; n < size+size/8; i++ {
		var op ot.Op
		switch i % 5 {
		case 0:
			op = ot.InsertText(fmt.Sprintf("Paragraph %d: héllo wörld 😀🎉 𝄞 — “quotes” and \\ backslash\t", i), nil)
		case 1:
			op = ot.InsertText(strings.Repeat("plain text ", 8), ot.Attributes{"bold": true, "color": "#ff0000", "size": 12.5})
		case 2:
			op = ot.InsertEmbed("image", json.RawMessage(fmt.Sprintf(`"https://example.com/%d.png"`, i)), ot.Attributes{"width": "100"})
		case 3:
			op = ot.InsertEmbed("formula", json.RawMessage(`{"z":2,"a":[1,2.5,"x"],"m":{"b":true,"a":null}}`), nil)
		case 4:
			op = ot.InsertText("\n", ot.Attributes{"header": float64(1 + i%3)})
		}
		d = append(d, op)
		b, _ := ot.Delta{op}.MarshalJSON()
		n += len(b)
	}
	return append(d, ot.InsertText("\n", nil))
}

// A 1 MiB document round-trips byte for byte: as the initial snapshot, as
// a saved snapshot, and an edit with embeds and emoji.
func testLargeDocument(t *testing.T, b Backend) {
	f := newFixture(t, b)
	c := ctx(t)
	doc, err := ot.DocFromDelta(LargeDelta(1 << 20))
	must(t, err, "build the large document")
	want := docJSON(t, doc)
	if len(want) < 1<<20 {
		t.Fatalf("large document is %d bytes of JSON, want at least 1 MiB", len(want))
	}
	d, err := f.s.CreateDocument(c, collab.Document{ID: "doc-large", Title: "large", Owner: f.alice.ID}, collab.Snapshot{Doc: doc})
	must(t, err, "create")
	snap, _, err := f.s.Load(c, d.ID)
	must(t, err, "Load")
	sameJSON(t, docJSON(t, snap.Doc), want, "initial snapshot")

	delta := ot.Delta{
		ot.InsertEmbed("video", json.RawMessage(`{"z":1,"a":"ü 😀","n":-0.25}`), ot.Attributes{"align": "center"}),
		ot.InsertText("🎉 nouveau ", ot.Attributes{"font": "serif", "size": 9.75}),
	}
	e := edit(1, "c", 1, delta)
	must(t, f.s.Append(c, d.ID, []collab.Edit{e}), "append")
	next, err := doc.Apply(delta)
	must(t, err, "apply")
	must(t, f.s.SaveSnapshot(c, d.ID, collab.Snapshot{Version: 1, Doc: next}), "save snapshot 1")
	s1, err := f.s.SnapshotAt(c, d.ID, 1)
	must(t, err, "SnapshotAt(1)")
	sameJSON(t, docJSON(t, s1.Doc), docJSON(t, next), "snapshot 1")
	edits, err := f.s.Edits(c, d.ID, 1, 1)
	must(t, err, "Edits")
	checkEdits(t, edits, []collab.Edit{e}, "the edit with embeds and emoji")
}

// sameJSON compares long JSON texts and says where they differ.
func sameJSON(t testing.TB, got, want, what string) {
	t.Helper()
	if got == want {
		return
	}
	i := 0
	for i < len(got) && i < len(want) && got[i] == want[i] {
		i++
	}
	t.Errorf("%s: %d bytes, want %d; first difference at byte %d: %q, want %q",
		what, len(got), len(want), i, excerpt(got, i), excerpt(want, i))
}

func excerpt(s string, i int) string {
	return s[max(0, i-20):min(len(s), i+40)]
}

// The data outlives the store: closed and opened again (a restart), all is
// there and the log goes on.
func testReopen(t *testing.T, b Backend) {
	f := newFixture(t, b)
	c := ctx(t)
	bob := f.user(t, "bob")
	d := f.doc(t, "x")
	must(t, f.s.SetMember(c, d.ID, bob.ID, collab.Editor), "share")
	for v := int64(1); v <= 3; v++ {
		must(t, f.s.Append(c, d.ID, []collab.Edit{edit(v, "c", v, insert(0, "a"))}), "append")
	}
	doc2, err := collab.DocAt(c, f.s, d.ID, 2)
	must(t, err, "DocAt(2)")
	must(t, f.s.SaveSnapshot(c, d.ID, collab.Snapshot{Version: 2, Doc: doc2}), "save snapshot")
	must(t, f.s.CreateToken(c, collab.Token{ID: "t1", User: bob.ID, Hash: []byte("h")}), "create token")
	must(t, f.s.Close(), "Close")

	s := f.again()
	got, err := s.Document(c, d.ID)
	if err != nil || got.Version != 3 {
		t.Errorf("Document after reopening = version %d (%v), want 3", got.Version, err)
	}
	snap, edits, err := s.Load(c, d.ID)
	if err != nil || snap.Version != 2 || len(edits) != 1 || snap.Doc.Text() != "aax\n" {
		t.Errorf("Load after reopening = snapshot %d %q, %d edits (%v); want 2 \"aax\\n\" and 1", snap.Version, snap.Doc.Text(), len(edits), err)
	}
	if r, err := s.Role(c, d.ID, bob.ID); err != nil || r != collab.Editor {
		t.Errorf("bob's role after reopening = %q (%v), want editor", r, err)
	}
	if _, err := s.TokenByHash(c, []byte("h"), time.Now()); err != nil {
		t.Errorf("token after reopening: %v", err)
	}
	must(t, s.Append(c, d.ID, []collab.Edit{edit(4, "c", 4, insert(0, "a"))}), "append after reopening")
	wantCode(t, s.Append(c, d.ID, []collab.Edit{edit(4, "c2", 1, insert(0, "a"))}), collab.Conflict, "append a taken version after reopening")
}

// A closed store refuses work; Append says unavailable.
func testClosed(t *testing.T, b Backend) {
	f := newFixture(t, b)
	c := ctx(t)
	d := f.doc(t, "x")
	must(t, f.s.Close(), "Close")
	wantCode(t, f.s.Append(c, d.ID, []collab.Edit{edit(1, "c", 1, insert(0, "a"))}), collab.Unavailable, "Append after Close")
	if err := f.s.Ping(c); err == nil {
		t.Error("Ping after Close = nil, want an error")
	}
	if _, err := f.s.Document(c, d.ID); err == nil {
		t.Error("Document after Close = nil error, want one")
	}
}
