package api

import (
	"encoding/json"
	"strings"

	"github.com/collabd/collabd/ot"
)

// Export of a document as an HTML fragment (export_html.go) or as
// CommonMark (export_markdown.go); this file holds what both share: the
// walk over a document's lines, line formats, and the checks on values.
// (One file would be 1,400 lines.)
//
// Every text and attribute value in a document is untrusted user input,
// so the output is built from an allowlist: known formats with checked
// values. Text is escaped; a URL is kept only if it is http, https, mailto
// or relative (and, for images, a base64 PNG, JPEG, GIF or WebP data URL);
// a colour only if it is #hex, a name or rgb()/rgba() of numbers. Anything
// else is dropped; the text it formatted is kept.

// seg is a piece of one line: text without "\n", or an embed, with its
// inline formats.
type seg struct {
	text  string
	embed *ot.Embed
	attrs ot.Attributes
}

// eachLine calls f with the pieces of every line of doc and the
// attributes of the "\n" ending it (the line formats). segs is reused from
// call to call.
func eachLine(doc ot.Doc, f func(segs []seg, line ot.Attributes)) {
	segs := make([]seg, 0, 16)
	for _, op := range doc.Delta() {
		if op.Embed != nil {
			segs = append(segs, seg{embed: op.Embed, attrs: op.Attributes})
			continue
		}
		s := op.Insert
		for {
			i := strings.IndexByte(s, '\n')
			if i < 0 {
				break
			}
			if i > 0 {
				segs = append(segs, seg{text: s[:i], attrs: op.Attributes})
			}
			f(segs, op.Attributes)
			segs, s = segs[:0], s[i+1:]
		}
		if s != "" {
			segs = append(segs, seg{text: s, attrs: op.Attributes})
		}
	}
	if len(segs) > 0 { // a document ends with "\n"; this is for a zero Doc's sake
		f(segs, nil)
	}
}

type blockKind uint8

const (
	blockNone blockKind = iota
	blockPara
	blockHeader
	blockList
	blockQuote
	blockCode
)

// block is a line's format. A line has one block kind; if its attributes
// name several, code-block wins over header, list and blockquote, in that
// order.
type block struct {
	kind   blockKind
	header int    // 1 to 6
	list   string // ordered, bullet, checked or unchecked
	lang   string // code-block language, a checked token; "" for plain
	indent int    // 0 to 8
	align  string // center, right or justify
	rtl    bool
}

func blockOf(a ot.Attributes) block {
	if len(a) == 0 {
		return block{kind: blockPara}
	}
	b := block{kind: blockPara, indent: intAttr(a, "indent", 0, 8)}
	switch v := a["align"].(type) {
	case string:
		if v == "center" || v == "right" || v == "justify" {
			b.align = v
		}
	}
	b.rtl = a["direction"] == "rtl"
	switch v := a["code-block"].(type) {
	case bool:
		if v {
			b.kind = blockCode
			return b
		}
	case string:
		b.kind = blockCode
		if v != "plain" && isToken(v) {
			b.lang = v
		}
		return b
	}
	if h := intAttr(a, "header", 1, 6); h > 0 {
		b.kind, b.header = blockHeader, h
		return b
	}
	switch v := a["list"].(type) {
	case string:
		if v == "ordered" || v == "bullet" || v == "checked" || v == "unchecked" {
			b.kind, b.list = blockList, v
			return b
		}
	}
	if a["blockquote"] == true {
		b.kind = blockQuote
	}
	return b
}

// intAttr returns a's integral number k if it is within [lo, hi], else 0.
func intAttr(a ot.Attributes, k string, lo, hi int) int {
	f, ok := a[k].(float64)
	if !ok || f != float64(int(f)) || int(f) < lo || int(f) > hi {
		return 0
	}
	return int(f)
}

func strAttr(a ot.Attributes, k string) string {
	s, _ := a[k].(string)
	return s
}

// isToken reports whether s is a short word of letters, digits and
// "+-_.#", safe in a class, an attribute and a Markdown info string.
func isToken(s string) bool {
	if s == "" || len(s) > 32 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !isAlnum(c) && !strings.ContainsRune("+-_.#", rune(c)) {
			return false
		}
	}
	return true
}

func isAlnum(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

// safeURL returns u if it is a link or image source that can do no harm:
// http, https, mailto (not for images) or relative; for images also a
// base64 data URL of a PNG, JPEG, GIF or WebP picture. Browsers ignore
// leading and trailing spaces and controls and drop tabs and newlines
// anywhere ("java\tscript:"), so a URL with a control inside is refused
// and the scheme is read after trimming.
func safeURL(u string, image bool) (string, bool) {
	u = strings.TrimFunc(u, func(r rune) bool { return r <= ' ' })
	if u == "" {
		return "", false
	}
	for i := 0; i < len(u); i++ {
		if u[i] < ' ' || u[i] == 0x7f {
			return "", false
		}
	}
	i := strings.IndexAny(u, ":/?#")
	if i < 0 || u[i] != ':' {
		return u, true // relative: no scheme
	}
	switch strings.ToLower(u[:i]) {
	case "http", "https":
		return u, true
	case "mailto":
		if !image {
			return u, true
		}
	case "data":
		if image && safeDataImage(u[i+1:]) {
			return u, true
		}
	}
	return "", false
}

func safeDataImage(s string) bool {
	for _, t := range []string{"image/png;base64,", "image/jpeg;base64,", "image/gif;base64,", "image/webp;base64,"} {
		if len(s) > len(t) && strings.EqualFold(s[:len(t)], t) {
			for _, c := range []byte(s[len(t):]) {
				if !isAlnum(c) && c != '+' && c != '/' && c != '=' {
					return false
				}
			}
			return true
		}
	}
	return false
}

// safeColor reports whether s is a CSS colour that cannot carry other CSS:
// #rgb, #rgba, #rrggbb or #rrggbbaa, a name of letters, or rgb()/rgba() of
// numbers, percentages, commas and spaces.
func safeColor(s string) bool {
	if s == "" || len(s) > 40 {
		return false
	}
	if s[0] == '#' {
		for _, c := range []byte(s[1:]) {
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
				return false
			}
		}
		n := len(s) - 1
		return n == 3 || n == 4 || n == 6 || n == 8
	}
	if args, ok := strings.CutPrefix(s, "rgb("); ok || strings.HasPrefix(s, "rgba(") {
		if !ok {
			args = s[len("rgba("):]
		}
		args, ok = strings.CutSuffix(args, ")")
		return ok && args != "" && strings.Trim(args, "0123456789.,% ") == ""
	}
	for _, c := range []byte(s) {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z') {
			return false
		}
	}
	return true
}

// safeSize reports whether s is a CSS length such as 14px or 1.5em.
func safeSize(s string) bool {
	num := strings.TrimRight(s, "pxtemr%")
	unit := s[len(num):]
	if unit != "px" && unit != "pt" && unit != "em" && unit != "rem" && unit != "%" {
		return false
	}
	whole, frac, _ := strings.Cut(num, ".")
	return whole != "" && len(whole) <= 4 && len(frac) <= 2 &&
		strings.Trim(whole, "0123456789") == "" && strings.Trim(frac, "0123456789") == ""
}

// embedString returns an embed's value if it is a JSON string.
func embedString(e *ot.Embed) (string, bool) {
	v := e.Value
	if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' && !strings.ContainsRune(string(v[1:len(v)-1]), '\\') {
		return string(v[1 : len(v)-1]), true
	}
	var s string
	if json.Unmarshal(v, &s) != nil {
		return "", false
	}
	return s, true
}

// eachFormat calls f with those of keys that a has, in order, and stops
// once it has seen all of a's entries. A run has a format or two; looking
// up the likely ones first costs less than ranging over the map (which
// starts at a random place) or looking up every name.
func eachFormat(a ot.Attributes, keys []string, f func(k string, v any)) {
	n := len(a)
	for _, k := range keys {
		if n == 0 {
			return
		}
		if v, ok := a[k]; ok {
			f(k, v)
			n--
		}
	}
}

// byteSet returns the set of the bytes of s.
func byteSet(s string) (set [256]bool) {
	for _, c := range []byte(s) {
		set[c] = true
	}
	return set
}
