package ot

import (
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

// MaxLen is the largest length, in UTF-16 units, that an op or a delta may
// have; more is ErrTooLarge. It keeps every sum of lengths far from
// overflowing and matches nothing a real document reaches (the server's own
// document limit is much lower).
const MaxLen = 1 << 30

// ValidateEdit checks that every op of d is well formed, as ParseDelta
// guarantees for what it decodes; it is for deltas built in Go. Each op
// sets exactly one of insert, retain, delete; deletes carry no attributes;
// attribute values are string, float64 (finite), bool or nil; text is valid
// UTF-8; embed values are strict JSON; no op and not the delta is longer
// than MaxLen. It does not look at any document: Apply checks the fit.
func ValidateEdit(d Delta) error {
	total := 0
	for i := range d {
		if err := validateOp(i, &d[i]); err != nil {
			return err
		}
		if total += d[i].Len(); total > MaxLen {
			return errorf(ErrTooLarge, "op %d: the delta is longer than %d units", i, MaxLen)
		}
	}
	return nil
}

// ValidateDocument checks that d is a document: a valid edit made only of
// inserts, ending with "\n", with no format set to nil.
func ValidateDocument(d Delta) error {
	if err := ValidateEdit(d); err != nil {
		return err
	}
	for i := range d {
		if d[i].Kind() != KindInsert {
			return errorf(ErrMalformed, "op %d: a document holds only inserts, got a %s", i, d[i].Kind())
		}
		for k, v := range d[i].Attributes {
			if v == nil {
				return errorf(ErrMalformed, "op %d: a document has no null formats, got %q", i, k)
			}
		}
	}
	if !endsWithNewline(d) {
		return errorf(ErrDoesNotFit, `a document ends with "\n"`)
	}
	return nil
}

func endsWithNewline(d Delta) bool {
	n := len(d)
	return n > 0 && d[n-1].Embed == nil && strings.HasSuffix(d[n-1].Insert, "\n")
}

func validateOp(i int, op *Op) error {
	switch op.Kind() {
	case KindInvalid:
		return errorf(ErrMalformed, "op %d: %s", i, invalidOpReason(op))
	case KindInsert:
		if op.Embed != nil {
			if !utf8.ValidString(op.Embed.Key) {
				return errorf(ErrInvalidUTF8, "op %d: embed type is not valid UTF-8", i)
			}
			d := decoder{data: op.Embed.Value, op: -1}
			if _, err := d.value(nil, 1); err != nil {
				return errorf(errKind(err), "op %d: embed %q: %s", i, op.Embed.Key, err.(*Error).Msg)
			}
			if d.ws(); d.pos != len(d.data) {
				return errorf(ErrMalformed, "op %d: embed %q: data after the value", i, op.Embed.Key)
			}
		} else {
			if !utf8.ValidString(op.Insert) {
				return errorf(ErrInvalidUTF8, "op %d: insert is not valid UTF-8", i)
			}
			if len(op.Insert) > MaxLen && UTF16Len(op.Insert) > MaxLen {
				return errorf(ErrTooLarge, "op %d: insert is longer than %d units", i, MaxLen)
			}
		}
	case KindRetain:
		if op.Retain > MaxLen {
			return errorf(ErrTooLarge, "op %d: retain %d is more than %d", i, op.Retain, MaxLen)
		}
	case KindDelete:
		if op.Delete > MaxLen {
			return errorf(ErrTooLarge, "op %d: delete %d is more than %d", i, op.Delete, MaxLen)
		}
		if len(op.Attributes) > 0 {
			return errorf(ErrMalformed, "op %d: a delete has no attributes", i)
		}
	}
	for k, v := range op.Attributes {
		if !utf8.ValidString(k) {
			return errorf(ErrInvalidUTF8, "op %d: attribute name %q is not valid UTF-8", i, k)
		}
		switch v := v.(type) {
		case nil, bool:
		case string:
			if !utf8.ValidString(v) {
				return errorf(ErrInvalidUTF8, "op %d: attribute %q is not valid UTF-8", i, k)
			}
		case float64:
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return errorf(ErrMalformed, "op %d: attribute %q is %v, which JSON cannot hold", i, k, v)
			}
		default:
			return errorf(ErrMalformed, "op %d: attribute %q must be a string, float64, bool or nil, got %T", i, k, v)
		}
	}
	return nil
}

// invalidOpReason says why an op has no kind.
func invalidOpReason(op *Op) string {
	set := 0
	if op.Insert != "" || op.Embed != nil {
		set++
	}
	if op.Retain != 0 {
		set++
	}
	if op.Delete != 0 {
		set++
	}
	switch {
	case op.Insert != "" && op.Embed != nil:
		return "an insert has text or an embed, not both"
	case set > 1:
		return "an op sets only one of insert, retain or delete"
	case op.Retain < 0:
		return "retain must be a positive integer, got " + strconv.Itoa(op.Retain)
	case op.Delete < 0:
		return "delete must be a positive integer, got " + strconv.Itoa(op.Delete)
	}
	return "an op sets one of insert, retain or delete (an empty insert, retain 0 or delete 0 is no op)"
}

func errKind(err error) error {
	if e, ok := err.(*Error); ok {
		return e.Kind
	}
	return ErrMalformed
}
