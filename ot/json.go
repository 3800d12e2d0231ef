package ot

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"unicode/utf8"
)

// The wire form of a delta is quill-delta's: a JSON array of ops, each
// {"insert": text | {embed}, "retain": n, "delete": n, "attributes": {...}}.
//
// ParseDelta is a small hand-written decoder rather than encoding/json:
//   - encoding/json replaces a lone surrogate escape ("\ud800") and invalid
//     UTF-8 with U+FFFD without a word, changing lengths; the protocol makes
//     them invalid, so they must be seen;
//   - decoding into map[string]any costs dozens of allocations per op, on
//     the path of every keystroke of every client;
//   - errors must say which op was wrong and why.
//
// MarshalJSON writes what JSON.stringify writes for the same ops (strings
// escaped the same way, numbers formatted the same way), with keys in a
// fixed order, so the bytes can be compared with quill-delta's.

// maxDepth bounds the nesting of an embed's value: deeper is malformed,
// so no input can make decoding recurse without bound.
const maxDepth = 32

// ParseDelta decodes a delta from its JSON form: an array of ops, or an
// object {"ops":[...]} as JSON.stringify writes a quill Delta. It is strict:
// anything quill-delta would not produce is an *Error wrapping ErrMalformed
// (wrong shape or type, unknown key, a retain or delete that is not a
// positive integer, an empty insert, attributes on a delete, an embed that
// is not an object with exactly one key), ErrInvalidUTF8 (invalid UTF-8 or
// an escaped lone surrogate anywhere), or ErrTooLarge (an op or the delta
// longer than MaxLen). Attributes set to null on an insert are dropped, and
// an empty attributes object is the same as none. null is not a delta.
//
// Embed values are kept as compact JSON with strings and numbers written
// the way JSON.stringify writes them, so equal embeds have equal bytes.
func ParseDelta(b []byte) (Delta, error) {
	d := decoder{data: b, op: -1}
	ops, err := d.delta()
	if err != nil {
		return nil, err
	}
	return ops, nil
}

// UnmarshalJSON decodes as ParseDelta does; on error d is unchanged.
func (d *Delta) UnmarshalJSON(b []byte) error {
	ops, err := ParseDelta(b)
	if err != nil {
		return err
	}
	*d = ops
	return nil
}

type decoder struct {
	data []byte
	pos  int
	op   int    // index of the op being decoded, for messages; -1 outside
	buf  []byte // scratch for unescaping strings

	// doc is ParseDoc's builder, nil in ParseDelta: insert text, formats
	// and embeds go to it (rope_parse.go).
	doc *docBuilder
}

func (d *decoder) fail(kind error, format string, args ...any) error {
	if d.op >= 0 {
		return errorf(kind, "op %d: %s", d.op, fmt.Sprintf(format, args...))
	}
	return errorf(kind, format, args...)
}

func (d *decoder) delta() (Delta, error) {
	wrapped, err := d.open()
	if err != nil {
		return nil, err
	}
	ops, err := d.ops()
	if err != nil {
		return nil, err
	}
	if err := d.close(wrapped); err != nil {
		return nil, err
	}
	return ops, nil
}

// open reads up to the '[' of the ops, which it leaves unread: either the
// whole value is an array, or it is an object {"ops":[...]} (wrapped).
func (d *decoder) open() (wrapped bool, err error) {
	switch d.peek() {
	case '[':
		return false, nil
	case '{':
		d.pos++
		if d.peek() != '"' {
			return false, d.syntax(`"ops"`)
		}
		key, _, err := d.rawString()
		if err != nil {
			return false, err
		}
		if string(key) != "ops" {
			return false, d.fail(ErrMalformed, `a delta object has only the key "ops", got %q`, clip(key))
		}
		if err := d.expect(':', "':'"); err != nil {
			return false, err
		}
		if d.peek() != '[' {
			return false, d.fail(ErrMalformed, "ops must be an array, got %s", d.what())
		}
		return true, nil
	}
	return false, d.fail(ErrMalformed, `a delta must be a JSON array of ops or {"ops":[...]}, got %s`, d.what())
}

// close reads what follows the ops: the '}' of a wrapped delta, then
// nothing but whitespace.
func (d *decoder) close(wrapped bool) error {
	if wrapped {
		if c := d.peek(); c == ',' {
			return d.fail(ErrMalformed, `a delta object has only the key "ops"`)
		}
		if err := d.expect('}', "'}'"); err != nil {
			return err
		}
	}
	if d.ws(); d.pos != len(d.data) {
		return d.fail(ErrMalformed, "invalid JSON at byte %d: data after the delta", d.pos)
	}
	return nil
}

func (d *decoder) ops() (Delta, error) {
	d.pos++ // '['
	if d.peek() == ']' {
		d.pos++
		return Delta{}, nil
	}
	// Decode into a buffer on the stack and copy once: the result then costs
	// one allocation of exactly the right size for small deltas.
	var stack [8]Op
	ops := stack[:0]
	total := 0
	for {
		d.op = len(ops)
		op, n, err := d.opValue()
		if err != nil {
			return nil, err
		}
		ops = append(ops, op)
		if total += n; total > MaxLen {
			return nil, d.fail(ErrTooLarge, "the delta is longer than %d units", MaxLen)
		}
		switch d.peek() {
		case ',':
			d.pos++
			continue
		case ']':
			d.pos++
		default:
			return nil, d.syntax("',' or ']' after an op")
		}
		break
	}
	d.op = -1
	return append(Delta(nil), ops...), nil
}

// opValue decodes one op and returns it with its length.
func (d *decoder) opValue() (Op, int, error) {
	var op Op
	if d.peek() != '{' {
		return op, 0, d.fail(ErrMalformed, "an op must be an object, got %s", d.what())
	}
	d.pos++
	const (
		hasInsert = 1 << iota
		hasRetain
		hasDelete
		hasAttributes
	)
	var seen uint8
	n := 0
	hasNil := false // some attribute is null
	if d.peek() == '}' {
		d.pos++
		return op, 0, d.fail(ErrMalformed, "an op must have one of insert, retain or delete, got {}")
	}
	for {
		if d.peek() != '"' {
			return op, 0, d.syntax("a key")
		}
		key, _, err := d.rawString()
		if err != nil {
			return op, 0, err
		}
		var bit uint8
		switch string(key) {
		case "insert":
			bit = hasInsert
		case "retain":
			bit = hasRetain
		case "delete":
			bit = hasDelete
		case "attributes":
			bit = hasAttributes
		default:
			return op, 0, d.fail(ErrMalformed, "unknown key %q (an op has insert, retain or delete, and attributes)", clip(key))
		}
		if seen&bit != 0 {
			return op, 0, d.fail(ErrMalformed, "duplicate key %q", key)
		}
		seen |= bit
		if err := d.expect(':', "':'"); err != nil {
			return op, 0, err
		}
		switch bit {
		case hasInsert:
			switch d.peek() {
			case '"':
				s, units, err := d.rawString()
				if err != nil {
					return op, 0, err
				}
				if len(s) == 0 {
					return op, 0, d.fail(ErrMalformed, "insert must not be empty")
				}
				if units > MaxLen {
					return op, 0, d.fail(ErrTooLarge, "insert is longer than %d units", MaxLen)
				}
				if d.doc != nil {
					op.Insert = d.doc.text(d, s, units)
				} else {
					op.Insert = string(s)
				}
				n = units
			case '{':
				e, err := d.embed()
				if err != nil {
					return op, 0, err
				}
				op.Embed, n = e, 1
			default:
				return op, 0, d.fail(ErrMalformed, "insert must be a string or an embed object, got %s", d.what())
			}
		case hasRetain:
			if op.Retain, err = d.length("retain"); err != nil {
				return op, 0, err
			}
			n = op.Retain
		case hasDelete:
			if op.Delete, err = d.length("delete"); err != nil {
				return op, 0, err
			}
			n = op.Delete
		case hasAttributes:
			if d.peek() != '{' {
				return op, 0, d.fail(ErrMalformed, "attributes must be an object, got %s", d.what())
			}
			if op.Attributes, hasNil, err = d.attributes(); err != nil {
				return op, 0, err
			}
		}
		switch d.peek() {
		case ',':
			d.pos++
			continue
		case '}':
			d.pos++
		default:
			return op, 0, d.syntax("',' or '}' in an op")
		}
		break
	}
	switch seen &^ hasAttributes {
	case hasInsert:
		// A format set to null on an insert removes nothing: drop it, as
		// quill's compose does.
		if hasNil {
			for k, v := range op.Attributes {
				if v == nil {
					delete(op.Attributes, k)
				}
			}
		}
	case hasRetain:
	case hasDelete:
		if len(op.Attributes) > 0 {
			return op, 0, d.fail(ErrMalformed, "a delete has no attributes")
		}
	case 0:
		return op, 0, d.fail(ErrMalformed, "an op must have one of insert, retain or delete")
	default:
		return op, 0, d.fail(ErrMalformed, "an op must have only one of insert, retain or delete")
	}
	if len(op.Attributes) == 0 {
		op.Attributes = nil
	}
	return op, n, nil
}

// length decodes the value of a retain or delete: a positive integer
// written without fraction or exponent, at most MaxLen.
func (d *decoder) length(name string) (int, error) {
	c := d.peek()
	if c == '{' && name == "retain" {
		return 0, d.fail(ErrMalformed, "retain of an embed (an object) is not supported")
	}
	if c != '-' && (c < '0' || c > '9') {
		return 0, d.fail(ErrMalformed, "%s must be a positive integer, got %s", name, d.what())
	}
	start := d.pos
	isInt, err := d.number()
	if err != nil {
		return 0, err
	}
	tok := d.data[start:d.pos]
	if !isInt || tok[0] == '-' || string(tok) == "0" {
		return 0, d.fail(ErrMalformed, "%s must be a positive integer, got %s", name, clip(tok))
	}
	if len(tok) > 10 {
		return 0, d.fail(ErrTooLarge, "%s %s is more than %d", name, clip(tok), MaxLen)
	}
	n := 0
	for _, c := range tok {
		n = n*10 + int(c-'0')
	}
	if n > MaxLen {
		return 0, d.fail(ErrTooLarge, "%s %d is more than %d", name, n, MaxLen)
	}
	return n, nil
}

// attributes decodes a format object: string keys to string, number,
// boolean or null, and reports whether a value is null. Common keys and
// values come from tables, which saves an allocation per key and per value
// on typical ops. ParseDoc's decoder shares one map between equal objects
// (rope_parse.go).
func (d *decoder) attributes() (attrs Attributes, hasNil bool, err error) {
	if d.doc != nil {
		return d.doc.attributes(d)
	}
	attrs, hasNil, err = d.attributesMap()
	return
}

func (d *decoder) attributesMap() (Attributes, bool, error) {
	d.pos++ // '{'
	if d.peek() == '}' {
		d.pos++
		return nil, false, nil
	}
	attrs := make(Attributes, 2)
	hasNil := false
	for {
		if d.peek() != '"' {
			return nil, false, d.syntax("an attribute name")
		}
		kb, _, err := d.rawString()
		if err != nil {
			return nil, false, err
		}
		key, ok := internedKeys[string(kb)]
		if !ok {
			key = string(kb)
		}
		if _, dup := attrs[key]; dup {
			return nil, false, d.fail(ErrMalformed, "duplicate attribute %q", clip(kb))
		}
		if err := d.expect(':', "':'"); err != nil {
			return nil, false, err
		}
		var v any
		switch c := d.peek(); {
		case c == '"':
			vb, _, err := d.rawString()
			if err != nil {
				return nil, false, err
			}
			var ok bool
			if v, ok = internedValues[string(vb)]; !ok {
				v = string(vb)
			}
		case c == '-' || c >= '0' && c <= '9':
			f, err := d.float()
			if err != nil {
				return nil, false, err
			}
			if f >= 0 && f < float64(len(smallNumbers)) && f == math.Trunc(f) && !math.Signbit(f) {
				v = smallNumbers[int(f)]
			} else {
				v = f
			}
		case c == 't':
			if err := d.literal("true"); err != nil {
				return nil, false, err
			}
			v = true
		case c == 'f':
			if err := d.literal("false"); err != nil {
				return nil, false, err
			}
			v = false
		case c == 'n':
			if err := d.literal("null"); err != nil {
				return nil, false, err
			}
			hasNil = true
		case c == '{' || c == '[':
			return nil, false, d.fail(ErrMalformed, "attribute %q must be a string, number, boolean or null, got %s", key, d.what())
		default:
			return nil, false, d.syntax("a value")
		}
		attrs[key] = v
		switch d.peek() {
		case ',':
			d.pos++
			continue
		case '}':
			d.pos++
		default:
			return nil, false, d.syntax("',' or '}' in attributes")
		}
		return attrs, hasNil, nil
	}
}

// embed decodes an embed insert: an object with exactly one key.
// ParseDoc's decoder shares one Embed between equal objects
// (rope_parse.go).
func (d *decoder) embed() (*Embed, error) {
	if d.doc != nil {
		return d.doc.embed(d)
	}
	key, value, err := d.embedParts(make([]byte, 0, 32))
	if err != nil {
		return nil, err
	}
	return &Embed{Key: key, Value: value}, nil
}

// embedParts decodes an embed's object, appending its value to out.
func (d *decoder) embedParts(out []byte) (key string, value []byte, err error) {
	d.pos++ // '{'
	if d.peek() != '"' {
		if d.peek() == '}' {
			return "", nil, d.fail(ErrMalformed, "an embed must be an object with exactly one key, got {}")
		}
		return "", nil, d.syntax("an embed type")
	}
	kb, _, err := d.rawString()
	if err != nil {
		return "", nil, err
	}
	key, ok := internedKeys[string(kb)]
	if !ok {
		key = string(kb)
	}
	if err := d.expect(':', "':'"); err != nil {
		return "", nil, err
	}
	d.ws()
	if value, err = d.value(out, 1); err != nil {
		return "", nil, err
	}
	switch d.peek() {
	case '}':
		d.pos++
	case ',':
		return "", nil, d.fail(ErrMalformed, "an embed must be an object with exactly one key")
	default:
		return "", nil, d.syntax("'}' after the embed")
	}
	return key, value, nil
}

// internedKeys are Quill's format names and common embed types. Looking a
// key up here costs no allocation; copying it would.
var internedKeys = func() map[string]string {
	m := make(map[string]string)
	for _, k := range []string{
		"bold", "italic", "underline", "strike", "code", "link", "color",
		"background", "font", "size", "script", "header", "list", "align",
		"direction", "indent", "blockquote", "code-block", "width", "height",
		"alt", "image", "video", "formula", "mention", "divider",
	} {
		m[k] = k
	}
	return m
}()

// internedValues are common format values, already boxed in an interface.
var internedValues = func() map[string]any {
	m := make(map[string]any)
	for _, v := range []string{
		"bullet", "ordered", "checked", "unchecked", "center", "right",
		"justify", "rtl", "sub", "super", "small", "large", "huge",
		"serif", "monospace", "plain", "",
	} {
		m[v] = v
	}
	return m
}()

// smallNumbers are the integers 0..255 as boxed float64s (header levels,
// indents, sizes): boxing a float64 otherwise allocates.
var smallNumbers = func() (t [256]any) {
	for i := range t {
		t[i] = float64(i)
	}
	return t
}()

// MarshalJSON writes d as a JSON array of ops, nil as []. Each op's keys
// come in quill's order (insert, retain or delete, then attributes);
// attribute keys are sorted; strings and numbers are written as
// JSON.stringify writes them; embed values are written as they are held.
// An op that is not valid (see ValidateEdit) is an error rather than JSON
// that would not parse back.
func (d Delta) MarshalJSON() ([]byte, error) {
	size := 2
	for i := range d {
		size += len(d[i].Insert) + 24 + 24*len(d[i].Attributes)
		if d[i].Embed != nil {
			size += len(d[i].Embed.Key) + len(d[i].Embed.Value) + 8
		}
	}
	return d.appendJSON(make([]byte, 0, size))
}

func (d Delta) appendJSON(out []byte) ([]byte, error) {
	out = append(out, '[')
	for i := range d {
		op := &d[i]
		if i > 0 {
			out = append(out, ',')
		}
		switch op.Kind() {
		case KindInsert:
			out = append(out, `{"insert":`...)
			if op.Embed != nil {
				if len(op.Embed.Value) == 0 || !json.Valid(op.Embed.Value) {
					return nil, errorf(ErrMalformed, "op %d: embed %q: value is not JSON", i, op.Embed.Key)
				}
				out = append(appendJSString(append(out, '{'), []byte(op.Embed.Key)), ':')
				out = append(append(out, op.Embed.Value...), '}')
			} else {
				if !utf8.ValidString(op.Insert) {
					return nil, errorf(ErrInvalidUTF8, "op %d: insert is not valid UTF-8", i)
				}
				out = appendJSString(out, op.Insert)
			}
		case KindRetain:
			out = strconv.AppendInt(append(out, `{"retain":`...), int64(op.Retain), 10)
		case KindDelete:
			if len(op.Attributes) > 0 {
				return nil, errorf(ErrMalformed, "op %d: a delete has no attributes", i)
			}
			out = strconv.AppendInt(append(out, `{"delete":`...), int64(op.Delete), 10)
		default:
			return nil, errorf(ErrMalformed, "op %d: %s", i, invalidOpReason(op))
		}
		if len(op.Attributes) > 0 {
			var err error
			if out, err = appendAttributes(append(out, `,"attributes":`...), op.Attributes); err != nil {
				return nil, errorf(ErrMalformed, "op %d: %s", i, err.(*Error).Msg)
			}
		}
		out = append(out, '}')
	}
	return append(out, ']'), nil
}

func appendAttributes(out []byte, attrs Attributes) ([]byte, error) {
	var kb [16]string
	keys := kb[:0]
	for k := range attrs {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	out = append(out, '{')
	for i, k := range keys {
		if i > 0 {
			out = append(out, ',')
		}
		if !utf8.ValidString(k) {
			return nil, errorf(ErrInvalidUTF8, "attribute name %q is not valid UTF-8", k)
		}
		out = append(appendJSString(out, k), ':')
		var err error
		if out, err = appendAttrValue(out, k, attrs[k]); err != nil {
			return nil, err
		}
	}
	return append(out, '}'), nil
}

func appendAttrValue(out []byte, k string, v any) ([]byte, error) {
	switch v := v.(type) {
	case nil:
		return append(out, "null"...), nil
	case string:
		if !utf8.ValidString(v) {
			return nil, errorf(ErrInvalidUTF8, "attribute %q is not valid UTF-8", k)
		}
		return appendJSString(out, v), nil
	case bool:
		return strconv.AppendBool(out, v), nil
	}
	f, ok := toFloat(v)
	if !ok {
		return nil, errorf(ErrMalformed, "attribute %q must be a string, number, boolean or nil, got %T", k, v)
	}
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return nil, errorf(ErrMalformed, "attribute %q is %v, which JSON cannot hold", k, f)
	}
	return appendJSNumber(out, f), nil
}
