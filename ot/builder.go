package ot

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
)

// builder accumulates a delta through quill's push, so every algorithm
// produces the same normal form quill-delta does:
//   - adjacent deletes merge; adjacent text inserts, and adjacent retains,
//     with equal attributes merge (embeds never merge);
//   - an insert pushed right after a delete goes before it, since inserting
//     before or after deleting at one position is the same edit;
//   - chop drops one trailing retain without attributes.
//
// Merging text inserts one after another into a long run would copy the run
// each time; from the second merge into a long run on, the run is grown in
// buf instead and written back by flush, so building stays linear.
type builder struct {
	ops    []Op
	buf    []byte // when tail >= 0, the real text of ops[tail]
	tail   int
	merged int // the op the last text merge went into (only a hint)
}

// mergeInPlace is the merged text size from which a run is grown in buf
// rather than by string concatenation.
const mergeInPlace = 256

func newBuilder(capacity int) builder {
	return builder{ops: make([]Op, 0, capacity), tail: -1, merged: -1}
}

func (b *builder) flush() {
	if b.tail >= 0 {
		b.ops[b.tail].Insert = string(b.buf)
		b.buf = b.buf[:0]
		b.tail = -1
	}
}

// push appends op as quill's Delta.push does. It reports whether op became
// the new last op unmerged, which is what quill's compose tests (with
// isEqual on the last op) before taking its shortcut.
func (b *builder) push(op Op) bool {
	if len(op.Attributes) == 0 {
		op.Attributes = nil
	}
	k := kindOf(&op)
	if k == KindInvalid {
		return false // empty: quill's insert(""), retain(0), delete(0) add nothing
	}
	idx := len(b.ops)
	if idx > 0 {
		last := &b.ops[idx-1]
		lk := kindOf(last)
		if k == KindDelete && lk == KindDelete {
			last.Delete += op.Delete
			return false
		}
		if k == KindInsert && lk == KindDelete {
			idx--
			if idx == 0 {
				b.flush()
				b.ops = append(b.ops, Op{})
				copy(b.ops[1:], b.ops)
				b.ops[0] = op
				return false
			}
			last = &b.ops[idx-1]
			lk = kindOf(last)
		}
		if attrsEqual(op.Attributes, last.Attributes) {
			switch {
			case k == KindInsert && lk == KindInsert && op.Embed == nil && last.Embed == nil:
				b.mergeText(idx-1, op.Insert)
				return false
			case k == KindRetain && lk == KindRetain:
				last.Retain += op.Retain
				return false
			}
		}
	}
	if idx == len(b.ops) {
		// A delete can still be followed by an insert that merges into the
		// text before it, so only other ops end the growing run.
		if k != KindDelete {
			b.flush()
		}
		b.ops = append(b.ops, op)
		return true
	}
	b.flush()
	b.ops = append(b.ops, Op{})
	copy(b.ops[idx+1:], b.ops[idx:])
	b.ops[idx] = op
	return false
}

func (b *builder) mergeText(i int, s string) {
	if b.tail == i {
		b.buf = append(b.buf, s...)
		return
	}
	prev := b.ops[i].Insert
	if b.merged != i || len(prev)+len(s) < mergeInPlace {
		b.flush()
		b.ops[i].Insert = prev + s
		b.merged = i
		return
	}
	// The run is long and keeps growing: grow it in buf from now on.
	b.flush()
	b.buf = append(append(b.buf[:0], prev...), s...)
	b.tail = i
}

// retain is quill's Delta.retain: nothing for n <= 0, attributes only if
// there are any.
func (b *builder) retain(n int, attrs Attributes) {
	if n > 0 {
		b.push(Op{Retain: n, Attributes: attrs})
	}
}

// del is quill's Delta.delete.
func (b *builder) del(n int) {
	if n > 0 {
		b.push(Op{Delete: n})
	}
}

// concat is quill's concat: the first op of rest goes through push, the
// others are appended as they are.
func (b *builder) concat(rest []Op) {
	if len(rest) == 0 {
		return
	}
	b.push(rest[0])
	b.flush()
	b.ops = append(b.ops, rest[1:]...)
}

// chop drops one trailing retain without attributes, as quill's chop.
func (b *builder) chop() {
	if n := len(b.ops); n > 0 && kindOf(&b.ops[n-1]) == KindRetain && len(b.ops[n-1].Attributes) == 0 {
		b.ops = b.ops[:n-1]
	}
}

// delta returns the built delta; nil when empty.
func (b *builder) delta() Delta {
	b.flush()
	if len(b.ops) == 0 {
		return nil
	}
	return Delta(b.ops)
}

// Canonical returns d rebuilt op by op through quill's push, then chopped:
// empty ops dropped, adjacent mergeable ops merged, an insert moved before
// a delete at the same position, and a trailing retain without attributes
// removed. Two deltas that do the same thing in the same way (same ops up
// to splitting and ordering at one position) have equal canonical forms and
// so equal JSON; the output of Compose, Transform, Invert and Apply is
// already canonical when their inputs are.
func Canonical(d Delta) Delta {
	b := newBuilder(len(d))
	for _, op := range d {
		b.push(op)
	}
	b.chop()
	return b.delta()
}

// Length is the sum of the op lengths in UTF-16 units, quill's length().
func (d Delta) Length() int {
	n := 0
	for i := range d {
		n += d[i].Len()
	}
	return n
}

// BaseLen is the length of the document d applies to, as far as d says:
// the units it retains or deletes. (A document shorter than that cannot
// take d; a longer one keeps its tail.)
func (d Delta) BaseLen() int {
	n := 0
	for i := range d {
		switch kindOf(&d[i]) {
		case KindRetain:
			n += d[i].Retain
		case KindDelete:
			n += d[i].Delete
		}
	}
	return n
}

// ChangeLength is how much d grows a document: inserted minus deleted
// units, quill's changeLength().
func (d Delta) ChangeLength() int {
	n := 0
	for i := range d {
		switch kindOf(&d[i]) {
		case KindInsert:
			n += d[i].Len()
		case KindDelete:
			n -= d[i].Delete
		}
	}
	return n
}

// IsDocument reports whether d holds only inserts (an empty delta does).
// It does not check the final "\n"; ValidateDocument does.
func (d Delta) IsDocument() bool {
	for i := range d {
		if d[i].Kind() != KindInsert {
			return false
		}
	}
	return true
}

// Text is the text of d's inserts with embeds left out, as Quill's
// getText; retains and deletes contribute nothing.
func (d Delta) Text() string {
	var sb strings.Builder
	for i := range d {
		if d[i].Embed == nil {
			sb.WriteString(d[i].Insert)
		}
	}
	return sb.String()
}

// Equal reports whether a and b have the same ops, compared as quill's
// isEqual compares them: op by op (so [ab] and [a][b] differ; compare
// Canonical forms to ignore that), attributes by value with nil and empty
// alike, and embed values as JSON values rather than bytes.
func Equal(a, b Delta) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !opEqual(&a[i], &b[i]) {
			return false
		}
	}
	return true
}

func opEqual(a, b *Op) bool {
	if a.Insert != b.Insert || a.Retain != b.Retain || a.Delete != b.Delete ||
		(a.Embed == nil) != (b.Embed == nil) || !attrsEqual(a.Attributes, b.Attributes) {
		return false
	}
	if a.Embed != nil {
		return a.Embed.Key == b.Embed.Key && jsonEqual(a.Embed.Value, b.Embed.Value)
	}
	return true
}

// jsonEqual compares two JSON texts as values (lodash isEqual on what
// JSON.parse would give): key order and spelling of escapes and numbers do
// not matter.
func jsonEqual(a, b json.RawMessage) bool {
	if bytes.Equal(a, b) {
		return true
	}
	var va, vb any
	if json.Unmarshal(a, &va) != nil || json.Unmarshal(b, &vb) != nil {
		return false
	}
	return reflect.DeepEqual(va, vb)
}

// attrsEqual is lodash isEqual on two attribute maps, except that nil and
// empty are the same (we never produce an empty map where quill would have
// undefined). A key holding nil differs from an absent key.
func attrsEqual(a, b Attributes) bool {
	if len(a) != len(b) {
		return false
	}
	for k, av := range a {
		bv, ok := b[k]
		if !ok || !valueEqual(av, bv) {
			return false
		}
	}
	return true
}

// valueEqual compares attribute values: JSON scalars by value, as
// JavaScript's === does for them. Other types can only come from Go callers;
// they are compared deeply rather than with ==, which panics on maps.
func valueEqual(a, b any) bool {
	switch av := a.(type) {
	case nil:
		return b == nil
	case string:
		bv, ok := b.(string)
		return ok && av == bv
	case bool:
		bv, ok := b.(bool)
		return ok && av == bv
	case float64:
		bv, ok := toFloat(b)
		return ok && av == bv
	}
	if af, ok := toFloat(a); ok {
		bf, ok := toFloat(b)
		return ok && af == bf
	}
	return reflect.DeepEqual(a, b)
}

// toFloat reads a Go number as the float64 JSON would carry.
func toFloat(v any) (float64, bool) {
	switch n := v.(type) {
	case float64:
		return n, true
	case float32:
		return float64(n), true
	case int:
		return float64(n), true
	case int8:
		return float64(n), true
	case int16:
		return float64(n), true
	case int32:
		return float64(n), true
	case int64:
		return float64(n), true
	case uint:
		return float64(n), true
	case uint8:
		return float64(n), true
	case uint16:
		return float64(n), true
	case uint32:
		return float64(n), true
	case uint64:
		return float64(n), true
	case json.Number:
		f, err := n.Float64()
		return f, err == nil
	}
	return 0, false
}
