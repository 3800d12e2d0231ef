package ot

import (
	"strings"
	"unicode/utf8"
)

// ParseDoc: a document's JSON decoded straight into a rope, in one pass.
//
// DocFromDelta(ParseDelta(b)) makes three passes over the text (decode,
// validate, measure), copies every insert into its own string, allocates a
// map per formatted op and an Embed and a value per embed, then cuts the
// runs into leaves. Loading a 1 MiB snapshot is mostly that. ParseDoc runs
// ParseDelta's own decoder (json.go, jsonlex.go: the same code decides what
// is accepted and what each error says) with a docBuilder beside it, which
//   - copies insert text into 64 KiB chunks rather than a string per op, so
//     that an insert merging with the one before (equal formats) extends it
//     in place: coalescing costs nothing;
//   - shares one Attributes map between attribute objects of equal bytes,
//     and one Embed between equal embed objects (a document repeats a few
//     formats thousands of times), and takes new embed values from chunks;
//   - cuts leaves as the runs arrive, exactly where ropeBuild would, so
//     ParseDoc and DocFromDelta build the same tree (rope_parse_test.go
//     holds them to it).
//
// Sharing maps, embeds and chunks between runs is what Deltas already
// allow: nothing in this package modifies them. A leaf keeps its chunk
// alive (64 KiB at most, or one long insert), as it kept its insert's
// string before.

// ParseDoc decodes a document from its JSON, as written by Doc.MarshalJSON
// or quill (an array of inserts, or {"ops":[...]}). It accepts exactly what
// DocFromDelta(ParseDelta(b)) accepts, builds the same document, and fails
// with the same typed *Error: ParseDelta's for anything that is not a valid
// delta, wherever it is; then DocFromDelta's, ErrMalformed for an op that
// is not an insert, ErrDoesNotFit for a document not ending with "\n".
// The Doc does not alias b.
func ParseDoc(b []byte) (Doc, error) {
	db := docBuilder{leaves: make([]*ropeNode, 0, len(b)/ropeFillWeight+1)}
	db.cur = db.curBuf[:0]
	d := decoder{data: b, op: -1, doc: &db}
	wrapped, err := d.open()
	if err != nil {
		return Doc{}, err
	}
	if err := d.docOps(); err != nil {
		return Doc{}, err
	}
	if err := d.close(wrapped); err != nil {
		return Doc{}, err
	}
	return db.finish()
}

// docOps is ops for ParseDoc: each op goes to the builder instead of a
// Delta. Errors are ops' own, with the same op numbers.
func (d *decoder) docOps() error {
	d.pos++ // '['
	if d.peek() == ']' {
		d.pos++
		return nil
	}
	total := 0
	for i := 0; ; i++ {
		d.op = i
		op, n, err := d.opValue()
		if err != nil {
			return err
		}
		if total += n; total > MaxLen {
			return d.fail(ErrTooLarge, "the delta is longer than %d units", MaxLen)
		}
		d.doc.add(i, &op)
		switch d.peek() {
		case ',':
			d.pos++
			continue
		case ']':
			d.pos++
		default:
			return d.syntax("',' or ']' after an op")
		}
		break
	}
	d.op = -1
	return nil
}

const (
	// ropeChunk is the size of a text chunk: big enough that a 1 MiB
	// document takes a few dozen allocations for its text, small enough
	// that a leaf does not keep much more than itself alive.
	ropeChunk = 64 << 10
	// ropeValueChunk is the size of a chunk of embed values.
	ropeValueChunk = 4 << 10
	// ropeParseCache bounds each of the caches of attribute objects and
	// embeds: a document of all different links must not grow them
	// without end.
	ropeParseCache = 512
)

// docBuilder receives a document's ops from the decoder and builds its
// tree. It holds one run pending (p): the last insert, which the next one
// may extend. Everything before p is in cur, the leaf being filled, or in
// leaves.
type docBuilder struct {
	// The text chunk: run texts are strings over it. A strings.Builder
	// only appends, so strings taken from it never change.
	chunk     strings.Builder
	lastStart int  // where in chunk the last insert's text starts
	lastN16   int  // its length
	lastAstr  bool // whether it has a rune outside the BMP

	p      ropeRun // the pending run
	hasP   bool
	pStart int // if p is text: where in chunk its text starts

	cur    []ropeRun // runs of the leaf being filled, weighing w
	curBuf [ropeFillWeight / ropeRunCost]ropeRun
	w      int
	leaves []*ropeNode
	weight int // of the coalesced runs, for ropeBuild's one-leaf rule

	attrs  map[string]Attributes // by the bytes of the attribute object
	embeds map[string]*Embed     // by the bytes of the embed object
	values []byte                // chunk of embed values
	slab   []Embed

	err error // the first op that is not an insert: DocFromDelta's error, if the JSON is valid
}

// text copies an insert's text into the chunk and returns it.
func (b *docBuilder) text(d *decoder, s []byte, units int) string {
	if b.chunk.Cap()-b.chunk.Len() < len(s) {
		b.grow(d, len(s))
	}
	b.lastStart, b.lastN16 = b.chunk.Len(), units
	b.chunk.Write(s)
	b.lastAstr = false
	if len(s) != units { // not ASCII: look for 4-byte runes
		for _, c := range s {
			if c >= 0xF0 {
				b.lastAstr = true
				break
			}
		}
	}
	return b.chunk.String()[b.lastStart:]
}

// grow starts a new chunk with room for n more bytes, moving the pending
// text there so that the next insert can still extend it. That text is
// short: settle keeps it within a leaf.
func (b *docBuilder) grow(d *decoder, n int) {
	keep := 0
	if b.hasP && b.p.embed == nil {
		keep = len(b.p.text)
	}
	// The rest of the input bounds the text still to come.
	size := max(keep+n, min(ropeChunk, keep+n+len(d.data)-d.pos))
	b.chunk = strings.Builder{}
	b.chunk.Grow(size)
	if keep > 0 {
		b.chunk.WriteString(b.p.text)
		b.p.text, b.pStart = b.chunk.String(), 0
	}
}

// attributes is the decoder's attributes for ParseDoc: an object whose
// bytes were seen before gives the same map.
func (b *docBuilder) attributes(d *decoder) (Attributes, bool, error) {
	start := d.pos
	end := ropeFlatObjectEnd(d.data, start)
	if end > 0 {
		if a, ok := b.attrs[string(d.data[start:end])]; ok {
			d.pos = end
			return a, false, nil
		}
	}
	a, hasNil, err := d.attributesMap()
	// A map with a null is changed by opValue: never share it.
	if err == nil && !hasNil && d.pos == end && len(b.attrs) < ropeParseCache {
		if b.attrs == nil {
			b.attrs = make(map[string]Attributes)
		}
		b.attrs[string(d.data[start:end])] = a
	}
	return a, hasNil, err
}

// embed is the decoder's embed for ParseDoc: an object whose bytes were
// seen before gives the same Embed; new ones come from a slab, their
// values from a chunk.
func (b *docBuilder) embed(d *decoder) (*Embed, error) {
	start := d.pos
	end := ropeObjectEnd(d.data, start)
	if end > 0 {
		if e, ok := b.embeds[string(d.data[start:end])]; ok {
			d.pos = end
			return e, nil
		}
	}
	if cap(b.values)-len(b.values) < 64 {
		b.values = make([]byte, 0, ropeValueChunk)
	}
	room := cap(b.values) - len(b.values)
	key, value, err := d.embedParts(b.values[len(b.values):])
	if err != nil {
		return nil, err
	}
	if len(value) <= room { // written in the chunk, not reallocated
		b.values = b.values[:len(b.values)+len(value)]
	}
	if len(b.slab) == cap(b.slab) {
		b.slab = make([]Embed, 0, 64)
	}
	b.slab = append(b.slab, Embed{Key: key, Value: value[:len(value):len(value)]})
	e := &b.slab[len(b.slab)-1]
	if d.pos == end && len(b.embeds) < ropeParseCache {
		if b.embeds == nil {
			b.embeds = make(map[string]*Embed)
		}
		b.embeds[string(d.data[start:end])] = e
	}
	return e, nil
}

// add takes op i, decoded and valid as a delta's op.
func (b *docBuilder) add(i int, op *Op) {
	if b.err != nil {
		return
	}
	if op.Insert == "" && op.Embed == nil {
		// ValidateDocument's error, kept until the rest is known to be JSON
		// ParseDelta takes.
		b.err = errorf(ErrMalformed, "op %d: a document holds only inserts, got a %s", i, op.Kind())
		return
	}
	if op.Embed == nil && b.hasP && b.p.embed == nil && ropeAttrsEqual(b.p.attrs, op.Attributes) {
		// Coalesce, as DocFromDelta does. The text follows p's in the
		// chunk (grow moves p's along), so p just grows over it.
		if end := b.pStart + len(b.p.text); b.lastStart == end {
			b.p.text = b.chunk.String()[b.pStart : end+len(op.Insert)]
		} else {
			b.p.text += op.Insert // not reached: kept so a broken assumption costs a copy, not a wrong text
		}
		b.p.n16 += b.lastN16
		b.p.astral = b.p.astral || b.lastAstr
		b.weight += len(op.Insert)
		b.settle()
		return
	}
	if b.hasP {
		b.cur = append(b.cur, b.p) // settle made it fit
		b.w += b.p.weight()
	}
	if op.Embed != nil {
		b.p = ropeRun{embed: op.Embed, attrs: op.Attributes, n16: 1}
	} else {
		b.p = ropeRun{text: op.Insert, attrs: op.Attributes, n16: b.lastN16, astral: b.lastAstr}
		b.pStart = b.lastStart
	}
	b.hasP = true
	b.weight += b.p.weight()
	b.settle()
}

// settle cuts and flushes leaves until the pending run fits in the leaf
// being filled. It is ropeBuild's loop for one run, run as the run grows:
// ropeBuild's cuts depend only on the fill before the run and on the
// run's first bytes, so cutting early cuts where it would.
func (b *docBuilder) settle() {
	p := &b.p
	for p.weight() > ropeFillWeight-b.w {
		room := ropeFillWeight - b.w - ropeRunCost
		if p.embed != nil || room < 16 {
			b.flush()
			continue
		}
		cut := room
		for cut > 0 && !utf8.RuneStart(p.text[cut]) {
			cut--
		}
		u := cut
		if !p.ascii() {
			u = UTF16Len(p.text[:cut])
		}
		b.cur = append(b.cur, p.cut(0, u, 0, cut))
		b.flush()
		*p = p.cut(u, p.n16, cut, len(p.text))
		b.pStart += cut
	}
}

func (b *docBuilder) flush() {
	if len(b.cur) > 0 {
		b.leaves = append(b.leaves, ropeNewLeaf(b.cur))
		b.cur = b.cur[:0]
	}
	b.w = 0
}

// finish returns the document, or DocFromDelta's error.
func (b *docBuilder) finish() (Doc, error) {
	if b.err != nil {
		return Doc{}, b.err
	}
	if !b.hasP || b.p.embed != nil || !strings.HasSuffix(b.p.text, "\n") {
		return Doc{}, errorf(ErrDoesNotFit, `a document ends with "\n"`)
	}
	b.cur = append(b.cur, b.p)
	b.flush()
	if b.weight <= ropeMaxWeight {
		// ropeBuild keeps a document this light in one leaf, uncut: join
		// the pieces again (a few hundred bytes).
		var runs []ropeRun
		for _, l := range b.leaves {
			runs = append(runs, l.runs...)
		}
		root := ropeNewLeaf(ropeCoalesce(runs[:0], runs, false))
		return Doc{root: root, n: root.n16}, nil
	}
	leaves := b.leaves
	if n := len(leaves); n >= 2 && !leaves[n-1].ok() {
		m := ropeMergeLeaves(leaves[n-2], leaves[n-1])
		leaves = leaves[:n-2]
		if m.height == 0 {
			leaves = append(leaves, m)
		} else {
			leaves = append(leaves, m.kids...)
		}
	}
	root := ropeBuildLevels(leaves)
	return Doc{root: root, n: root.n16}, nil
}

// ropeFlatObjectEnd returns the end of the JSON object starting at data[i]
// ('{') if it holds no object or array (an attribute object), else -1. It
// only finds the end: the decoder checks the rest.
func ropeFlatObjectEnd(data []byte, i int) int {
	for i++; i < len(data); i++ {
		switch data[i] {
		case '"':
			if i = ropeStringEnd(data, i); i < 0 {
				return -1
			}
		case '}':
			return i + 1
		case '{', '[':
			return -1
		}
	}
	return -1
}

// ropeObjectEnd returns the end of the JSON value starting at data[i]
// ('{'), nested or not, or -1. It only finds the end.
func ropeObjectEnd(data []byte, i int) int {
	depth := 0
	for ; i < len(data); i++ {
		switch data[i] {
		case '"':
			if i = ropeStringEnd(data, i); i < 0 {
				return -1
			}
		case '{', '[':
			depth++
		case '}', ']':
			if depth--; depth == 0 {
				return i + 1
			}
		}
	}
	return -1
}

// ropeStringEnd returns the index of the '"' closing the string opening at
// data[i], or -1.
func ropeStringEnd(data []byte, i int) int {
	for i++; i < len(data); i++ {
		switch data[i] {
		case '"':
			return i
		case '\\':
			i++
		}
	}
	return -1
}
