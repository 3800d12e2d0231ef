package ot

// Compose returns the single delta that does a then b: quill's
// a.compose(b), op for op. Applying it to a document equals applying a and
// then b (when b fits the result of a). Neither input is modified; the
// result may share attribute maps and text with them.
func Compose(a, b Delta) Delta {
	ai := newIter(a)
	bi := newIter(b)
	out := newBuilder(len(a) + len(b))

	// Quill's shortcut: a leading plain retain of b keeps a's leading
	// inserts as they are (appended without merging, exactly as quill does,
	// which matters only when a is not canonical).
	if first := bi.peek(); first != nil && kindOf(first) == KindRetain && len(first.Attributes) == 0 {
		left := first.Retain
		for ai.peekKind() == KindInsert && ai.peekLen() <= left {
			left -= ai.peekLen()
			out.flush()
			out.ops = append(out.ops, ai.next(0))
		}
		if first.Retain-left > 0 {
			bi.next(first.Retain - left)
		}
	}

	for ai.hasNext() || bi.hasNext() {
		if bi.peekKind() == KindInsert {
			out.push(bi.next(0))
			continue
		}
		if ai.peekKind() == KindDelete {
			out.push(ai.next(0))
			continue
		}
		n := min(ai.peekLen(), bi.peekLen())
		aop := ai.next(n)
		bop := bi.next(n)
		switch kindOf(&bop) {
		case KindRetain:
			var op Op
			aRetains := kindOf(&aop) == KindRetain
			if aRetains {
				op.Retain = n
			} else {
				op.Insert, op.Embed = aop.Insert, aop.Embed
			}
			// A retain keeps b's nulls (they still remove formats from the
			// document underneath); an insert has nothing left to remove.
			op.Attributes = composeAttrs(aop.Attributes, bop.Attributes, aRetains)
			if out.push(op) && !bi.hasNext() {
				// The rest of b is an implicit retain: the rest of a stays.
				out.concat(ai.rest())
				out.chop()
				return out.delta()
			}
		case KindDelete:
			// b deletes what a retained; what a inserted just vanishes.
			if kindOf(&aop) == KindRetain {
				out.push(bop)
			}
		}
	}
	out.chop()
	return out.delta()
}

// composeAttrs is quill's AttributeMap.compose: b's formats over a's; with
// keepNull b's nulls stay (as removals), otherwise they are dropped. a's
// own nulls are kept, as quill keeps them. The result may be a or b itself
// when nothing changes, so it must not be modified.
func composeAttrs(a, b Attributes, keepNull bool) Attributes {
	if len(b) == 0 {
		if len(a) == 0 {
			return nil
		}
		return a
	}
	if len(a) == 0 && (keepNull || !hasNil(b)) {
		return b
	}
	out := make(Attributes, len(a)+len(b))
	for k, v := range b {
		if v != nil || keepNull {
			out[k] = v
		}
	}
	for k, v := range a {
		if _, inB := b[k]; !inB {
			out[k] = v
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

func hasNil(m Attributes) bool {
	for _, v := range m {
		if v == nil {
			return true
		}
	}
	return false
}
