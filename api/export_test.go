package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"math/rand/v2"
	"regexp"
	"strings"
	"testing"

	"github.com/collabd/collabd/ot"
)

// Builders for documents in tables: kv are key, value pairs (an int
// value becomes a JSON number).

func attrsOf(kv []any) ot.Attributes {
	if len(kv) == 0 {
		return nil
	}
	a := ot.Attributes{}
	for i := 0; i < len(kv); i += 2 {
		v := kv[i+1]
		if n, ok := v.(int); ok {
			v = float64(n)
		}
		a[kv[i].(string)] = v
	}
	return a
}

func txt(s string, kv ...any) ot.Op { return ot.InsertText(s, attrsOf(kv)) }
func nl(kv ...any) ot.Op            { return ot.InsertText("\n", attrsOf(kv)) }

// emb inserts the embed {key: value}, value as JSON.
func emb(key, value string, kv ...any) ot.Op {
	return ot.InsertEmbed(key, json.RawMessage(value), attrsOf(kv))
}

func exportDoc(tb testing.TB, ops ...ot.Op) ot.Doc {
	tb.Helper()
	doc, err := ot.DocFromDelta(ot.Delta(ops))
	if err != nil {
		tb.Fatalf("DocFromDelta: %v", err)
	}
	return doc
}

func exportString(tb testing.TB, export func(io.Writer, ot.Doc) error, doc ot.Doc) string {
	tb.Helper()
	var sb strings.Builder
	if err := export(&sb, doc); err != nil {
		tb.Fatalf("export: %v", err)
	}
	return sb.String()
}

type exportCase struct {
	name string
	ops  []ot.Op
	want string
}

// runExport checks that export writes each case's want, and that what it
// writes passes check.
func runExport(t *testing.T, export func(io.Writer, ot.Doc) error, check func(*testing.T, string), cases []exportCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := exportString(t, export, exportDoc(t, c.ops...))
			if got != c.want {
				t.Errorf("got\n%s\nwant\n%s", got, c.want)
			}
			check(t, got)
		})
	}
}

func TestExportHTMLBlocks(t *testing.T) {
	runExport(t, exportHTML, checkSafeHTML, []exportCase{
		{"new document", []ot.Op{nl()}, "<p><br></p>"},
		{"paragraphs", []ot.Op{txt("one\n\ntwo\n")}, "<p>one</p><p><br></p><p>two</p>"},
		{"headers", []ot.Op{txt("a"), nl("header", 1), txt("b"), nl("header", 6)}, "<h1>a</h1><h6>b</h6>"},
		{"header out of range", []ot.Op{txt("a"), nl("header", 7), txt("b"), nl("header", 1.5), txt("c"), nl("header", "1")},
			"<p>a</p><p>b</p><p>c</p>"},
		{"blockquote per line", []ot.Op{txt("a"), nl("blockquote", true), txt("b"), nl("blockquote", true)},
			"<blockquote>a</blockquote><blockquote>b</blockquote>"},
		{"align, direction, indent", []ot.Op{txt("a"), nl("align", "center", "direction", "rtl", "indent", 2), txt("b"), nl("header", 2, "align", "right"), txt("c"), nl("align", "left;x", "indent", 9)},
			`<p class="ql-align-center ql-direction-rtl ql-indent-2">a</p><h2 class="ql-align-right">b</h2><p>c</p>`},
		{"code lines joined", []ot.Op{txt("if a < b {"), nl("code-block", true), txt("\treturn"), nl("code-block", true), txt("}"), nl("code-block", true), txt("after\n")},
			"<pre>\nif a &lt; b {\n\treturn\n}</pre><p>after</p>"},
		{"code empty first line", []ot.Op{nl("code-block", true), txt("x"), nl("code-block", true)}, "<pre>\n\nx</pre>"},
		{"code language", []ot.Op{txt("x"), nl("code-block", "go"), txt("y"), nl("code-block", "go"), txt("z"), nl("code-block", "plain")},
			"<pre data-language=\"go\">\nx\ny</pre><pre>\nz</pre>"},
		{"code language not a token", []ot.Op{txt("x"), nl("code-block", `js" onclick="x`)}, "<pre>\nx</pre>"},
		{"code keeps no inline format", []ot.Op{txt("b", "bold", true), emb("image", `"/i.png"`), txt("c", "link", "/x"), nl("code-block", true)},
			"<pre>\nbc</pre>"},
		{"code-block false", []ot.Op{txt("x"), nl("code-block", false)}, "<p>x</p>"},
		{"code wins over header", []ot.Op{txt("x"), nl("code-block", true, "header", 1)}, "<pre>\nx</pre>"},
		{"header wins over list", []ot.Op{txt("x"), nl("header", 3, "list", "bullet")}, "<h3>x</h3>"},
		{"inline format on newline ignored", []ot.Op{txt("x\n", "bold", true)}, "<p><strong>x</strong></p>"},
	})
}

func TestExportHTMLLists(t *testing.T) {
	runExport(t, exportHTML, checkSafeHTML, []exportCase{
		{"bullet", []ot.Op{txt("a"), nl("list", "bullet"), txt("b"), nl("list", "bullet")},
			"<ul><li>a</li><li>b</li></ul>"},
		{"ordered then paragraph", []ot.Op{txt("a"), nl("list", "ordered"), txt("b\n")},
			"<ol><li>a</li></ol><p>b</p>"},
		{"type change", []ot.Op{txt("a"), nl("list", "bullet"), txt("b"), nl("list", "ordered")},
			"<ul><li>a</li></ul><ol><li>b</li></ol>"},
		{"checked", []ot.Op{txt("a"), nl("list", "checked"), txt("b"), nl("list", "unchecked"), txt("c"), nl("list", "unchecked")},
			`<ul><li data-list="checked">a</li></ul><ul><li data-list="unchecked">b</li><li data-list="unchecked">c</li></ul>`},
		{"nested", []ot.Op{txt("a"), nl("list", "bullet"), txt("b"), nl("list", "bullet", "indent", 1), txt("c"), nl("list", "ordered", "indent", 1), txt("d"), nl("list", "bullet")},
			"<ul><li>a<ul><li>b</li></ul><ol><li>c</li></ol></li><li>d</li></ul>"},
		{"skipped level", []ot.Op{txt("a"), nl("list", "ordered", "indent", 2), txt("b"), nl("list", "ordered")},
			"<ol><li><ol><li><ol><li>a</li></ol></li></ol></li><li>b</li></ol>"},
		{"out by two", []ot.Op{txt("a"), nl("list", "bullet"), txt("b"), nl("list", "bullet", "indent", 1), txt("c"), nl("list", "bullet", "indent", 2), txt("d"), nl("list", "bullet")},
			"<ul><li>a<ul><li>b<ul><li>c</li></ul></li></ul></li><li>d</li></ul>"},
		{"empty item and align", []ot.Op{nl("list", "bullet", "align", "center")},
			`<ul><li class="ql-align-center"><br></li></ul>`},
		{"unknown list type", []ot.Op{txt("a"), nl("list", "roman")}, "<p>a</p>"},
		{"list then code", []ot.Op{txt("a"), nl("list", "bullet"), txt("b"), nl("code-block", true)},
			"<ul><li>a</li></ul><pre>\nb</pre>"},
	})
}

func TestExportHTMLInline(t *testing.T) {
	runExport(t, exportHTML, checkSafeHTML, []exportCase{
		{"each format", []ot.Op{
			txt("b", "bold", true), txt("i", "italic", true), txt("u", "underline", true), txt("s", "strike", true),
			txt("c", "code", true), txt("2", "script", "sub"), txt("3", "script", "super"), txt("x", "script", "x"), nl()},
			"<p><strong>b</strong><em>i</em><u>u</u><s>s</s><code>c</code><sub>2</sub><sup>3</sup>x</p>"},
		{"nesting order", []ot.Op{txt("x", "code", true, "bold", true, "italic", true, "underline", true, "strike", true, "link", "/l", "color", "red", "script", "sub"), nl()},
			`<p><a href="/l" rel="noopener noreferrer" target="_blank"><span style="color:red"><u><s><em><strong><sub><code>x</code></sub></strong></em></s></u></span></a></p>`},
		{"shared formats stay open", []ot.Op{txt("a", "bold", true), txt("b", "bold", true, "italic", true), txt("c", "bold", true), nl()},
			"<p><strong>a</strong><em><strong>b</strong></em><strong>c</strong></p>"},
		{"link across runs", []ot.Op{txt("a", "link", "https://e.com"), txt("b", "link", "https://e.com", "bold", true), txt("c", "link", "https://f.com"), nl()},
			`<p><a href="https://e.com" rel="noopener noreferrer" target="_blank">a<strong>b</strong></a><a href="https://f.com" rel="noopener noreferrer" target="_blank">c</a></p>`},
		{"colours", []ot.Op{txt("a", "color", "#e60000", "background", "rgb(255, 255, 0)"), txt("b", "background", "Yellow"), txt("c", "color", "#12345"), nl()},
			`<p><span style="color:#e60000;background-color:rgb(255, 255, 0)">a</span><span style="background-color:Yellow">b</span>c</p>`},
		{"font and size", []ot.Op{txt("a", "font", "serif", "size", "large"), txt("b", "size", "14px"), txt("c", "font", "Comic Sans", "size", "1e9px"), nl()},
			`<p><span class="ql-font-serif ql-size-large">a</span><span style="font-size:14px">b</span>c</p>`},
		{"text escaped", []ot.Op{txt(`<b>&amp;"'`), nl()}, "<p>&lt;b&gt;&amp;amp;&#34;&#39;</p>"},
		{"mailto and relative", []ot.Op{txt("m", "link", "mailto:a@b.c"), txt("r", "link", "../x?a=1&b=2#f"), nl()},
			`<p><a href="mailto:a@b.c" rel="noopener noreferrer" target="_blank">m</a><a href="../x?a=1&amp;b=2#f" rel="noopener noreferrer" target="_blank">r</a></p>`},
	})
}

func TestExportHTMLEmbeds(t *testing.T) {
	runExport(t, exportHTML, checkSafeHTML, []exportCase{
		{"image", []ot.Op{emb("image", `"https://e.com/a.png"`, "alt", "a <cat>", "width", "120", "height", "9\" onload=\"x"), nl()},
			`<p><img src="https://e.com/a.png" alt="a &lt;cat&gt;" width="120"></p>`},
		{"image data URL", []ot.Op{emb("image", `"data:image/png;base64,iVBORw0KGgo="`), emb("image", `"data:image/svg+xml;base64,PHN2Zz4="`), nl()},
			`<p><img src="data:image/png;base64,iVBORw0KGgo="></p>`},
		{"image in link", []ot.Op{emb("image", `"/a.png"`, "link", "https://e.com"), nl()},
			`<p><a href="https://e.com" rel="noopener noreferrer" target="_blank"><img src="/a.png"></a></p>`},
		{"image not a string", []ot.Op{emb("image", `{"src":"/a.png"}`), nl()}, "<p></p>"},
		{"video as link", []ot.Op{emb("video", `"https://v.com/e\u0026x"`), nl()},
			`<p><a href="https://v.com/e&amp;x" rel="noopener noreferrer" target="_blank">https://v.com/e&amp;x</a></p>`},
		{"formula", []ot.Op{txt("so "), emb("formula", `"e<mc^2"`), nl()}, `<p>so <span class="formula">e&lt;mc^2</span></p>`},
		{"unknown embed", []ot.Op{txt("a"), emb("widget", `"<b>"`), nl()}, "<p>a</p>"},
	})
}

func TestExportHTMLInjection(t *testing.T) {
	runExport(t, exportHTML, checkSafeHTML, []exportCase{
		{"script text", []ot.Op{txt("<script>alert(1)</script>\n")}, "<p>&lt;script&gt;alert(1)&lt;/script&gt;</p>"},
		{"attribute breakout in text", []ot.Op{txt(`"><img src=x onerror=alert(1)>` + "\n")},
			"<p>&#34;&gt;&lt;img src=x onerror=alert(1)&gt;</p>"},
		{"javascript link", []ot.Op{txt("x", "link", "javascript:alert(1)"), txt("y", "link", " JaVaScRiPt:alert(1)"), nl()}, "<p>xy</p>"},
		{"scheme split by control", []ot.Op{txt("x", "link", "java\tscript:alert(1)"), txt("y", "link", "java\nscript:alert(1)"), nl()}, "<p>xy</p>"},
		{"data and vbscript links", []ot.Op{txt("x", "link", "data:text/html,<script>"), txt("y", "link", "vbscript:x"), nl()}, "<p>xy</p>"},
		{"link attribute breakout", []ot.Op{txt("x", "link", `https://e.com/" onmouseover="alert(1)`), nl()},
			`<p><a href="https://e.com/&#34; onmouseover=&#34;alert(1)" rel="noopener noreferrer" target="_blank">x</a></p>`},
		{"javascript image", []ot.Op{emb("image", `"javascript:alert(1)"`), emb("image", `"data:text/html;base64,PHNjcmlwdD4="`), emb("image", `"mailto:a@b"`), nl()}, "<p></p>"},
		{"image breakout", []ot.Op{emb("image", `"x\" onerror=\"alert(1)"`), nl()}, `<p><img src="x&#34; onerror=&#34;alert(1)"></p>`},
		{"javascript video", []ot.Op{emb("video", `"javascript:alert(1)"`), nl()}, "<p></p>"},
		{"css injection", []ot.Op{txt("a", "color", "red;background:url(x)"), txt("b", "background", "url(javascript:x)"), txt("c", "color", `red" onclick="x`), txt("d", "size", "10px;x:y"), nl()},
			"<p>abcd</p>"},
		{"format value markup", []ot.Op{txt("a", "font", "<b>"), txt("b", "script", "<sub>"), nl("align", `center"><script>`, "list", "<ul>")},
			"<p>ab</p>"},
		{"entity in scheme", []ot.Op{txt("x", "link", "javascript&#58;alert(1)"), nl()},
			`<p><a href="javascript&amp;#58;alert(1)" rel="noopener noreferrer" target="_blank">x</a></p>`},
	})
}

func TestExportMarkdownBlocks(t *testing.T) {
	runExport(t, exportMarkdown, checkSafeMarkdown, []exportCase{
		{"new document", []ot.Op{nl()}, ""},
		{"paragraphs", []ot.Op{txt("one\n\n\ntwo\n")}, "one\n\ntwo\n"},
		{"headers", []ot.Op{txt("a"), nl("header", 1), txt("b"), nl("header", 6), nl("header", 2)}, "# a\n\n###### b\n\n##\n"},
		{"blockquote", []ot.Op{txt("a"), nl("blockquote", true), txt("b"), nl("blockquote", true), txt("c\n")}, "> a\n>\n> b\n\nc\n"},
		{"code block", []ot.Op{txt("p\n"), txt("if a < b {"), nl("code-block", true), txt("  *x* `y`"), nl("code-block", true), txt("}"), nl("code-block", true)},
			"p\n\n```\nif a < b {\n  *x* `y`\n}\n```\n"},
		{"code block fence longer than content", []ot.Op{txt("```"), nl("code-block", "go"), txt("x````"), nl("code-block", "go")},
			"`````go\n```\nx````\n`````\n"},
		{"code languages split", []ot.Op{txt("a"), nl("code-block", "js"), txt("b"), nl("code-block", "py"), txt("c"), nl("code-block", "plain")},
			"```js\na\n```\n\n```py\nb\n```\n\n```\nc\n```\n"},
		{"code carriage return cannot close fence", []ot.Op{txt("a\r```\r<script>"), nl("code-block", true)},
			"````\na\n```\n<script>\n````\n"},
		{"align and indent dropped", []ot.Op{txt("a"), nl("align", "center", "indent", 2)}, "a\n"},
	})
}

func TestExportMarkdownLists(t *testing.T) {
	runExport(t, exportMarkdown, checkSafeMarkdown, []exportCase{
		{"bullet", []ot.Op{txt("a"), nl("list", "bullet"), txt("b"), nl("list", "bullet"), txt("c\n")}, "- a\n- b\n\nc\n"},
		{"ordered", []ot.Op{txt("a"), nl("list", "ordered"), txt("b"), nl("list", "ordered")}, "1. a\n2. b\n"},
		{"checked", []ot.Op{txt("a"), nl("list", "checked"), txt("b"), nl("list", "unchecked")}, "- [x] a\n- [ ] b\n"},
		{"nested", []ot.Op{txt("a"), nl("list", "ordered"), txt("b"), nl("list", "bullet", "indent", 1), txt("c"), nl("list", "ordered", "indent", 2), txt("d"), nl("list", "ordered")},
			"1. a\n   - b\n     1. c\n2. d\n"},
		{"numbering restarts by level", []ot.Op{txt("a"), nl("list", "ordered"), txt("b"), nl("list", "ordered", "indent", 1), txt("c"), nl("list", "ordered", "indent", 1), txt("d"), nl("list", "ordered"), txt("e"), nl("list", "ordered", "indent", 1)},
			"1. a\n   1. b\n   2. c\n2. d\n   1. e\n"},
		{"wide numbers indent children further", func() []ot.Op {
			var ops []ot.Op
			for range 10 {
				ops = append(ops, txt("x"), nl("list", "ordered"))
			}
			return append(ops, txt("y"), nl("list", "bullet", "indent", 1))
		}(), "1. x\n2. x\n3. x\n4. x\n5. x\n6. x\n7. x\n8. x\n9. x\n10. x\n    - y\n"},
		{"skipped level clamped", []ot.Op{txt("a"), nl("list", "bullet", "indent", 3), txt("b"), nl("list", "bullet", "indent", 3)}, "- a\n  - b\n"},
		{"type change", []ot.Op{txt("a"), nl("list", "bullet"), txt("b"), nl("list", "ordered")}, "- a\n1. b\n"},
		{"empty items", []ot.Op{txt("a"), nl("list", "bullet"), nl("list", "bullet", "indent", 1), nl("list", "ordered", "indent", 1)},
			"- a\n  - &#32;\n  1. &#32;\n"},
	})
}

func TestExportMarkdownInline(t *testing.T) {
	runExport(t, exportMarkdown, checkSafeMarkdown, []exportCase{
		{"each format", []ot.Op{txt("b", "bold", true), txt(" "), txt("i", "italic", true), txt(" "), txt("s", "strike", true), txt(" "), txt("c", "code", true), nl()},
			"**b** *i* ~~s~~ `c`\n"},
		{"formats without Markdown dropped", []ot.Op{txt("u", "underline", true, "color", "red", "script", "sub"), nl()}, "u\n"},
		{"space moves outside", []ot.Op{txt("a"), txt(" bold ", "bold", true), txt("b"), nl()}, "a **bold** b\n"},
		{"bold and italic", []ot.Op{txt("a", "bold", true, "italic", true), txt(" b", "italic", true), txt(" "), txt("c", "bold", true), txt("d", "bold", true, "italic", true), nl()},
			"***a** b* **c*d***\n"},
		{"intraword", []ot.Op{txt("un"), txt("believ", "bold", true), txt("able"), nl()}, "un**believ**able\n"},
		{"unflanked falls back to HTML", []ot.Op{txt("a"), txt("(b)", "bold", true), txt("c "), txt("d", "italic", true), nl()},
			"a<strong>(b)</strong>c <em>d</em>\n"},
		{"adjacent change falls back to HTML", []ot.Op{txt("a", "bold", true), txt("b", "italic", true), nl()}, "<strong>a</strong><em>b</em>\n"},
		{"code with backticks", []ot.Op{txt("a `b` c", "code", true), txt(" "), txt("`x", "code", true), nl()}, "``a `b` c `x``\n"},
		{"code across runs", []ot.Op{txt("a", "code", true), txt("b", "code", true, "color", "red"), nl()}, "`ab`\n"},
		{"code spans meeting", []ot.Op{txt("a", "code", true), txt("b", "code", true, "bold", true), nl()}, "<code>a</code><strong><code>b</code></strong>\n"},
		{"code not escaped", []ot.Op{txt("*<a>* [x]", "code", true), nl()}, "`*<a>* [x]`\n"},
		{"link", []ot.Op{txt("see "), txt("the docs", "link", "https://e.com/a b/(c)"), txt(" and "), txt("mail", "link", "mailto:a@b.c"), nl()},
			"see [the docs](https://e.com/a%20b/%28c%29) and [mail](mailto:a@b.c)\n"},
		{"link with formats", []ot.Op{txt("a", "link", "/x", "bold", true), txt("b", "link", "/x"), nl()}, "[**a**b](/x)\n"},
		{"link entity-like ampersand", []ot.Op{txt("q", "link", "/?a=1&copy;&b=2"), nl()}, "[q](/?a=1&amp;copy;&b=2)\n"},
		{"bang before link", []ot.Op{txt("wow!"), txt("x", "link", "/x"), nl()}, "wow\\![x](/x)\n"},
		{"strike", []ot.Op{txt("gone", "strike", true, "bold", true), nl()}, "~~**gone**~~\n"},
	})
}

func TestExportMarkdownEmbeds(t *testing.T) {
	runExport(t, exportMarkdown, checkSafeMarkdown, []exportCase{
		{"image", []ot.Op{emb("image", `"https://e.com/a b.png"`, "alt", "a [cat]"), nl()}, "![a \\[cat\\]](https://e.com/a%20b.png)\n"},
		{"image in link", []ot.Op{emb("image", `"/a.png"`, "link", "https://e.com"), nl()}, "[![](/a.png)](https://e.com)\n"},
		{"video", []ot.Op{emb("video", `"https://v.com/x_y"`), nl()}, "[https://v.com/x\\_y](https://v.com/x_y)\n"},
		{"formula", []ot.Op{txt("so "), emb("formula", "\"x`^2\""), nl()}, "so ``x`^2``\n"},
		{"unknown embed", []ot.Op{txt("a"), emb("widget", `"x"`), nl()}, "a\n"},
	})
}

func TestExportMarkdownEscaping(t *testing.T) {
	runExport(t, exportMarkdown, checkSafeMarkdown, []exportCase{
		{"inline punctuation", []ot.Op{txt(`a\b *c* _d_ ` + "`e`" + ` [f] ~g~ <h> &i; #j +k -l !m`), nl()},
			"a\\\\b \\*c\\* \\_d\\_ \\`e\\` \\[f\\] \\~g\\~ &lt;h> &amp;i; #j +k -l !m\n"},
		{"heading at line start", []ot.Op{txt("# not a heading\n")}, "\\# not a heading\n"},
		{"hashes in a heading", []ot.Op{txt("C# #"), nl("header", 2)}, "## C\\# \\#\n"},
		{"block starts", []ot.Op{txt("> q\n- l\n+ l\n= x\n10. n\n3) n\n2024 was\n")},
			"\\> q\n\n\\- l\n\n\\+ l\n\n\\= x\n\n10\\. n\n\n3\\) n\n\n2024 was\n"},
		{"thematic breaks", []ot.Op{txt("***\n---\n___\n")}, "\\*\\*\\*\n\n\\---\n\n\\_\\_\\_\n"},
		{"leading space would be code", []ot.Op{txt("    code?\n\tx\n")}, "&#32;   code?\n\n&#9;x\n"},
		{"list marker in item", []ot.Op{txt("- x"), nl("list", "bullet"), txt("1. y"), nl("list", "ordered")}, "- \\- x\n1. 1\\. y\n"},
		{"task marker in item", []ot.Op{txt("[x] y"), nl("list", "bullet")}, "- \\[x\\] y\n"},
		{"carriage return", []ot.Op{txt("a\r# b\n")}, "a&#13;# b\n"},
		{"fence in text", []ot.Op{txt("```js\n~~~\n")}, "\\`\\`\\`js\n\n\\~\\~\\~\n"},
	})
}

func TestExportMarkdownInjection(t *testing.T) {
	runExport(t, exportMarkdown, checkSafeMarkdown, []exportCase{
		{"script text", []ot.Op{txt("<script>alert(1)</script>\n")}, "&lt;script>alert(1)&lt;/script>\n"},
		{"html block start", []ot.Op{txt("<div onclick=x>\n<!-- c -->\n")}, "&lt;div onclick=x>\n\n&lt;!-- c -->\n"},
		{"markdown link in text", []ot.Op{txt("[x](javascript:alert(1)) ![y](javascript:z)\n")},
			"\\[x\\](javascript:alert(1)) !\\[y\\](javascript:z)\n"},
		{"autolink in text", []ot.Op{txt("<javascript:alert(1)>\n")}, "&lt;javascript:alert(1)>\n"},
		{"reference definition", []ot.Op{txt("[a]: javascript:x\n")}, "\\[a\\]: javascript:x\n"},
		{"javascript link", []ot.Op{txt("x", "link", "javascript:alert(1)"), txt("y", "link", "JAVASCRIPT:x"), nl()}, "xy\n"},
		{"link breakout", []ot.Op{txt("x", "link", `/a) [y](javascript:z "t`), nl()}, "[x](/a%29%20[y]%28javascript:z%20%22t)\n"},
		{"link text breakout", []ot.Op{txt("a](javascript:x) [b", "link", "/ok"), nl()}, "[a\\](javascript:x) \\[b](/ok)\n"},
		{"javascript image", []ot.Op{emb("image", `"javascript:alert(1)"`), emb("image", `"data:text/html,x"`), nl()}, ""},
		{"entity in text", []ot.Op{txt("&lt;script&gt; &#106;avascript\n")}, "&amp;lt;script&amp;gt; &amp;#106;avascript\n"},
		{"title-like line", []ot.Op{txt("# Title"), nl("list", "bullet"), txt("## x"), nl("blockquote", true)}, "- \\# Title\n\n> \\## x\n"},
	})
}

// checkSafeHTML fails t unless out is made only of the elements and
// attributes the exporter may write, with safe URLs and styles, and text
// with no raw markup characters.
func checkSafeHTML(t *testing.T, out string) {
	t.Helper()
	allowed := map[string][]string{
		"p": nil, "h1": nil, "h2": nil, "h3": nil, "h4": nil, "h5": nil, "h6": nil, "blockquote": nil,
		"ul": nil, "ol": nil, "li": {"data-list"}, "pre": {"data-language"}, "br": nil,
		"a": {"href", "rel", "target"}, "span": {"style"}, "u": nil, "s": nil, "em": nil, "strong": nil,
		"sub": nil, "sup": nil, "code": nil, "img": {"src", "alt", "width", "height"},
	}
	for i := 0; i < len(out); {
		switch out[i] {
		case '>', '"', '\'':
			t.Fatalf("raw %q in text at %d: %s", out[i], i, out)
		case '<':
			m := htmlTagRE.FindStringSubmatch(out[i:])
			if m == nil {
				t.Fatalf("not a tag at %d: %s", i, out)
			}
			names, ok := allowed[m[2]]
			if !ok {
				t.Fatalf("element %s: %s", m[2], out)
			}
			for _, a := range htmlAttrRE.FindAllStringSubmatch(m[3], -1) {
				name, v := a[1], html.UnescapeString(a[2])
				switch {
				case name == "class":
					if !htmlClassRE.MatchString(v) {
						t.Fatalf("class %q: %s", v, out)
					}
				case !strings.Contains(" "+strings.Join(names, " ")+" ", " "+name+" "):
					t.Fatalf("attribute %s on %s: %s", name, m[2], out)
				case name == "href" || name == "src":
					if !urlLooksSafe(v) {
						t.Fatalf("unsafe URL %q: %s", v, out)
					}
				case name == "style" && !htmlStyleRE.MatchString(v):
					t.Fatalf("style %q: %s", v, out)
				}
			}
			i += len(m[0])
			continue
		}
		i++
	}
}

var (
	htmlTagRE   = regexp.MustCompile(`^<(/?)([a-z0-9]+)((?: [a-z-]+="[^"<>]*")*)>`)
	htmlAttrRE  = regexp.MustCompile(` ([a-z-]+)="([^"]*)"`)
	htmlClassRE = regexp.MustCompile(`^(?:ql-[a-z]+-[a-z0-9-]+ ?)+$|^formula$`)
	htmlStyleRE = regexp.MustCompile(`^(?:(?:color|background-color|font-size):(?:#[0-9a-fA-F]+|[a-zA-Z]+|rgba?\([0-9., %]+\)|[0-9.]+(?:px|pt|em|rem|%))(?:;|$))+$`)
	mdLinkRE    = regexp.MustCompile(`\]\(([^)]*)\)`)
)

// urlLooksSafe is the test's own idea of a safe URL, written apart from
// safeURL: no control characters, and a scheme, if any, that is http,
// https, mailto or a data URL of a raster image.
func urlLooksSafe(u string) bool {
	if strings.ContainsFunc(u, func(r rune) bool { return r < ' ' || r == 0x7f }) {
		return false
	}
	u = strings.ToLower(strings.TrimSpace(u))
	for _, p := range []string{"http://", "https://", "mailto:", "data:image/png;", "data:image/jpeg;", "data:image/gif;", "data:image/webp;"} {
		if strings.HasPrefix(u, p) {
			return true
		}
	}
	colon := strings.IndexByte(u, ':')
	return colon < 0 || strings.IndexAny(u[:colon], "/?#") >= 0
}

// checkSafeMarkdown fails t if out has HTML other than the emphasis tags
// the exporter falls back to, or a link or image to an unsafe URL. What is
// inside code blocks and code spans is text, as are backslash-escaped
// characters.
func checkSafeMarkdown(t *testing.T, out string) {
	t.Helper()
	var prose strings.Builder // out less code and escapes
	fence := ""
	for _, l := range strings.SplitAfter(out, "\n") {
		if fence != "" {
			if strings.TrimRight(l, "\n") == fence {
				fence = ""
			}
			continue
		}
		if strings.HasPrefix(l, "```") {
			fence = strings.TrimRight(l, "abcdefghijklmnopqrstuvwxyz\n")
			continue
		}
		for i := 0; i < len(l); i++ {
			switch {
			case l[i] == '\\' && i+1 < len(l):
				i++
				prose.WriteByte('_')
			case l[i] == '`':
				n := len(l[i:]) - len(strings.TrimLeft(l[i:], "`"))
				end := strings.Index(l[i+n:], l[i:i+n])
				if end < 0 {
					t.Fatalf("unclosed code span in %q", out)
				}
				i += 2*n + end - 1
				prose.WriteString("code")
			default:
				prose.WriteByte(l[i])
			}
		}
	}
	text := prose.String()
	for rest := text; ; rest = rest[1:] {
		i := strings.IndexByte(rest, '<')
		if i < 0 {
			break
		}
		rest = rest[i:]
		ok := false
		for _, tag := range []string{"<strong>", "</strong>", "<em>", "</em>", "<del>", "</del>", "<code>", "</code>"} {
			ok = ok || strings.HasPrefix(rest, tag)
		}
		if !ok {
			t.Fatalf("raw HTML %.20q in %q", rest, out)
		}
	}
	for _, m := range mdLinkRE.FindAllStringSubmatch(text, -1) {
		if !urlLooksSafe(m[1]) || strings.ContainsAny(m[1], " <>") {
			t.Fatalf("link to %q in %q", m[1], out)
		}
	}
}

// hostileText are pieces of text that mean something in HTML or Markdown.
var hostileText = []string{
	"a", "word", "x y", " ", "  ", "\t", "\r", "*", "**", "_", "`", "``", "[", "]", "(", ")", "<", ">", "#",
	"+", "-", ".", "1.", "2)", "!", "|", "~", "~~", "&", "&amp;", "&#32;", ";", ":", `"`, "'", "/", "=", `\`,
	"é", "😀", "\u00a0", "。", "<script>", "<!--", "    ", "---", "> q", "- l", "```", "javascript:alert(1)",
}

var hostileURLs = []string{
	"https://e.com/a b", "/rel(1)", "mailto:a@b.c", "javascript:alert(1)", "JaVa\tscript:x", "data:text/html,<x>",
	"#frag", `a\b"c`, "?q=<x>&y", " vbscript:x",
}

// randomExportDoc returns a document of up to lines lines of hostileText text; with
// formats, its pieces and lines get random formats and embeds.
func randomExportDoc(r *rand.Rand, lines int, formats bool) ot.Delta {
	var d ot.Delta
	for range 1 + r.IntN(lines) {
		for range r.IntN(6) {
			var a ot.Attributes
			if formats && r.IntN(2) == 0 {
				a = ot.Attributes{}
				for _, k := range []string{"bold", "italic", "strike", "code", "underline"} {
					if r.IntN(3) == 0 {
						a[k] = true
					}
				}
				if r.IntN(4) == 0 {
					a["link"] = hostileURLs[r.IntN(len(hostileURLs))]
				}
				if r.IntN(4) == 0 {
					a["color"] = []string{"red", "#fff", "red;background:url(x)", "rgb(1, 2, 3)", `"><x>`}[r.IntN(5)]
				}
				if r.IntN(4) == 0 {
					a["alt"] = hostileText[r.IntN(len(hostileText))]
				}
			}
			if formats && r.IntN(10) == 0 {
				key := []string{"image", "video", "formula", "x"}[r.IntN(4)]
				v, _ := json.Marshal(hostileURLs[r.IntN(len(hostileURLs))])
				d = append(d, ot.InsertEmbed(key, v, a))
				continue
			}
			var sb strings.Builder
			for range 1 + r.IntN(4) {
				sb.WriteString(hostileText[r.IntN(len(hostileText))])
			}
			d = append(d, ot.InsertText(sb.String(), a))
		}
		var la ot.Attributes
		if formats {
			switch r.IntN(7) {
			case 1:
				la = ot.Attributes{"header": float64(1 + r.IntN(6))}
			case 2:
				la = ot.Attributes{"list": []string{"ordered", "bullet", "checked", "unchecked"}[r.IntN(4)], "indent": float64(r.IntN(3))}
			case 3:
				la = ot.Attributes{"blockquote": true}
			case 4:
				la = ot.Attributes{"code-block": true}
			}
		}
		d = append(d, ot.InsertText("\n", la))
	}
	return d
}

// The text of a plain document survives HTML export: with each </p> read
// as a newline, the output's text (tags stripped, entities decoded) is
// doc.Text().
func TestExportHTMLKeepsText(t *testing.T) {
	tags := regexp.MustCompile(`<[^>]*>`)
	for seed := range uint64(300) {
		doc := exportDoc(t, randomExportDoc(rand.New(rand.NewPCG(seed, 1)), 8, false)...)
		out := exportString(t, exportHTML, doc)
		got := html.UnescapeString(tags.ReplaceAllString(strings.ReplaceAll(out, "</p>", "\n"), ""))
		if got != doc.Text() {
			t.Fatalf("seed %d: text %q, want %q (html %s)", seed, got, doc.Text(), out)
		}
	}
}

// The text of a plain document survives Markdown export: undoing the
// escapes CommonMark undoes (backslash before punctuation, entities)
// gives back every non-empty line, less the trailing space Markdown drops.
func TestExportMarkdownKeepsText(t *testing.T) {
	unescape := regexp.MustCompile(`\\([[:punct:]])|&(?:amp|lt|#32|#9|#13);`)
	for seed := range uint64(300) {
		doc := exportDoc(t, randomExportDoc(rand.New(rand.NewPCG(seed, 2)), 8, false)...)
		out := exportString(t, exportMarkdown, doc)
		var want []string
		for _, l := range strings.Split(strings.TrimSuffix(doc.Text(), "\n"), "\n") {
			if l = strings.TrimRight(l, " \t\u00a0\r"); l != "" {
				want = append(want, l)
			}
		}
		got := unescape.ReplaceAllStringFunc(strings.TrimSuffix(out, "\n"), func(e string) string {
			if e[0] == '\\' {
				return e[1:]
			}
			return html.UnescapeString(e)
		})
		if got != strings.Join(want, "\n\n") {
			t.Fatalf("seed %d: text %q, want %q (markdown %q)", seed, got, strings.Join(want, "\n\n"), out)
		}
	}
}

// Whatever the document, the output holds only allowed markup.
func TestExportSafeOnRandomDocuments(t *testing.T) {
	for seed := range uint64(2000) {
		doc := exportDoc(t, randomExportDoc(rand.New(rand.NewPCG(seed, 3)), 6, true)...)
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			checkSafeHTML(t, exportString(t, exportHTML, doc))
			checkSafeMarkdown(t, exportString(t, exportMarkdown, doc))
		})
	}
}

func TestExportZeroDoc(t *testing.T) {
	for name, export := range map[string]func(io.Writer, ot.Doc) error{"html": exportHTML, "markdown": exportMarkdown} {
		if got := exportString(t, export, ot.Doc{}); got != "" {
			t.Errorf("%s of the zero Doc = %q, want nothing", name, got)
		}
	}
}

// Exporting allocates what doc.Delta does and a few buffers, however long
// the document.
func TestExportAllocs(t *testing.T) {
	doc := benchExportDoc(t, 64<<10)
	base := testing.AllocsPerRun(10, func() { doc.Delta() })
	for name, export := range map[string]func(io.Writer, ot.Doc) error{"html": exportHTML, "markdown": exportMarkdown} {
		allocs := testing.AllocsPerRun(10, func() { export(io.Discard, doc) })
		if allocs > base+20 {
			t.Errorf("%s: %v allocations, want at most %v (Delta's) + 20", name, allocs, base)
		}
	}
}

type failingWriter struct{ err error }

func (w failingWriter) Write([]byte) (int, error) { return 0, w.err }

func TestExportWriteError(t *testing.T) {
	boom := errors.New("boom")
	doc := exportDoc(t, txt("hello\n"))
	for name, export := range map[string]func(io.Writer, ot.Doc) error{"html": exportHTML, "markdown": exportMarkdown} {
		if err := export(failingWriter{boom}, doc); !errors.Is(err, boom) {
			t.Errorf("%s: err = %v, want %v", name, err, boom)
		}
	}
}

// benchExportDoc is a document of about size bytes that looks like writing:
// paragraphs with some bold, italic, code and links, headings, lists and
// code blocks.
func benchExportDoc(tb testing.TB, size int) ot.Doc {
	r := rand.New(rand.NewPCG(1, 1))
	words := strings.Fields("the quick brown fox jumps over a lazy dog while collaborative editing keeps every peer in step with the server and its log of edits")
	var d ot.Delta
	n := 0
	for line := 0; n < size; line++ {
		for range 2 + r.IntN(8) {
			var sb strings.Builder
			for range 1 + r.IntN(6) {
				sb.WriteString(words[r.IntN(len(words))])
				sb.WriteByte(' ')
			}
			var a ot.Attributes
			switch r.IntN(10) {
			case 0:
				a = ot.Attributes{"bold": true}
			case 1:
				a = ot.Attributes{"italic": true}
			case 2:
				a = ot.Attributes{"link": "https://example.com/docs?page=" + fmt.Sprint(r.IntN(100))}
			case 3:
				a = ot.Attributes{"code": true}
			}
			d = append(d, ot.InsertText(sb.String(), a))
			n += sb.Len()
		}
		var la ot.Attributes
		switch {
		case line%40 == 0:
			la = ot.Attributes{"header": float64(1 + line/40%3)}
		case line%40 > 30 && line%40 < 36:
			la = ot.Attributes{"list": "bullet", "indent": float64(line % 2)}
		case line%40 >= 36:
			la = ot.Attributes{"code-block": true}
		}
		d = append(d, ot.InsertText("\n", la))
		n++
	}
	return exportDoc(tb, d...)
}

func benchmarkExport(b *testing.B, export func(io.Writer, ot.Doc) error) {
	doc := benchExportDoc(b, 1<<20)
	b.SetBytes(int64(len(doc.Text())))
	b.ReportAllocs()
	for b.Loop() {
		if err := export(io.Discard, doc); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkExportHTML1MiB(b *testing.B)     { benchmarkExport(b, exportHTML) }
func BenchmarkExportMarkdown1MiB(b *testing.B) { benchmarkExport(b, exportMarkdown) }
