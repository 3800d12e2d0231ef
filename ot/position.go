package ot

// TransformPosition moves a position (a cursor or a marker, in UTF-16
// units) of the document before a to where the same place is after a:
// quill's a.transformPosition(index, priority). A delete around the
// position pulls it back to the delete's start. An insert exactly at the
// position pushes it after the insert unless priority is true (then the
// position is taken to have been there first and stays in front).
func TransformPosition(a Delta, index int, priority bool) int {
	it := newIter(a)
	offset := 0
	for it.hasNext() && offset <= index {
		n := it.peekLen()
		k := it.peekKind()
		it.skip(n)
		switch {
		case k == KindDelete:
			index -= min(n, index-offset)
			continue
		case k == KindInsert && (offset < index || !priority):
			index += n
		}
		offset += n
	}
	return index
}

// Range is a selection: Length units from Index. On the wire it is
// {"index":i,"length":n}, as Quill's getSelection gives it.
type Range struct {
	Index  int `json:"index"`
	Length int `json:"length"`
}

// TransformRange moves a selection through a: both ends move as
// TransformPosition without priority, as quill-cursors moves them. Text
// inserted exactly at the start of the selection goes before it; text
// inserted exactly at its end goes inside it; a collapsed cursor moves past
// text inserted at it (protocol: presence follows text). The length is
// never negative.
func TransformRange(a Delta, r Range) Range {
	start := TransformPosition(a, r.Index, false)
	end := TransformPosition(a, r.Index+r.Length, false)
	return Range{Index: start, Length: max(0, end-start)}
}
