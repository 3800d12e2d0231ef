package ot

// Apply returns the document doc becomes under edit: quill's
// doc.compose(edit), with the checks the protocol needs and quill does not
// make (protocol: Model). doc must be a document (only inserts); edit is
// checked with ValidateEdit. The errors:
//   - ErrDoesNotFit: a retain or delete runs past the end of doc, or the
//     result does not end with "\n" (the final newline was deleted or text
//     was inserted after it);
//   - ErrSplitsSurrogate: an op starts or ends inside a surrogate pair of
//     doc's text (an astral character is two units; an edit may not cut it);
//   - ErrTooLarge: the result is longer than MaxLen;
//   - ErrMalformed, ErrInvalidUTF8: edit is not valid, or doc is not a
//     document.
//
// The result is canonical when doc is, and shares text and attribute maps
// with doc and edit. Formats set to nil on an inserted op are dropped, so
// the result stays a document.
func Apply(doc, edit Delta) (Delta, error) {
	if err := ValidateEdit(edit); err != nil {
		return nil, err
	}
	// Bytes bound units from above, so the size check needs no scan of the
	// text unless the document is near the limit.
	bound := edit.ChangeLength()
	for i := range doc {
		if doc[i].Kind() != KindInsert {
			return nil, errorf(ErrMalformed, "document op %d: a document holds only inserts, got a %s", i, doc[i].Kind())
		}
		bound += len(doc[i].Insert) + 1
	}
	if bound > MaxLen && doc.Length()+edit.ChangeLength() > MaxLen {
		return nil, errorf(ErrTooLarge, "the document would be longer than %d units", MaxLen)
	}
	di := newIter(doc)
	out := newBuilder(len(doc) + len(edit))
	pos := 0 // units of doc consumed
	for i := range edit {
		op := &edit[i]
		switch op.Kind() {
		case KindInsert:
			if di.half {
				return nil, errorf(ErrSplitsSurrogate, "op %d: insert at %d is inside a surrogate pair", i, pos)
			}
			ins := *op
			if hasNil(ins.Attributes) {
				ins.Attributes = composeAttrs(nil, ins.Attributes, false)
			}
			out.push(ins)
		case KindRetain, KindDelete:
			n, del := op.Retain, op.Kind() == KindDelete
			if del {
				n = op.Delete
			}
			if di.half {
				return nil, errorf(ErrSplitsSurrogate, "op %d: %s at %d starts inside a surrogate pair", i, op.Kind(), pos)
			}
			for n > 0 {
				if !di.hasNext() {
					return nil, errorf(ErrDoesNotFit, "op %d: %s runs past the end of the document (length %d) by %d", i, op.Kind(), pos, n)
				}
				piece := di.next(n)
				l := piece.Len()
				n -= l
				pos += l
				if !del {
					piece.Attributes = composeAttrs(piece.Attributes, op.Attributes, false)
					out.push(piece)
				}
			}
			if di.half {
				return nil, errorf(ErrSplitsSurrogate, "op %d: %s ending at %d splits a surrogate pair", i, op.Kind(), pos)
			}
		}
	}
	// The rest of doc is kept as it is: push its first op (it may merge),
	// copy the others, which are canonical if doc is.
	out.concat(di.rest())
	res := out.delta()
	if !endsWithNewline(res) {
		return nil, errorf(ErrDoesNotFit, `the edit leaves the document without its final "\n"`)
	}
	return res, nil
}
