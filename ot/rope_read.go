package ot

import (
	"reflect"
	"strings"
)

// Reading a Doc: Delta, Slice, Text, Invert, and the attribute rules they
// and Apply share.

// Delta returns the whole document as canonical inserts: adjacent runs with
// equal attributes are one op, so equal documents give equal Deltas. The
// ops share the Doc's strings, maps and embeds; don't modify them.
func (d Doc) Delta() Delta { return d.Slice(0, d.Len()) }

// Slice returns the document's units [from, to) as canonical inserts.
// from and to are clamped to [0, Len()]; an end inside a surrogate pair
// takes the whole pair (valid edits never have one there).
func (d Doc) Slice(from, to int) Delta {
	from, to = max(from, 0), min(to, d.Len())
	if from >= to {
		return Delta{}
	}
	t := d.tree()
	// At most one op per run: sizing ops once saves growing (and, for a
	// richly formatted document, copying) a slice of 100,000 ops.
	w := ropeOpWriter{ops: make(Delta, 0, t.countRuns(from, to))}
	t.visit(from, to, w.add)
	w.flush()
	return w.ops
}

// MarshalJSON writes the document as its Delta, byte for byte
// d.Delta().MarshalJSON(), so json.Marshal(d) equals
// json.Marshal(d.Delta()). It writes the runs straight into one buffer
// sized beforehand, with no Delta in between. It does not check the text
// and embeds again: a Doc holds only valid ones. (For a large document,
// call it directly: json.Marshal then checks and re-escapes the whole
// output, which costs several times more than writing it.)
func (d Doc) MarshalJSON() ([]byte, error) {
	if d.n == 0 {
		return []byte("[]"), nil
	}
	t := d.tree()
	w := ropeJSONWriter{out: make([]byte, 0, t.jsonSize())}
	if err := w.node(t); err != nil {
		return nil, err
	}
	if err := w.end(); err != nil {
		return nil, err
	}
	return append(w.out, ']'), nil
}

// jsonSize estimates the bytes of the tree's JSON as Delta.MarshalJSON
// does, with room for escapes.
func (n *ropeNode) jsonSize() int {
	if n.height > 0 {
		size := 0
		for _, k := range n.kids {
			size += k.jsonSize()
		}
		return size
	}
	size := 2 + n.nbytes + n.nbytes/16
	for i := range n.runs {
		r := &n.runs[i]
		size += 24*len(r.attrs) + 8
		if r.embed != nil {
			size += len(r.embed.Key) + len(r.embed.Value) + 24
		}
	}
	return size
}

// ropeJSONWriter writes runs as the JSON of their canonical Delta: a text
// run with the formats of the text before it continues that op's string.
type ropeJSONWriter struct {
	out   []byte
	ops   int        // ops begun
	open  bool       // the last op is text, its string not closed yet
	attrs Attributes // the open op's
}

func (w *ropeJSONWriter) node(n *ropeNode) error {
	if n.height > 0 {
		for _, k := range n.kids {
			if err := w.node(k); err != nil {
				return err
			}
		}
		return nil
	}
	for i := range n.runs {
		if err := w.run(&n.runs[i]); err != nil {
			return err
		}
	}
	return nil
}

func (w *ropeJSONWriter) run(r *ropeRun) error {
	if w.open && r.embed == nil && ropeAttrsEqual(w.attrs, r.attrs) {
		w.out = appendJSStringBody(w.out, r.text)
		return nil
	}
	if err := w.end(); err != nil {
		return err
	}
	if w.ops == 0 {
		w.out = append(w.out, '[')
	} else {
		w.out = append(w.out, ',')
	}
	w.ops++
	w.out = append(w.out, `{"insert":`...)
	w.attrs = r.attrs
	if r.embed == nil {
		w.out = appendJSStringBody(append(w.out, '"'), r.text)
		w.open = true
		return nil
	}
	w.out = append(appendJSString(append(w.out, '{'), r.embed.Key), ':')
	w.out = append(append(w.out, r.embed.Value...), '}')
	return w.closeOp()
}

// end closes the open text op, if any.
func (w *ropeJSONWriter) end() error {
	if !w.open {
		return nil
	}
	w.open = false
	w.out = append(w.out, '"')
	return w.closeOp()
}

// closeOp writes the last op's formats and its '}'.
func (w *ropeJSONWriter) closeOp() error {
	if len(w.attrs) > 0 {
		var err error
		if w.out, err = appendAttributes(append(w.out, `,"attributes":`...), w.attrs); err != nil {
			return errorf(ErrMalformed, "op %d: %s", w.ops-1, err.(*Error).Msg)
		}
	}
	w.out = append(w.out, '}')
	return nil
}

// countRuns counts the runs of leaves overlapping [from, to).
func (n *ropeNode) countRuns(from, to int) int {
	if n.height == 0 {
		return len(n.runs)
	}
	c, off := 0, 0
	for _, k := range n.kids {
		end := off + k.n16
		if end > from {
			c += k.countRuns(max(from-off, 0), min(to-off, k.n16))
		}
		if end >= to {
			break
		}
		off = end
	}
	return c
}

// ropeOpWriter turns runs into canonical insert ops: it collects the texts
// of mergeable runs and joins them once, so a long run of leaves costs one
// copy.
type ropeOpWriter struct {
	ops   Delta
	parts []string // texts of the last op, if it is text, not joined yet
	size  int      // their bytes
}

func (w *ropeOpWriter) add(r ropeRun) {
	if n := len(w.ops); n > 0 && len(w.parts) > 0 && r.embed == nil && ropeAttrsEqual(w.ops[n-1].Attributes, r.attrs) {
		w.parts = append(w.parts, r.text)
		w.size += len(r.text)
		return
	}
	w.flush()
	w.ops = append(w.ops, Op{Insert: r.text, Embed: r.embed, Attributes: r.attrs})
	if r.embed == nil {
		w.parts = append(w.parts[:0], r.text)
		w.size = len(r.text)
	}
}

func (w *ropeOpWriter) flush() {
	if len(w.parts) > 1 {
		var sb strings.Builder
		sb.Grow(w.size)
		for _, p := range w.parts {
			sb.WriteString(p)
		}
		w.ops[len(w.ops)-1].Insert = sb.String()
	}
	w.parts = w.parts[:0]
}

// collect appends the runs covering [from, to) of the tree, cut at both
// ends; see visit.
func (n *ropeNode) collect(from, to int, dst []ropeRun) []ropeRun {
	n.visit(from, to, func(r ropeRun) { dst = append(dst, r) })
	return dst
}

// visit calls f with each run covering [from, to) of the tree in order,
// cut at both ends (rounding outwards at a surrogate pair);
// 0 <= from < to <= n16.
func (n *ropeNode) visit(from, to int, f func(ropeRun)) {
	off := 0
	if n.height > 0 {
		for _, k := range n.kids {
			end := off + k.n16
			if end > from {
				k.visit(max(from-off, 0), min(to-off, k.n16), f)
			}
			if end >= to {
				break
			}
			off = end
		}
		return
	}
	for i := range n.runs {
		r := &n.runs[i]
		end := off + r.n16
		if end > from {
			a, z := max(from-off, 0), min(to-off, r.n16)
			if a == 0 && z == r.n16 {
				f(*r)
			} else {
				ab, zb := a, z
				if !r.ascii() {
					var ok bool
					if ab, ok = ropeUnitsToBytes(r.text, a); !ok {
						a--
					}
					if zb, ok = ropeUnitsToBytes(r.text, z); !ok {
						z, zb = z+1, zb+4
					}
				}
				f(r.cut(a, z, ab, zb))
			}
		}
		if end >= to {
			break
		}
		off = end
	}
}

// Text returns the document's plain text; embeds are omitted, as in
// Quill's getText.
func (d Doc) Text() string {
	if d.root == nil {
		return ""
	}
	t := d.tree()
	var sb strings.Builder
	sb.Grow(t.nbytes)
	t.appendText(&sb)
	return sb.String()
}

func (n *ropeNode) appendText(sb *strings.Builder) {
	for _, k := range n.kids {
		k.appendText(sb)
	}
	for i := range n.runs {
		sb.WriteString(n.runs[i].text)
	}
}

// Invert returns the edit that undoes edit applied to d, as quill-delta's
// edit.invert(base) with base = d. It reads only the parts of d that edit
// deletes or formats. edit must apply to d (Apply returned no error);
// otherwise the result is unspecified, but Invert does not panic.
func (d Doc) Invert(edit Delta) Delta {
	var w ropeEditWriter
	t := Doc{root: d.tree(), n: d.n} // write the hot leaf in once, not per Slice
	base := 0
	for i := range edit {
		op := &edit[i]
		switch op.Kind() {
		case KindInsert:
			w.push(Delete(op.Len()))
		case KindDelete:
			for _, b := range t.Slice(base, base+op.Delete) {
				w.push(b)
			}
			base += op.Delete
		case KindRetain:
			if len(op.Attributes) == 0 {
				w.push(Retain(op.Retain, nil))
			} else {
				for _, b := range t.Slice(base, base+op.Retain) {
					w.push(Retain(b.Len(), ropeInvertAttrs(op.Attributes, b.Attributes)))
				}
			}
			base += op.Retain
		}
	}
	// chop: a trailing plain retain says nothing.
	if n := len(w.ops); n > 0 && w.ops[n-1].Retain > 0 && len(w.ops[n-1].Attributes) == 0 {
		w.ops = w.ops[:n-1]
	}
	if w.ops == nil {
		return Delta{}
	}
	return w.ops
}

// ropeEditWriter builds an edit as quill-delta's Delta.push does: it merges
// an op into the previous one of its kind (same attributes for inserts and
// retains) and puts an insert before a delete it follows.
type ropeEditWriter struct{ ops Delta }

func (w *ropeEditWriter) push(op Op) {
	if len(op.Attributes) == 0 {
		op.Attributes = nil
	}
	n := len(w.ops)
	if n > 0 {
		last := &w.ops[n-1]
		switch {
		case op.Delete > 0 && last.Delete > 0:
			last.Delete += op.Delete
			return
		case last.Delete > 0 && op.Kind() == KindInsert:
			if n >= 2 && ropeMergeOp(&w.ops[n-2], op) {
				return
			}
			del := *last
			w.ops[n-1] = op
			w.ops = append(w.ops, del)
			return
		case ropeMergeOp(last, op):
			return
		}
	}
	w.ops = append(w.ops, op)
}

// ropeMergeOp merges op into last when both are text inserts or both
// retains, with equal attributes.
func ropeMergeOp(last *Op, op Op) bool {
	if !ropeAttrsEqual(last.Attributes, op.Attributes) {
		return false
	}
	switch {
	case last.Insert != "" && last.Embed == nil && op.Insert != "" && op.Embed == nil:
		last.Insert += op.Insert
		return true
	case last.Retain > 0 && op.Retain > 0:
		last.Retain += op.Retain
		return true
	}
	return false
}

// ropeComposeAttrs returns old with set composed in, as quill's
// AttributeMap.compose(old, set, keepNull=false): keys of set override,
// nil values remove; nil when empty. It returns old itself when nothing
// changes and never modifies either map.
func ropeComposeAttrs(old, set Attributes) Attributes {
	same := true
	for k, v := range set {
		ov, has := old[k]
		if v == nil && has || v != nil && (!has || !ropeValueEqual(ov, v)) {
			same = false
			break
		}
	}
	if same {
		if len(old) == 0 {
			return nil
		}
		return old
	}
	out := make(Attributes, len(old)+len(set))
	for k, v := range old {
		out[k] = v
	}
	for k, v := range set {
		if v == nil {
			delete(out, k)
		} else {
			out[k] = v
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// ropeInvertAttrs is quill's AttributeMap.invert(attr, base): the formats
// that undo attr applied over base.
func ropeInvertAttrs(attr, base Attributes) Attributes {
	var out Attributes
	set := func(k string, v any) {
		if out == nil {
			out = Attributes{}
		}
		out[k] = v
	}
	for k, bv := range base {
		if av, has := attr[k]; has && !ropeValueEqual(av, bv) {
			set(k, bv)
		}
	}
	for k := range attr {
		if _, has := base[k]; !has {
			set(k, nil) // quill: even when av is null
		}
	}
	return out
}

// ropeAttrsEqual reports whether two attribute maps hold the same formats
// (nil and empty are equal).
func ropeAttrsEqual(a, b Attributes) bool {
	if len(a) != len(b) {
		return false
	}
	for k, av := range a {
		bv, has := b[k]
		if !has || !ropeValueEqual(av, bv) {
			return false
		}
	}
	return true
}

// ropeValueEqual compares attribute values: JSON scalars by value, anything
// else deeply (== would panic on maps and slices).
func ropeValueEqual(a, b any) bool {
	switch a := a.(type) {
	case nil:
		return b == nil
	case string:
		b, ok := b.(string)
		return ok && a == b
	case float64:
		b, ok := b.(float64)
		return ok && a == b
	case bool:
		b, ok := b.(bool)
		return ok && a == b
	}
	return reflect.DeepEqual(a, b)
}
