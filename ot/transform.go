package ot

// Transform rebases b onto a: given two edits a and b of the same
// document, it returns b' that does what b meant on the document a has
// already changed. It is quill's a.transform(b, priority), op for op.
//
// The transform diamond. Two clients edit document D at the same time, one
// with a, one with b. Each applies its own edit first and the other's
// transformed one after, and both end at the same document:
//
//	                 D
//	               /   \
//	            a /     \ b
//	             v       v
//	           D·a       D·b
//	             \       /
//	          b'  \     /  a'
//	               v   v
//	          D·a·b' == D·b·a'
//
//	b' = Transform(a, b, true)      a' = Transform(b, a, false)
//
// priority says which edit came first when both insert at the same
// position: with priority=true a came first, so a's insert stays in front
// and b's goes after it; with false, b's insert goes in front. The two
// sides of the diamond must pass opposite priorities, which is how the
// server (whose committed edits take priority) and every client agree.
// Formats follow the same rule: where both set a format on the same text,
// with priority a's value stands (b' keeps only the keys a did not set);
// without priority b' sets all of b's keys, overwriting a's.
//
// Lengths: a and b both apply to D (a.BaseLen() == b.BaseLen() up to
// trailing retains); the result applies to D·a.
func Transform(a, b Delta, priority bool) Delta {
	ai := newIter(a)
	bi := newIter(b)
	out := newBuilder(len(a) + len(b))
	for ai.hasNext() || bi.hasNext() {
		if ai.peekKind() == KindInsert && (priority || bi.peekKind() != KindInsert) {
			// a's insert is now part of the document: b' steps over it.
			out.retain(ai.next(0).Len(), nil)
			continue
		}
		if bi.peekKind() == KindInsert {
			out.push(bi.next(0))
			continue
		}
		n := min(ai.peekLen(), bi.peekLen())
		aop := ai.next(n)
		bop := bi.next(n)
		switch {
		case kindOf(&aop) == KindDelete:
			// a already removed this text: b's delete of it is redundant and
			// b's retain of it has nothing left to keep.
		case kindOf(&bop) == KindDelete:
			out.push(bop)
		default: // both retain
			out.retain(n, transformAttrs(aop.Attributes, bop.Attributes, priority))
		}
	}
	out.chop()
	return out.delta()
}

// transformAttrs is quill's AttributeMap.transform: the formats b still
// sets after a. Without priority b simply overwrites a; with priority a's
// keys win and b keeps only keys a did not touch.
func transformAttrs(a, b Attributes, priority bool) Attributes {
	switch {
	case len(a) == 0 || !priority:
		return b
	case len(b) == 0:
		return nil
	}
	var out Attributes
	for k, v := range b {
		if _, inA := a[k]; !inA {
			if out == nil {
				out = make(Attributes, len(b))
			}
			out[k] = v
		}
	}
	return out
}
