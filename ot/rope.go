package ot

// The server's document: a persistent rope.
//
//   - rope.go: Doc, building one, Apply.
//   - rope_tree.go: the B-tree. Leaves hold runs (text with one set of
//     attributes, or one embed) weighing up to 512 (text bytes + 16 per
//     run), at least 128 unless alone; internal nodes hold 8 to 16 kids.
//     A 1 MiB document is ~2,700 leaves under 3 levels. Edits within a
//     leaf copy it and the path above; others cut and join the tree
//     (split, concat: O(log n) new nodes).
//   - rope_hot.go: the hot leaf and the cursor, which make a run of
//     keystrokes in one place cost no allocation.
//   - rope_read.go: Delta, Slice, Text, Invert.
//
// Costs (BenchmarkReplay*, BenchmarkInsert*): typing at the cursor is
// allocation-free; an edit elsewhere in the hot leaf allocates one leaf;
// one in another leaf also copies one path (O(log n) nodes of 288
// bytes: 16 kids and their lengths, so seeking reads no kid); the
// automerge-paper trace (259,778 edits) replays in under 30 ms of CPU.

// Doc is a document held as a persistent rope: a B-tree of runs of text
// with their attributes, and embeds (rope_tree.go). It is an immutable
// value: Apply returns a new Doc that shares every node the edit did not
// touch, so applying a small edit to a large document copies O(log n)
// nodes, never the document, and the old Doc stays valid. A session can
// therefore hand its current Doc to a checkpoint writer or a joining
// client and keep editing, with no copy and no lock: Docs are safe to share
// between goroutines.
//
// A Doc also holds the leaf edited last beside its tree, so that a run of
// keystrokes in one place copies that leaf at most, often nothing at all
// (rope_hot.go). That is still pure persistence: nothing a Doc can see ever
// changes.
//
// Lengths and positions count UTF-16 code units, as quill-delta does. The
// zero Doc is not a document: use NewDoc or DocFromDelta. Its methods do
// not panic; Len is 0, Delta is empty and Apply fails.
type Doc struct {
	root *ropeNode // nil only in the zero Doc (and, inside Apply, an emptied one)
	n    int       // units: Len

	// The hot leaf (rope_hot.go): if hot.leaf != nil, it stands for
	// hot.stale, the leaf of root starting at unit hot.off; root's nodes
	// above stale still count stale's lengths. It weighs within
	// [ropeMinWeight, ropeMaxWeight], unless stale is root.
	hot ropeHot
}

var ropeNewlineDoc = ropeNewLeaf([]ropeRun{{text: "\n", n16: 1}})

// NewDoc returns the empty document, "\n".
func NewDoc() Doc { return Doc{root: ropeNewlineDoc, n: 1} }

// DocFromDelta builds a Doc from a document Delta, checked as
// ValidateDocument checks it: only valid inserts (else ErrMalformed, or
// ErrInvalidUTF8, ErrTooLarge), no nil attribute values (ErrMalformed),
// ending with "\n" (ErrDoesNotFit). Adjacent inserts with equal attributes
// are merged. The Doc shares d's strings, maps and embeds, which must not
// be modified afterwards (Deltas are values).
func DocFromDelta(d Delta) (Doc, error) {
	if err := ValidateDocument(d); err != nil {
		return Doc{}, err
	}
	runs := make([]ropeRun, len(d))
	for i := range d {
		runs[i], _ = ropeRunOf(&d[i]) // valid: checked above
	}
	runs = ropeCoalesce(runs[:0], runs, false) // in place: writes never pass reads
	root := ropeBuild(runs)
	return Doc{root: root, n: root.n16}, nil
}

// ropeRunOf converts an insert op to a run; valid is false if its text is
// not valid UTF-8. A nil attribute value on an insert means "no such
// format", which is what a document holds without the key (as Apply on
// Deltas does).
func ropeRunOf(op *Op) (r ropeRun, valid bool) {
	attrs := op.Attributes
	if len(attrs) == 0 {
		attrs = nil
	} else {
		for _, v := range attrs {
			if v == nil {
				attrs = ropeComposeAttrs(nil, attrs)
				break
			}
		}
	}
	if op.Embed != nil {
		return ropeRun{embed: op.Embed, attrs: attrs, n16: 1}, true
	}
	n16, astral, valid := ropeScanText(op.Insert)
	return ropeRun{text: op.Insert, attrs: attrs, n16: n16, astral: astral}, valid
}

// Len returns the document's length in UTF-16 code units.
func (d Doc) Len() int { return d.n }

// Apply returns the document with edit applied, with quill-delta's
// semantics (doc.compose(edit)) and the checks of the package's Apply:
// inserts insert (a nil format on an insert is dropped), deletes delete, a
// retain with attributes composes formats into the runs it covers (a nil
// value removes a format), and the rest of the document is kept.
//
// It fails, with the same typed errors as Apply on Deltas, if edit is not
// valid (ValidateEdit: ErrMalformed, ErrInvalidUTF8, ErrTooLarge), if a
// retain or delete runs past the end or the result does not end with "\n"
// (ErrDoesNotFit), if an op starts or ends inside a surrogate pair
// (ErrSplitsSurrogate), or if the result would be longer than MaxLen
// (ErrTooLarge). d itself is never modified, error or not.
func (d Doc) Apply(edit Delta) (Doc, error) {
	if d.root == nil {
		return d, errorf(ErrMalformed, "apply to the zero Doc")
	}
	// ValidateEdit's checks come first. For a plain edit (no formats, no
	// embeds: a keystroke) they are made inline below, and ValidateEdit runs
	// only to report an error, so that the first error is the same.
	plain := true
	for i := range edit {
		if edit[i].Embed != nil || len(edit[i].Attributes) > 0 {
			plain = false
			break
		}
	}
	if !plain {
		if err := ValidateEdit(edit); err != nil {
			return d, err
		}
	}
	fail := func(err error) (Doc, error) {
		if plain {
			if verr := ValidateEdit(edit); verr != nil {
				return d, verr
			}
		}
		return d, err
	}
	var (
		t        = d // the new version, built op by op
		size     = d.n
		astral   = d.astral() // without astral text no boundary can split a pair
		total    int          // the edit's length, for MaxLen
		cur      int          // cursor in t
		consumed int          // units of d retained or deleted so far
		insBuf   [4]ropeRun
		ins      = insBuf[:0] // inserts pending at cur
		ins16    int
		del      int // units pending deletion at cur
	)
	// flush applies the pending inserts and delete as one splice, so
	// "retain, insert, delete" edits one leaf once.
	flush := func() {
		if len(ins) == 0 && del == 0 {
			return
		}
		if len(ins) > 1 {
			ins = ropeCoalesce(ins[:0], ins, false)
		}
		t.splice(cur, del, ins, ins16, true)
		cur += ins16
		ins, ins16, del = ins[:0], 0, 0
	}
	for i := range edit {
		op := &edit[i]
		switch ropeKindOf(op) {
		case KindInsert:
			r, valid := ropeRunOf(op)
			if !valid {
				return fail(errorf(ErrInvalidUTF8, "op %d: insert is not valid UTF-8", i))
			}
			ins = append(ins, r)
			ins16 += r.n16
			total += r.n16
		case KindDelete:
			n := op.Delete
			if total += n; n > MaxLen || total > MaxLen {
				return fail(errorf(ErrTooLarge, "op %d: the delta is longer than %d units", i, MaxLen))
			}
			if n > size-consumed {
				return fail(errorf(ErrDoesNotFit, "op %d: delete runs past the end of the document (length %d) by %d", i, size, n-(size-consumed)))
			}
			del += n
			consumed += n
			if astral && t.splitsPair(cur+del) {
				return fail(errorf(ErrSplitsSurrogate, "op %d: delete ending at %d splits a surrogate pair", i, consumed))
			}
		case KindRetain:
			n := op.Retain
			if total += n; n > MaxLen || total > MaxLen {
				return fail(errorf(ErrTooLarge, "op %d: the delta is longer than %d units", i, MaxLen))
			}
			if n > size-consumed {
				return fail(errorf(ErrDoesNotFit, "op %d: retain runs past the end of the document (length %d) by %d", i, size, n-(size-consumed)))
			}
			if astral && t.splitsPair(cur+del+n) {
				return fail(errorf(ErrSplitsSurrogate, "op %d: retain ending at %d splits a surrogate pair", i, consumed+n))
			}
			flush()
			if len(op.Attributes) > 0 {
				t.format(cur, n, op.Attributes)
			}
			cur += n
			consumed += n
		default:
			return fail(errorf(ErrMalformed, "op %d: not an insert, retain or delete", i))
		}
	}
	if total > MaxLen {
		return fail(errorf(ErrTooLarge, "the delta is longer than %d units", MaxLen))
	}
	flush()
	// If the edit stopped short of the end, d's final "\n" is still last.
	if consumed == size && !t.lastIsNewline() {
		return fail(errorf(ErrDoesNotFit, `the edit leaves the document without its final "\n"`))
	}
	if t.n > MaxLen {
		return fail(errorf(ErrTooLarge, "the document would be longer than %d units", MaxLen))
	}
	return t, nil
}

// ropeKindOf is op.Kind() without copying the op, on Apply's hot path.
func ropeKindOf(op *Op) Kind {
	switch {
	case op.Retain > 0:
		if op.Delete == 0 && op.Insert == "" && op.Embed == nil {
			return KindRetain
		}
	case op.Delete > 0:
		if op.Retain == 0 && op.Insert == "" && op.Embed == nil {
			return KindDelete
		}
	case op.Retain == 0 && op.Delete == 0 && (op.Insert == "") != (op.Embed == nil):
		return KindInsert
	}
	return KindInvalid
}

// format composes attrs into the runs covering [pos, pos+n). d is Apply's
// working copy.
func (d *Doc) format(pos, n int, attrs Attributes) {
	root := d.tree()
	runs := root.collect(pos, pos+n, nil)
	changed := false
	for i := range runs {
		a := ropeComposeAttrs(runs[i].attrs, attrs)
		changed = changed || !ropeAttrsEqual(a, runs[i].attrs)
		runs[i].attrs = a
	}
	if !changed {
		return // keep the tree, and its sharing, when nothing changes
	}
	*d = Doc{root: root, n: d.n, hot: ropeHot{buf: d.hot.buf}}
	d.splice(pos, n, ropeCoalesce(runs[:0], runs, false), n, false)
}

// UnmarshalJSON decodes a document with ParseDoc; on error d is unchanged.
func (d *Doc) UnmarshalJSON(b []byte) error {
	nd, err := ParseDoc(b)
	if err != nil {
		return err
	}
	*d = nd
	return nil
}
