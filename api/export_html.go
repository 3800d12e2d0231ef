package api

import (
	"bufio"
	"io"
	"math/bits"
	"strings"

	"github.com/collabd/collabd/ot"
)

// exportHTML writes doc as an HTML fragment, roughly what Quill 2's
// getSemanticHTML gives: <p>, <h1>-<h6>, <blockquote>, <pre> holding
// consecutive code-block lines, lists as <ul>/<ol> nested by indent (as
// Quill's convertListHTML nests them, checked items marked
// data-list="checked"), Quill's ql-align-*, ql-direction-rtl, ql-indent-*,
// ql-font-* and ql-size-* classes, inline <a>, <span style> for colours,
// <u>, <s>, <em>, <strong>, <sub>, <sup>, <code>, and embeds: <img> for an
// image, a link for a video, <span class="formula"> for a formula. An empty
// line is <p><br></p>. Writes go through a buffer; the error is the first
// one w returned.
func exportHTML(w io.Writer, doc ot.Doc) error {
	h := htmlWriter{w: bufio.NewWriterSize(w, 32<<10)}
	eachLine(doc, h.line)
	h.endBlocks(blockNone)
	return h.w.Flush()
}

type htmlWriter struct {
	w     *bufio.Writer
	pre   bool     // a <pre> is open
	lang  string   // its language
	lists []string // the list type of each open nesting level; the innermost <li> is open
	cur   htmlFmt  // the inline formats open in the current line
}

// esc writes text or an attribute value escaped: after it no value can
// end an attribute or start a tag.
func (h *htmlWriter) esc(s string) {
	for {
		i := 0
		for i < len(s) && !htmlSpecial[s[i]] {
			i++
		}
		h.w.WriteString(s[:i])
		if i == len(s) {
			return
		}
		switch s[i] {
		case '&':
			h.w.WriteString("&amp;")
		case '<':
			h.w.WriteString("&lt;")
		case '>':
			h.w.WriteString("&gt;")
		case '"':
			h.w.WriteString("&#34;")
		default:
			h.w.WriteString("&#39;")
		}
		s = s[i+1:]
	}
}

var (
	htmlSpecial  = byteSet(`&<>"'`)
	htmlHeadings = [...]string{1: "h1", 2: "h2", 3: "h3", 4: "h4", 5: "h5", 6: "h6"}
)

// endBlocks closes an open <pre> or list that a line of kind k does not
// continue.
func (h *htmlWriter) endBlocks(k blockKind) {
	if h.pre && k != blockCode {
		h.w.WriteString("</pre>")
		h.pre = false
	}
	if k != blockList {
		for i := len(h.lists) - 1; i >= 0; i-- {
			h.w.WriteString("</li></")
			h.w.WriteString(listTag(h.lists[i]))
			h.w.WriteByte('>')
		}
		h.lists = h.lists[:0]
	}
}

func listTag(list string) string {
	if list == "ordered" {
		return "ol"
	}
	return "ul"
}

func (h *htmlWriter) line(segs []seg, a ot.Attributes) {
	b := blockOf(a)
	h.endBlocks(b.kind)
	switch b.kind {
	case blockCode:
		if h.pre && h.lang != b.lang {
			h.w.WriteString("</pre>")
			h.pre = false
		}
		if !h.pre {
			// The newline after <pre> is dropped by HTML parsers: it keeps
			// an empty first line.
			h.w.WriteString("<pre")
			if b.lang != "" {
				h.w.WriteString(` data-language="`)
				h.esc(b.lang)
				h.w.WriteByte('"')
			}
			h.w.WriteString(">\n")
			h.pre, h.lang = true, b.lang
		} else {
			h.w.WriteByte('\n')
		}
		for _, s := range segs {
			h.esc(s.text) // code has no inline formats; embeds are left out
		}
		return
	case blockList:
		h.listItem(b)
	default:
		tag := "p"
		switch b.kind {
		case blockHeader:
			tag = htmlHeadings[b.header]
		case blockQuote:
			tag = "blockquote"
		}
		h.w.WriteByte('<')
		h.w.WriteString(tag)
		h.classes(b, true)
		h.w.WriteByte('>')
		h.inline(segs)
		h.w.WriteString("</")
		h.w.WriteString(tag)
		h.w.WriteByte('>')
		return
	}
	h.inline(segs)
}

// listItem opens the <li> of a list line, closing and opening lists to
// nest it at its indent, as Quill's convertListHTML does: a level skipped
// gets an item of its own.
func (h *htmlWriter) listItem(b block) {
	for {
		last := len(h.lists) - 1
		if b.indent > last {
			h.w.WriteByte('<')
			h.w.WriteString(listTag(b.list))
			h.lists = append(h.lists, b.list)
			if b.indent > last+1 {
				h.w.WriteString("><li>")
				continue
			}
			h.w.WriteString("><li")
			break
		}
		if b.indent == last && h.lists[last] == b.list {
			h.w.WriteString("</li><li")
			break
		}
		h.w.WriteString("</li></")
		h.w.WriteString(listTag(h.lists[last]))
		h.w.WriteByte('>')
		h.lists = h.lists[:last]
	}
	if b.list == "checked" || b.list == "unchecked" {
		h.w.WriteString(` data-list="`)
		h.w.WriteString(b.list)
		h.w.WriteByte('"')
	}
	h.classes(b, false)
	h.w.WriteByte('>')
}

// classes writes Quill's classes for alignment, direction and (outside
// lists, where indent is nesting) indent.
func (h *htmlWriter) classes(b block, indent bool) {
	if b.align == "" && !b.rtl && (!indent || b.indent == 0) {
		return
	}
	h.w.WriteString(` class="`)
	sep := ""
	if b.align != "" {
		h.w.WriteString("ql-align-")
		h.w.WriteString(b.align)
		sep = " "
	}
	if b.rtl {
		h.w.WriteString(sep)
		h.w.WriteString("ql-direction-rtl")
		sep = " "
	}
	if indent && b.indent > 0 {
		h.w.WriteString(sep)
		h.w.WriteString("ql-indent-")
		h.w.WriteByte('0' + byte(b.indent)) // at most 8
	}
	h.w.WriteByte('"')
}

// htmlFmt is the inline formats of a piece, checked. Their elements nest
// in a fixed order, outermost first: a, span, u, s, em, strong, sub/sup,
// code (Quill's inline order), so a piece that shares formats with the one
// before it keeps their elements open.
type htmlFmt struct {
	has               uint8 // bit l set: the element of level l
	href              string
	color, background string // for the span
	font, size        string
	script            string // sub or sup
}

const (
	levelA = iota
	levelSpan
	levelU
	levelS
	levelEm
	levelStrong
	levelScript
	levelCode
	htmlLevels
)

func htmlFmtOf(a ot.Attributes) htmlFmt {
	var f htmlFmt
	eachFormat(a, htmlFormats, func(k string, v any) {
		s, _ := v.(string)
		switch k {
		case "link":
			f.href, _ = safeURL(s, false)
		case "color", "background":
			if !safeColor(s) {
				break
			}
			if k == "color" {
				f.color = s
			} else {
				f.background = s
			}
		case "font":
			if s == "serif" || s == "monospace" || s == "sans-serif" {
				f.font = s
			}
		case "size":
			if s == "small" || s == "large" || s == "huge" || safeSize(s) {
				f.size = s
			}
		case "script":
			if s == "sub" {
				f.script = "sub"
			} else if s == "super" {
				f.script = "sup"
			}
		case "underline":
			f.has |= levelBit(v, levelU)
		case "strike":
			f.has |= levelBit(v, levelS)
		case "italic":
			f.has |= levelBit(v, levelEm)
		case "bold":
			f.has |= levelBit(v, levelStrong)
		case "code":
			f.has |= levelBit(v, levelCode)
		}
	})
	if f.href != "" {
		f.has |= 1 << levelA
	}
	if f.color != "" || f.background != "" || f.font != "" || f.size != "" {
		f.has |= 1 << levelSpan
	}
	if f.script != "" {
		f.has |= 1 << levelScript
	}
	return f
}

// htmlFormats are the inline formats HTML has, the likely ones first.
var htmlFormats = []string{"bold", "italic", "link", "underline", "strike", "code", "color", "background", "script", "size", "font"}

// levelBit returns the bit of level l if v is true.
func levelBit(v any, l int) uint8 {
	if v == true {
		return 1 << l
	}
	return 0
}

var (
	htmlOpenTags  = [htmlLevels]string{levelU: "<u>", levelS: "<s>", levelEm: "<em>", levelStrong: "<strong>", levelCode: "<code>"}
	htmlCloseTags = [htmlLevels]string{"</a>", "</span>", "</u>", "</s>", "</em>", "</strong>", "", "</code>"}
)

// to closes the elements of h.cur that f does not share and opens f's.
func (h *htmlWriter) to(f htmlFmt) {
	diff := f.has ^ h.cur.has
	if f.href != h.cur.href {
		diff |= 1 << levelA
	}
	if f.color != h.cur.color || f.background != h.cur.background || f.font != h.cur.font || f.size != h.cur.size {
		diff |= 1 << levelSpan
	}
	if f.script != h.cur.script {
		diff |= 1 << levelScript
	}
	if diff == 0 {
		return
	}
	d := bits.TrailingZeros8(diff) // the outermost element that differs
	for l := htmlLevels - 1; l >= d; l-- {
		if h.cur.has&(1<<l) == 0 {
			continue
		}
		switch {
		case l != levelScript:
			h.w.WriteString(htmlCloseTags[l])
		case h.cur.script == "sub":
			h.w.WriteString("</sub>")
		default:
			h.w.WriteString("</sup>")
		}
	}
	for l := d; l < htmlLevels; l++ {
		if f.has&(1<<l) != 0 {
			h.open(l, &f)
		}
	}
	h.cur = f
}

func (h *htmlWriter) open(l int, f *htmlFmt) {
	switch l {
	case levelA:
		h.w.WriteString(`<a href="`)
		h.esc(f.href)
		h.w.WriteString(`" rel="noopener noreferrer" target="_blank">`)
	case levelSpan:
		// Quill's classes for its fonts and sizes, and a style for the
		// rest. Every value here passed a check (safeColor, safeSize or a
		// list): none holds a quote, a semicolon or anything else that
		// could end a declaration.
		sizeClass := f.size == "small" || f.size == "large" || f.size == "huge"
		h.w.WriteString("<span")
		if f.font != "" || sizeClass {
			h.w.WriteString(` class="`)
			if f.font != "" {
				h.w.WriteString("ql-font-")
				h.w.WriteString(f.font)
			}
			if f.font != "" && sizeClass {
				h.w.WriteByte(' ')
			}
			if sizeClass {
				h.w.WriteString("ql-size-")
				h.w.WriteString(f.size)
			}
			h.w.WriteByte('"')
		}
		fontSize := f.size
		if sizeClass {
			fontSize = ""
		}
		sep := ` style="`
		for _, d := range [...][2]string{{"color:", f.color}, {"background-color:", f.background}, {"font-size:", fontSize}} {
			if d[1] != "" {
				h.w.WriteString(sep)
				h.w.WriteString(d[0])
				h.w.WriteString(d[1])
				sep = ";"
			}
		}
		if sep == ";" {
			h.w.WriteByte('"')
		}
		h.w.WriteByte('>')
	case levelScript:
		if f.script == "sub" {
			h.w.WriteString("<sub>")
		} else {
			h.w.WriteString("<sup>")
		}
	default:
		h.w.WriteString(htmlOpenTags[l])
	}
}

// inline writes the pieces of a line with their formats; an empty line is
// <br>, so that it keeps its height.
func (h *htmlWriter) inline(segs []seg) {
	if len(segs) == 0 {
		h.w.WriteString("<br>")
		return
	}
	for _, s := range segs {
		if s.embed != nil {
			h.embed(s)
			continue
		}
		h.to(htmlFmtOf(s.attrs))
		h.esc(s.text)
	}
	h.to(htmlFmt{})
}

// embed writes an image as <img>, a video as a link to it and a formula as
// its text, each within its formats; anything else is left out.
func (h *htmlWriter) embed(s seg) {
	v, ok := embedString(s.embed)
	if !ok {
		return
	}
	switch s.embed.Key {
	case "image":
		src, ok := safeURL(v, true)
		if !ok {
			return
		}
		h.to(htmlFmtOf(s.attrs))
		h.w.WriteString(`<img src="`)
		h.esc(src)
		h.w.WriteByte('"')
		if alt, ok := s.attrs["alt"].(string); ok {
			h.w.WriteString(` alt="`)
			h.esc(alt)
			h.w.WriteByte('"')
		}
		for _, k := range [...]string{"width", "height"} {
			if n := strAttr(s.attrs, k); n != "" && len(n) <= 5 && strings.Trim(n, "0123456789") == "" {
				h.w.WriteByte(' ')
				h.w.WriteString(k)
				h.w.WriteString(`="`)
				h.w.WriteString(n)
				h.w.WriteByte('"')
			}
		}
		h.w.WriteByte('>')
	case "video":
		src, ok := safeURL(v, false)
		if !ok {
			return
		}
		h.to(htmlFmtOf(s.attrs))
		if h.cur.href != "" { // no link inside a link
			h.esc(src)
			return
		}
		h.w.WriteString(`<a href="`)
		h.esc(src)
		h.w.WriteString(`" rel="noopener noreferrer" target="_blank">`)
		h.esc(src)
		h.w.WriteString("</a>")
	case "formula":
		h.to(htmlFmtOf(s.attrs))
		h.w.WriteString(`<span class="formula">`)
		h.esc(v)
		h.w.WriteString("</span>")
	}
}
