package api

import (
	"bufio"
	"io"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/collabd/collabd/ot"
)

// exportMarkdown writes doc as CommonMark (with GitHub's ~~strike~~ and
// task list items): # headings, - and 1. lists nested by indent, - [x] and
// - [ ] for checked lists, > blockquotes, fenced code blocks for
// consecutive code-block lines, **bold**, *italic*, ~~strike~~, `code`,
// [text](url), ![alt](url) for images, a link for a video and a code span
// for a formula. Other formats have no Markdown and are left out; empty
// lines fold away, as blank lines do in Markdown.
//
// Text is escaped so that it renders as itself: Markdown's punctuation is
// backslash-escaped where it could mean something, & and < become
// entities (renderers pass raw HTML through), a line's leading space
// becomes &#32; (four spaces would make code). Where a ** or * or ~~
// could not open or close by CommonMark's flanking rules (as in
// "a**(b)**c"), the line's emphasis is written as <strong>, <em> and
// <del> instead, which CommonMark also renders.
func exportMarkdown(w io.Writer, doc ot.Doc) error {
	m := mdWriter{w: bufio.NewWriterSize(w, 32<<10),
		out: make([]byte, 0, 1024), ws: make([]byte, 0, 64), codeBuf: make([]byte, 0, 4096),
		fmts: make([]mdFmt, 0, 16), delims: make([]mdDelim, 0, 16), open: make([]int, 0, mdLevels)}
	eachLine(doc, m.line)
	m.flushCode()
	if m.last != blockNone {
		m.w.WriteByte('\n')
	}
	return m.w.Flush()
}

type mdWriter struct {
	w      *bufio.Writer
	last   blockKind // kind of the last block written
	levels []mdLevel // open list levels, outermost first
	num    [24]byte  // room for an item's number

	// An open code block: its lines are held until it ends, to choose a
	// fence longer than any run of backticks in them.
	codeOpen bool
	lang     string
	codeBuf  []byte
	maxTicks int

	// The line being written.
	out    []byte
	ws     []byte    // whitespace held back until the next boundary
	delims []mdDelim // emphasis delimiters written, to check
	cur    mdFmt     // formats open
	open   []int     // their levels, in the order they opened
	fmts   []mdFmt   // the formats of each piece of the line
	fence  int       // backticks of the open code span
	pad    bool      // and whether it has a space inside them
	html   bool      // write emphasis and code as HTML tags
	clash  bool      // two code spans met: write them as HTML
}

type mdLevel struct {
	ordered bool
	n       int // number of the last item, for ordered lists
	col     int // column of the item's content: where a nested list goes
}

type mdDelim struct {
	start, end int
	open       bool
}

func (m *mdWriter) line(segs []seg, a ot.Attributes) {
	b := blockOf(a)
	if m.codeOpen && (b.kind != blockCode || b.lang != m.lang) {
		m.flushCode()
	}
	if b.kind != blockList {
		m.levels = m.levels[:0]
	}
	if b.kind == blockCode {
		if !m.codeOpen {
			m.codeOpen, m.lang, m.codeBuf, m.maxTicks = true, b.lang, m.codeBuf[:0], 0
		} else {
			m.codeBuf = append(m.codeBuf, '\n')
		}
		ticks := 0
		for _, s := range segs {
			for _, c := range []byte(s.text) {
				switch c {
				case '`':
					ticks++
					m.maxTicks = max(m.maxTicks, ticks)
				case '\r': // a line ending in Markdown: it must not close the fence
					c = '\n'
					fallthrough
				default:
					ticks = 0
				}
				m.codeBuf = append(m.codeBuf, c)
			}
		}
		return
	}
	m.inline(segs, b.kind == blockHeader)
	if len(m.out) == 0 && b.kind == blockPara {
		return
	}
	m.separate(b.kind)
	switch b.kind {
	case blockHeader:
		m.w.WriteString("######"[:b.header])
	case blockQuote:
		m.w.WriteByte('>')
	case blockList:
		m.listMarker(b)
	}
	if len(m.out) == 0 && b.kind == blockList {
		// An empty item could not interrupt a paragraph, and under
		// another item "-" would underline it as a heading: give it a
		// space.
		m.out = append(m.out, "&#32;"...)
	}
	if len(m.out) > 0 {
		if b.kind != blockPara {
			m.w.WriteByte(' ')
		}
		m.w.Write(m.out)
	}
}

// separate writes what goes between the last block and one of kind k:
// nothing between items of one list, an empty quoted line between lines
// of one quote, else an empty line.
func (m *mdWriter) separate(k blockKind) {
	switch {
	case m.last == blockNone:
	case m.last == blockList && k == blockList:
		m.w.WriteByte('\n')
	case m.last == blockQuote && k == blockQuote:
		m.w.WriteString("\n>\n")
	default:
		m.w.WriteString("\n\n")
	}
	m.last = k
}

// listMarker writes a list item's indentation and marker. An item goes at
// most one level deeper than the item before it; deeper, Markdown would
// make it code.
func (m *mdWriter) listMarker(b block) {
	d := min(b.indent, len(m.levels))
	m.levels = m.levels[:min(len(m.levels), d+1)]
	ordered := b.list == "ordered"
	if d == len(m.levels) {
		col := 0
		if d > 0 {
			col = m.levels[d-1].col
		}
		m.levels = append(m.levels, mdLevel{ordered: ordered, col: col})
	}
	l := &m.levels[d]
	if l.ordered != ordered {
		l.ordered, l.n = ordered, 0
	}
	col := 0
	if d > 0 {
		col = m.levels[d-1].col
	}
	for range col {
		m.w.WriteByte(' ')
	}
	marker := append(m.num[:0], '-')
	if ordered {
		l.n++
		marker = append(strconv.AppendInt(m.num[:0], int64(l.n), 10), '.')
	}
	m.w.Write(marker)
	l.col = col + len(marker) + 1
	switch b.list {
	case "checked":
		m.w.WriteString(" [x]")
	case "unchecked":
		m.w.WriteString(" [ ]")
	}
}

func (m *mdWriter) flushCode() {
	if !m.codeOpen {
		return
	}
	m.codeOpen = false
	m.separate(blockCode)
	fence := max(3, m.maxTicks+1)
	for range fence {
		m.w.WriteByte('`')
	}
	m.w.WriteString(m.lang)
	m.w.WriteByte('\n')
	m.w.Write(m.codeBuf)
	m.w.WriteByte('\n')
	for range fence {
		m.w.WriteByte('`')
	}
}

// mdFmt is the inline formats Markdown has, nesting outermost first: link,
// strike, italic, bold, code.
type mdFmt struct {
	href                   string
	strike, em, strong, cd bool
}

const (
	mdLink = iota
	mdStrike
	mdEm
	mdStrong
	mdCode
	mdLevels
)

func mdFmtOf(a ot.Attributes) mdFmt {
	var f mdFmt
	eachFormat(a, mdFormats, func(k string, v any) {
		switch k {
		case "link":
			s, _ := v.(string)
			f.href, _ = safeURL(s, false)
		case "strike":
			f.strike = v == true
		case "italic":
			f.em = v == true
		case "bold":
			f.strong = v == true
		case "code":
			f.cd = v == true
		}
	})
	return f
}

var mdFormats = []string{"bold", "italic", "link", "code", "strike"}

func (f *mdFmt) has(l int) bool {
	switch l {
	case mdLink:
		return f.href != ""
	case mdStrike:
		return f.strike
	case mdEm:
		return f.em
	case mdStrong:
		return f.strong
	}
	return f.cd
}

func (f *mdFmt) count() int {
	n := 0
	for l := range mdLevels {
		if f.has(l) {
			n++
		}
	}
	return n
}

var (
	mdDelimiters = [mdLevels]string{mdStrike: "~~", mdEm: "*", mdStrong: "**"}
	mdOpenTags   = [mdLevels]string{mdStrike: "<del>", mdEm: "<em>", mdStrong: "<strong>", mdCode: "<code>"}
	mdCloseTags  = [mdLevels]string{mdStrike: "</del>", mdEm: "</em>", mdStrong: "</strong>", mdCode: "</code>"}
)

// inline writes the pieces of a line to m.out, first with Markdown's
// delimiters and, if one of them would not work, again with HTML tags.
func (m *mdWriter) inline(segs []seg, heading bool) {
	m.fmts = m.fmts[:0]
	for _, s := range segs {
		f := mdFmtOf(s.attrs)
		f.cd = f.cd && s.embed == nil // code is for text
		m.fmts = append(m.fmts, f)
	}
	for _, html := range []bool{false, true} {
		m.out, m.ws, m.delims, m.open = m.out[:0], m.ws[:0], m.delims[:0], m.open[:0]
		m.cur, m.html, m.clash = mdFmt{}, html, false
		for i, s := range segs {
			if s.embed != nil {
				m.embed(segs, i)
				continue
			}
			// Space goes outside delimiters: "** a**" is no emphasis.
			lead, core, trail := cutSpace(s.text)
			if core == "" {
				m.ws = append(m.ws, s.text...)
				continue
			}
			m.ws = append(m.ws, lead...)
			m.to(m.fmts[i], segs, i)
			if m.cur.cd && !html {
				m.code(core)
			} else {
				m.text(core, heading)
			}
			m.ws = append(m.ws, trail...)
		}
		m.ws = m.ws[:0] // trailing space: Markdown drops it
		m.to(mdFmt{}, nil, 0)
		if !m.clash && m.delimsWork() {
			return
		}
	}
}

func (m *mdWriter) embed(segs []seg, i int) {
	e := segs[i].embed
	v, ok := embedString(e)
	if !ok {
		return
	}
	f := m.fmts[i]
	switch e.Key {
	case "image":
		src, ok := safeURL(v, true)
		if !ok {
			return
		}
		m.to(f, segs, i)
		m.out = append(m.out, "!["...)
		m.text(strAttr(segs[i].attrs, "alt"), false)
		m.out = append(m.out, "]("...)
		m.url(src)
		m.out = append(m.out, ')')
	case "video":
		src, ok := safeURL(v, false)
		if !ok {
			return
		}
		m.to(f, segs, i)
		if f.href != "" { // no link inside a link
			m.text(src, false)
			return
		}
		m.out = append(m.out, '[')
		m.text(src, false)
		m.out = append(m.out, "]("...)
		m.url(src)
		m.out = append(m.out, ')')
	case "formula":
		if strings.Trim(v, " ") == "" {
			return
		}
		m.to(f, segs, i)
		if m.html {
			m.out = append(m.out, "<code>"...)
			m.text(v, false)
			m.out = append(m.out, "</code>"...)
			return
		}
		ticks, _ := longestTicks(0, 0, v)
		n, pad := codeFence(v[0], v[len(v)-1], ticks)
		m.openTicks(n, pad)
		m.code(v)
		m.closeTicks(n, pad)
	}
}

// to closes the formats of m.cur that f does not share, writes the
// whitespace held back, and opens f's. segs[i] is the piece f is for.
// Formats close in the reverse of the order they opened in, so that bold
// stays open when italic starts inside it ("**a*b***") and the other way
// round; a code span stays innermost.
func (m *mdWriter) to(f mdFmt, segs []seg, i int) {
	keep := 0
	for keep < len(m.open) && f.has(m.open[keep]) && (m.open[keep] != mdLink || f.href == m.cur.href) {
		keep++
	}
	if keep > 0 && m.open[keep-1] == mdCode && keep < f.count() {
		keep-- // nothing opens inside code
	}
	inCode := keep == len(m.open) && m.cur.cd && !m.html
	for len(m.open) > keep {
		m.mark(m.open[len(m.open)-1], false)
		m.open = m.open[:len(m.open)-1]
	}
	for j, c := range m.ws {
		switch {
		case c == '\r' && inCode:
			m.out = append(m.out, ' ')
		case c == '\r':
			m.out = append(m.out, "&#13;"...)
		case j == 0 && len(m.out) == 0 && c == ' ':
			m.out = append(m.out, "&#32;"...)
		case j == 0 && len(m.out) == 0 && c == '\t':
			m.out = append(m.out, "&#9;"...)
		default:
			m.out = append(m.out, c)
		}
	}
	m.ws = m.ws[:0]
	m.cur = f
	for l := range mdLevels {
		if !f.has(l) || slices.Contains(m.open, l) {
			continue
		}
		m.open = append(m.open, l)
		if l == mdCode && !m.html {
			m.fence, m.pad = codeSpanFence(segs[i:], m.fmts[i:])
			m.openTicks(m.fence, m.pad)
			continue
		}
		m.mark(l, true)
	}
}

// mark writes what opens or closes level l.
func (m *mdWriter) mark(l int, open bool) {
	switch {
	case l == mdLink && open:
		m.out = append(m.out, '[')
	case l == mdLink:
		m.out = append(m.out, "]("...)
		m.url(m.cur.href)
		m.out = append(m.out, ')')
	case m.html && open:
		m.out = append(m.out, mdOpenTags[l]...)
	case m.html:
		m.out = append(m.out, mdCloseTags[l]...)
	case l == mdCode:
		m.closeTicks(m.fence, m.pad)
	default:
		start := len(m.out)
		m.out = append(m.out, mdDelimiters[l]...)
		m.delims = append(m.delims, mdDelim{start, len(m.out), open})
	}
}

// codeSpanFence returns the fence for the code span that opens at segs[0]
// with formats fmts[0] (fmts[i] are segs[i]'s): it holds the pieces that
// share them, and the space between them.
func codeSpanFence(segs []seg, fmts []mdFmt) (n int, pad bool) {
	var first, last byte
	ticks, run := 0, 0
	for i, s := range segs {
		if s.embed != nil {
			break
		}
		_, core, _ := cutSpace(s.text)
		if core != "" {
			if fmts[i] != fmts[0] {
				break
			}
			if first == 0 {
				first = core[0]
			}
			last = core[len(core)-1]
		}
		ticks, run = longestTicks(ticks, run, s.text)
	}
	return codeFence(first, last, ticks)
}

// longestTicks goes on counting runs of backticks into s: ticks is the
// longest so far, run the one s continues.
func longestTicks(ticks, run int, s string) (int, int) {
	for _, c := range []byte(s) {
		if c == '`' {
			run++
			ticks = max(ticks, run)
		} else {
			run = 0
		}
	}
	return ticks, run
}

// codeFence returns the backticks a code span needs, one more than the
// longest run of them in its text, and whether it needs a space inside
// each fence: if the text starts or ends with a backtick, or starts and
// ends with a space (which the span would strip).
func codeFence(first, last byte, ticks int) (n int, pad bool) {
	return ticks + 1, first == '`' || last == '`' || first == ' ' && last == ' '
}

func (m *mdWriter) openTicks(n int, pad bool) {
	if len(m.out) > 0 && m.out[len(m.out)-1] == '`' {
		m.clash = true // the backticks would run together
	}
	for range n {
		m.out = append(m.out, '`')
	}
	if pad {
		m.out = append(m.out, ' ')
	}
}

func (m *mdWriter) closeTicks(n int, pad bool) {
	if pad {
		m.out = append(m.out, ' ')
	}
	for range n {
		m.out = append(m.out, '`')
	}
}

// code writes the text of a code span: verbatim, but for a carriage
// return, which would end the line (and could start a block).
func (m *mdWriter) code(s string) {
	for {
		i := strings.IndexByte(s, '\r')
		if i < 0 {
			break
		}
		m.out = append(m.out, s[:i]...)
		m.out = append(m.out, ' ')
		s = s[i+1:]
	}
	m.out = append(m.out, s...)
}

// isCMSpace reports whether r is Unicode whitespace as CommonMark has it.
func isCMSpace(r rune) bool {
	return r == ' ' || r == '\t' || r == '\n' || r == '\f' || r == '\r' || r > utf8.RuneSelf && unicode.Is(unicode.Zs, r)
}

// isCMPunct reports whether r is Unicode punctuation as CommonMark 0.31 has
// it: ASCII punctuation, or a P or S category.
func isCMPunct(r rune) bool {
	if r < utf8.RuneSelf {
		return r > ' ' && r < 0x7f && !isAlnum(byte(r))
	}
	return unicode.IsPunct(r) || unicode.IsSymbol(r)
}

// cutSpace splits s into leading whitespace, the rest, and trailing
// whitespace.
func cutSpace(s string) (lead, core, trail string) {
	core = strings.TrimLeftFunc(s, isCMSpace)
	lead = s[:len(s)-len(core)]
	core = strings.TrimRightFunc(core, isCMSpace)
	return lead, core, s[len(lead)+len(core):]
}

// delimsWork reports whether every delimiter run written opens or closes
// as meant, by CommonMark's rules: an opener must be left-flanking (not
// followed by space, and if followed by punctuation then preceded by space
// or punctuation), a closer right-flanking (the mirror image), a run of
// one character must not both close and open (as "**a***b*" would), and
// none may stand between punctuation on both sides.
func (m *mdWriter) delimsWork() bool {
	ds := m.delims
	for i := 0; i < len(ds); {
		j, open, closed := i+1, ds[i].open, !ds[i].open
		for j < len(ds) && ds[j].start == ds[j-1].end && m.out[ds[j].start] == m.out[ds[i].start] {
			open, closed = open || ds[j].open, closed || !ds[j].open
			j++
		}
		before, after := ' ', ' ' // the start and end of a line count as space
		if start := ds[i].start; start > 0 {
			before, _ = utf8.DecodeLastRune(m.out[:start])
		}
		if end := ds[j-1].end; end < len(m.out) {
			after, _ = utf8.DecodeRune(m.out[end:])
		}
		left := !isCMSpace(after) && (!isCMPunct(after) || isCMSpace(before) || isCMPunct(before))
		right := !isCMSpace(before) && (!isCMPunct(before) || isCMSpace(after) || isCMPunct(after))
		// A run between two punctuation characters is both left- and
		// right-flanking; which partner it then takes is up to the "rule
		// of 3" and can be the wrong one.
		both := left && right && (isCMPunct(before) || isCMPunct(after))
		if open && closed || open && !left || closed && !right || both {
			return false
		}
		i = j
	}
	return true
}

// text writes s escaped: Markdown's punctuation is backslash-escaped where
// it could mean something, & and < become entities so that no HTML is
// passed through, and a carriage return (a line ending) an entity too. At
// the start of a line's content it also escapes what would begin a block:
// #, >, -, +, =, "1." and "1)", and leading space.
func (m *mdWriter) text(s string, heading bool) {
	b := m.out
	if len(b) == 0 && s != "" {
		switch c := s[0]; {
		case c == ' ': // four spaces would make code
			b, s = append(b, "&#32;"...), s[1:]
		case c == '\t':
			b, s = append(b, "&#9;"...), s[1:]
		case c == '#' || c == '>' || c == '-' || c == '+' || c == '=':
			b, s = append(b, '\\', c), s[1:]
		case '0' <= c && c <= '9':
			j := strings.IndexFunc(s, func(r rune) bool { return r < '0' || r > '9' })
			if j > 0 && (s[j] == '.' || s[j] == ')') {
				b = append(b, s[:j]...)
				b, s = append(b, '\\', s[j]), s[j+1:]
			}
		}
	}
	for len(s) > 0 {
		i := 0
		for i < len(s) && !mdSpecial[s[i]] {
			i++
		}
		b = append(b, s[:i]...)
		if i == len(s) {
			break
		}
		switch c := s[i]; c {
		case '<':
			b = append(b, "&lt;"...)
		case '&':
			b = append(b, "&amp;"...)
		case '\r':
			b = append(b, "&#13;"...)
		case '#':
			if heading { // a closing sequence
				b = append(b, '\\')
			}
			b = append(b, c)
		case '!': // before a link's [ it would make an image
			if i == len(s)-1 {
				b = append(b, '\\')
			}
			b = append(b, c)
		default:
			b = append(b, '\\', c)
		}
		s = s[i+1:]
	}
	m.out = b
}

// mdSpecial marks the bytes that text escapes wherever they are, or may.
var mdSpecial = byteSet("\\`*_[]~<&\r#!")

// mdURLEncoded marks the bytes url percent-encodes: controls, space, and
// what could end or confuse a link destination.
var mdURLEncoded = func() [256]bool {
	set := byteSet("()<>\\\"'`\x7f")
	for c := range ' ' + 1 {
		set[c] = true
	}
	return set
}()

// url writes a link destination: space, control characters, parentheses,
// angle brackets, backslash and quotes percent-encoded, and an & that
// could start an entity written as &amp;.
func (m *mdWriter) url(u string) {
	const hex = "0123456789ABCDEF"
	for i := 0; i < len(u); i++ {
		switch c := u[i]; {
		case mdURLEncoded[c]:
			m.out = append(m.out, '%', hex[c>>4], hex[c&15])
		case c == '&' && entityAt(u[i+1:]):
			m.out = append(m.out, "&amp;"...)
		default:
			m.out = append(m.out, c)
		}
	}
}

// entityAt reports whether s, following an &, would make it an entity
// reference: a name or #number and a semicolon.
func entityAt(s string) bool {
	s = strings.TrimPrefix(s, "#")
	n := 0
	for n < len(s) && isAlnum(s[n]) {
		n++
	}
	return n > 0 && n < len(s) && s[n] == ';'
}
