package client

import (
	"math/rand/v2"
	"testing"

	"github.com/collabd/collabd/ot"
)

// TestPositionBeforeIsTransformThroughTheInverse: positionBefore, worked
// out from the edit alone, is ot.TransformPosition through ot.Invert of
// it (without priority) at every position, for composed random edits like
// the ones a client holds unacknowledged.
func TestPositionBeforeIsTransformThroughTheInverse(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	for round := range 2000 {
		base, err := ot.DocFromDelta(ot.Delta{ot.InsertText("the quick brown fox\n", nil)})
		if err != nil {
			t.Fatal(err)
		}
		doc := base
		var d ot.Delta
		for range 1 + r.IntN(4) {
			e := randomEdit(r, doc)
			if doc, err = doc.Apply(e); err != nil {
				t.Fatal(err)
			}
			if d == nil {
				d = e
			} else {
				d = ot.Compose(d, e)
			}
		}
		inverse := ot.Invert(d, base.Delta())
		for pos := 0; pos <= doc.Len(); pos++ {
			if got, want := positionBefore(d, pos), ot.TransformPosition(inverse, pos, false); got != want {
				t.Fatalf("round %d: edit %s, position %d: positionBefore = %d, through the inverse %s = %d", round, jsonOf(d), pos, got, jsonOf(inverse), want)
			}
		}
	}
}

// TestRangeBeforeComesBackWhereTheUserSeesIt: a range mapped back through
// the client's own pending edit and moved forward through it again, as the
// server does when the edit commits, is the local range, in the ordinary
// cases of typing, deleting and selecting.
func TestRangeBeforeComesBackWhereTheUserSeesIt(t *testing.T) {
	// The document before the edit is "hello world\n".
	for _, tc := range []struct {
		name   string
		edit   ot.Delta
		local  ot.Range // in the document after the edit
		server ot.Range // what goes out
	}{
		{"cursor after typed text", ins(5, "XY"), ot.Range{Index: 7}, ot.Range{Index: 5}},
		{"cursor after typing at the start", ins(0, "X"), ot.Range{Index: 1}, ot.Range{Index: 0}},
		{"cursor after backspace", del(3, 2), ot.Range{Index: 3}, ot.Range{Index: 5}},
		{"cursor after forward delete", del(3, 1), ot.Range{Index: 3}, ot.Range{Index: 4}},
		{"cursor after typing over a selection", ot.Delta{ot.Retain(6, nil), ot.InsertText("W", nil), ot.Delete(5)}, ot.Range{Index: 7}, ot.Range{Index: 11}},
		{"cursor after a newline typed", ins(5, "\n"), ot.Range{Index: 6}, ot.Range{Index: 5}},
		{"selection after the typed text", ins(0, "X"), ot.Range{Index: 7, Length: 5}, ot.Range{Index: 6, Length: 5}},
		{"selection before the typed text", ins(8, "X"), ot.Range{Index: 0, Length: 5}, ot.Range{Index: 0, Length: 5}},
		{"selection around the typed text", ins(3, "XY"), ot.Range{Index: 1, Length: 6}, ot.Range{Index: 1, Length: 4}},
		{"selection starting at the typed text's end", ins(5, "X"), ot.Range{Index: 6, Length: 3}, ot.Range{Index: 5, Length: 3}},
		{"selection after a delete", del(0, 6), ot.Range{Index: 0, Length: 5}, ot.Range{Index: 6, Length: 5}},
		{"selection around a delete", del(2, 2), ot.Range{Index: 1, Length: 5}, ot.Range{Index: 1, Length: 7}},
		{"cursor on a format change", ot.Delta{ot.Retain(5, ot.Attributes{"bold": true})}, ot.Range{Index: 3}, ot.Range{Index: 3}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := rangeBefore(tc.edit, tc.local)
			if got != tc.server {
				t.Errorf("rangeBefore(%s, %v) = %v, want %v", jsonOf(tc.edit), tc.local, got, tc.server)
			}
			if back := ot.TransformRange(tc.edit, got); back != tc.local {
				t.Errorf("the server moves %v through the edit to %v, want the local %v", got, back, tc.local)
			}
		})
	}
}
