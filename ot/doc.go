// Package ot is the Delta algebra of collabd: documents and edits as
// quill-delta models them, and the operations that operational
// transformation is made of. It implements the "Model" section of the live
// protocol (docs/protocol.md) and imports nothing of ours, only the
// standard library; everything else in collabd imports it.
//
// # The model
//
// A Delta is a list of ops. A document is a Delta made only of inserts:
// text runs with optional formats (Attributes), and embeds (an insert
// whose value is a JSON object with one key, such as {"image":"..."}, of
// length 1). A document always ends with "\n"; a new one is
// [{"insert":"\n"}]. Formats on a "\n" are line formats, as in Quill.
//
// An edit is a Delta of retain (keep n units, optionally setting formats;
// a nil value removes one), insert and delete (remove n units) ops,
// walking the document from its start; what it does not reach is kept.
//
// Lengths and positions count UTF-16 code units, exactly as quill-delta
// (JavaScript strings) does, so a browser needs no conversion: "a" is 1,
// "é" is 1, "😀" is 2, an embed is 1. Go strings are UTF-8, so cutting text
// at a unit offset converts as it goes. An edit that would cut an astral
// character in half (split a surrogate pair) is invalid, and so is text
// that is not valid UTF-8 or a JSON string escaping a lone surrogate.
//
// # The operations
//
// Every operation equals its quill-delta 5.1.0 namesake op for op,
// including how results are normalized (quill's push: adjacent deletes,
// text inserts and retains with equal formats merge; an insert goes before
// a delete at the same position; a trailing plain retain is chopped), so
// results can be compared byte for byte with quill-delta's:
//
//   - Compose(a, b): a then b as one edit (a.compose(b)).
//   - Transform(a, b, priority): b rebased onto a (a.transform(b,
//     priority)). priority=true means a came first: at a tie (both insert
//     at one position) a's insert stays in front, and where both format the
//     same text a's value stands. The server passes true for its committed
//     edits against an incoming op. The diamond is drawn in transform.go.
//   - TransformPosition, TransformRange: move a cursor or selection through
//     an edit (presence follows text).
//   - Invert(edit, base): the edit that undoes edit on base.
//   - Apply(doc, edit): the checked form of doc.compose(edit), with typed
//     errors when edit does not fit doc.
//
// They share one small iterator (iter.go, quill's OpIterator) and one
// builder (builder.go, quill's push and chop). Object retains (quill 5's
// retain of an embed with an object) are not supported: a retain is a
// positive integer.
//
// # Files
//
// The algebra itself is small (iter, builder, compose, transform, invert,
// position, apply, validate: about 1,000 lines). The package is larger than
// our 1,500-line guide because two things belong with it: the strict wire
// codec (json.go for the shape of a delta, jsonlex.go for a JSON lexer
// that sees what encoding/json hides and writes what JSON.stringify
// writes), and the rope document type Doc (rope*.go), which applies edits
// in place of Apply on large documents. Both must agree with the algebra
// unit for unit, and neither is of use to anything else.
//
// # Documents on the server
//
// Doc is the server's document: an immutable B-tree rope of formatted runs
// (leaves of at most 512 bytes, 8 to 16 children per node). Applying an
// edit copies the path to the leaves it touches, O(log n) nodes, and
// returns a new Doc sharing the rest, so a session hands the current Doc to
// a checkpoint writer or a joining client without a copy and goes on
// editing. Typing where the previous edit was (the common case) reuses the
// leaf it edited last and a shared append-only buffer, so a keystroke
// allocates nothing; older Docs never see bytes written after them
// (rope_hot.go says how). Doc.Apply accepts and refuses exactly what Apply
// does.
//
// # Wire input
//
// ParseDoc decodes a whole document (a snapshot) straight into a Doc in
// one pass, accepting and refusing exactly what DocFromDelta(ParseDelta(b))
// would, and Doc.MarshalJSON writes it from the leaves without building a
// Delta: a 1 MiB snapshot loads in about 5 ms.
//
// ParseDelta decodes the wire form strictly and returns a typed *Error
// (errors.Is with ErrMalformed, ErrDoesNotFit, ErrSplitsSurrogate,
// ErrInvalidUTF8, ErrTooLarge) saying which op was wrong. Nothing in this
// package panics on any input: not ParseDelta on any bytes, not Apply or
// ValidateEdit on any Delta value. Compose, Transform, Invert and the
// position functions assume valid input (as Apply checks it); on invalid
// input they still return without panicking, with an unspecified result.
//
// Deltas are values: no function modifies a Delta or Attributes map it is
// given, and results may share text and maps with the inputs, so callers
// must not modify them either.
package ot
