package ot

import (
	"strings"
	"sync/atomic"
	"unicode/utf8"
	"unsafe"
)

// The hot leaf and typing in place.
//
// A Doc is its tree plus, optionally, one leaf held beside it (ropeHot): the
// hot leaf, the last one edited, which stands for the stale leaf of the tree
// that starts at unit hot.off (the tree's internal nodes still count the
// stale leaf's lengths). Edits are local for a while, so:
//
//  1. An edit inside the hot leaf builds a new hot leaf from views of the
//     old one's strings, without merging them (one allocation, no text
//     copied but what is typed), and leaves the path above it alone.
//  2. The Doc value itself keeps a cursor where the last edit ended: the
//     run before it may grow by typing or shrink by backspacing, the run
//     after it may lose its head to forward deletes. Such a keystroke
//     changes only fields of the new Doc value: no allocation at all.
//     Typed text lives in an append-only buffer (ropeBuf) whose bytes are
//     handed out once, so a run can grow into the bytes right after it
//     while older Docs, whose views end before them, never see them.
//  3. An edit elsewhere first writes the hot leaf into the tree (tree):
//     its runs merged into exact fresh strings, so no leaf of a tree keeps
//     a buffer alive, and one path copied. That edit's leaf becomes hot.
//
// Every Doc ever returned stays valid: no node is modified, and no byte a
// Doc can see is ever written again. A transient scheme (nodes owned by the
// newest version mutated in place) could not promise that, since Apply's
// receiver is a value its caller keeps; this gets typing to zero
// allocations without it.
//
// Invariants of a hot leaf (checked by ropeCheck): it weighs within
// [ropeMinWeight, ropeMaxWeight] with the cursor's changes counted, unless
// it stands for the root; Doc.n counts them too; its runs (as runs
// returns them) are non-empty and valid text or embeds, but adjacent ones
// may be mergeable.

// ropeBufSize makes a ropeBuf 256 bytes: one size class, no pointers.
const ropeBufSize = 248

// ropeBuf is an append-only buffer for typed text. used counts the bytes
// handed out; it only grows, and a byte is written once, right after it is
// claimed and before any string views it, so the views (unsafe.String) are
// as immutable as any Go string. Claims are atomic because Docs are shared:
// two versions of a document may type at the same spot on two goroutines,
// and then one claims the bytes and the other copies.
type ropeBuf struct {
	used atomic.Int64
	b    [ropeBufSize]byte
}

// extend claims b[at:at+n] if nothing from at on is claimed yet, so the run
// ending at at can grow in place.
func (b *ropeBuf) extend(at, n int) bool {
	return at+n <= len(b.b) && b.used.CompareAndSwap(int64(at), int64(at+n))
}

// put claims room for s after the claimed bytes, copies s there and returns
// the view and where it starts; ok is false when there is no room.
func (b *ropeBuf) put(s string) (view string, at int, ok bool) {
	for {
		u := b.used.Load()
		if len(s) == 0 || int(u)+len(s) > len(b.b) {
			return "", 0, false
		}
		if b.used.CompareAndSwap(u, u+int64(len(s))) {
			copy(b.b[u:], s)
			return unsafe.String(&b.b[u], len(s)), int(u), true
		}
	}
}

// tip returns where s starts in b if s is a view of b ending at the last
// claimed byte (so it can be extended), else -1.
func (b *ropeBuf) tip(s string) int {
	if b == nil || s == "" {
		return -1
	}
	off := int(uintptr(unsafe.Pointer(unsafe.StringData(s))) - uintptr(unsafe.Pointer(&b.b[0])))
	if off < 0 || off > len(b.b)-len(s) || int64(off+len(s)) != b.used.Load() {
		return -1
	}
	return off
}

// ropeHot is a Doc's hot leaf and the buffer typed text goes to. Fields
// are int32 where they count within one leaf, to keep Doc small: it is
// copied on every Apply.
type ropeHot struct {
	leaf  *ropeNode // the hot leaf as built; nil if there is none
	stale *ropeNode // the leaf of the tree it stands for, starting at unit off
	off   int
	buf   *ropeBuf // where typed text goes; nil until something is typed

	// What keystrokes did since leaf was built, without allocating, at
	// the cursor: unit end of the leaf, where the last edit ended, after
	// run i (i == -1: before run 0; i == ropeNoCursor: no cursor kept). If
	// i >= 0, run i, the grown run, now holds text (n16 units, maybe none):
	// its own text extended in buf from byte start, or cut short by
	// backspacing, or typed anew into buf once backspaced away; start is
	// -1 if text cannot be extended in place. Forward deletes cut cutB
	// bytes (cut16 units) from the front of run i+1. Runs left empty do not
	// count.
	text               string
	i, start, n16, end int32
	cutB, cut16        int32
	n, w               int32 // the leaf's units and weight now
}

// ropeNoCursor is ropeHot.i when the hot leaf keeps no cursor.
const ropeNoCursor = -2

// runs returns the hot leaf's runs as they are now, in stack if it has
// room.
func (h *ropeHot) runs(stack []ropeRun) []ropeRun {
	if h.i < 0 && h.cut16 == 0 {
		return h.leaf.runs
	}
	runs := append(stack[:0], h.leaf.runs...)
	if h.i >= 0 {
		runs[h.i].text, runs[h.i].n16 = h.text, int(h.n16)
	}
	if h.cut16 > 0 {
		r := &runs[h.i+1]
		r.text, r.n16 = r.text[h.cutB:], r.n16-int(h.cut16)
	}
	if h.i >= 0 && h.n16 == 0 || h.cut16 > 0 && runs[h.i+1].n16 == 0 {
		k := 0
		for _, r := range runs {
			if r.n16 > 0 {
				runs[k] = r
				k++
			}
		}
		runs = runs[:k]
	}
	return runs
}

// astral reports whether the document may hold a surrogate pair.
func (d *Doc) astral() bool {
	return d.root != nil && d.root.astral || d.hot.leaf != nil && d.hot.leaf.astral
}

// splitsPair reports whether unit pos falls inside a surrogate pair.
func (d *Doc) splitsPair(pos int) bool {
	if h := &d.hot; h.leaf != nil {
		switch {
		case pos < h.off:
		case pos <= h.off+int(h.n):
			var stack [16]ropeRun
			_, _, _, ok := ropeLocate(h.runs(stack[:]), pos-h.off)
			return !ok
		default:
			pos -= int(h.n) - h.stale.n16 // to the tree's units
		}
	}
	return d.root.splitsPair(pos)
}

// lastIsNewline reports whether the document's last unit is a text "\n".
func (d *Doc) lastIsNewline() bool {
	if d.root == nil {
		return false
	}
	if h := &d.hot; h.leaf != nil && h.off+int(h.n) == d.n { // stale is the tree's last leaf
		var stack [16]ropeRun
		runs := h.runs(stack[:])
		return len(runs) > 0 && strings.HasSuffix(runs[len(runs)-1].text, "\n")
	}
	return d.root.lastIsNewline()
}

// tree returns the document as one tree, writing the hot leaf into it with
// its runs merged into fresh strings.
func (d *Doc) tree() *ropeNode {
	h := &d.hot
	if h.leaf == nil {
		return d.root
	}
	var stack, merged [16]ropeRun
	leaf := ropeNewLeaf(ropeCoalesce(merged[:0], h.runs(stack[:]), true))
	var p ropePath
	if old, _, ok := p.find(d.root, h.off, 1); !ok || old != h.stale {
		panic("ot: a Doc's hot leaf is not where it belongs (bug in rope_hot.go)")
	}
	if p.depth > 0 && !leaf.ok() {
		// Merging runs made the leaf light: let concat rebalance it.
		l, rest := ropeSplit(d.root, h.off)
		_, r := ropeSplit(rest, h.stale.n16)
		return ropeConcat(ropeConcat(l, leaf), r)
	}
	return p.replace(h.stale, leaf)
}

// splice replaces units [pos, pos+del) of the document with ins (coalesced
// runs, ins16 units). Both ends are inside the document and on rune
// boundaries (Apply checked). typed says ins comes from an edit (text
// typed, not reformatted), which is worth growing in place. d must be a
// Doc no one else holds: Apply's working copy.
func (d *Doc) splice(pos, del int, ins []ropeRun, ins16 int, typed bool) {
	if h := &d.hot; h.leaf != nil {
		if typed && h.i != ropeNoCursor && d.growInPlace(pos, del, ins) {
			d.n += ins16 - del
			return
		}
		if pos >= h.off && pos+del <= h.off+int(h.n) {
			var stack [16]ropeRun
			if d.editLeaf(h.runs(stack[:]), h.stale == d.root, pos-h.off, del, ins, typed) {
				d.n += ins16 - del
				return // root, stale, off stay
			}
		}
	}
	root := d.tree()
	var p ropePath
	if old, start, ok := p.find(root, pos, del); ok && d.editLeaf(old.runs, p.depth == 0, pos-start, del, ins, typed) {
		d.root, d.hot.stale, d.hot.off = root, old, start
		d.n += ins16 - del
		return
	}
	// Across leaves, or the leaf would over- or underflow: cut and join.
	l, rest := ropeSplit(root, pos)
	_, r := ropeSplit(rest, del)
	d.root = ropeConcat(ropeConcat(l, ropeBuild(ins)), r)
	d.hot = ropeHot{buf: d.hot.buf}
	d.n = 0
	if d.root != nil {
		d.n = d.root.n16
	}
}

// growInPlace applies a keystroke next to the end of the grown run without
// allocating, if it can: typing text with the run's formats extends the
// run into the buffer, backspacing shortens it, and deleting forward cuts
// the next run from the front. It changes d only when it reports true.
func (d *Doc) growInPlace(pos, del int, ins []ropeRun) bool {
	h := &d.hot
	end := h.off + int(h.end)
	isRoot := h.stale == d.root
	switch {
	case del == 0 && len(ins) == 1 && pos == end && h.i >= 0: // typing
		run := &h.leaf.runs[h.i]
		r := &ins[0]
		w := int(h.w) + len(r.text)
		if h.n16 == 0 {
			w += ropeRunCost // the run counts again
		}
		if r.embed != nil || (r.astral && !run.astral) || w > ropeMaxWeight || !ropeAttrsEqual(r.attrs, run.attrs) {
			return false
		}
		if h.n16 == 0 {
			// The run was backspaced away: its text may start anew
			// anywhere in the buffer.
			if h.buf == nil {
				return false
			}
			view, at, ok := h.buf.put(r.text)
			if !ok {
				return false
			}
			h.text, h.start = view, int32(at)
		} else {
			if h.start < 0 {
				return false
			}
			at := int(h.start) + len(h.text)
			if !h.buf.extend(at, len(r.text)) {
				return false // full, or another version typed here first
			}
			copy(h.buf.b[at:], r.text)
			h.text = unsafe.String(&h.buf.b[h.start], len(h.text)+len(r.text))
		}
		h.n16 += int32(r.n16)
		h.end += int32(r.n16)
		h.n += int32(r.n16)
		h.w = int32(w)
		return true
	case len(ins) != 0 || del == 0:
		return false
	case pos+del == end && del <= int(h.n16): // backspace
		b := ropeTailBytes(h.text, del)
		w := int(h.w) - b
		if del == int(h.n16) {
			w -= ropeRunCost // the run no longer counts
		}
		if !isRoot && w < ropeMinWeight || w == 0 {
			return false
		}
		h.text = h.text[:len(h.text)-b]
		h.n16 -= int32(del)
		h.end -= int32(del)
		h.n -= int32(del)
		h.w = int32(w)
		return true
	case pos == end && int(h.i)+1 < len(h.leaf.runs): // forward delete
		nr := &h.leaf.runs[h.i+1]
		left := nr.n16 - int(h.cut16)
		if nr.embed != nil || del > left {
			return false
		}
		b := ropeHeadBytes(nr.text[h.cutB:], del)
		w := int(h.w) - b
		if del == left {
			w -= ropeRunCost
		}
		if !isRoot && w < ropeMinWeight || w == 0 {
			return false
		}
		h.cutB += int32(b)
		h.cut16 += int32(del)
		h.n -= int32(del)
		h.w = int32(w)
		return true
	}
	return false
}

// ropeTailBytes returns how many bytes the last n UTF-16 units of s take.
func ropeTailBytes(s string, n int) int {
	b := 0
	for n > 0 && b < len(s) {
		if c := s[len(s)-1-b]; c < utf8.RuneSelf {
			b++
			n--
			continue
		}
		r, size := utf8.DecodeLastRuneInString(s[:len(s)-b])
		b += size
		n -= ropeUnits(r)
	}
	return b
}

// ropeHeadBytes returns how many bytes the first n UTF-16 units of s take.
func ropeHeadBytes(s string, n int) int {
	b := 0
	for n > 0 && b < len(s) {
		if s[b] < utf8.RuneSelf {
			b++
			n--
			continue
		}
		r, size := utf8.DecodeRuneInString(s[b:])
		b += size
		n -= ropeUnits(r)
	}
	return b
}

func ropeUnits(r rune) int {
	if r >= 0x10000 {
		return 2
	}
	return 1
}

// editLeaf makes d's hot leaf runs with units [o, o+del) replaced by ins,
// built from views of the old strings (no text copied but ins), with the
// grown run the one ending where the edit ends. With typed, inserted text
// is put in d's buffer (or a new one) so the next keystroke can extend it.
// Views add runs, and a leaf too heavy with them is merged and tried
// again. It reports false, changing nothing, if the leaf would be empty,
// too heavy, or (unless isRoot) too light: the caller takes the general
// path. On true the caller sets root, stale and off (or keeps them). runs
// may be the hot leaf's.
func (d *Doc) editLeaf(runs []ropeRun, isRoot bool, o, del int, ins []ropeRun, typed bool) bool {
	i, ui, bi, _ := ropeLocate(runs, o)
	j, uj, bj := i, ui, bi
	if del > 0 {
		j, uj, bj, _ = ropeLocate(runs, o+del)
	}
	var stack [16]ropeRun
	pieces := append(stack[:0], runs[:i]...)
	if ui > 0 {
		pieces = append(pieces, runs[i].cut(0, ui, 0, bi))
	}
	first := len(pieces)
	pieces = append(pieces, ins...)
	gi := len(pieces) - 1 // the run ending where the edit ends, -1 if none
	if j < len(runs) {
		r := &runs[j]
		if uj > 0 {
			pieces = append(pieces, r.cut(uj, r.n16, bj, len(r.text)))
			j++
		}
		pieces = append(pieces, runs[j:]...)
	}
	if len(pieces) == 0 {
		return false
	}
	w := ropeRunsWeight(pieces)
	if !isRoot && w < ropeMinWeight {
		return false
	}
	if w > ropeMaxWeight {
		// Merge the views an earlier edit left, if any, and try again.
		var merged [16]ropeRun
		if m := ropeCoalesce(merged[:0], runs, false); len(m) < len(runs) {
			return d.editLeaf(m, isRoot, o, del, ins, typed)
		}
		return false
	}
	h := &d.hot
	ins16 := 0
	for k := first; k < first+len(ins); k++ {
		r := &pieces[k]
		ins16 += r.n16
		if !typed || r.embed != nil || len(r.text) > ropeBufSize {
			continue
		}
		view, ok := "", false
		if h.buf != nil {
			view, _, ok = h.buf.put(r.text)
		}
		if !ok {
			h.buf = new(ropeBuf)
			view, _, _ = h.buf.put(r.text)
		}
		r.text = view
	}
	h.leaf = ropeNewLeaf(pieces)
	h.n, h.w = int32(h.leaf.n16), int32(w)
	h.text, h.i, h.start, h.n16, h.end, h.cutB, h.cut16 = "", -1, -1, 0, int32(o+ins16), 0, 0
	switch {
	case gi >= 0 && pieces[gi].embed == nil:
		r := &pieces[gi]
		h.text, h.i, h.start, h.n16 = r.text, int32(gi), int32(h.buf.tip(r.text)), int32(r.n16)
	case gi >= 0:
		h.i = ropeNoCursor // after an embed
	}
	return true
}
