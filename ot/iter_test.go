package ot

import "testing"

func TestIterPieces(t *testing.T) {
	it := newIter(Delta{InsertText("a😀b", Attributes{"bold": true}), Retain(3, nil), Delete(2)})
	type step struct {
		n    int
		want Op
	}
	for i, s := range []step{
		{1, InsertText("a", Attributes{"bold": true})},
		{2, InsertText("😀", Attributes{"bold": true})},
		{5, InsertText("b", Attributes{"bold": true})},
		{2, Retain(2, nil)},
		{0, Retain(1, nil)},
		{9, Delete(2)},
		{3, Retain(infinity, nil)},
	} {
		if got := it.next(s.n); !opEqual(&got, &s.want) {
			t.Fatalf("step %d: next(%d) = %+v, want %+v", i, s.n, got, s.want)
		}
	}
}

// Only invalid input cuts a surrogate pair; the halves come out as U+FFFD
// so that lengths stay right and nothing panics.
func TestIterSplitsPairAsReplacement(t *testing.T) {
	it := newIter(Delta{InsertText("x😀y", nil)})
	var got []string
	for it.hasNext() {
		op := it.next(2)
		got = append(got, op.Insert)
		if op.Len() > 2 {
			t.Fatalf("piece %q longer than asked", op.Insert)
		}
	}
	want := []string{"x\uFFFD", "\uFFFDy"}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("pieces %q, want %q", got, want)
	}
	it = newIter(Delta{InsertText("😀😀", nil)})
	it.skip(1)
	if rest := it.rest(); len(rest) != 1 || rest[0].Insert != "\uFFFD😀" {
		t.Fatalf("rest after half = %+v", rest)
	}
}

func TestIterSkipsEmptyOps(t *testing.T) {
	it := newIter(Delta{{}, Retain(-3, nil), InsertText("a", nil), {Delete: -1}, Delete(1)})
	if k := it.peekKind(); k != KindInsert {
		t.Fatalf("peekKind = %v", k)
	}
	it.next(0)
	if k := it.peekKind(); k != KindDelete {
		t.Fatalf("peekKind = %v", k)
	}
	it.next(0)
	if it.hasNext() || it.peekLen() != infinity {
		t.Fatalf("iterator not done")
	}
}
