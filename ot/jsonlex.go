package ot

import (
	"fmt"
	"math"
	"strconv"
	"unicode/utf8"
)

// The strict JSON lexer under ParseDelta, and the writers that spell
// strings and numbers exactly as JavaScript's JSON.stringify does. Kept
// apart from json.go, which knows the shape of a delta, because none of
// this knows anything about deltas: it is RFC 8259 with the checks the
// protocol adds (no invalid UTF-8, no lone surrogate escapes, bounded
// nesting) and without the allocations of encoding/json.

func (d *decoder) ws() {
	for d.pos < len(d.data) {
		switch d.data[d.pos] {
		case ' ', '\t', '\n', '\r':
			d.pos++
		default:
			return
		}
	}
}

// peek returns the next byte after whitespace, 0 at the end.
func (d *decoder) peek() byte {
	d.ws()
	if d.pos < len(d.data) {
		return d.data[d.pos]
	}
	return 0
}

// syntax reports invalid JSON at the current position.
func (d *decoder) syntax(want string) error {
	if d.pos >= len(d.data) {
		return d.fail(ErrMalformed, "invalid JSON: unexpected end of input, want %s", want)
	}
	return d.fail(ErrMalformed, "invalid JSON at byte %d: unexpected %q, want %s", d.pos, d.data[d.pos], want)
}

func (d *decoder) expect(c byte, want string) error {
	if d.peek() != c {
		return d.syntax(want)
	}
	d.pos++
	return nil
}

// what names the JSON value starting at the current position, for
// messages such as "got string".
func (d *decoder) what() string {
	switch c := d.peek(); {
	case c == '"':
		return "string"
	case c == '{':
		return "object"
	case c == '[':
		return "array"
	case c == 't' || c == 'f':
		return "boolean"
	case c == 'n':
		return "null"
	case c == '-' || c >= '0' && c <= '9':
		end := d.pos
		for end < len(d.data) && end-d.pos < 24 && isNumberByte(d.data[end]) {
			end++
		}
		return string(d.data[d.pos:end])
	case c == 0:
		return "end of input"
	}
	return fmt.Sprintf("%q", d.data[d.pos])
}

func isNumberByte(c byte) bool {
	return c >= '0' && c <= '9' || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E'
}

// number scans a JSON number and reports whether it is written as an
// integer (no fraction, no exponent).
func (d *decoder) number() (isInt bool, err error) {
	p, data := d.pos, d.data
	digits := func() bool {
		s := p
		for p < len(data) && data[p] >= '0' && data[p] <= '9' {
			p++
		}
		return p > s
	}
	if p < len(data) && data[p] == '-' {
		p++
	}
	switch {
	case p < len(data) && data[p] == '0':
		p++
		if p < len(data) && data[p] >= '0' && data[p] <= '9' {
			d.pos = p
			return false, d.syntax("no digit after a leading 0")
		}
	case !digits():
		d.pos = p
		return false, d.syntax("a digit")
	}
	isInt = true
	if p < len(data) && data[p] == '.' {
		p++
		if !digits() {
			d.pos = p
			return false, d.syntax("a digit after '.'")
		}
		isInt = false
	}
	if p < len(data) && (data[p] == 'e' || data[p] == 'E') {
		p++
		if p < len(data) && (data[p] == '+' || data[p] == '-') {
			p++
		}
		if !digits() {
			d.pos = p
			return false, d.syntax("a digit in the exponent")
		}
		isInt = false
	}
	d.pos = p
	return isInt, nil
}

// float decodes a JSON number as JavaScript's JSON.parse does.
func (d *decoder) float() (float64, error) {
	start := d.pos
	isInt, err := d.number()
	if err != nil {
		return 0, err
	}
	tok := d.data[start:d.pos]
	if isInt && len(tok) <= 15 {
		// Exact in a float64: no need for strconv or a string copy.
		neg := tok[0] == '-'
		if neg {
			tok = tok[1:]
		}
		v := 0
		for _, c := range tok {
			v = v*10 + int(c-'0')
		}
		if neg {
			return -float64(v), nil
		}
		return float64(v), nil
	}
	f, err := strconv.ParseFloat(string(tok), 64)
	if err != nil && math.IsInf(f, 0) {
		return 0, d.fail(ErrMalformed, "number %s is out of range", clip(tok))
	}
	return f, nil
}

// rawString decodes a JSON string at the current position. The result
// aliases the input or the decoder's scratch buffer: use it before the next
// decode. units is its length in UTF-16 units.
func (d *decoder) rawString() (s []byte, units int, err error) {
	data := d.data
	i := d.pos + 1 // past '"'
	start := i
	for i < len(data) {
		c := data[i]
		switch {
		case c == '"':
			d.pos = i + 1
			return data[start:i], units, nil
		case c == '\\':
			return d.rawStringSlow(start, i, units)
		case c < 0x20:
			d.pos = i
			return nil, 0, d.fail(ErrMalformed, "invalid JSON at byte %d: control character in a string", i)
		case c < utf8.RuneSelf:
			i++
			units++
		default:
			r, size := utf8.DecodeRune(data[i:])
			if r == utf8.RuneError && size == 1 {
				return nil, 0, d.fail(ErrInvalidUTF8, "invalid UTF-8 at byte %d", i)
			}
			i += size
			units += utf16Units(r)
		}
	}
	d.pos = i
	return nil, 0, d.syntax(`'"' ending the string`)
}

func utf16Units(r rune) int {
	if r >= 0x10000 {
		return 2
	}
	return 1
}

// rawStringSlow continues rawString from the first backslash at i.
func (d *decoder) rawStringSlow(start, i, units int) ([]byte, int, error) {
	data := d.data
	buf := append(d.buf[:0], data[start:i]...)
	for i < len(data) {
		c := data[i]
		switch {
		case c == '"':
			d.pos = i + 1
			d.buf = buf
			return buf, units, nil
		case c == '\\':
			if i+1 >= len(data) {
				d.pos = len(data)
				return nil, 0, d.syntax("an escape")
			}
			e := data[i+1]
			i += 2
			units++
			switch e {
			case '"', '\\', '/':
				buf = append(buf, e)
			case 'b':
				buf = append(buf, '\b')
			case 'f':
				buf = append(buf, '\f')
			case 'n':
				buf = append(buf, '\n')
			case 'r':
				buf = append(buf, '\r')
			case 't':
				buf = append(buf, '\t')
			case 'u':
				r, ok := hex4(data, i)
				if !ok {
					d.pos = i
					return nil, 0, d.syntax("4 hex digits after \\u")
				}
				i += 4
				switch {
				case r >= 0xD800 && r < 0xDC00:
					// A high surrogate must be followed by an escaped low one:
					// together they are one astral character (two units).
					lo, ok := rune(0), false
					if i+1 < len(data) && data[i] == '\\' && data[i+1] == 'u' {
						lo, ok = hex4(data, i+2)
					}
					if !ok || lo < 0xDC00 || lo >= 0xE000 {
						return nil, 0, d.fail(ErrInvalidUTF8, "lone surrogate \\u%04x at byte %d", r, i-6)
					}
					i += 6
					units++
					r = 0x10000 + (r-0xD800)<<10 + (lo - 0xDC00)
				case r >= 0xDC00 && r < 0xE000:
					return nil, 0, d.fail(ErrInvalidUTF8, "lone surrogate \\u%04x at byte %d", r, i-6)
				}
				buf = utf8.AppendRune(buf, r)
			default:
				d.pos = i - 1
				return nil, 0, d.syntax("a valid escape")
			}
		case c < 0x20:
			d.pos = i
			return nil, 0, d.fail(ErrMalformed, "invalid JSON at byte %d: control character in a string", i)
		case c < utf8.RuneSelf:
			buf = append(buf, c)
			i++
			units++
		default:
			r, size := utf8.DecodeRune(data[i:])
			if r == utf8.RuneError && size == 1 {
				return nil, 0, d.fail(ErrInvalidUTF8, "invalid UTF-8 at byte %d", i)
			}
			buf = append(buf, data[i:i+size]...)
			i += size
			units += utf16Units(r)
		}
	}
	d.pos = i
	d.buf = buf
	return nil, 0, d.syntax(`'"' ending the string`)
}

func hex4(data []byte, i int) (rune, bool) {
	if i+4 > len(data) {
		return 0, false
	}
	var r rune
	for _, c := range data[i : i+4] {
		switch {
		case c >= '0' && c <= '9':
			r = r<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	return r, true
}

func (d *decoder) literal(word string) error {
	if len(d.data)-d.pos < len(word) || string(d.data[d.pos:d.pos+len(word)]) != word {
		return d.syntax(word)
	}
	d.pos += len(word)
	return nil
}

// value decodes any JSON value and appends it to out as JSON.stringify
// would write it: no whitespace, strings escaped as JavaScript escapes
// them, numbers in JavaScript's shortest form, object keys kept in order.
func (d *decoder) value(out []byte, depth int) ([]byte, error) {
	if depth > maxDepth {
		return nil, d.fail(ErrMalformed, "an embed value nests deeper than %d", maxDepth)
	}
	switch c := d.peek(); {
	case c == '"':
		s, _, err := d.rawString()
		if err != nil {
			return nil, err
		}
		return appendJSString(out, s), nil
	case c == '-' || c >= '0' && c <= '9':
		f, err := d.float()
		if err != nil {
			return nil, err
		}
		return appendJSNumber(out, f), nil
	case c == 't':
		return append(out, "true"...), d.literal("true")
	case c == 'f':
		return append(out, "false"...), d.literal("false")
	case c == 'n':
		return append(out, "null"...), d.literal("null")
	case c == '[':
		d.pos++
		out = append(out, '[')
		if d.peek() == ']' {
			d.pos++
			return append(out, ']'), nil
		}
		for {
			var err error
			if out, err = d.value(out, depth+1); err != nil {
				return nil, err
			}
			switch d.peek() {
			case ',':
				d.pos++
				out = append(out, ',')
				continue
			case ']':
				d.pos++
				return append(out, ']'), nil
			}
			return nil, d.syntax("',' or ']'")
		}
	case c == '{':
		d.pos++
		out = append(out, '{')
		if d.peek() == '}' {
			d.pos++
			return append(out, '}'), nil
		}
		for {
			if d.peek() != '"' {
				return nil, d.syntax("a key")
			}
			k, _, err := d.rawString()
			if err != nil {
				return nil, err
			}
			out = append(appendJSString(out, k), ':')
			if err := d.expect(':', "':'"); err != nil {
				return nil, err
			}
			if out, err = d.value(out, depth+1); err != nil {
				return nil, err
			}
			switch d.peek() {
			case ',':
				d.pos++
				out = append(out, ',')
				continue
			case '}':
				d.pos++
				return append(out, '}'), nil
			}
			return nil, d.syntax("',' or '}'")
		}
	}
	return nil, d.syntax("a value")
}

// clip shortens a token quoted in a message.
func clip(b []byte) string {
	if len(b) > 40 {
		return string(b[:40]) + "..."
	}
	return string(b)
}

const hexDigits = "0123456789abcdef"

// appendJSString appends s quoted as JSON.stringify quotes it: only '"',
// '\\' and control characters are escaped (\b \f \n \r \t by name, the
// rest as \u00XX), everything else is written as it is, including '<',
// '>', '&', U+2028 and U+2029 that encoding/json would escape. s must be
// valid UTF-8.
func appendJSString[S string | []byte](out []byte, s S) []byte {
	out = append(out, '"')
	out = appendJSStringBody(out, s)
	return append(out, '"')
}

// appendJSStringBody is appendJSString without the quotes, so that text
// split across runs can be written as one string.
func appendJSStringBody[S string | []byte](out []byte, s S) []byte {
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		out = append(out, s[start:i]...)
		switch c {
		case '"', '\\':
			out = append(out, '\\', c)
		case '\b':
			out = append(out, '\\', 'b')
		case '\f':
			out = append(out, '\\', 'f')
		case '\n':
			out = append(out, '\\', 'n')
		case '\r':
			out = append(out, '\\', 'r')
		case '\t':
			out = append(out, '\\', 't')
		default:
			out = append(out, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		}
		start = i + 1
	}
	return append(out, s[start:]...)
}

// appendJSNumber appends f as JavaScript's Number#toString writes it
// (which JSON.stringify uses): plain decimal from 1e-6 up to 1e21,
// exponent form outside, shortest digits that read back the same, -0 as 0.
// f must be finite.
func appendJSNumber(out []byte, f float64) []byte {
	if f == 0 {
		return append(out, '0')
	}
	if f == math.Trunc(f) && math.Abs(f) < 1e15 {
		return strconv.AppendInt(out, int64(f), 10)
	}
	abs := math.Abs(f)
	format := byte('f')
	if abs < 1e-6 || abs >= 1e21 {
		format = 'e'
	}
	start := len(out)
	out = strconv.AppendFloat(out, f, format, -1, 64)
	if format == 'e' {
		// Go writes e-07, JavaScript e-7.
		if n := len(out); n-start >= 4 && out[n-4] == 'e' && out[n-3] == '-' && out[n-2] == '0' {
			out[n-2] = out[n-1]
			out = out[:n-1]
		}
	}
	return out
}
