package ot

import (
	"math"
	"unicode/utf8"
)

// infinity is the length of the implicit retain past the end of a delta,
// as quill's OpIterator returns {retain: Infinity}.
const infinity = math.MaxInt

// kindOf classifies an op in the order Len measures it (embed, text,
// retain, delete), so that even an op setting several fields is read one
// consistent way and the algorithms cannot loop or slice out of range on
// it. Valid ops get the same answer as Op.Kind.
func kindOf(o *Op) Kind {
	switch {
	case o.Embed != nil || o.Insert != "":
		return KindInsert
	case o.Retain > 0:
		return KindRetain
	case o.Delete > 0:
		return KindDelete
	}
	return KindInvalid
}

// iter walks a delta by UTF-16 units, handing out ops or pieces of them:
// quill's OpIterator, which compose, transform, invert, transformPosition
// and Apply all share. It never modifies the ops it walks; text pieces are
// substrings (no copy) of the op's text.
//
// Ops of length zero (or that no kind fits) are skipped, where quill would
// emit them as empty pieces; such ops never come out of ParseDelta.
type iter struct {
	ops  []Op
	i    int  // current op; len(ops) when done
	n    int  // length of ops[i] in units, -1 until needed (scanning text costs)
	off  int  // units of ops[i] already handed out
	boff int  // bytes of ops[i].Insert already handed out
	half bool // off is inside the astral character at boff: its high surrogate went out
}

func newIter(ops []Op) iter {
	it := iter{ops: ops, n: -1}
	it.skipEmpty()
	return it
}

func (it *iter) skipEmpty() {
	for it.i < len(it.ops) && kindOf(&it.ops[it.i]) == KindInvalid {
		it.i++
	}
}

// advance moves to the next op.
func (it *iter) advance() {
	it.i++
	it.n, it.off, it.boff, it.half = -1, 0, 0, false
	it.skipEmpty()
}

func (it *iter) hasNext() bool { return it.i < len(it.ops) }

// peek returns the current op whole (not the remaining piece), nil when done.
func (it *iter) peek() *Op {
	if it.i < len(it.ops) {
		return &it.ops[it.i]
	}
	return nil
}

// peekLen is the length of what remains of the current op, infinity when done.
func (it *iter) peekLen() int {
	if it.i >= len(it.ops) {
		return infinity
	}
	if it.n < 0 {
		it.n = it.ops[it.i].Len()
	}
	return it.n - it.off
}

// peekKind is the kind of the current op, KindRetain when done (the implicit
// retain of the rest of the document).
func (it *iter) peekKind() Kind {
	if it.i >= len(it.ops) {
		return KindRetain
	}
	return kindOf(&it.ops[it.i])
}

// next hands out up to n units of the current op (all of it if n <= 0, as
// quill treats next() and next(0)). Past the end it returns a retain of
// infinity. A delete piece carries no attributes, as in quill.
func (it *iter) next(n int) Op {
	if it.i >= len(it.ops) {
		return Op{Retain: infinity}
	}
	op := &it.ops[it.i]
	if n <= 0 {
		n = infinity
	}
	switch kindOf(op) {
	case KindInsert:
		if op.Embed != nil {
			out := *op
			it.advance()
			return out
		}
		if n == infinity && !it.half {
			// The rest of the run: no need to count its units.
			out := *op
			out.Insert = op.Insert[it.boff:]
			it.advance()
			return out
		}
		out, _ := it.nextText(op, n)
		return out
	case KindRetain:
		rem := it.peekLen()
		if n >= rem {
			it.advance()
			return Op{Retain: rem, Attributes: op.Attributes}
		}
		it.off += n
		return Op{Retain: n, Attributes: op.Attributes}
	default: // KindDelete; empty ops were skipped
		rem := it.peekLen()
		if n >= rem {
			it.advance()
			return Op{Delete: rem}
		}
		it.off += n
		return Op{Delete: n}
	}
}

// nextText cuts up to n units off the current text op. It does not need the
// op's full length: it scans only the units it hands out, which keeps
// applying an edit near the start of a long text run cheap.
//
// A cut inside an astral character (possible only when the input splits a
// surrogate pair, which Apply rejects and valid inputs never do) hands out
// U+FFFD for each half: Go text cannot hold a lone surrogate, and one unit
// for one unit keeps every length right.
func (it *iter) nextText(op *Op, n int) (Op, int) {
	s := op.Insert
	b := it.boff
	taken := 0
	var pre, suf bool
	if it.half {
		_, size := utf8.DecodeRuneInString(s[b:])
		b += size
		taken, pre, it.half = 1, true, false
	}
	start := b
	for taken < n && b < len(s) {
		c := s[b]
		if c < utf8.RuneSelf {
			b++
			taken++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[b:])
		if r >= 0x10000 {
			if n-taken == 1 {
				taken++
				suf, it.half = true, true
				break
			}
			taken += 2
		} else {
			taken++
		}
		b += size
	}
	text := s[start:b]
	if pre || suf {
		buf := make([]byte, 0, len(text)+6)
		if pre {
			buf = utf8.AppendRune(buf, utf8.RuneError)
		}
		buf = append(buf, text...)
		if suf {
			buf = utf8.AppendRune(buf, utf8.RuneError)
		}
		text = string(buf)
	}
	out := Op{Insert: text, Attributes: op.Attributes}
	if b >= len(s) && !it.half {
		it.advance()
	} else {
		it.boff = b
		it.off += taken
	}
	return out, taken
}

// skip moves past n units without building pieces (n > 0).
func (it *iter) skip(n int) {
	for n > 0 && it.i < len(it.ops) {
		op := &it.ops[it.i]
		if kindOf(op) == KindInsert && op.Embed == nil {
			_, taken := it.nextText(op, n)
			n -= taken
			continue
		}
		rem := it.peekLen()
		if n >= rem {
			n -= rem
			it.advance()
			continue
		}
		it.off += n
		return
	}
}

// rest returns what remains: the current piece (if the iterator is inside
// an op) followed by the untouched ops. The iterator is done afterwards.
func (it *iter) rest() []Op {
	if it.i >= len(it.ops) {
		return nil
	}
	if it.off == 0 && !it.half {
		r := it.ops[it.i:]
		it.i = len(it.ops)
		return r
	}
	first := it.next(0)
	r := make([]Op, 0, 1+len(it.ops)-it.i)
	r = append(r, first)
	r = append(r, it.ops[it.i:]...)
	it.i = len(it.ops)
	return r
}
