package ot

// Invert returns the edit that undoes edit on base, the document edit was
// applied to: Apply(Apply(base, edit), Invert(edit, base)) == base. It is
// quill's edit.invert(base): inserts become deletes, deletes become inserts
// of the text they removed (with its formats), and a retain with formats
// becomes a retain restoring the formats base had.
func Invert(edit, base Delta) Delta {
	out := newBuilder(len(edit) + len(base))
	// quill slices base afresh at each op; edit's positions in base only
	// grow, so one iterator walked along gives the same pieces.
	bi := newIter(base)
	for i := range edit {
		op := &edit[i]
		switch kindOf(op) {
		case KindInsert:
			out.del(op.Len())
		case KindRetain:
			if len(op.Attributes) == 0 {
				out.retain(op.Retain, nil)
				bi.skip(op.Retain)
				continue
			}
			for n := op.Retain; n > 0 && bi.hasNext(); {
				piece := bi.next(n)
				l := piece.Len()
				n -= l
				out.retain(l, invertAttrs(op.Attributes, piece.Attributes))
			}
		case KindDelete:
			for n := op.Delete; n > 0 && bi.hasNext(); {
				piece := bi.next(n)
				n -= piece.Len()
				out.push(piece)
			}
		}
	}
	out.chop()
	return out.delta()
}

// invertAttrs is quill's AttributeMap.invert: the formats that turn
// base's formats after attr back into base's. Keys attr changed get base's
// value back; keys attr added that base lacked are removed with nil.
func invertAttrs(attr, base Attributes) Attributes {
	var out Attributes
	set := func(k string, v any) {
		if out == nil {
			out = make(Attributes, len(attr))
		}
		out[k] = v
	}
	for k, bv := range base {
		if av, ok := attr[k]; ok && !valueEqual(av, bv) {
			set(k, bv)
		}
	}
	for k := range attr {
		// Even a removal (nil) of a key base lacks inverts to nil, since in
		// quill null !== undefined.
		if _, inBase := base[k]; !inBase {
			set(k, nil)
		}
	}
	return out
}
