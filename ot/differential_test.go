package ot

// The differential test against quill-delta, the library the browser editor
// runs: on the same inputs, every operation here must give the same JSON as
// quill-delta 5.1.0 (spec/protocol.md, "Model": the same JSON as the
// quill-delta npm package). The Node side is quilldiff/diff.mjs, one process
// for all cases, fed JSON lines; quilldiff/README.md says how to run it.
//
// Results are compared byte for byte: what MarshalJSON writes against what
// JSON.stringify writes, with object members put in one canonical order on
// both sides and nothing else changed. So member order does not matter, but
// every string escape and every number's formatting does.
//
// Layout: the compared operations (diffOps), the comparison (diffAgree,
// diffCanonJSON), the Node process (startQuill, run), the hand-picked cases,
// the random cases, and the shrinker that turns a failing random case into
// a small one.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"maps"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf16"
	"unicode/utf8"
)

const (
	quillDeltaVersion = "5.1.0"
	quillSetup        = "npm ci --prefix ot/quilldiff" // from the repository root
	defaultDiffCases  = 4000
)

func TestQuillDifferential(t *testing.T) {
	q := startQuill(t)
	t.Run("handpicked", func(t *testing.T) { testQuillHandPicked(t, q) })
	t.Run("random", func(t *testing.T) { testQuillRandom(t, q) })
	t.Run("chains", func(t *testing.T) { testQuillChains(t, q) })
}

// A diffCase is one set of inputs. a and b are edits of doc, c is an edit of
// doc∘a, raw is any delta (made non-canonical on purpose), index a position
// in doc. has says which are present; an operation runs when its inputs are.
type diffCase struct {
	name              string
	doc, a, b, c, raw Delta
	index             int
	has               uint8
	text              map[string]string // hand-written JSON sent to Node instead of MarshalJSON
	rope              *Doc              // doc as a Doc that has been through earlier edits; nil: DocFromDelta(doc)
}

const (
	inDoc uint8 = 1 << iota
	inA
	inB
	inC
	inRaw
	inIndex
	inAll = inDoc | inA | inB | inC | inRaw | inIndex
)

// diffOps are the compared operations. key names quill's result in
// diff.mjs's output (several Go operations may be held to one result);
// Node computes each result when the inputs in needs are present.
var diffOps = []struct {
	key   string
	needs uint8
	what  string
	run   func(c *diffCase) (any, error)
}{
	{"apply", inDoc | inA, "Apply(doc, a) vs doc.compose(a)",
		func(c *diffCase) (any, error) { return Apply(c.doc, c.a) }},
	{"apply", inDoc | inA, "DocFromDelta(doc).Apply(a).Delta() vs doc.compose(a)",
		func(c *diffCase) (any, error) {
			d, err := c.docRope()
			if err != nil {
				return nil, err
			}
			if d, err = d.Apply(c.a); err != nil {
				return nil, err
			}
			return d.Delta(), nil
		}},
	{"applyAC", inDoc | inA | inC, "Apply(Apply(doc, a), c) vs doc.compose(a).compose(c)",
		func(c *diffCase) (any, error) {
			d, err := Apply(c.doc, c.a)
			if err != nil {
				return nil, err
			}
			return Apply(d, c.c)
		}},
	{"applyAC", inDoc | inA | inC, "DocFromDelta(doc).Apply(a).Apply(c).Delta() vs doc.compose(a).compose(c)",
		func(c *diffCase) (any, error) {
			d, err := c.docRope()
			if err != nil {
				return nil, err
			}
			if d, err = d.Apply(c.a); err != nil {
				return nil, err
			}
			if d, err = d.Apply(c.c); err != nil {
				return nil, err
			}
			return d.Delta(), nil
		}},
	{"invert", inDoc | inA, "Invert(a, doc) vs a.invert(doc)",
		func(c *diffCase) (any, error) { return Invert(c.a, c.doc), nil }},
	{"invert", inDoc | inA, "DocFromDelta(doc).Invert(a) vs a.invert(doc)",
		func(c *diffCase) (any, error) {
			d, err := c.docRope()
			if err != nil {
				return nil, err
			}
			return d.Invert(c.a), nil
		}},
	{"compose", inA | inC, "Compose(a, c) vs a.compose(c)",
		func(c *diffCase) (any, error) { return Compose(c.a, c.c), nil }},
	{"transformAB1", inA | inB, "Transform(a, b, true) vs a.transform(b, true)",
		func(c *diffCase) (any, error) { return Transform(c.a, c.b, true), nil }},
	{"transformAB0", inA | inB, "Transform(a, b, false) vs a.transform(b, false)",
		func(c *diffCase) (any, error) { return Transform(c.a, c.b, false), nil }},
	{"transformBA1", inA | inB, "Transform(b, a, true) vs b.transform(a, true)",
		func(c *diffCase) (any, error) { return Transform(c.b, c.a, true), nil }},
	{"position1", inA | inIndex, "TransformPosition(a, index, true) vs a.transformPosition(index, true)",
		func(c *diffCase) (any, error) { return TransformPosition(c.a, c.index, true), nil }},
	{"position0", inA | inIndex, "TransformPosition(a, index, false) vs a.transformPosition(index, false)",
		func(c *diffCase) (any, error) { return TransformPosition(c.a, c.index, false), nil }},
	{"canonical", inRaw, "Canonical(raw) vs raw pushed onto new Delta(), chopped",
		func(c *diffCase) (any, error) { return Canonical(c.raw), nil }},
}

// docRope returns the case's document as a Doc: the one carried through a
// chain of edits, or a fresh one.
func (c *diffCase) docRope() (Doc, error) {
	if c.rope != nil {
		return *c.rope, nil
	}
	return DocFromDelta(c.doc)
}

// diffGoResult runs one operation and returns its result as JSON: what
// MarshalJSON writes, or the number. An error becomes {"error":...}; a
// panic becomes {"panic":...} so that it is reported with its inputs like
// any other disagreement.
func diffGoResult(c *diffCase, i int) (res []byte) {
	defer func() {
		if p := recover(); p != nil {
			res = diffJSONOf(map[string]string{"panic": fmt.Sprint(p)})
		}
	}()
	v, err := diffOps[i].run(c)
	if err != nil {
		return diffJSONOf(map[string]string{"error": err.Error()})
	}
	switch v := v.(type) {
	case int:
		return strconv.AppendInt(nil, int64(v), 10)
	case Delta:
		b, err := v.MarshalJSON()
		if err != nil {
			return diffJSONOf(map[string]string{"error": "MarshalJSON: " + err.Error()})
		}
		return b
	}
	return diffJSONOf(map[string]string{"error": fmt.Sprintf("result of type %T", v)})
}

// diffAgree compares Go's and quill's results. Byte equality is the fast
// path (diff.mjs writes keys in diffCanonJSON's order, which is also
// MarshalJSON's); otherwise both are canonicalised and compared. Both
// refusing the input counts as agreement (the messages differ by design).
// It returns the canonical forms for reporting.
func diffAgree(goRes, quillRes []byte) (ok bool, g, q string) {
	if bytes.Equal(goRes, quillRes) {
		return true, "", ""
	}
	g, q = diffCanonOrRaw(goRes), diffCanonOrRaw(quillRes)
	if g == q || strings.HasPrefix(g, `{"error":`) && strings.HasPrefix(q, `{"error":`) {
		return true, g, q
	}
	return false, g, q
}

func diffCanonOrRaw(b []byte) string {
	s, err := diffCanonJSON(b)
	if err != nil {
		return fmt.Sprintf("%s (invalid JSON: %v)", b, err)
	}
	return s
}

// diffCanonJSON rewrites JSON with every object's members in canonical
// order and no whitespace, keeping each string and number exactly as
// written: so the comparison ignores member order only, and checks that Go
// escapes strings and formats numbers as JSON.stringify does. The order is
// by key, except that "attributes" goes last: that puts an op's kind first,
// as MarshalJSON writes it, so most results need no rewriting. (A
// hand-rolled scanner: an encoding/json round trip took most of the test's
// time under -race.)
func diffCanonJSON(b []byte) (string, error) {
	p := diffJSONScanner{data: b}
	out, err := p.value(nil, 0)
	if err != nil {
		return "", err
	}
	if p.ws(); p.pos != len(b) {
		return "", fmt.Errorf("trailing data at byte %d", p.pos)
	}
	return string(out), nil
}

// diffKeyOrder orders raw key tokens: "attributes" last, the rest by their
// bytes (diff.mjs: keyOrder).
func diffKeyOrder(x, y []byte) int {
	const attrs = `"attributes"`
	if xa, ya := string(x) == attrs, string(y) == attrs; xa != ya {
		if xa {
			return 1
		}
		return -1
	}
	return bytes.Compare(x, y)
}

type diffJSONScanner struct {
	data []byte
	pos  int
}

func (p *diffJSONScanner) ws() {
	for p.pos < len(p.data) && strings.IndexByte(" \t\r\n", p.data[p.pos]) >= 0 {
		p.pos++
	}
}

func (p *diffJSONScanner) fail(want string) error {
	return fmt.Errorf("invalid JSON at byte %d of %q: want %s", p.pos, p.data, want)
}

func (p *diffJSONScanner) value(out []byte, depth int) ([]byte, error) {
	if depth > 64 {
		return nil, p.fail("less nesting")
	}
	p.ws()
	if p.pos >= len(p.data) {
		return nil, p.fail("a value")
	}
	switch c := p.data[p.pos]; {
	case c == '{':
		type member struct{ key, val []byte }
		var ms []member
		err := p.object(depth, func(key, val []byte) { ms = append(ms, member{key, val}) })
		if err != nil {
			return nil, err
		}
		slices.SortStableFunc(ms, func(x, y member) int { return diffKeyOrder(x.key, y.key) })
		out = append(out, '{')
		for i, m := range ms {
			if i > 0 {
				out = append(out, ',')
			}
			out = append(append(append(out, m.key...), ':'), m.val...)
		}
		return append(out, '}'), nil
	case c == '[':
		p.pos++
		out = append(out, '[')
		if p.ws(); p.pos < len(p.data) && p.data[p.pos] == ']' {
			p.pos++
			return append(out, ']'), nil
		}
		for {
			var err error
			if out, err = p.value(out, depth+1); err != nil {
				return nil, err
			}
			p.ws()
			if p.pos < len(p.data) && p.data[p.pos] == ',' {
				p.pos++
				out = append(out, ',')
				continue
			}
			if p.pos < len(p.data) && p.data[p.pos] == ']' {
				p.pos++
				return append(out, ']'), nil
			}
			return nil, p.fail("',' or ']'")
		}
	case c == '"':
		s, err := p.str()
		if err != nil {
			return nil, err
		}
		return append(out, s...), nil
	default: // number, true, false, null: kept as written
		start := p.pos
		for p.pos < len(p.data) && strings.IndexByte("+-.0123456789eEtruefalsn", p.data[p.pos]) >= 0 {
			p.pos++
		}
		if p.pos == start {
			return nil, p.fail("a value")
		}
		return append(out, p.data[start:p.pos]...), nil
	}
}

// object scans an object, calling f with each raw key and canonical value.
func (p *diffJSONScanner) object(depth int, f func(key, val []byte)) error {
	if p.ws(); p.pos >= len(p.data) || p.data[p.pos] != '{' {
		return p.fail("'{'")
	}
	p.pos++
	if p.ws(); p.pos < len(p.data) && p.data[p.pos] == '}' {
		p.pos++
		return nil
	}
	for {
		p.ws()
		key, err := p.str()
		if err != nil {
			return err
		}
		if p.ws(); p.pos >= len(p.data) || p.data[p.pos] != ':' {
			return p.fail("':'")
		}
		p.pos++
		val, err := p.value(nil, depth+1)
		if err != nil {
			return err
		}
		f(key, val)
		p.ws()
		if p.pos < len(p.data) && p.data[p.pos] == ',' {
			p.pos++
			continue
		}
		if p.pos < len(p.data) && p.data[p.pos] == '}' {
			p.pos++
			return nil
		}
		return p.fail("',' or '}'")
	}
}

// str returns the raw string token, quotes and escapes as written. It does
// not validate escapes: a malformed string cannot equal the other side's
// well-formed one, so the comparison catches it anyway.
func (p *diffJSONScanner) str() ([]byte, error) {
	if p.pos >= len(p.data) || p.data[p.pos] != '"' {
		return nil, p.fail("a string")
	}
	start := p.pos
	for i := p.pos + 1; ; {
		// IndexByte is not instrumented per byte under -race.
		q := bytes.IndexByte(p.data[i:], '"')
		if q < 0 {
			return nil, p.fail("closing '\"'")
		}
		i += q
		backslashes := 0
		for j := i - 1; j > start && p.data[j] == '\\'; j-- {
			backslashes++
		}
		i++
		if backslashes%2 == 0 {
			p.pos = i
			return p.data[start:i], nil
		}
	}
}

func diffJSONOf(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// diffWire writes a case as diff.mjs reads it: {"id":n,"doc":[...],...}
// with the fields present, each delta as MarshalJSON writes it (or as the
// hand-picked text has it).
func (c *diffCase) diffWire(id int) ([]byte, error) {
	out := append([]byte(`{"id":`), strconv.Itoa(id)...)
	for _, f := range []struct {
		bit uint8
		key string
		d   Delta
	}{{inDoc, "doc", c.doc}, {inA, "a", c.a}, {inB, "b", c.b}, {inC, "c", c.c}, {inRaw, "raw", c.raw}} {
		if c.has&f.bit == 0 {
			continue
		}
		out = append(append(append(out, `,"`...), f.key...), `":`...)
		if s, ok := c.text[f.key]; ok {
			out = append(out, s...)
			continue
		}
		b, err := f.d.MarshalJSON()
		if err != nil {
			return nil, fmt.Errorf("marshal %s: %w", f.key, err)
		}
		out = append(out, b...)
	}
	if c.has&inIndex != 0 {
		out = append(append(out, `,"index":`...), strconv.Itoa(c.index)...)
	}
	return append(out, '}'), nil
}

// describe prints a case's inputs for a failure message.
func (c *diffCase) describe() string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "  case:  %s\n", c.name)
	for _, f := range []struct {
		bit uint8
		key string
		d   Delta
	}{{inDoc, "doc", c.doc}, {inA, "a", c.a}, {inB, "b", c.b}, {inC, "c", c.c}, {inRaw, "raw", c.raw}} {
		if c.has&f.bit == 0 {
			continue
		}
		s, ok := c.text[f.key]
		if !ok {
			b, err := f.d.MarshalJSON()
			if err != nil {
				s = fmt.Sprintf("(MarshalJSON: %v) %#v", err, f.d)
			} else {
				s = string(b)
			}
		}
		fmt.Fprintf(&sb, "  %-6s %s\n", f.key+":", s)
	}
	if c.has&inIndex != 0 {
		fmt.Fprintf(&sb, "  index: %d\n", c.index)
	}
	return sb.String()
}

// size orders failing cases: the shortest inputs are the easiest to read.
func (c *diffCase) size() int {
	b, err := c.diffWire(0)
	if err != nil {
		return 1 << 30
	}
	return len(b)
}

// quillProc is the running diff.mjs.
type quillProc struct {
	in     *bufio.Writer
	out    *bufio.Reader
	stderr *diffStderr
	nextID int
}

type diffStderr struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *diffStderr) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *diffStderr) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// startQuill starts diff.mjs, failing the test (never skipping it) when
// Node or the pinned quill-delta is missing.
func startQuill(t *testing.T) *quillProc {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("node is not on PATH: the differential test against quill-delta needs Node.js 20+, then `%s` from the repository root", quillSetup)
	}
	pkg, err := os.ReadFile(filepath.Join("quilldiff", "node_modules", "quill-delta", "package.json"))
	if err != nil {
		t.Fatalf("quill-delta is not installed (%v): run `%s` from the repository root", err, quillSetup)
	}
	var meta struct{ Version string }
	if err := json.Unmarshal(pkg, &meta); err != nil || meta.Version != quillDeltaVersion {
		t.Fatalf("quilldiff/node_modules has quill-delta %q, want %s: run `%s` from the repository root", meta.Version, quillDeltaVersion, quillSetup)
	}

	// Bounded by the test's own deadline (go test -timeout), leaving time to
	// report; by 10 minutes without one.
	timeout := 10 * time.Minute
	if dl, ok := t.Deadline(); ok {
		timeout = max(time.Until(dl)-10*time.Second, 5*time.Second)
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	cmd := exec.CommandContext(ctx, node, filepath.Join("quilldiff", "diff.mjs"))
	cmd.WaitDelay = 5 * time.Second
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr := &diffStderr{}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("start %s quilldiff/diff.mjs: %v", node, err)
	}
	t.Cleanup(func() {
		stdin.Close()
		err := cmd.Wait()
		defer cancel()
		if err != nil && !t.Failed() {
			if ctx.Err() != nil {
				err = fmt.Errorf("%w (stopped after the %v time limit)", err, timeout.Round(time.Second))
			}
			t.Errorf("quilldiff/diff.mjs: %v\n%s", err, stderr.String())
		}
	})
	q := &quillProc{in: bufio.NewWriter(stdin), out: bufio.NewReaderSize(stdout, 1<<20), stderr: stderr}

	line, err := q.out.ReadBytes('\n')
	if err != nil {
		t.Fatalf("quilldiff/diff.mjs did not start (%v); stderr:\n%s", err, stderr.String())
	}
	var hello struct{ Hello, QuillDelta, Node string }
	if err := json.Unmarshal(line, &hello); err != nil || hello.Hello != "quilldiff" {
		t.Fatalf("quilldiff/diff.mjs: want a hello line, got %q (%v)", line, err)
	}
	if hello.QuillDelta != quillDeltaVersion {
		t.Fatalf("quilldiff/diff.mjs runs quill-delta %s, want %s: run `%s`", hello.QuillDelta, quillDeltaVersion, quillSetup)
	}
	t.Logf("comparing with quill-delta %s on node %s", hello.QuillDelta, hello.Node)
	return q
}

// run sends the cases and returns quill's results: per case, the JSON of
// each result by key. Writing happens in its own goroutine so that neither
// pipe fills up while the other side waits. diff.mjs answers a case with
// one line, "id<TAB>key<TAB>json<TAB>key<TAB>json..." (JSON never holds a
// raw tab), so splitting it needs no JSON parsing.
func (q *quillProc) run(t *testing.T, cases []*diffCase) []map[string][]byte {
	t.Helper()
	first := q.nextID
	q.nextID += len(cases)
	werr := make(chan error, 1)
	go func() {
		for i, c := range cases {
			b, err := c.diffWire(first + i)
			if err != nil {
				werr <- fmt.Errorf("%s: %w", c.name, err)
				return
			}
			q.in.Write(b)
			q.in.WriteByte('\n')
		}
		werr <- q.in.Flush()
	}()
	results := make([]map[string][]byte, len(cases))
	for i := range cases {
		line, err := q.out.ReadBytes('\n')
		if err != nil {
			if werr := <-werr; werr != nil {
				t.Fatalf("writing cases to quilldiff/diff.mjs: %v", werr)
			}
			t.Fatalf("reading quilldiff/diff.mjs after %d of %d cases: %v; stderr:\n%s", i, len(cases), err, q.stderr.String())
		}
		fields := bytes.Split(bytes.TrimSuffix(line, []byte("\n")), []byte("\t"))
		if string(fields[0]) == "fatal" {
			t.Fatalf("quilldiff/diff.mjs could not read case %s: %s", cases[i].name, bytes.Join(fields[1:], nil))
		}
		if id := string(fields[0]); id != strconv.Itoa(first+i) || len(fields)%2 != 1 {
			t.Fatalf("quilldiff/diff.mjs answered %q for case id %d", line, first+i)
		}
		res := make(map[string][]byte, len(fields)/2)
		for f := 1; f < len(fields); f += 2 {
			res[string(fields[f])] = fields[f+1]
		}
		results[i] = res
	}
	if err := <-werr; err != nil {
		t.Fatalf("writing cases to quilldiff/diff.mjs: %v", err)
	}
	return results
}

// A diffMismatch is one operation on which Go and quill disagree for a case.
type diffMismatch struct {
	c           *diffCase
	op          int // index into diffOps
	goRes, qRes string
}

func (m diffMismatch) String() string {
	return fmt.Sprintf("%s  go:    %s\n  quill: %s\n", m.c.describe(), m.goRes, m.qRes)
}

// diffCompare runs every operation whose inputs are present and returns the
// disagreements.
func diffCompare(t *testing.T, cases []*diffCase, quillRes []map[string][]byte) []diffMismatch {
	t.Helper()
	var out []diffMismatch
	for i, c := range cases {
		seen := map[string]bool{}
		for op, d := range diffOps {
			if c.has&d.needs != d.needs {
				continue
			}
			seen[d.key] = true
			q, ok := quillRes[i][d.key]
			if !ok {
				t.Fatalf("quilldiff/diff.mjs gave no %q for %s", d.key, c.name)
			}
			if ok, g, q := diffAgree(diffGoResult(c, op), q); !ok {
				out = append(out, diffMismatch{c: c, op: op, goRes: g, qRes: q})
			}
		}
		if len(seen) != len(quillRes[i]) {
			t.Fatalf("quilldiff/diff.mjs gave %d results for %s, want %d", len(quillRes[i]), c.name, len(seen))
		}
	}
	return out
}

// Hand-picked cases: the boundaries random generators rarely hit. Each is
// JSON as a client would send it; Node reads this text, Go reads it with
// ParseDelta. An empty field is absent.
var quillHandPicked = []struct {
	name              string
	doc, a, b, c, raw string
	index             int
	noIndex           bool
}{
	{name: "astral at every boundary",
		doc: `[{"insert":"😀a😀\n"}]`,
		a:   `[{"retain":2},{"insert":"𝄞"},{"delete":1},{"retain":2,"attributes":{"bold":true}}]`,
		b:   `[{"insert":"👍"},{"retain":5,"attributes":{"italic":true}}]`,
		c:   `[{"retain":2},{"delete":2},{"insert":"x"}]`,
		raw: `[{"insert":"😀"},{"insert":"𝄞"},{"retain":2},{"retain":3}]`, index: 2},
	{name: "astral deleted next to inserts",
		doc: `[{"insert":"ab😀cd\n"}]`,
		a:   `[{"retain":2},{"delete":2}]`,
		b:   `[{"retain":2},{"insert":"𝄞"},{"retain":2},{"insert":"🎉"}]`,
		c:   `[{"retain":2},{"insert":"😀"}]`,
		raw: `[{"delete":2},{"insert":"😀"}]`, index: 4},
	{name: "astral transformPosition inside deleted range",
		doc: `[{"insert":"😀😀😀\n"}]`,
		a:   `[{"retain":2},{"delete":2},{"insert":"😀"}]`,
		b:   `[{"retain":4},{"delete":2}]`,
		c:   `[{"retain":4,"attributes":{"code":true}}]`, index: 3},
	{name: "embeds",
		doc: `[{"insert":{"image":"https://x/y.png"}},{"insert":"a"},{"insert":{"video":{"src":"v","w":640}},"attributes":{"width":"50%"}},{"insert":"\n"}]`,
		a:   `[{"retain":1,"attributes":{"alt":"pic"}},{"insert":{"formula":"e=mc^2"}},{"delete":1},{"retain":1,"attributes":{"width":null}}]`,
		b:   `[{"delete":1},{"insert":{"image":"z"}},{"retain":2,"attributes":{"width":"10%"}}]`,
		c:   `[{"retain":1},{"delete":1},{"insert":{"divider":true}}]`,
		raw: `[{"insert":{"image":"a"}},{"insert":{"image":"a"}},{"insert":"x"},{"insert":"y"}]`, index: 1},
	{name: "null attributes on retain",
		doc: `[{"insert":"bold","attributes":{"bold":true,"color":"red"}},{"insert":"plain\n"}]`,
		a:   `[{"retain":6,"attributes":{"bold":null,"italic":null}}]`,
		b:   `[{"retain":2,"attributes":{"bold":null}},{"retain":2,"attributes":{"color":null,"bold":true}}]`,
		c:   `[{"retain":3,"attributes":{"bold":true,"italic":null,"color":null}}]`,
		raw: `[{"retain":1,"attributes":{"bold":null}},{"retain":2,"attributes":{"bold":null}},{"retain":1}]`, index: 5},
	{name: "attribute transform with priority",
		doc: `[{"insert":"abcdef\n"}]`,
		a:   `[{"retain":4,"attributes":{"bold":true,"color":"red","font":null}}]`,
		b:   `[{"retain":2,"attributes":{"bold":false,"size":"12px","font":"serif"}},{"retain":4,"attributes":{"color":"blue"}}]`,
		c:   `[{"retain":6,"attributes":{"color":"green"}}]`, index: 3},
	{name: "inserts at the same index",
		doc: `[{"insert":"ab\n"}]`,
		a:   `[{"retain":1},{"insert":"X"}]`,
		b:   `[{"retain":1},{"insert":"Y"}]`,
		c:   `[{"retain":1},{"insert":"Z"}]`, index: 1},
	{name: "adjacent merges",
		doc: `[{"insert":"aa","attributes":{"b":true}},{"insert":"bb"},{"insert":"cc","attributes":{"b":true}},{"insert":"\n"}]`,
		a:   `[{"retain":2},{"retain":2,"attributes":{"b":true}},{"retain":2}]`,
		b:   `[{"retain":2},{"delete":2}]`,
		c:   `[{"retain":1},{"delete":1},{"retain":2,"attributes":{"b":null}}]`,
		raw: `[{"insert":"a","attributes":{"b":true}},{"insert":"b","attributes":{"b":true}},{"delete":1},{"insert":"c"},{"delete":2},{"retain":1,"attributes":{"x":1}},{"retain":1,"attributes":{"x":1}},{"retain":1}]`, index: 6},
	{name: "delete then insert normalised",
		raw: `[{"retain":3},{"delete":2},{"insert":"x"},{"delete":1},{"insert":"y","attributes":{"b":true}},{"insert":"z","attributes":{"b":true}}]`, noIndex: true},
	{name: "integer and fractional attribute numbers",
		doc: `[{"insert":"abc","attributes":{"indent":1,"size":12.5,"ratio":0.1,"big":1e21,"tiny":1e-7}},{"insert":"\n","attributes":{"indent":2}}]`,
		a:   `[{"retain":1,"attributes":{"indent":3,"size":12.50,"w":1.0,"neg":-2.25}},{"retain":2,"attributes":{"indent":null,"z":100}},{"retain":1,"attributes":{"indent":1E2}}]`,
		b:   `[{"retain":2,"attributes":{"indent":0.30000000000000004,"n":9007199254740993,"e":5e-324,"m":1.7976931348623157e308}}]`,
		c:   `[{"retain":4,"attributes":{"indent":-1,"ratio":123456789012,"x":0.000001,"y":1e20}}]`,
		raw: `[{"retain":1,"attributes":{"v":1.50}},{"retain":1,"attributes":{"v":1.5}},{"insert":"q","attributes":{"n":2e0}},{"insert":"r","attributes":{"n":2}}]`, index: 2},
	{name: "negative zero attribute",
		doc: `[{"insert":"a","attributes":{"z":-0}},{"insert":"\n"}]`,
		a:   `[{"retain":1,"attributes":{"z":-0.0}}]`,
		b:   `[{"retain":1,"attributes":{"z":0}}]`,
		c:   `[{"retain":1,"attributes":{"y":-0}}]`,
		raw: `[{"insert":"q","attributes":{"n":-0}}]`, index: 0},
	{name: "embed values with number forms",
		doc: `[{"insert":{"chart":{"w":1.0,"h":2.50,"n":[1e2,-0]}}},{"insert":"\n"}]`,
		a:   `[{"retain":1,"attributes":{"k":1}},{"insert":{"chart":{"w":3.0}}}]`,
		b:   `[{"delete":1}]`,
		c:   `[{"retain":2,"attributes":{"k":2}}]`,
		raw: `[{"insert":{"chart":{"b":1,"a":2}}}]`, index: 1},
	{name: "characters JSON escapes",
		doc: `[{"insert":"<a href=\"x\">&amp;</a>\u2028\u2029\u0000\t\\\n"}]`,
		a:   `[{"retain":3,"attributes":{"link":"http://x/?a=1&b=<2>"}},{"insert":"\"quoted\"\u007f\ud83d\ude00"}]`,
		b:   `[{"retain":2},{"delete":5}]`,
		c:   `[{"retain":1},{"insert":"\u00e9\u0301"}]`, index: 4},
	{name: "escapes in input that JSON.stringify writes differently",
		doc: `[{"insert":"\u0041\/\u00e9\ud83d\ude00\u001f\b\f\n","attributes":{"link":"http:\/\/x\u002fy","title":"\u2028"}}]`,
		a:   `[{"retain":2,"attributes":{"title":"\u0022q\u0022"}},{"insert":{"image":"\/a\u00e9.png"}},{"insert":"\u007f"}]`,
		b:   `[{"retain":1},{"insert":{"mention":{"name":"\u0041","id":1.50}}}]`,
		c:   `[{"retain":3,"attributes":{"link":null}}]`,
		raw: `[{"insert":"\u00e9"},{"insert":"e\u0301"}]`, index: 3},
	{name: "embed values with integer-like keys and nesting",
		doc: `[{"insert":{"table":{"b":1,"10":2,"9":{"z":[3,{"y":null,"x":true}],"a":""}}},"attributes":{"w":2}},{"insert":"\n"}]`,
		a:   `[{"retain":1,"attributes":{"w":null}},{"insert":{"table":{"2":"x","1":"y"}}}]`,
		b:   `[{"delete":1},{"insert":{"grid":[]}}]`,
		c:   `[{"retain":2,"attributes":{"w":1}}]`,
		raw: `[{"insert":{"table":{"b":1,"10":2}}},{"insert":{"table":{"b":1,"10":2}}}]`, index: 1},
	{name: "attribute named attributes and odd keys",
		doc: `[{"insert":"ab","attributes":{"attributes":"x","insert":1,"":true,"é":2,"𝒳":3,"\uffff":4}},{"insert":"\n"}]`,
		a:   `[{"retain":1,"attributes":{"attributes":null,"retain":5}}]`,
		b:   `[{"retain":2,"attributes":{"attributes":"y","":false}}]`,
		c:   `[{"retain":2,"attributes":{"𝒳":null,"\uffff":null}}]`,
		raw: `[{"retain":1,"attributes":{"attributes":1}},{"retain":1,"attributes":{"attributes":1}}]`, index: 1},
	{name: "delete whole document but newline",
		doc: `[{"insert":"hello","attributes":{"bold":true}},{"insert":"\n","attributes":{"header":1}}]`,
		a:   `[{"delete":5},{"retain":1,"attributes":{"header":null}}]`,
		b:   `[{"delete":5},{"insert":"bye"}]`,
		c:   `[{"insert":"x"},{"retain":1,"attributes":{"header":2}}]`, index: 5},
	{name: "empty edits",
		doc: `[{"insert":"\n"}]`, a: `[]`, b: `[]`, c: `[]`, raw: `[]`, index: 0},
	{name: "trailing retains",
		doc: `[{"insert":"abc\n"}]`,
		a:   `[{"retain":1},{"insert":"x"},{"retain":3}]`,
		b:   `[{"retain":4}]`,
		c:   `[{"retain":2},{"retain":3}]`,
		raw: `[{"retain":1},{"retain":2}]`, index: 4},
	{name: "transformPosition at insert, delete and end",
		doc: `[{"insert":"abcdef\n"}]`,
		a:   `[{"retain":2},{"insert":"XY"},{"delete":3},{"insert":"Z"}]`,
		b:   `[{"retain":2},{"delete":1},{"insert":"Q"}]`, index: 2},
	{name: "transformPosition inside delete",
		doc: `[{"insert":"abcdef\n"}]`,
		a:   `[{"retain":1},{"delete":4},{"insert":"Z"}]`, index: 3},
	{name: "transformPosition past end", // no doc: Apply refuses an insert after the final "\n"
		a: `[{"retain":4},{"insert":"Z"}]`, index: 4},
	{name: "invert of formatting on mixed runs",
		doc: `[{"insert":"ab","attributes":{"bold":true}},{"insert":"cd","attributes":{"italic":true,"bold":false}},{"insert":"ef\n"}]`,
		a:   `[{"retain":5,"attributes":{"bold":true,"color":null,"italic":null}},{"delete":1}]`, index: 3},
	{name: "{\"ops\":[...]} wrapper",
		doc: `{"ops":[{"insert":"ab\n"}]}`,
		a:   `{"ops":[{"retain":1},{"insert":"x"}]}`,
		b:   `{"ops":[{"delete":1}]}`,
		c:   `{"ops":[{"retain":3,"attributes":{"b":true}}]}`, index: 1},
}

func testQuillHandPicked(t *testing.T, q *quillProc) {
	var cases []*diffCase
	for _, h := range quillHandPicked {
		c := &diffCase{name: "hand-picked " + strconv.Quote(h.name), text: map[string]string{}, index: h.index}
		for _, f := range []struct {
			bit  uint8
			key  string
			text string
			dst  *Delta
		}{{inDoc, "doc", h.doc, &c.doc}, {inA, "a", h.a, &c.a}, {inB, "b", h.b, &c.b}, {inC, "c", h.c, &c.c}, {inRaw, "raw", h.raw, &c.raw}} {
			if f.text == "" {
				continue
			}
			d, err := ParseDelta([]byte(f.text))
			if err != nil {
				t.Errorf("%s: ParseDelta(%s): %v", c.name, f.key, err)
				continue
			}
			*f.dst = d
			c.has |= f.bit
			c.text[f.key] = f.text
		}
		if !h.noIndex && c.has&inA != 0 {
			c.has |= inIndex
		}
		cases = append(cases, c)
	}
	for _, m := range diffCompare(t, cases, q.run(t, cases)) {
		t.Errorf("quill-delta disagrees on %s:\n%s", diffOps[m.op].what, m)
	}
}

// diffSeedAndCount reads OT_DIFF_SEED and OT_DIFF_CASES.
func diffSeedAndCount(t *testing.T) (seed uint64, n int) {
	seed = uint64(time.Now().UnixNano())
	if s := os.Getenv("OT_DIFF_SEED"); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("OT_DIFF_SEED=%q: %v", s, err)
		}
		seed = v
	}
	n = defaultDiffCases
	if s := os.Getenv("OT_DIFF_CASES"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v < 1 {
			t.Fatalf("OT_DIFF_CASES=%q: want a positive integer", s)
		}
		n = v
	}
	return seed, n
}

func testQuillRandom(t *testing.T, q *quillProc) {
	seed, n := diffSeedAndCount(t)
	t.Logf("seed %d, %d cases (replay: OT_DIFF_SEED=%d OT_DIFF_CASES=%d go test ./ot -run 'TestQuillDifferential/random')", seed, n, seed, n)

	cases := make([]*diffCase, n)
	for i := range cases {
		r := rand.New(rand.NewPCG(seed, uint64(i)))
		cases[i] = randomDiffCase(r, fmt.Sprintf("seed %d case %d", seed, i), -1)
	}
	start := time.Now()
	mismatches := diffCompare(t, cases, q.run(t, cases))
	t.Logf("%d cases compared in %v", n, time.Since(start).Round(time.Millisecond))
	diffReport(t, q, seed, mismatches)
}

// testQuillChains carries one Doc through many edits of a document of
// several thousand units (a rope several levels deep), comparing every
// step with quill-delta: the rope's splits, merges and rebalancing must
// never show in what it holds. One chain per 800 random cases.
func testQuillChains(t *testing.T, q *quillProc) {
	seed, n := diffSeedAndCount(t)
	chains, steps := max(1, n/800), 20
	t.Logf("seed %d, %d chains of %d edits (replay: OT_DIFF_SEED=%d OT_DIFF_CASES=%d go test ./ot -run 'TestQuillDifferential/chains')", seed, chains, steps, seed, n)

	var cases []*diffCase
	for k := range chains {
		r := rand.New(rand.NewPCG(seed, uint64(1)<<62+uint64(k)))
		cur := diffJoinDocs(r, 30+r.IntN(60))
		rope, err := DocFromDelta(cur)
		if err != nil {
			t.Fatalf("chain %d: DocFromDelta: %v", k, err)
		}
		for j := range steps {
			before := rope // Docs are values; the case keeps this one
			c := &diffCase{name: fmt.Sprintf("seed %d chain %d step %d", seed, k, j), has: inDoc | inA | inB | inIndex, doc: cur, rope: &before}
			c.a, c.b = diffSpreadEdit(r, cur), diffSpreadEdit(r, cur)
			c.index = r.IntN(diffLen(cur) + 1)
			cases = append(cases, c)
			next, err := Apply(cur, c.a)
			if err != nil {
				break // reported as a disagreement on apply
			}
			nextRope, err := rope.Apply(c.a)
			if err != nil {
				break
			}
			cur, rope = next, nextRope
		}
	}
	diffReport(t, q, seed, diffCompare(t, cases, q.run(t, cases)))
}

// diffReport fails the test with one example per operation: the
// smallest failing case found, shrunk further where possible.
func diffReport(t *testing.T, q *quillProc, seed uint64, ms []diffMismatch) {
	if len(ms) == 0 {
		return
	}
	byOp := map[int][]diffMismatch{}
	for _, m := range ms {
		byOp[m.op] = append(byOp[m.op], m)
	}
	for _, op := range slices.Sorted(maps.Keys(byOp)) {
		list := byOp[op]
		sort.SliceStable(list, func(i, j int) bool { return list[i].c.size() < list[j].c.size() })
		smallest := list[0]
		shrunk := diffShrink(t, q, seed, smallest)
		var sb strings.Builder
		fmt.Fprintf(&sb, "quill-delta disagrees on %s in %d cases; smallest:\n%s", diffOps[op].what, len(list), smallest)
		if shrunk.c != smallest.c {
			fmt.Fprintf(&sb, "shrunk to:\n%s", shrunk)
		}
		t.Error(sb.String())
	}
}

// randomDiffCase draws a case. maxDoc >= 0 cuts the random document down to
// at most that many units before the edits are drawn (to find small failing
// cases); -1 keeps it whole, and then one case in ten gets a long document
// (several random ones joined, often without formats so that text runs
// grow long) with edits spread all over it.
func randomDiffCase(r *rand.Rand, name string, maxDoc int) *diffCase {
	doc := randomDoc(r)
	edit := randomEdit
	if maxDoc >= 0 {
		doc = diffTruncateDoc(doc, maxDoc)
	} else if r.IntN(10) == 0 {
		doc = diffLongDoc(r, doc)
		edit = diffSpreadEdit
	}
	c := &diffCase{name: name, has: inAll &^ inC}
	c.doc = doc
	c.a = edit(r, doc)
	c.b = edit(r, doc)
	if after, err := Apply(doc, c.a); err == nil {
		c.c = edit(r, after)
		c.has |= inC
	} // else: Apply's disagreement is reported; there is no base for c.
	c.index = r.IntN(diffLen(doc) + 1)
	switch r.IntN(3) {
	case 0:
		c.raw = diffScramble(r, c.a)
	case 1:
		c.raw = diffScramble(r, c.b)
	default:
		c.raw = diffScramble(r, doc)
	}
	if r.IntN(3) == 0 {
		diffNumberAttributes(r, c)
	}
	return c
}

// diffLongDoc joins doc and up to four more random documents.
func diffLongDoc(r *rand.Rand, doc Delta) Delta {
	return diffTidy(append(slices.Clone(doc), diffJoinDocs(r, 1+r.IntN(4))...))
}

// diffJoinDocs joins n random documents (each ending in "\n", so the result
// is a document too), half the time with every format removed so that runs
// merge into long ones.
func diffJoinDocs(r *rand.Rand, n int) Delta {
	var long Delta
	for range n {
		long = append(long, randomDoc(r)...)
	}
	if r.IntN(2) == 0 {
		for i := range long {
			long[i].Attributes = nil
		}
	}
	return diffTidy(long)
}

// diffSpreadEdit is randomEdit starting at a random place in doc rather
// than near its start: a retain up to a code point boundary, then a random
// edit of the rest.
func diffSpreadEdit(r *rand.Rand, doc Delta) Delta {
	bounds := diffBoundaries(doc)
	at := bounds[r.IntN(len(bounds)-1)] // before the final "\n"
	if at == 0 {
		return randomEdit(r, doc)
	}
	rest, ok := diffCutDoc(doc, 0, at)
	if !ok {
		return randomEdit(r, doc)
	}
	return append(Delta{Retain(at, nil)}, randomEdit(r, rest)...)
}

// diffNumbers are the numbers that have to print the same in Go and
// JavaScript: integers, fractions, and the edges of the shortest
// round-trip formatting (exponent thresholds, 2^53, extremes). -0 is left
// out: it is a hand-picked case.
var diffNumbers = []float64{
	0, 1, -1, 2, 3, 12, 100, 1024, -7, 0.5, 1.5, -2.25, 0.1, 0.2, 0.30000000000000004,
	12.5, 3.141592653589793, 1e-6, 1e-7, 1.5e-9, 123456789012, 1e20, 1e21, 1.5e300,
	9007199254740992, 9007199254740993, 1.7976931348623157e308, 5e-324, 2.2250738585072014e-308,
}

// diffNumberAttributes turns the string and boolean values of some attribute
// keys into numbers throughout the case, mapping equal values to equal
// numbers so that the case means the same as before.
func diffNumberAttributes(r *rand.Rand, c *diffCase) {
	salt := r.Uint64()
	num := func(k string, v any) (float64, bool) {
		h := fnv.New64a()
		fmt.Fprintf(h, "%d\x00%s", salt, k)
		if h.Sum64()%2 == 0 {
			return 0, false
		}
		fmt.Fprintf(h, "\x00%v", v)
		return diffNumbers[h.Sum64()%uint64(len(diffNumbers))], true
	}
	conv := func(d Delta) Delta {
		out := make(Delta, len(d))
		for i, op := range d {
			if len(op.Attributes) > 0 {
				attrs := make(Attributes, len(op.Attributes))
				for k, v := range op.Attributes {
					if v != nil {
						if n, ok := num(k, v); ok {
							v = n
						}
					}
					attrs[k] = v
				}
				op.Attributes = attrs
			}
			out[i] = op
		}
		return out
	}
	c.doc, c.a, c.b, c.c, c.raw = conv(c.doc), conv(c.a), conv(c.b), conv(c.c), conv(c.raw)
}

// diffScramble returns a non-canonical delta that means the same as d: ops
// split into pieces (each with its own copy of the attributes), and inserts
// moved after the deletes next to them.
func diffScramble(r *rand.Rand, d Delta) Delta {
	var out Delta
	for _, op := range d {
		pieces := 1 + r.IntN(3)
		for _, p := range diffSplitOp(op, pieces, r) {
			if p.Attributes != nil {
				p.Attributes = maps.Clone(p.Attributes)
			}
			out = append(out, p)
		}
	}
	for i := 0; i+1 < len(out); i++ {
		if out[i].Kind() == KindInsert && out[i+1].Kind() == KindDelete && r.IntN(2) == 0 {
			out[i], out[i+1] = out[i+1], out[i]
			i++
		}
	}
	return out
}

// diffSplitOp cuts op into up to n pieces at code point boundaries.
func diffSplitOp(op Op, n int, r *rand.Rand) []Op {
	l := op.Len()
	if n <= 1 || l <= 1 || op.Embed != nil {
		return []Op{op}
	}
	var cuts []int // unit offsets, increasing
	for range n - 1 {
		cuts = append(cuts, 1+r.IntN(l-1))
	}
	slices.Sort(cuts)
	cuts = slices.Compact(cuts)
	var out []Op
	prev := 0
	for _, cut := range append(cuts, l) {
		p := op
		switch op.Kind() {
		case KindInsert:
			s, ok := diffUTF16Slice(op.Insert, prev, cut)
			if !ok {
				continue // would split a surrogate pair; merge into the next piece
			}
			p.Insert = s
		case KindRetain:
			p.Retain = cut - prev
		case KindDelete:
			p.Delete = cut - prev
		}
		out = append(out, p)
		prev = cut
	}
	return out
}

// diffUTF16Slice returns the units [i, j) of s, ok false when i or j falls
// inside a surrogate pair.
func diffUTF16Slice(s string, i, j int) (string, bool) {
	bi, ok1 := diffUTF16Offset(s, i)
	bj, ok2 := diffUTF16Offset(s, j)
	if !ok1 || !ok2 {
		return "", false
	}
	return s[bi:bj], true
}

// diffUTF16Offset returns the byte offset of unit n in s.
func diffUTF16Offset(s string, n int) (int, bool) {
	units := 0
	for i, r := range s {
		if units == n {
			return i, true
		}
		if units > n {
			return 0, false
		}
		units += utf16.RuneLen(r)
	}
	if units == n {
		return len(s), true
	}
	return 0, false
}

func diffLen(d Delta) int {
	n := 0
	for _, op := range d {
		n += op.Len()
	}
	return n
}

// diffTruncateDoc keeps about max units of doc (cut at a code point boundary),
// then its final "\n" with that line's attributes.
func diffTruncateDoc(doc Delta, max int) Delta {
	total := diffLen(doc)
	if total <= max+1 {
		return doc
	}
	i := 0
	for _, b := range diffBoundaries(doc) {
		if b <= max {
			i = b
		}
	}
	if cut, ok := diffCutDoc(doc, i, total-1); ok {
		return cut
	}
	return doc
}

// diffCutDoc removes units [i, j) from a document; ok is false when i or j
// splits a surrogate pair.
func diffCutDoc(doc Delta, i, j int) (_ Delta, ok bool) {
	var out Delta
	pos := 0
	for _, op := range doc {
		l := op.Len()
		lo, hi := pos, pos+l
		pos = hi
		if hi <= i || lo >= j {
			out = append(out, op)
			continue
		}
		if op.Embed != nil {
			continue // one unit, inside [i, j)
		}
		// Keep [lo, i) and [j, hi) of the text.
		var text string
		if lo < i {
			s, ok := diffUTF16Slice(op.Insert, 0, i-lo)
			if !ok {
				return nil, false
			}
			text += s
		}
		if hi > j {
			s, ok := diffUTF16Slice(op.Insert, j-lo, l)
			if !ok {
				return nil, false
			}
			text += s
		}
		if text != "" {
			op.Insert = text
			out = append(out, op)
		}
	}
	return diffTidy(out), true
}

// diffCutEdit removes base units [i, j) from an edit of a document, so that it
// applies to diffCutDoc(doc, i, j). Inserts are kept.
func diffCutEdit(e Delta, i, j int) Delta {
	var out Delta
	pos := 0
	for _, op := range e {
		if op.Kind() == KindInsert {
			out = append(out, op)
			continue
		}
		l := op.Len()
		lo, hi := pos, pos+l
		pos = hi
		keep := l - max(0, min(hi, j)-max(lo, i))
		if keep == 0 {
			continue
		}
		if op.Kind() == KindRetain {
			op.Retain = keep
		} else {
			op.Delete = keep
		}
		out = append(out, op)
	}
	return diffTidy(out)
}

// diffTidy merges what quill-delta's push merges (adjacent text inserts,
// retains or deletes with equal attributes; an insert after a delete goes
// before it), so that shrunk cases stay canonical. It never modifies d.
func diffTidy(d Delta) Delta {
	out := make(Delta, 0, len(d))
	for _, op := range d {
		if op.Kind() == KindInvalid {
			continue
		}
		n := len(out)
		if n > 0 && op.Kind() == KindDelete && out[n-1].Kind() == KindDelete {
			out[n-1].Delete += op.Delete
			continue
		}
		at := n
		if n > 0 && op.Kind() == KindInsert && out[n-1].Kind() == KindDelete {
			at = n - 1
		}
		if at > 0 && diffAttrsEqual(out[at-1].Attributes, op.Attributes) {
			prev := &out[at-1]
			switch {
			case op.Kind() == KindInsert && op.Embed == nil && prev.Kind() == KindInsert && prev.Embed == nil:
				prev.Insert += op.Insert
				continue
			case op.Kind() == KindRetain && prev.Kind() == KindRetain:
				prev.Retain += op.Retain
				continue
			}
		}
		out = slices.Insert(out, at, op)
	}
	return out
}

func diffAttrsEqual(x, y Attributes) bool {
	if len(x) != len(y) {
		return false
	}
	for k, v := range x {
		w, ok := y[k]
		if !ok || !reflect.DeepEqual(v, w) {
			return false
		}
	}
	return true
}

// diffBoundaries lists the unit offsets in doc where a cut may fall.
func diffBoundaries(doc Delta) []int {
	out := []int{0}
	pos := 0
	for _, op := range doc {
		if op.Embed != nil || op.Insert == "" {
			pos += op.Len()
			out = append(out, pos)
			continue
		}
		for _, r := range op.Insert {
			if !utf8.ValidRune(r) {
				continue
			}
			pos += utf16.RuneLen(r)
			out = append(out, pos)
		}
	}
	return out
}

// diffShrink looks for a smaller case on which the same operation disagrees:
// first random cases on ever larger documents, then greedy simplification
// of the smallest (cutting document ranges, dropping inserts and
// attributes, turning deletes into retains). It gives up after a bounded
// number of round trips.
func diffShrink(t *testing.T, q *quillProc, seed uint64, m diffMismatch) diffMismatch {
	t.Helper()
	fails := func(c *diffCase) (diffMismatch, bool) {
		res := q.run(t, []*diffCase{c})
		if c.has&diffOps[m.op].needs != diffOps[m.op].needs {
			return diffMismatch{}, false
		}
		ok, g, qr := diffAgree(diffGoResult(c, m.op), res[0][diffOps[m.op].key])
		return diffMismatch{c: c, op: m.op, goRes: g, qRes: qr}, !ok
	}

	best := m
	// Small documents first.
	const perSize = 100
	for _, size := range []int{0, 1, 2, 3, 4, 6, 8, 12, 16, 24, 32} {
		cases := make([]*diffCase, perSize)
		for i := range cases {
			r := rand.New(rand.NewPCG(seed, uint64(1)<<40+uint64(size)<<20+uint64(i)))
			cases[i] = randomDiffCase(r, fmt.Sprintf("seed %d, document cut to %d units, case %d", seed, size, i), size)
		}
		var found []diffMismatch
		for _, f := range diffCompare(t, cases, q.run(t, cases)) {
			if f.op == m.op {
				found = append(found, f)
			}
		}
		if len(found) > 0 {
			sort.SliceStable(found, func(i, j int) bool { return found[i].c.size() < found[j].c.size() })
			if found[0].c.size() < best.c.size() {
				best = found[0]
			}
			break
		}
	}

	// Then greedy simplification.
	budget := 1500
	for improved := true; improved && budget > 0; {
		improved = false
		for _, cand := range diffSimplifications(best.c, diffOps[m.op].needs) {
			if budget--; budget <= 0 {
				break
			}
			if cand.size() >= best.c.size() {
				continue
			}
			if f, ok := fails(cand); ok {
				best, improved = f, true
				break
			}
		}
	}
	if best.c != m.c && !strings.Contains(best.c.name, "shrunk") {
		best.c.name += " (shrunk)"
	}
	return best
}

// diffSimplifications lists smaller cases derived from c that stay valid: each
// edit still fits its base.
func diffSimplifications(c *diffCase, needs uint8) []*diffCase {
	var out []*diffCase
	keep := needs // and the document, as context, for operations on edits of it
	if needs&(inA|inB) != 0 {
		keep |= inDoc
	}
	derive := func() *diffCase {
		d := *c
		d.text = nil // inputs change: send what Go marshals
		d.rope = nil
		d.has = c.has & keep
		if !strings.Contains(d.name, "shrunk") {
			d.name += " (shrunk)"
		}
		return &d
	}

	// Cut ranges of the document out of the document and of a and b (not
	// when c is needed: c's base would change shape).
	if c.has&inDoc != 0 && needs&inC == 0 && needs&(inDoc|inA|inB) != 0 {
		bounds := diffBoundaries(c.doc)
		last := diffLen(c.doc) - 1 // never cut the final "\n"
		for span := len(bounds) / 2; span >= 1; span /= 2 {
			for s := 0; s+span < len(bounds); s += span {
				i, j := bounds[s], bounds[s+span]
				if j > last {
					break
				}
				d := derive()
				doc, ok := diffCutDoc(c.doc, i, j)
				if !ok {
					continue
				}
				d.doc = doc
				d.a, d.b = diffCutEdit(c.a, i, j), diffCutEdit(c.b, i, j)
				if d.index > i {
					d.index -= min(j-i, d.index-i)
				}
				out = append(out, d)
			}
		}
	}

	// Simplify the ops of each input the operation reads. a is only
	// reshaped when c is not needed (c applies to doc∘a).
	edits := []struct {
		bit     uint8
		get     func(*diffCase) *Delta
		reshape bool
	}{
		{inA, func(d *diffCase) *Delta { return &d.a }, needs&inC == 0},
		{inB, func(d *diffCase) *Delta { return &d.b }, true},
		{inC, func(d *diffCase) *Delta { return &d.c }, true},
		{inRaw, func(d *diffCase) *Delta { return &d.raw }, true},
		{inDoc, func(d *diffCase) *Delta { return &d.doc }, false},
	}
	for _, e := range edits {
		if needs&e.bit == 0 {
			continue
		}
		src := *e.get(c)
		for i, op := range src {
			var variants []Delta
			with := func(ops ...Op) Delta {
				v := slices.Concat(src[:i:i], ops, src[i+1:])
				if e.bit == inRaw {
					return v // raw is non-canonical on purpose
				}
				return diffTidy(v)
			}
			if e.reshape {
				switch op.Kind() {
				case KindInsert:
					variants = append(variants, with())
				case KindDelete:
					variants = append(variants, with(Op{Retain: op.Delete}))
				}
			}
			if e.bit == inRaw && op.Kind() != KindInsert {
				variants = append(variants, with())
			}
			if op.Kind() == KindInsert && op.Embed == nil && e.reshape {
				if _, size := utf8.DecodeRuneInString(op.Insert); size < len(op.Insert) {
					short := op
					short.Insert = op.Insert[:size]
					variants = append(variants, with(short))
				}
			}
			if len(op.Attributes) > 0 {
				bare := op
				bare.Attributes = nil
				variants = append(variants, with(bare))
				if len(op.Attributes) > 1 {
					for k := range op.Attributes {
						fewer := op
						fewer.Attributes = maps.Clone(op.Attributes)
						delete(fewer.Attributes, k)
						variants = append(variants, with(fewer))
					}
				}
			}
			for _, v := range variants {
				d := derive()
				*e.get(d) = v
				out = append(out, d)
			}
		}
	}
	return out
}
